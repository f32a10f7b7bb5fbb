"""``gittrack import mlflow``: an MLflow store's runs and registered models as gittrack runs and tags.

The store is read through MLflow's own client (the ``gittrack[mlflow]`` extra), so every store
MLflow reads (a ``mlruns/`` folder, ``sqlite:///mlflow.db``, a tracking server) is read by the
code that wrote it, artifacts included wherever they live.

Each MLflow run is written by one ``RunWriter.create_recorded`` and one final checkpoint, so its
ref appears complete or not at all: an interrupted import leaves no half-written run. The MLflow
run id is kept as the tag ``mlflow.imported_run_id``; importing again skips the runs found with it.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack._migrate.common import IMPORTED_RUN_TAG, imported_runs, mlflow_client
from gittrack._migrate.report import MigrationReport
from gittrack.errors import GittrackError, InvalidNameError, UsageError

if TYPE_CHECKING:
    import pygit2

SNAPSHOT_TAG = "gittrack.import.snapshot"
ENDED_STATUSES = ("FINISHED", "FAILED", "KILLED")
_PAGE = 1000
_FLAVOR_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256, in full
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")  # MLflow writes m-<32 hex>

Progress = Callable[[int, int], None]
_POINT = itemgetter(1, 2, 3)  # (step, timestamp, value) of a metrics row
_PACK_RUNS = 1000  # runs written to one pack before their refs are created


def _experiments(client, names: Iterable[str] | None) -> list:
    from mlflow.entities import ViewType

    every = client.search_experiments(view_type=ViewType.ALL)
    if not names:
        return sorted(every, key=lambda e: e.name)
    wanted = list(names)
    by_name = {e.name: e for e in every}
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise UsageError(f"no MLflow experiment named {', '.join(map(repr, missing))}; known: {', '.join(by_name)}")
    return [by_name[n] for n in wanted]


def _all_runs(client, experiment_id: str) -> list:
    from mlflow.entities import ViewType

    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=_PAGE, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _logged_models(client, experiment_id: str) -> dict[str, list]:
    """MLflow 3's logged models of an experiment, by source run id (empty before MLflow 3)."""
    search = getattr(client, "search_logged_models", None)
    if search is None:
        return {}
    found: dict[str, list] = {}
    token = None
    while True:
        page = search(experiment_ids=[experiment_id], max_results=100, page_token=token)
        for model in page:
            if model.source_run_id:
                found.setdefault(model.source_run_id, []).append(model)
        token = page.token
        if not token:
            return found


class _SqliteHistories:
    """Metric histories of a ``sqlite:///`` store, one indexed query per run (MLflow's client asks once
    per metric through its ORM, which makes an import of many runs several times slower). It reads
    only the ``metrics`` table (MLflow's schema: ``run_uuid``, ``key``, ``value``, ``step``,
    ``timestamp``, ``is_nan``, read-only); any other store, or a schema without those columns,
    goes through MLflow's client."""

    def __init__(self, tracking_uri: str | None) -> None:
        self.db = None
        self.refused: list[tuple[str, str]] = []  # (what, why) of rows that are not points
        uri = tracking_uri or ""
        if uri.startswith("sqlite:///"):
            import sqlite3

            try:
                db = sqlite3.connect(f"{Path(uri[len('sqlite:///') :]).resolve().as_uri()}?mode=ro", uri=True)
                db.execute("SELECT run_uuid, key, value, step, timestamp, is_nan FROM metrics LIMIT 1").fetchall()
                self.db = db
            except sqlite3.Error:
                self.db = None

    def of_run(self, client, run_id: str, keys: Iterable[str]) -> dict[str, list[tuple[int, int, float]]]:
        """key -> [(step, timestamp, value)] for every key of the run."""
        if self.db is None:
            return {
                key: [(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)] for key in keys
            }
        found: dict[str, list[tuple[int, int, float]]] = {key: [] for key in keys}
        rows = self.db.execute(
            "SELECT key, step, timestamp, value, is_nan FROM metrics WHERE run_uuid = ?", (run_id,)
        ).fetchall()
        kinds = [set(map(type, map(itemgetter(column), rows))) for column in range(4)]
        if kinds[0] <= {str} and kinds[1] | kinds[2] <= {int} and kinds[3] <= {float}:  # the usual case
            rows.sort(key=itemgetter(0, 1, 2))  # here: SQLite would sort each step's rows in a temporary tree
            nan = any(map(itemgetter(4), rows))
            for key, group in groupby(rows, itemgetter(0)):
                if nan:
                    found[key] = [(s, t, math.nan if is_nan else v) for _, s, t, v, is_nan in group]
                else:
                    found[key] = list(map(_POINT, group))
            return found
        ordered = self.db.execute(
            "SELECT key, step, timestamp, value, is_nan FROM metrics WHERE run_uuid = ? ORDER BY key, step, timestamp",
            (run_id,),
        )
        for key, step, timestamp, value, is_nan in ordered:
            try:
                if not all(isinstance(n, int) for n in (step, timestamp)):
                    raise TypeError
                point = (step, timestamp, float("nan") if is_nan else float(value))
            except (TypeError, ValueError):
                shown = ", ".join(repr(v)[:40] for v in (step, timestamp, value))
                self.refused.append((f"a point of metric {str(key)[:200]!r} of MLflow run {run_id}",
                                     f"step, timestamp and value ({shown}) are not integers and a number"))  # fmt: skip
                continue
            found.setdefault(key, []).append(point)
        return found

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def _source_commit(repo: pygit2.Repository, tags: dict[str, str]) -> tuple[Any, str]:
    """The commit whose tree is the run's snapshot, and how it was chosen (kept as a tag)."""
    import pygit2

    recorded = tags.get("mlflow.source.git.commit")
    if recorded and not _COMMIT_ID.fullmatch(recorded):
        # a branch, tag or expression would pick a commit of this repository the store's author
        # chose (a private branch, say) as the snapshot of a run that is then shared
        why = f"HEAD at import: the source commit {recorded[:40]!r} is not a full commit id"
    elif recorded:
        found = repo.get(recorded)
        if isinstance(found, pygit2.Commit):
            return found.id, "source commit"
        why = f"HEAD at import: the source commit {recorded[:12]} is not in this repository"
    else:
        why = "HEAD at import: MLflow recorded no source commit"
    if repo.head_is_unborn:
        return None, "empty: MLflow recorded no source commit and this repository has no commit"
    return repo.head.peel(pygit2.Commit).id, why


def _model_meta(folder: Path) -> dict[str, Any]:
    """A gittrack ``model.yaml`` for an MLflow model folder: loaded by MLflow's loader of its flavor
    (``mlflow.<flavor>.load_model``), its MLmodel file and the rest kept as they are."""
    from gittrack._store.yamlio import load_yaml
    from gittrack._version import __version__

    mlmodel = load_yaml((folder / "MLmodel").read_bytes(), "MLmodel")
    flavors = mlmodel.get("flavors") if isinstance(mlmodel, dict) else None
    flavors = flavors if isinstance(flavors, dict) else {}
    python = (flavors.get("python_function") or {}).get("python_version") or ""
    native = [name for name in flavors if name != "python_function" and _FLAVOR_NAME.match(str(name))]
    mlflow_flavor = native[0] if native else "pyfunc"
    return {"schema": 1, "flavor": "sklearn" if mlflow_flavor == "sklearn" else "python", "loader": "mlflow",
            "mlflow_flavor": mlflow_flavor, "file": "MLmodel", "model_class": None, "python": str(python),
            "gittrack": __version__, "requirements": [], "signature": None}  # fmt: skip


def _listing(client, run, path: str = "") -> list[tuple[str, bool, int]]:
    """``(path, is_dir, bytes)`` of the entries directly under ``path`` of the run's artifacts (paths
    from the run's artifact root), listed at the run's artifact URI: ``client.list_artifacts``
    first reads the whole run again from the store (a quarter of an import's time at 1,000 runs)."""
    import mlflow.artifacts

    if not run.info.artifact_uri or client.tracking_uri.startswith("databricks"):
        found = client.list_artifacts(run.info.run_id, path or None)  # Databricks adds profile details to the URI
    else:
        uri = run.info.artifact_uri.rstrip("/") + (f"/{path}" if path else "")
        found = mlflow.artifacts.list_artifacts(artifact_uri=uri, tracking_uri=client.tracking_uri)
    # MLflow gives paths from some root of its own (the URI's parent, for one): keep each name
    return [(f"{path}/{i.path.rsplit('/', 1)[-1]}".lstrip("/"), i.is_dir, int(i.file_size or 0)) for i in found]


def _store_folder(tracking_uri: str) -> Path | None:
    """The folder of a local store: a folder store itself, or the folder holding a SQLite file
    (where MLflow keeps its artifacts by default); None for a tracking server."""
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri[len("sqlite:///") :]).resolve().parent
    local = _local_path(tracking_uri)
    return local.resolve() if local is not None else None


def _local_path(uri: str) -> Path | None:
    """The local path a ``file:`` URI or a plain path names; None for any other scheme."""
    from urllib.parse import unquote, urlparse
    from urllib.request import url2pathname

    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(url2pathname(unquote(parsed.path)))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return Path(uri)
    return None


def _outside_store(tracking_uri: str, artifact_uri: str | None, max_entries: int = 100_000) -> str | None:
    """Why the artifacts at ``artifact_uri`` are not read (None: they may be): a local folder is
    read only inside the store's own folder, and only if no symlink in it leads out; the store
    names these locations, and whatever is read ends up in runs that are shared."""
    local = _local_path(artifact_uri or "")
    if local is None:
        return None  # kept where MLflow's artifact repositories fetch from (a server, a bucket)
    root = _store_folder(tracking_uri)
    where = f"its artifact location {str(artifact_uri)[:80]!r}"
    if root is None or not local.resolve().is_relative_to(root):
        return f"{where} is outside the MLflow store; only the store's own folder is read"
    seen = 0
    for parent, folders, files in os.walk(local.resolve(), followlinks=False):
        for name in folders + files:
            seen += 1
            path = Path(parent, name)
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                return f"{where} holds a symlink out of the MLflow store"
        if seen > max_entries:
            return f"{where} holds more than {max_entries} entries"
    return None


def _listed_size(client, run, entry: tuple[str, bool, int]) -> int:
    """The bytes of one listed artifact: a file's size, a folder's files' sizes added up."""
    path, is_dir, size = entry
    return sum(_listed_size(client, run, inner) for inner in _listing(client, run, path)) if is_dir else size


def _artifact_entries(client, run, models: list, report: MigrationReport) -> list[tuple[str, Any, Any]]:
    """Every artifact the import writes for a run, as ``(name, listed entry or None, logged model
    or None)``: the run's top-level artifacts, then its MLflow 3 logged models (renamed
    ``<name>-<model id>`` when the name is taken). Locations outside the store's own folder and
    model ids that are not plain names are skipped, with the reason, in an import and its dry run alike."""
    what = f"MLflow run {run.info.run_id}"
    outside = _outside_store(client.tracking_uri, run.info.artifact_uri)
    entries: list[tuple[str, Any, Any]] = []
    if outside is not None:
        report.skip(f"artifacts of {what}", outside)
    else:
        entries = [(entry[0], entry, None) for entry in _listing(client, run)]
    taken = {name for name, _, _ in entries}
    for model in models:
        model_id = str(model.model_id)
        if not _MODEL_ID.fullmatch(model_id):
            report.skip(f"logged model {model_id[:60]!r} of {what}", "its id is not a plain name like 'm-0a1b...'")
            continue
        outside = _outside_store(client.tracking_uri, model.artifact_location)
        if outside is not None:
            report.skip(f"logged model {model_id} of {what}", outside)
            continue
        name = model.name if model.name not in taken else f"{model.name}-{model_id}"
        taken.add(name)
        entries.append((name, None, model))
    return entries


def _count_artifact(report: MigrationReport, kind: str, size: int) -> None:
    """Count one artifact (``size``: its bytes in MLflow) for an import and its dry run alike."""
    report.artifacts += 1
    report.artifact_bytes += size
    report.models += kind == "model"


def _add_artifacts(writer, client, run, models: list, report: MigrationReport, tmp: Path | None) -> None:
    """Download the run's artifacts (and MLflow 3 logged models) and log them through DVC; with
    ``tmp`` None (a dry run), only count them, from MLflow's listings, as the import would."""
    from gittrack._store.naming import artifact_path

    entries = _artifact_entries(client, run, models, report)
    run_folder = None
    if tmp is not None and entries:
        tmp.mkdir(parents=True, exist_ok=True)
    if tmp is not None and any(info is not None for _, info, _ in entries):
        run_folder = Path(client.download_artifacts(run.info.run_id, "", str(tmp / "run")))
    for name, info, model in entries:
        try:
            path = artifact_path(None, name)
        except GittrackError as exc:
            report.skip(f"artifact {name!r} of MLflow run {run.info.run_id}", str(exc))
            continue
        if tmp is None:
            is_model = model is not None or (
                info[1] and any(inner[0] == f"{name}/MLmodel" for inner in _listing(client, run, name))
            )
            size = _listed_size(client, run, info) if info is not None else _model_size(model)
            _count_artifact(report, "model" if is_model else "artifact", size)
            continue
        if model is None:
            assert run_folder is not None  # downloaded above: this entry is one of the run's artifacts
            local = run_folder / name
        else:
            local = _download_model(model, tmp)
        _log_artifact(writer, local, path, report)


def _download_model(model, tmp: Path) -> Path:
    import mlflow.artifacts

    target = tmp / "models" / model.model_id
    target.mkdir(parents=True)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=model.artifact_location, dst_path=str(target)))


def _model_size(model) -> int:
    """The bytes of an MLflow 3 logged model's files, from MLflow's listing of its location."""
    import mlflow.artifacts

    def size(uri: str) -> int:
        found = mlflow.artifacts.list_artifacts(artifact_uri=uri)
        return sum(size(f"{uri}/{i.path.rsplit('/', 1)[-1]}") if i.is_dir else int(i.file_size or 0) for i in found)

    return size(model.artifact_location.rstrip("/"))


def _log_artifact(writer, local: Path, path: str, report: MigrationReport) -> None:
    """Log one downloaded artifact through DVC (an MLflow model folder as a model) and count it."""
    from gittrack._artifacts import log_entry
    from gittrack._flavors import MODEL_YAML
    from gittrack._store.yamlio import dump_yaml

    kind, extra, added = "artifact", None, 0
    if local.is_dir() and (local / "MLmodel").is_file():
        meta = _model_meta(local)
        added = len(dump_yaml(meta))
        (local / MODEL_YAML).write_bytes(dump_yaml(meta))
        kind, extra = "model", {"flavor": meta["flavor"]}
    info = log_entry(writer, local, path, kind, extra)
    _count_artifact(report, kind, int(info.get("size") or 0) - added)  # MLflow's bytes, as a dry run counts them


def _import_run(repo, client, histories, run, experiment: str, ids: dict[str, str], models: list, deleted: bool,
                report, dry_run: bool = False, scratch: Path | None = None, publish=None):  # fmt: skip
    """Write one MLflow run (a deleted one, or one of a deleted experiment, as a deleted run). A dry
    run goes through the same steps, validated by the same writer, and counts what it would write;
    it commits nothing and downloads no artifact. ``scratch``: a folder for downloads; ``publish``:
    given the run's ref and commit instead of the ref being created (``RunWriter.create_recorded``)."""
    from gittrack._store import naming
    from gittrack._store.runstore import DELETED_NAMESPACE
    from gittrack._store.writer import RunWriter

    info, data = run.info, run.data
    tags = dict(data.tags)
    commit, snapshot = _source_commit(repo, tags)
    run_id = ids[info.run_id]
    parent = tags.get("mlflow.parentRunId")
    if parent in ids:  # MLflow's parent id as this repository's, so that get_run(tags[...]) finds it
        tags["mlflow.parentRunId"] = ids[parent]
    ref = naming.run_ref(experiment, run_id)
    if deleted:
        ref = DELETED_NAMESPACE + ref.removeprefix(naming.RUNS_NAMESPACE)
    user = (info.user_id or tags.get("mlflow.user") or "unknown").strip() or "unknown"
    name = info.run_name if info.run_name and info.run_name.strip() and info.run_name.isprintable() else None
    writer = RunWriter.create_recorded(
        repo, experiment, start_time=int(info.start_time or 0), user=(user, f"{user}@mlflow.invalid"),
        commit=commit, run_id=run_id, run_name=name, parent_run=ids.get(parent) if parent else None, ref=ref,
        publish=publish,
    )  # fmt: skip
    what = f"MLflow run {info.run_id}"
    for key, value in data.params.items():
        try:
            writer.log_param(key, value)
            report.params += 1
        except GittrackError as exc:
            report.skip(f"param {key!r} of {what}", str(exc))
    for key, value in {**tags, IMPORTED_RUN_TAG: info.run_id, SNAPSHOT_TAG: snapshot}.items():
        try:
            writer.set_tag(key, value)
            report.tags += 1
        except GittrackError as exc:
            report.skip(f"tag {key!r} of {what}", str(exc))
    last = int(info.start_time or 0)
    try:
        by_key = histories.of_run(client, info.run_id, data.metrics)
    except (TypeError, ValueError) as exc:  # MLflow's own client on a store holding text steps
        report.skip(f"metrics of {what}", f"the store holds a point that is not numbers ({str(exc)[:80]})")
        by_key = {}
    for refused in histories.refused:
        report.skip(*refused)
    histories.refused.clear()
    for key, history in by_key.items():
        try:
            writer.log_metric_points(key, history)  # all of the history or, if a point is refused, none
        except GittrackError as exc:
            report.skip(f"metric {key!r} of {what}", str(exc))
            continue
        report.metric_points += len(history)
        if history:
            last = max(last, max(timestamp for _, timestamp, _ in history))
    if dry_run:
        _add_artifacts(writer, client, run, models, report, None)
    else:
        try:  # a folder of the import's own (made only for a run with artifacts to download)
            _add_artifacts(writer, client, run, models, report, scratch / info.run_id)
            end = int(info.end_time) if info.end_time else last
            writer.finish(info.status, end_time=max(end, int(info.start_time or 0)))
        finally:
            shutil.rmtree(scratch / info.run_id, ignore_errors=True)
    report.runs += 1


def _collect(written: list):
    """A ``publish`` keeping each run's ref and commit, to be created after its objects are packed."""
    return lambda ref, commit: written.append((ref, commit))


def import_mlflow(
    repo: pygit2.Repository,
    tracking_uri: str | None = None,
    experiments: Iterable[str] | None = None,
    registry: bool = True,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> MigrationReport:
    """Import an MLflow store's runs (and registered models) into this repository; see docs/migrate.md."""
    import pygit2

    from gittrack._store import naming
    from gittrack._store.ids import new_run_id
    from gittrack._store.packwriter import PackedWrites

    client = mlflow_client(tracking_uri)
    if not dry_run:
        from gittrack._artifacts import dvc_of

        dvc_of(repo)  # artifacts and models go to DVC: say so before writing anything
    report = MigrationReport(dry_run=dry_run)
    known = imported_runs(repo)
    ids = {mlflow_id: run_id for mlflow_id, (run_id, _) in known.items()}
    todo = []
    for experiment in _experiments(client, experiments):
        try:
            naming.validate_experiment(experiment.name)
        except InvalidNameError as exc:
            report.skip(f"MLflow experiment {experiment.name!r}", str(exc))
            continue
        models = _logged_models(client, experiment.experiment_id)
        for run in _all_runs(client, experiment.experiment_id):
            if run.info.run_id in known:
                report.runs_present += 1
            elif run.info.status not in ENDED_STATUSES:
                report.skip(f"MLflow run {run.info.run_id}", f"it is {run.info.status}; import it again once it ends")
            else:
                ids[run.info.run_id] = new_run_id(int(run.info.start_time or 0))
                deleted = "deleted" in (run.info.lifecycle_stage, experiment.lifecycle_stage)
                todo.append((run, experiment.name, models.get(run.info.run_id, []), deleted))
    histories = _SqliteHistories(tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"))
    # the runs' objects go into a pack every _PACK_RUNS runs (a loose file each was most of the
    # import's system time), and their refs are created only then
    writes = repo if dry_run else pygit2.Repository(repo.path)
    packed = None if dry_run else PackedWrites(writes)
    written: list[tuple[str, pygit2.Oid]] = []

    def publish() -> None:
        if packed is not None:
            packed.flush()
        for ref, commit in written:
            try:
                repo.references.create(ref, commit, force=False)
            except pygit2.AlreadyExistsError:
                report.skip(ref, "a ref of that name appeared during the import; import again")
        written.clear()

    try:
        with tempfile.TemporaryDirectory(prefix="gittrack-import-") as scratch:
            for done, (run, experiment, run_models, deleted) in enumerate(todo, 1):
                _import_run(writes, client, histories, run, experiment, ids, run_models, deleted, report, dry_run,
                            Path(scratch), None if dry_run else _collect(written))  # fmt: skip
                if len(written) >= _PACK_RUNS:
                    publish()
                if progress is not None:
                    progress(done, len(todo))
    finally:
        histories.close()
        publish()  # the runs written whole before an interruption too
        if packed is not None:
            packed.close()
    if registry:
        from gittrack._migrate.mlflow_registry import import_registry

        import_registry(repo, client, ids, report, dry_run)
    return report
