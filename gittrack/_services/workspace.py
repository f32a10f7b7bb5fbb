"""Runs in the work tree: running a command as a run, checking a run out, reproducing it, and
reading its code snapshot; comparing runs (``client.workspace``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

    from gittrack._data.restore import Restored
    from gittrack._entities import Run
    from gittrack._services.runs import RunService
    from gittrack._workspace import Plan, Reproduction


class WorkspaceService:
    """Commands, checkouts and reproductions of the runs of ``runs``' repository."""

    def __init__(self, runs: RunService) -> None:
        self._runs = runs
        self._repo = runs.repo

    def commit_files(self, paths: list[str], message: str) -> str:
        """Commit exactly ``paths`` (relative to the root, as they are in the work tree) on the current
        branch, leaving other changes as they were; returns the new commit id."""
        from gittrack._initialize import commit_files

        return commit_files(self._runs.repo_path, paths, message)

    def list_run_files(self, run_id: str, path: str = "") -> list[dict]:
        """The entries (``name``, ``path``, ``type``, ``size``) of a folder of the run's code snapshot."""
        from gittrack._snapshots import list_files

        return list_files(self._repo.git, self._runs.get_run(run_id), path)

    def read_run_file(self, run_id: str, path: str, max_bytes: int = 10 * 1024 * 1024) -> bytes:
        """A file of the run's code snapshot, as it was when the run started (at most ``max_bytes``)."""
        from gittrack._snapshots import read_file

        return read_file(self._repo.git, self._runs.get_run(run_id), path, max_bytes)

    def diff_run_source(self, run_id: str) -> dict:
        """The run's snapshot against its source commit: ``source_commit``, ``files`` (path, status,
        additions, deletions) and ``patch``: the uncommitted edits it ran with."""
        from gittrack._snapshots import source_diff

        return source_diff(self._repo.git, self._runs.get_run(run_id))

    def compare_runs(self, run_ids: list[str]):
        """Runs side by side: params, metrics (best marked), data input hashes, source commits."""
        from gittrack._compare import compare

        return compare([self._runs.get_run(spec) for spec in run_ids])

    def diff_runs(self, run_a: str, run_b: str):
        """What differs between two runs: params, metrics, inputs, packages and the code."""
        from gittrack._compare import diff

        return diff(self._repo.git, self._runs.get_run(run_a), self._runs.get_run(run_b))

    def checkout(
        self,
        run_id: str,
        branch: str | None = None,
        force: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[Run, Restored]:
        """Put a run's code, inputs and artifacts in the work tree (detached, or on a new ``branch``);
        returns the run and what was restored of its DVC data. Unsafe snapshots are refused."""
        from gittrack._workspace import checkout

        return checkout(self._repo.git, run_id, branch, force, progress)

    def reproduce(
        self,
        run_id: str,
        tolerance: float = 1e-6,
        metric_tolerances: Mapping[str, float] | None = None,
        keep: bool = False,
        on_stdout: Callable[[bytes], None] | None = None,
        on_stderr: Callable[[bytes], None] | None = None,
        allow_outside: bool = False,
        approve: Callable[[Plan], bool] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Reproduction:
        """Re-run a run's command at its snapshot (a temporary worktree, its DVC data restored) and
        compare its metrics; ``approve`` sees the command first and may refuse it."""
        from gittrack._workspace import reproduce

        return reproduce(self._runs, run_id, tolerance, dict(metric_tolerances or {}), keep, on_stdout,
                         on_stderr, allow_outside, approve, progress)  # fmt: skip

    def run_command(
        self,
        command: list[str],
        experiment: str | None = None,
        run_name: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        on_stdout: Callable[[bytes], None] | None = None,
        on_stderr: Callable[[bytes], None] | None = None,
        on_start: Callable[[Run], None] | None = None,
        cwd: str | os.PathLike | None = None,
        system_metrics: bool | None = None,
        parent_run_id: str | None = None,
        on_process: Callable[[subprocess.Popen], None] | None = None,
        on_exit: Callable[[int], None] | None = None,
    ) -> tuple[Run, int]:
        """Run ``command`` as a new run (``gittrack run``); returns the ended run and its exit code.
        ``system_metrics``: sample CPU, memory, disk, network and GPUs into ``system/`` metrics
        (None: as ``$GITTRACK_SYSTEM_METRICS`` or git config ``gittrack.systemMetrics`` say).
        ``parent_run_id`` nests the run; ``on_process`` gets the command's process once started,
        ``on_exit`` its exit code before the run ends (a sweep's pruning)."""
        from gittrack._runner import run_command

        return run_command(self._runs, command, experiment, run_name, params, tags, on_stdout, on_stderr, on_start,
                           cwd, system_metrics, parent_run_id, on_process, on_exit)  # fmt: skip
