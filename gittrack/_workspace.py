"""Getting a run back: ``checkout`` into the work tree, ``reproduce`` in a temporary worktree."""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gittrack._data import dvcstore, restore
from gittrack._data.outputs import Output, snapshot_outputs
from gittrack._data.restore import Restored
from gittrack._entities import Run
from gittrack._store.ids import short_id
from gittrack._store.repo import identity, ref_oid, signature
from gittrack._store.runstore import RunStore
from gittrack._store.snapshot import RUN_DIR, without_run_dir
from gittrack._store.timefmt import now_ms
from gittrack.errors import GittrackError, MalformedRunError, UsageError

if TYPE_CHECKING:
    import pygit2
    from dvc.repo import Repo

    from gittrack._services.runs import RunService

log = logging.getLogger("gittrack")


def _uncommitted(repo: pygit2.Repository) -> list[str]:
    import pygit2

    ignored = pygit2.enums.FileStatus.IGNORED
    return [path for path, flags in repo.status(untracked_files="no").items() if not flags & ignored]


def _own_dvc(root: str) -> Repo | None:
    """The repository's own DVC (its settings, cache and remote), opened before any snapshot file
    arrives in the work tree, so a snapshot's ``.dvc/config`` is never what restores data."""
    return dvcstore.open_dvc(root) if dvcstore.has_dvc(root) else None


def _snapshot_outputs(repo: pygit2.Repository, tree_id: pygit2.Oid, what: str) -> list[Output]:
    try:
        return snapshot_outputs(repo, tree_id)
    except MalformedRunError as exc:
        raise MalformedRunError(f"refusing to {what}: {exc}") from None


def _ignore_run_folder(repo: pygit2.Repository) -> None:
    """Add ``/.gittrack/run/`` to the repository's own ignore list (``.git/info/exclude``, never
    committed): restored artifacts left there when the work tree switches back to a branch must
    not end up in the next ``git add -A``."""
    common = Path(repo.path)
    if (common / "commondir").is_file():
        common = (common / (common / "commondir").read_text().strip()).resolve()
    exclude = common / "info" / "exclude"
    lines = exclude.read_text().splitlines() if exclude.is_file() else []
    if _RUN_IGNORE not in lines:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a") as out:
            out.write(("\n" if lines and not exclude.read_text().endswith("\n") else "") + _RUN_IGNORE + "\n")


_RUN_IGNORE = f"/{RUN_DIR}/"


def checkout(
    repo: pygit2.Repository,
    spec: str,
    branch: str | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Run, Restored]:
    """Put a run's code (and its DVC inputs and artifacts) in the work tree: detached at the run
    commit, or on a new ``branch`` whose tip is the run's code without ``.gittrack/run/``.

    The data's objects are gathered (fetched from the DVC remote) before the work tree changes;
    if they cannot all be had, or writing one fails, the work tree stays (or goes back) where it was."""
    import pygit2

    stored = RunStore(repo).get(spec)
    commit = repo[stored.ref.commit].peel(pygit2.Commit)
    outputs = _snapshot_outputs(repo, commit.tree_id, f"check out run {short_id(stored.record.id)}")
    if branch:  # the branch's tip has the run's code without .gittrack/run/
        outputs = [o for o in outputs if not o.path.startswith(f"{RUN_DIR}/")]
    dirty = _uncommitted(repo)
    if dirty and not force:
        listed = ", ".join(dirty[:3]) + (" ..." if len(dirty) > 3 else "")
        raise UsageError(f"uncommitted changes ({listed}); commit or stash them, or pass --force to discard them")
    strategy = pygit2.enums.CheckoutStrategy.FORCE if force else pygit2.enums.CheckoutStrategy.SAFE
    if branch and repo.branches.local.get(branch) is not None:
        raise UsageError(f"branch {branch!r} exists already; choose another name")
    root = repo.workdir.rstrip("/")
    dvc = _own_dvc(root) if outputs else None
    fetched = restore.gather(dvc, outputs)
    before = repo.head.name if not repo.head_is_detached and not repo.head_is_unborn else None
    before_commit = None if repo.head_is_unborn else ref_oid(repo.head)
    try:
        if branch:
            who = signature(*identity(repo), now_ms())
            title = f"Start from run {stored.record.name} {short_id(stored.record.id)}"
            message = f"{title}\n\nGittrack-Run: {stored.record.id}\n"
            tip = repo.create_commit(None, who, who, message, without_run_dir(repo, commit.tree_id), [commit.id])
            repo.branches.local.create(branch, repo[tip].peel(pygit2.Commit))
            repo.checkout(f"refs/heads/{branch}", strategy=strategy)
        else:
            _ignore_run_folder(repo)
            repo.checkout_tree(commit, strategy=strategy)
            repo.set_head(commit.id)
    except pygit2.GitError as exc:
        raise UsageError(
            f"cannot check out run {short_id(stored.record.id)}: {exc}; move those files or pass --force"
        ) from None
    try:
        done = restore.write(dvc, root, outputs, progress)
    except GittrackError as exc:  # never leave the work tree half-switched: back to where it was
        _switch_back(repo, before, before_commit, branch)
        where = before.removeprefix("refs/heads/") if before else str(before_commit)[:12]
        raise type(exc)(f"{str(exc).rstrip('.')}; the work tree is back on {where}") from None
    done.fetched = fetched
    return Run.from_stored(stored), done


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


MACHINE_DEPENDENT = ("system/*", "*_runtime", "*_per_second")
"""Metrics that measure the machine, not the model (system metrics, timings, throughput):
``reproduce`` shows them but does not compare them (docs/sharing.md)."""


def machine_dependent(key: str) -> bool:
    """Whether metric ``key`` is one of :data:`MACHINE_DEPENDENT`."""
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in MACHINE_DEPENDENT)


@dataclass
class MetricCheck:
    """One metric of the original run against the reproduction."""

    key: str
    original: float
    reproduced: float | None
    tolerance: float
    compared: bool = True
    """False for a machine-dependent metric: shown, never a failure."""

    @property
    def ok(self) -> bool:
        """Within the relative tolerance (NaN matches NaN); always for a metric not compared."""
        if not self.compared:
            return True
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
    branch: str | None = None
    data: Restored | None = None

    @property
    def ok(self) -> bool:
        """The command succeeded and every compared metric matched."""
        return self.exit_code == 0 and all(c.ok for c in self.checks)


@dataclass
class Plan:
    """What ``reproduce`` is about to do, for the caller to show (and, for a run recorded on
    another machine or by another person, to approve) before anything runs."""

    run: Run
    argv: list[str]
    cwd: str
    foreign: bool
    """The run was recorded by another git user or on another host."""
    outputs: int


def reproduce(
    runs: RunService,
    spec: str,
    tolerance: float = 1e-6,
    overrides: dict[str, float] | None = None,
    keep: bool = False,
    on_stdout: Callable[[bytes], None] | None = None,
    on_stderr: Callable[[bytes], None] | None = None,
    allow_outside: bool = False,
    approve: Callable[[Plan], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Reproduction:
    """Re-run a run's recorded command in a temporary worktree at its snapshot, with its DVC data
    restored, and compare its metrics (machine-dependent ones are shown, not compared).

    A run whose entry point (the script it ran) is not in its snapshot, because it lay outside
    the repository or git ignored it, is refused unless ``allow_outside``: re-running it would run
    that file as it is today, not the code that ran. ``approve`` sees the command before it runs
    and may refuse it (``UsageError``). The reproduction is recorded in the worktree by a
    ``RunService`` of its own, into the same repository."""
    import pygit2

    from gittrack._runner import run_command
    from gittrack._services.runs import RunService
    from gittrack._store.repository import Repository

    repo = runs.repo.git
    original = runs.get_run(spec)
    command = original.details.command
    argv = list(command.get("argv") or [])
    if command.get("launcher") == "mlflow-client" and argv[:1] != ["python"]:
        raise UsageError(
            f"run {original.info.run_name} was recorded by an MLflow client through gittrack server on a commit the "
            "server did not have, so its snapshot is not the code that ran: push that commit before running the script"
        )
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
    run_id = short_id(original.info.run_id)
    source = original.info.commit
    assert source is not None  # a run read from this repository has its commit
    outputs = _snapshot_outputs(repo, repo[source].peel(pygit2.Commit).tree_id, f"reproduce run {run_id}")
    if argv and argv[0] == "python":
        argv[0] = sys.executable
    relative_cwd = str(command.get("cwd") or ".")
    plan = Plan(original, argv, relative_cwd, _foreign(repo, original), len(outputs))
    if approve is not None and not approve(plan):
        raise UsageError(f"not reproducing run {run_id}: its command was not approved")
    root = repo.workdir.rstrip("/")
    dvc = _own_dvc(root)
    fetched = restore.gather(dvc, outputs)  # before anything is created: a missing object stops here
    name = f"gittrack-reproduce-{run_id}-{now_ms() % 100000}"
    folder = Path(tempfile.mkdtemp(prefix="gittrack-reproduce-")) / "worktree"
    branch = repo.branches.local.create(name, repo[source].peel(pygit2.Commit))
    worktree = repo.add_worktree(name, str(folder), branch)
    from gittrack import _mlflow_rerun

    through_mlflow = command.get("launcher") == _mlflow_rerun.LAUNCHER  # an MLflow client's script: see there
    try:
        data = restore.write(dvc, folder, outputs, progress)
        data.fetched = fetched
        server = _mlflow_rerun.local_server(root) if through_mlflow else contextlib.nullcontext(None)
        with _shared_dvc_cache(dvc), server as url, _mlflow_rerun.pointed_at(url) as resume:
            new, code = run_command(
                RunService(Repository.open(folder)), argv, experiment=original.info.experiment,
                tags={"reproduced_from": original.info.run_id},
                cwd=folder / relative_cwd, on_stdout=on_stdout, on_stderr=on_stderr,
                on_start=resume,
                system_metrics=any(machine_dependent(k) for k in original.data.metrics) or None,
            )  # fmt: skip
    except GittrackError as exc:
        if keep:
            raise type(exc)(f"{str(exc).rstrip('.')}; kept worktree {folder} on branch {name}") from None
        raise
    finally:
        if not keep:
            shutil.rmtree(folder.parent, ignore_errors=True)
            worktree.prune(True)
            repo.branches.local.delete(name)
    limits = overrides or {}
    checks = [
        MetricCheck(key, value, new.data.metrics.get(key), limits.get(key, tolerance), not machine_dependent(key))
        for key, value in sorted(original.data.metrics.items())
    ]
    return Reproduction(original, new, checks, code, str(folder) if keep else None, name if keep else None, data)


def _foreign(repo: pygit2.Repository, run: Run) -> bool:
    """Whether ``run`` was recorded by another git user or on another host than this clone's."""
    import socket

    return run.info.user_email != identity(repo)[1] or run.info.host != socket.gethostname()


@contextlib.contextmanager
def _shared_dvc_cache(dvc: Repo | None) -> Iterator[None]:
    """While the reproduction runs, DVC in its process uses the repository's cache (a worktree
    has none of its own): a system-level DVC config naming it, in ``$DVC_SYSTEM_CONFIG_DIR``."""
    if dvc is None:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="gittrack-dvc-") as folder:
        Path(folder, "config").write_text(f"[cache]\n    dir = {restore.cache_dir(dvc)}\n")
        old = os.environ.get("DVC_SYSTEM_CONFIG_DIR")
        os.environ["DVC_SYSTEM_CONFIG_DIR"] = folder
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("DVC_SYSTEM_CONFIG_DIR", None)
            else:
                os.environ["DVC_SYSTEM_CONFIG_DIR"] = old


def _entry_not_in_snapshot(repo: pygit2.Repository, run: Run) -> str | None:
    """Why the run's recorded entry point is not a file of its snapshot (None: it is, or none is recorded)."""
    import pygit2

    entry = run.details.command.get("entry_point")
    if not isinstance(entry, str) or not entry or run.info.commit is None:
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
