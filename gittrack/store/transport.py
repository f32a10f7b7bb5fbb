"""Moving refs between repositories with git's own transport (the ``git`` CLI).

Pushes and fetches go through ``git`` itself so that every remote git supports works with the
user's credentials as git has them (SSH keys, credential helpers, ``insteadOf`` rules); gittrack
never asks for or stores credentials.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gittrack.errors import GittrackError, UsageError

if TYPE_CHECKING:
    import pygit2


class RemoteError(GittrackError):
    """A push or fetch that git could not do (unreachable remote, refused, interrupted)."""


@dataclass(frozen=True)
class PushResult:
    """One line of ``git push --porcelain``: flag, destination ref and git's summary."""

    flag: str
    ref: str
    summary: str

    @property
    def ok(self) -> bool:
        """Pushed, created, forced or already up to date."""
        return self.flag in " *+=-"


def resolve_remote(repo: pygit2.Repository, remote: str | None) -> str:
    """The remote to use: the one given (a name or a URL/path), else the branch's upstream remote,
    else ``origin``."""
    if remote:
        if remote in repo.remotes.names() or "://" in remote or ":" in remote or os.path.exists(remote):
            return remote
        raise UsageError(f"no remote named {remote!r}; add it with 'git remote add {remote} URL' or give a URL")
    if not repo.head_is_unborn and not repo.head_is_detached:
        try:
            return repo.config[f"branch.{repo.head.shorthand}.remote"]
        except KeyError:
            pass
    if "origin" in repo.remotes.names():
        return "origin"
    raise UsageError("no remote given and none configured; pass REMOTE or 'git remote add origin URL'")


def _git(root: str, args: list[str], progress: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": os.environ.get("GIT_TERMINAL_PROMPT", "1")}
    stderr = None if progress else subprocess.PIPE
    try:
        return subprocess.run(
            ["git", *args], cwd=root, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, check=False
        )
    except FileNotFoundError:
        raise RemoteError("git is not installed or not on PATH") from None


def _progress() -> bool:
    return sys.stderr.isatty()


def push(root: str | Path, remote: str, refspecs: list[str], leases: dict[str, str] | None = None) -> list[PushResult]:
    """``git push --porcelain`` of ``refspecs``; ``leases`` maps refs to the value they must have on
    the remote to be overwritten (``--force-with-lease``). Returns git's verdict per ref."""
    if not refspecs:
        return []
    progress = _progress()
    args = ["push", "--porcelain", *(["--progress"] if progress else [])]
    args += [f"--force-with-lease={ref}:{value}" for ref, value in (leases or {}).items()]
    result = _git(str(root), [*args, remote, *refspecs], progress)
    results = []
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and len(parts[0]) == 1:
            results.append(PushResult(parts[0], parts[1].rpartition(":")[2], parts[2]))
    if result.returncode != 0 and not results:
        detail = (result.stderr or "").strip().splitlines()[-1:] or ["see git's message above"]
        raise RemoteError(f"git push to {remote} failed: {detail[0]}")
    return results


def fetch(root: str | Path, remote: str, refspecs: list[str], prune: bool = True) -> None:
    """``git fetch`` of ``refspecs`` (forced updates go only into gittrack's staging refs)."""
    progress = _progress()
    args = ["fetch", "--no-tags", "--progress" if progress else "--quiet"]
    if prune:
        args.append("--prune")
    result = _git(str(root), [*args, remote, *refspecs], progress)
    if result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()[-1:] or ["see git's message above"]
        raise RemoteError(f"git fetch from {remote} failed: {detail[0]}")


def remote_refs(root: str | Path, remote: str, patterns: list[str]) -> dict[str, str]:
    """``git ls-remote``: the remote's refs matching ``patterns`` and their targets."""
    result = _git(str(root), ["ls-remote", remote, *patterns], progress=False)
    if result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()[-1:] or ["unknown error"]
        raise RemoteError(f"cannot list the refs of {remote}: {detail[0]}")
    refs = {}
    for line in result.stdout.splitlines():
        target, _, name = line.partition("\t")
        refs[name] = target
    return refs
