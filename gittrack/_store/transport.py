"""Moving refs between repositories with git's own transport (the ``git`` CLI).

Pushes and fetches go through ``git`` itself so that every remote git supports works with the
user's credentials as git has them (SSH keys, credential helpers, ``insteadOf`` rules); gittrack
never asks for or stores credentials.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gittrack.errors import RemoteError, UsageError

if TYPE_CHECKING:
    import pygit2


@dataclass(frozen=True)
class PushResult:
    """One line of ``git push --porcelain``: flag, destination ref and git's summary; ``reason``:
    what the remote's hook said about this ref when it refused it."""

    flag: str
    ref: str
    summary: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Pushed, created, forced or already up to date."""
        return self.flag in " *+=-"

    @property
    def declined(self) -> bool:
        """Refused by a hook on the remote (git then refuses every ref of the push)."""
        return self.flag == "!" and "hook declined" in self.summary

    @property
    def why(self) -> str:
        """The hook's reason when there is one, else git's summary."""
        return self.reason or self.summary


# what gittrack's pre-receive hook prints per refused ref (``gittrack hooks run pre-receive``)
_HOOK_REASON = re.compile(r"^remote: gittrack: refused ([^\s:]+): (.*?)\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_PUSH_ROUNDS = 4
# the user info of a URL (``https://alice:secret@host/`` -> ``https://host/``)
_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'\"]*@")
# what a server says when it refuses a push or fetch: git's ``remote:`` lines, gitolite's
# ``FATAL:``/``ERROR:``/``WARNING:`` lines and its hints, git's own ``error:``/``fatal:`` lines
_SERVER_LINE = re.compile(r"^(remote:|FATAL:|ERROR:|WARNING:|error:|fatal:|\(or you)")
MAX_SERVER_LINES = 20


def redact(text: str) -> str:
    """``text`` with the user info (name, password, token) taken out of every URL in it."""
    return _USERINFO.sub(r"\1", text)


def _server_said(stderr: str | None) -> str:
    """Every line of git's stderr in which the server (or git) explains a failure, joined on one
    line with credentials removed; git's last line when there is none."""
    lines = [_ANSI.sub("", line).strip() for line in (stderr or "").replace("\r", "\n").splitlines()]
    lines = [line for line in lines if line and line != "remote:" and not line.endswith(("done.", "done"))]
    said = [line for line in lines if _SERVER_LINE.match(line) and "%" not in line]
    if len(said) > MAX_SERVER_LINES:
        said = [*said[: MAX_SERVER_LINES - 1], f"... {len(said) - MAX_SERVER_LINES + 1} more line(s)"]
    return redact("; ".join(said or lines[-1:]) or "see git's message above")


def resolve_remote(repo: pygit2.Repository, remote: str | None) -> str:
    """The remote to use: the one given (a name or a URL/path), else the branch's upstream remote,
    else ``origin``."""
    if remote:
        names = list(repo.remotes.names())
        if remote in names or "://" in remote or ":" in remote or os.path.exists(remote):
            return remote
        if "/" in remote or os.sep in remote or remote.endswith(".git") or remote.startswith(("~", ".")):
            name = next(n for n in ("origin", "team", "shared", "upstream", f"remote{len(names)}") if n not in names)
            raise UsageError(
                f"{remote!r} is neither a remote name nor an existing path; check the path, create the repository "
                f"('git init --bare {remote}'), or name it as a remote: 'git remote add {name} {remote}'"
            )
        raise UsageError(f"no remote named {remote!r}; add it with 'git remote add {remote} URL' or give a URL")
    if not repo.head_is_unborn and not repo.head_is_detached:
        try:
            configured = repo.config[f"branch.{repo.head.shorthand}.remote"]
        except KeyError:
            configured = None
        if configured is not None:
            return configured
    if "origin" in repo.remotes.names():
        return "origin"
    raise UsageError("no remote given and none configured; pass REMOTE or 'git remote add origin URL'")


def _git(root: str, args: list[str], progress: bool, tee: bool = False) -> subprocess.CompletedProcess[str]:
    """Run git; its stderr is captured, or on a terminal (``progress``) shown live, and also
    captured when ``tee``."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": os.environ.get("GIT_TERMINAL_PROMPT", "1")}
    stderr = subprocess.PIPE if tee or not progress else None
    try:
        proc = subprocess.Popen(["git", *args], cwd=root, env=env, stdout=subprocess.PIPE, stderr=stderr)
    except FileNotFoundError:
        raise RemoteError("git is not installed or not on PATH") from None
    assert proc.stdout is not None  # stdout=PIPE
    kept = bytearray()
    pump = None
    if proc.stderr is not None:
        err_fd = proc.stderr.fileno()

        def copy() -> None:
            for chunk in iter(lambda: os.read(err_fd, 65536), b""):
                kept.extend(chunk)
                if progress:
                    sys.stderr.buffer.write(chunk)
                    sys.stderr.buffer.flush()

        pump = threading.Thread(target=copy, daemon=True)
        pump.start()
    out = proc.stdout.read()
    code = proc.wait()
    if pump is not None and proc.stderr is not None:
        pump.join()
        proc.stderr.close()
    proc.stdout.close()
    text = kept.decode("utf-8", "replace") if proc.stderr is not None else None
    return subprocess.CompletedProcess(proc.args, code, out.decode("utf-8", "replace"), text)


def _progress() -> bool:
    return sys.stderr.isatty()


def push(root: str | Path, remote: str, refspecs: list[str], leases: dict[str, str] | None = None) -> list[PushResult]:
    """``git push --porcelain`` of ``refspecs``; ``leases`` maps refs to the value they must have on
    the remote to be overwritten (``--force-with-lease``). Returns git's verdict per ref.

    A hook on the remote that refuses one ref makes git refuse them all. When the hook names the
    refs it refuses (``remote: gittrack: refused <ref>: <reason>``, as gittrack's server hook
    does), those keep its reason and the other refs are pushed again without them."""
    final: dict[str, PushResult] = {}
    pending = list(refspecs)
    for _round in range(MAX_PUSH_ROUNDS):
        if not pending:
            break
        results, reasons, said = _push_once(root, remote, pending, leases)
        for result in results:
            reason = reasons.get(result.ref) or ("; ".join(said)[:500] if result.declined else "")
            final[result.ref] = PushResult(result.flag, result.ref, result.summary, reason)
        declined = [r.ref for r in results if r.declined]
        innocent = [ref for ref in declined if ref not in reasons]
        if not innocent or len(innocent) == len(declined):
            break  # nothing refused by name, or nothing else to push
        pending = _only(pending, innocent)
    return list(final.values())


def _push_once(
    root: str | Path, remote: str, refspecs: list[str], leases: dict[str, str] | None
) -> tuple[list[PushResult], dict[str, str], list[str]]:
    """One ``git push``: the results, the hook's reasons by ref, and everything else the remote said."""
    progress = _progress()
    args = ["push", "--porcelain", *(["--progress"] if progress else [])]
    args += [f"--force-with-lease={ref}:{value}" for ref, value in (leases or {}).items()]
    result = _git(str(root), [*args, remote, *refspecs], progress, tee=True)
    results = []
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and len(parts[0]) == 1:
            results.append(PushResult(parts[0], parts[1].rpartition(":")[2], parts[2]))
    if result.returncode != 0 and not results:
        raise RemoteError(f"git push to {redact(remote)} failed: {_server_said(result.stderr)}")
    reasons: dict[str, str] = {}
    said: list[str] = []
    for line in (result.stderr or "").replace("\r", "\n").splitlines():
        line = _ANSI.sub("", line).rstrip()
        found = _HOOK_REASON.match(line)
        if found:
            reasons.setdefault(found.group(1), redact(found.group(2)))
        elif line.startswith("remote: ") and line[8:].strip() and "%" not in line:
            said.append(redact(line[8:].strip()))
    return results, reasons, said


def _only(refspecs: list[str], refs: list[str]) -> list[str]:
    """The refspecs that push exactly ``refs`` (destination names), derived from ``refspecs``
    (explicit or ``prefix*`` globs, forced or not)."""
    wanted = set(refs)
    out = []
    for spec in refspecs:
        force = "+" if spec.startswith("+") else ""
        src, _, dst = spec.lstrip("+").partition(":")
        dst = dst or src
        if "*" in dst:
            src_head, dst_head = src.partition("*")[0], dst.partition("*")[0]
            for ref in sorted(r for r in wanted if r.startswith(dst_head)):
                out.append(f"{force}{src_head}{ref[len(dst_head) :]}:{ref}")
                wanted.discard(ref)
        elif dst in wanted:
            out.append(spec)
            wanted.discard(dst)
    return out


def fetch(root: str | Path, remote: str, refspecs: list[str], prune: bool = True) -> None:
    """``git fetch`` of ``refspecs`` (forced updates go only into gittrack's staging refs)."""
    progress = _progress()
    args = ["fetch", "--no-tags", "--progress" if progress else "--quiet"]
    if prune:
        args.append("--prune")
    result = _git(str(root), [*args, remote, *refspecs], progress)
    if result.returncode != 0:
        raise RemoteError(f"git fetch from {redact(remote)} failed: {_server_said(result.stderr)}")


def remote_refs(root: str | Path, remote: str, patterns: list[str]) -> dict[str, str]:
    """``git ls-remote``: the remote's refs matching ``patterns`` and their targets."""
    result = _git(str(root), ["ls-remote", remote, *patterns], progress=False)
    if result.returncode != 0:
        raise RemoteError(f"cannot list the refs of {redact(remote)}: {_server_said(result.stderr)}")
    refs = {}
    for line in result.stdout.splitlines():
        target, _, name = line.partition("\t")
        refs[name] = target
    return refs
