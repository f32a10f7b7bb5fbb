"""Getting a run back: ``checkout`` into the work tree, ``reproduce`` in a temporary worktree."""

from __future__ import annotations

import logging
import math
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gittrack.data import dvcstore
from gittrack.entities import Run
from gittrack.errors import GittrackError, MalformedRunError, UsageError
from gittrack.store import rules
from gittrack.store.ids import short_id
from gittrack.store.repo import identity, signature
from gittrack.store.runstore import RunStore
from gittrack.store.snapshot import RUN_DIR, without_run_dir
from gittrack.store.timefmt import now_ms

if TYPE_CHECKING:
    import pygit2

    from gittrack.client import Client

log = logging.getLogger("gittrack")


def _uncommitted(repo: pygit2.Repository) -> list[str]:
    import pygit2

    ignored = pygit2.enums.FileStatus.IGNORED
    return [path for path, flags in repo.status(untracked_files="no").items() if not flags & ignored]


def restore_data(root: str, targets: list[str], outputs: list[str]) -> str:
    """``dvc checkout`` of the DVC files ``targets`` (checked by ``rules.dvc_outputs``), fetching from
    the DVC remote what the cache lacks; ``outputs`` are re-checked on disk just before DVC writes."""
    if not dvcstore.has_dvc(root):
        return "no DVC set-up: nothing to restore"
    if not targets:
        return "no DVC data to restore"
    dvcstore.open_dvc.cache_clear()
    if dvcstore.checkout(dvcstore.open_dvc(root), targets, outputs):
        return "DVC data restored (fetched from the DVC remote)"
    return "DVC data restored from the local cache"


def checkout(repo: pygit2.Repository, spec: str, branch: str | None = None, force: bool = False) -> tuple[Run, str]:
    """Put a run's code (and its DVC inputs and artifacts) in the work tree: detached at the run
    commit, or on a new ``branch`` whose tip is the run's code without ``.gittrack/run/``."""
    import pygit2

    stored = RunStore(repo).get(spec)
    commit = repo[stored.ref.commit]
    try:
        targets, outputs = rules.dvc_outputs(repo, commit.tree_id)
    except MalformedRunError as exc:
        raise MalformedRunError(f"refusing to check out run {short_id(stored.record.id)}: {exc}") from None
    if branch:  # the branch's tip has the run's code without .gittrack/run/
        targets = [t for t in targets if not t.startswith(f"{RUN_DIR}/")]
        outputs = [o for o in outputs if not o.startswith(f"{RUN_DIR}/")]
    dirty = _uncommitted(repo)
    if dirty and not force:
        listed = ", ".join(dirty[:3]) + (" ..." if len(dirty) > 3 else "")
        raise UsageError(f"uncommitted changes ({listed}); commit or stash them, or pass --force to discard them")
    strategy = pygit2.enums.CheckoutStrategy.FORCE if force else pygit2.enums.CheckoutStrategy.SAFE
    if branch and repo.branches.local.get(branch) is not None:
        raise UsageError(f"branch {branch!r} exists already; choose another name")
    before = repo.head.name if not repo.head_is_detached and not repo.head_is_unborn else None
    before_commit = None if repo.head_is_unborn else repo.head.target
    try:
        if branch:
            who = signature(*identity(repo), now_ms())
            title = f"Start from run {stored.record.name} {short_id(stored.record.id)}"
            message = f"{title}\n\nGittrack-Run: {stored.record.id}\n"
            tip = repo.create_commit(None, who, who, message, without_run_dir(repo, commit.tree_id), [commit.id])
            repo.branches.local.create(branch, repo[tip])
            repo.checkout(f"refs/heads/{branch}", strategy=strategy)
        else:
            repo.checkout_tree(commit, strategy=strategy)
            repo.set_head(commit.id)
    except pygit2.GitError as exc:
        raise UsageError(
            f"cannot check out run {short_id(stored.record.id)}: {exc}; move those files or pass --force"
        ) from None
    try:
        return Run.from_stored(stored), restore_data(repo.workdir.rstrip("/"), targets, outputs)
    except GittrackError as exc:  # never leave the work tree half-switched: back to where it was
        _switch_back(repo, before, before_commit, branch)
        where = before.removeprefix("refs/heads/") if before else str(before_commit)[:12]
        raise type(exc)(f"{str(exc).rstrip('.')}; the work tree is back on {where}") from None


def _switch_back(repo: pygit2.Repository, ref: str | None, commit: pygit2.Oid | None, branch: str | None) -> None:
    """Undo a checkout: the old HEAD (a branch, or a detached commit) and its files; a branch
    the checkout created is removed."""
    import pygit2

    if commit is None:
        return
    repo.checkout_tree(repo[commit], strategy=pygit2.enums.CheckoutStrategy.FORCE)
    repo.set_head(ref if ref is not None else commit)
    if branch and repo.branches.local.get(branch) is not None:
        repo.branches.local.delete(branch)


@dataclass
class MetricCheck:
    """One metric of the original run against the reproduction."""

    key: str
    original: float
    reproduced: float | None
    tolerance: float

    @property
    def ok(self) -> bool:
        """Within the relative tolerance (NaN matches NaN)."""
        if self.reproduced is None:
            return False
        a, b = self.original, self.reproduced
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= self.tolerance * max(abs(a), abs(b))


@dataclass
class Reproduction:
    """The original run, the new one, and the metric comparison."""

    original: Run
    reproduced: Run
    checks: list[MetricCheck]
    exit_code: int
    worktree: str | None

    @property
    def ok(self) -> bool:
        """The command succeeded and every metric matched."""
        return self.exit_code == 0 and all(c.ok for c in self.checks)


def reproduce(
    repo: pygit2.Repository,
    client: Client,
    spec: str,
    tolerance: float = 1e-6,
    overrides: dict[str, float] | None = None,
    keep: bool = False,
    on_stdout: Callable[[bytes], None] | None = None,
    on_stderr: Callable[[bytes], None] | None = None,
    allow_outside: bool = False,
) -> Reproduction:
    """Re-run a run's recorded command in a temporary worktree at its snapshot and compare metrics.

    A run whose entry point (the script it ran) is not in its snapshot, because it lay outside
    the repository or git ignored it, is refused unless ``allow_outside``: re-running it would run
    that file as it is today, not the code that ran. ``client`` is the repository's; the
    reproduction is recorded by a client of the same kind on the worktree."""
    original = client.get_run(spec)
    command = original.record.command
    argv = list(command.get("argv") or [])
    if command.get("launcher") != "gittrack run" and not command.get("entry_point"):
        raise UsageError(
            f"run {original.info.run_name} was recorded from Python without a script to re-run "
            f"(command: {' '.join(argv) or 'none'}); check it out with 'gittrack checkout' and re-run it by hand"
        )
    missing = _entry_not_in_snapshot(repo, original)
    if missing and not allow_outside:
        raise UsageError(
            f"run {original.info.run_name} ran {command['entry_point']}, which {missing}: its code is not in the "
            "run's snapshot, so re-running it would run that file as it is today; pass --allow-outside to do so anyway"
        )
    try:
        targets, outputs = rules.dvc_outputs(repo, repo[original.info.commit].tree_id)
    except MalformedRunError as exc:
        raise MalformedRunError(f"refusing to reproduce run {short_id(original.info.run_id)}: {exc}") from None
    if argv and argv[0] == "python":
        argv[0] = sys.executable
    name = f"gittrack-reproduce-{short_id(original.info.run_id)}-{now_ms() % 100000}"
    folder = Path(tempfile.mkdtemp(prefix="gittrack-reproduce-")) / "worktree"
    branch = repo.branches.local.create(name, repo[original.info.commit])
    worktree = repo.add_worktree(name, str(folder), branch)
    try:
        if dvcstore.has_dvc(folder):
            _share_dvc_cache(repo.workdir, folder)
            restore_data(str(folder), targets, outputs)
        cwd = folder / (command.get("cwd") if command.get("cwd") not in (None, ".") else "")
        new, code = type(client)(folder).run_command(
            argv, experiment=original.info.experiment, tags={"reproduced_from": original.info.run_id},
            cwd=cwd, on_stdout=on_stdout, on_stderr=on_stderr,
        )  # fmt: skip
    finally:
        if not keep:
            shutil.rmtree(folder.parent, ignore_errors=True)
            worktree.prune(True)
            repo.branches.local.delete(name)
    limits = overrides or {}
    checks = [
        MetricCheck(key, value, new.data.metrics.get(key), limits.get(key, tolerance))
        for key, value in sorted(original.data.metrics.items())
    ]
    return Reproduction(original, new, checks, code, str(folder) if keep else None)


def _entry_not_in_snapshot(repo: pygit2.Repository, run: Run) -> str | None:
    """Why the run's recorded entry point is not a file of its snapshot (None: it is, or none is recorded)."""
    import pygit2

    entry = run.record.command.get("entry_point")
    if not isinstance(entry, str) or not entry:
        return None
    parts = Path(entry).as_posix().split("/")
    if Path(entry).is_absolute() or ".." in parts:
        return "lay outside the repository"
    try:
        found = repo[run.info.commit].peel(pygit2.Commit).tree["/".join(p for p in parts if p not in ("", "."))]
    except (KeyError, ValueError):
        found = None
    return (
        None if found is not None and found.type_str == "blob" else "was not snapshotted (ignored by git, or too big)"
    )


def _share_dvc_cache(main_root: str, worktree: Path) -> None:
    """Point the worktree's DVC at the main work tree's cache (a worktree has no cache of its own)."""
    dvcstore.open_dvc.cache_clear()
    dvc = dvcstore.open_dvc(str(worktree))
    with dvc.config.edit("local") as conf:
        conf["cache"]["dir"] = str(Path(main_root) / ".dvc" / "cache")
    dvcstore.open_dvc.cache_clear()
