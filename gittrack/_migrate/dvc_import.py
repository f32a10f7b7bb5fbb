"""``gittrack import dvc-exps``: DVC experiments (``refs/exps/...``) as gittrack runs.

Each experiment becomes a run whose snapshot is the experiment's commit (the run commit has it
as parent and shares its tree: the code is not copied). Params and metrics are those of
``dvc exp show --json``, flattened as ``dvc exp show`` shows them (``train.epochs``; prefixed
with ``<file>:`` only when two files have the same key). DVCLive step histories,
``dvclive/plots/metrics/<name>.tsv`` in the experiment's commit, become metric histories named
``<name>`` (``train/acc``); a summary metric that one of them already gives is not logged twice.
The ``dvc.lock`` outputs and dependencies are recorded as the run's inputs. The experiment's
commit is kept as the tag ``dvc.exp_rev``; importing again skips experiments imported before.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack._migrate.common import runs_with_tag
from gittrack._migrate.report import MigrationReport
from gittrack.errors import DataError, GittrackError, UsageError

if TYPE_CHECKING:
    import pygit2

EXP_REV_TAG = "dvc.exp_rev"
DVCLIVE_METRICS = "dvclive/plots/metrics"
_MAX_TSV_BYTES = 64 * 1024 * 1024


def exp_show(root: str, all_commits: bool) -> list[dict[str, Any]]:
    """``dvc exp show --json`` of the repository at ``root``."""
    argv = [sys.executable, "-m", "dvc", "exp", "show", "--json", "--no-fetch"]
    if all_commits:
        argv.append("--all-commits")
    result = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DataError(f"'dvc exp show' failed: {last[0]}")
    return json.loads(result.stdout)


def experiments(shown: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(baseline rev, experiment name, its ``data``) for every experiment in ``dvc exp show --json``."""
    found = []
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs") or []:
                if rev.get("data") and not rev.get("error"):
                    found.append((baseline["rev"], rev.get("name") or exp.get("name") or rev["rev"][:7], rev["data"]))
    return found


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def flatten_files(files: dict[str, Any]) -> dict[str, Any]:
    """Params or metrics by file -> one flat mapping, keys as ``dvc exp show`` names its columns."""
    per_file = {name: _flatten((content or {}).get("data") or {}) for name, content in sorted(files.items())}
    counts: dict[str, int] = {}
    for values in per_file.values():
        for key in values:
            counts[key] = counts.get(key, 0) + 1
    return {
        (key if counts[key] == 1 else f"{name}:{key}"): value
        for name, values in per_file.items()
        for key, value in values.items()
    }


def _parse_tsv(text: str, column: str) -> list[tuple[int, int, float]]:
    """DVCLive's ``timestamp<TAB>step<TAB><name>`` rows as (step, timestamp ms, value); bad rows dropped."""
    points = []
    for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
        try:
            points.append((int(row["step"]), int(float(row["timestamp"])), float(row[column])))
        except (KeyError, TypeError, ValueError):
            continue
    return points


def _tsv_files(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).with_suffix("").as_posix(): path.read_text()
        for path in sorted(folder.rglob("*.tsv"))
        if path.is_file() and path.stat().st_size <= _MAX_TSV_BYTES
    }


def _from_git(repo: pygit2.Repository, commit) -> dict[str, str] | None:
    import pygit2

    try:
        folder = repo[commit].tree[DVCLIVE_METRICS]
    except KeyError:
        return None
    top = repo[folder.id]
    if not isinstance(top, pygit2.Tree):
        return None
    found: dict[str, str] = {}
    stack = [("", top)]
    while stack:
        prefix, tree = stack.pop()
        for entry in tree:
            name = entry.name or ""  # an entry of a tree always has a name
            if entry.type == pygit2.GIT_OBJECT_TREE:
                stack.append((f"{prefix}{name}/", repo[entry.id].peel(pygit2.Tree)))
            elif name.endswith(".tsv"):
                blob = repo[entry.id].peel(pygit2.Blob)
                if blob.size <= _MAX_TSV_BYTES:
                    found[prefix + name[: -len(".tsv")]] = blob.data.decode()
    return found


def _from_dvc_cache(repo: pygit2.Repository, commit) -> dict[str, str]:
    """The TSVs of a ``dvc.lock`` output holding ``dvclive/plots/metrics`` (DVC caches plots by
    default), restored from the local DVC cache; nothing when it is not there."""
    import pygit2

    from gittrack._artifacts import dvc_of
    from gittrack._data.dvcstore import DataEntry, in_cache, materialise
    from gittrack._store.yamlio import load_yaml

    try:
        lock = load_yaml(repo[repo[commit].peel(pygit2.Commit).tree["dvc.lock"].id].peel(pygit2.Blob).data, "dvc.lock")
    except (KeyError, GittrackError):
        return {}
    stages = lock.get("stages") if isinstance(lock, dict) else None
    for stage in (stages or {}).values():
        for out in (stage or {}).get("outs") or []:
            path = str(out.get("path", "")).strip("/")
            md5 = out.get("md5")
            if not isinstance(md5, str) or not (DVCLIVE_METRICS + "/").startswith(path + "/"):
                continue
            entry = DataEntry(md5, out.get("size"), out.get("nfiles"))
            dvc = dvc_of(repo)
            if not in_cache(dvc, entry):
                return {}
            with tempfile.TemporaryDirectory(prefix="gittrack-dvclive-") as tmp:
                target = Path(tmp) / "out"
                materialise(dvc, entry, target)
                inner = target / DVCLIVE_METRICS[len(path) :].strip("/") if path != DVCLIVE_METRICS else target
                return _tsv_files(inner) if inner.is_dir() else {}
    return {}


def dvclive_histories(repo: pygit2.Repository, commit) -> dict[str, list[tuple[int, int, float]]]:
    """``dvclive/plots/metrics/**/<name>.tsv`` of an experiment commit (in git, else in the DVC cache
    through ``dvc.lock``): metric name (``train/acc``) -> [(step, timestamp ms, value)]."""
    files = _from_git(repo, commit)
    if files is None:
        files = _from_dvc_cache(repo, commit)
    return {name: _parse_tsv(text, name.rpartition("/")[2]) for name, text in files.items()}


def import_dvc_experiments(
    repo: pygit2.Repository,
    experiment: str,
    all_commits: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> MigrationReport:
    """Import the DVC experiments of this repository (of HEAD's commit, or of every commit) as runs."""
    import pygit2

    from gittrack._artifacts import workspace_inputs
    from gittrack._store import naming
    from gittrack._store.writer import RunWriter

    naming.validate_experiment(experiment)
    if repo.workdir is None:
        raise UsageError("importing DVC experiments needs a work tree (dvc exp show runs in it)")
    report = MigrationReport()
    known = runs_with_tag(repo, EXP_REV_TAG)
    todo = []
    for baseline, name, data in experiments(exp_show(repo.workdir, all_commits)):
        if data["rev"] in known:
            report.runs_present += 1
        else:
            todo.append((baseline, name, data))
    for done, (baseline, name, data) in enumerate(todo, 1):
        commit = repo.revparse_single(data["rev"]).peel(pygit2.Commit)
        run_name = name if name.strip() and name.isprintable() else None
        writer = RunWriter.create_recorded(
            repo, experiment, start_time=commit.author.time * 1000, user=(commit.author.name, commit.author.email),
            commit=commit.id, run_name=run_name,
        )  # fmt: skip
        what = f"DVC experiment {name}"
        for key, value in flatten_files(data.get("params") or {}).items():
            try:
                writer.log_param(key, value)
                report.params += 1
            except GittrackError as exc:
                report.skip(f"param {key!r} of {what}", str(exc))
        histories = dvclive_histories(repo, commit.id)
        for key, points in histories.items():
            try:
                for step, timestamp, value in points:
                    writer.log_metric(key, value, step=step, timestamp=timestamp)
                report.metric_points += len(points)
            except GittrackError as exc:
                report.skip(f"metric history {key!r} of {what}", str(exc))
        for key, value in flatten_files(data.get("metrics") or {}).items():
            if key.replace(".", "/") in histories or key in histories:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                report.skip(f"metric {key!r} of {what}", f"its value {value!r} is not a number")
                continue
            try:
                writer.log_metric(key, value, step=0, timestamp=commit.commit_time * 1000)
                report.metric_points += 1
            except GittrackError as exc:
                report.skip(f"metric {key!r} of {what}", str(exc))
        tags = {"dvc.exp_name": name, EXP_REV_TAG: data["rev"], "dvc.baseline_rev": baseline}
        for key, value in tags.items():
            writer.set_tag(key, value)
            report.tags += 1
        writer.add_inputs(workspace_inputs(repo, commit.tree_id))
        writer.finish("FINISHED", end_time=max(commit.commit_time, commit.author.time) * 1000)
        report.runs += 1
        if progress is not None:
            progress(done, len(todo))
    return report
