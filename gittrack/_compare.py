"""Comparing runs: side by side (``compare``) and pairwise in depth (``diff``)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gittrack._entities import Run
from gittrack._store import runfiles
from gittrack._store.snapshot import without_run_dir
from gittrack.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd
    import pygit2

LOWER_IS_BETTER = re.compile(
    r"loss|err|rmse|mse|mae|mape|smape|wer|cer|perplexity|latency|time|duration|brier|logloss|nll|cost", re.I
)


def lower_is_better(key: str) -> bool:
    """Whether smaller values of metric ``key`` are better (losses, errors, times) by its name."""
    return bool(LOWER_IS_BETTER.search(key))


@dataclass
class Comparison:
    """Runs side by side: each row maps a key to one value per run (None where absent)."""

    runs: list[Run]
    params: dict[str, list[str | None]] = field(default_factory=dict)
    metrics: dict[str, list[float | None]] = field(default_factory=dict)
    best: dict[str, int | None] = field(default_factory=dict)
    inputs: dict[str, list[str | None]] = field(default_factory=dict)
    sources: list[str | None] = field(default_factory=list)

    def differs(self, values: list[Any]) -> bool:
        """Whether the runs disagree on a row."""
        return len({repr(v) for v in values}) > 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stable keys: runs, params, metrics, best, inputs, source_commits)."""
        return {
            "runs": [{"run_id": r.info.run_id, "run_name": r.info.run_name} for r in self.runs],
            "params": self.params,
            "metrics": self.metrics,
            "best": {k: (self.runs[i].info.run_id if i is not None else None) for k, i in self.best.items()},
            "inputs": self.inputs,
            "source_commits": self.sources,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per field (``params.x``, ``metrics.y``, ``inputs.path``, ``source_commit``), one column per run."""
        import pandas as pd

        rows: dict[str, list[Any]] = {}
        for group, values in (("params", self.params), ("metrics", self.metrics), ("inputs", self.inputs)):
            for key, row in values.items():
                rows[f"{group}.{key}"] = row
        rows["source_commit"] = self.sources
        columns = [r.info.run_id for r in self.runs]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns, dtype="object")
        frame["differs"] = [self.differs(v) for v in rows.values()]
        best = {f"metrics.{k}": (columns[i] if i is not None else None) for k, i in self.best.items()}
        frame["best"] = [best.get(name) for name in rows]
        return frame


def _input_hashes(run: Run) -> dict[str, str]:
    out = {}
    for item in run.details.inputs:
        if isinstance(item, dict) and isinstance(item.get("path"), str):
            out[item["path"]] = str(item.get("md5") or item.get("hash") or "")
    return out


def compare(runs: list[Run]) -> Comparison:
    """Params, metrics (with the best run per metric), data input hashes and source commits."""
    if len(runs) < 2:
        raise UsageError("compare needs at least two runs")
    result = Comparison(runs)
    for key in sorted({k for r in runs for k in r.data.params}):
        result.params[key] = [r.data.params.get(key) for r in runs]
    for key in sorted({k for r in runs for k in r.data.metrics}):
        values = [r.data.metrics.get(key) for r in runs]
        result.metrics[key] = values
        candidates = [(v, i) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
        pick = min if lower_is_better(key) else max
        result.best[key] = pick(candidates)[1] if candidates else None
    hashes = [_input_hashes(r) for r in runs]
    for path in sorted({p for h in hashes for p in h}):
        result.inputs[path] = [h.get(path) for h in hashes]
    result.sources = [r.info.source_commit for r in runs]
    return result


@dataclass
class FileChange:
    """One file changed between two snapshots."""

    path: str
    status: str
    additions: int
    deletions: int


@dataclass
class RunDiff:
    """What differs between two runs: params, metrics, inputs, packages and code."""

    a: Run
    b: Run
    params: dict[str, tuple[str | None, str | None]]
    metrics: dict[str, tuple[float | None, float | None]]
    inputs: dict[str, tuple[str | None, str | None]]
    packages: dict[str, tuple[str | None, str | None]]
    python: tuple[str | None, str | None]
    files: list[FileChange]
    patch: str

    def to_dict(self, with_patch: bool = False) -> dict[str, Any]:
        """JSON-ready form; each change is ``[a, b]``."""
        out = {
            "a": self.a.info.run_id,
            "b": self.b.info.run_id,
            "params": {k: list(v) for k, v in self.params.items()},
            "metrics": {k: list(v) for k, v in self.metrics.items()},
            "inputs": {k: list(v) for k, v in self.inputs.items()},
            "packages": {k: list(v) for k, v in self.packages.items()},
            "python": list(self.python),
            "files": [f.__dict__ for f in self.files],
        }
        if with_patch:
            out["patch"] = self.patch
        return out


def _packages(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        name, sep, version = line.partition("==")
        if sep:
            out[name.strip().lower()] = version.strip()
    return out


def _changed(a: dict, b: dict) -> dict[str, tuple]:
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if repr(a.get(k)) != repr(b.get(k))}


_STATUS = {1: "added", 2: "deleted", 3: "modified", 4: "renamed", 5: "copied", 8: "type changed"}


def file_changes(changes: pygit2.Diff) -> list[FileChange]:
    """The files of a pygit2 diff (renames found) with their status and line counts."""
    changes.find_similar()
    files = []
    for patch in changes:
        if patch is None:  # pygit2 gives None for a delta it cannot make a patch of
            continue
        delta = patch.delta
        _, additions, deletions = patch.line_stats
        files.append(FileChange(delta.new_file.path, _STATUS.get(int(delta.status), "changed"), additions, deletions))
    return files


def _commit_of(run: Run) -> str:
    assert run.info.commit is not None  # a run read from a repository has its commit
    return run.info.commit


def diff(repo: pygit2.Repository, a: Run, b: Run) -> RunDiff:
    """Everything that differs between runs ``a`` and ``b``; the code diff excludes ``.gittrack/run``."""
    import pygit2

    commits = [pygit2.Oid(hex=_commit_of(r)) for r in (a, b)]
    trees = [without_run_dir(repo, repo[c].peel(pygit2.Commit).tree_id) for c in commits]
    changes = repo[trees[0]].peel(pygit2.Tree).diff_to_tree(repo[trees[1]].peel(pygit2.Tree))
    files = file_changes(changes)
    metrics = {
        k: (a.data.metrics.get(k), b.data.metrics.get(k)) for k in sorted(set(a.data.metrics) | set(b.data.metrics))
    }
    metrics = {k: v for k, v in metrics.items() if not _same_number(*v)}
    requirements = [_packages(runfiles.read_requirements(repo, c)) for c in commits]
    return RunDiff(
        a=a,
        b=b,
        params=_changed(a.data.params, b.data.params),
        metrics=metrics,
        inputs=_changed(_input_hashes(a), _input_hashes(b)),
        packages=_changed(*requirements),
        python=(a.details.environment.get("python"), b.details.environment.get("python")),
        files=files,
        patch=changes.patch or "",
    )


def _same_number(x: float | None, y: float | None) -> bool:
    if x is None or y is None:
        return x is y
    return x == y or (math.isnan(x) and math.isnan(y))
