"""What the MLflow importer, registry importer and exporter share: the client, the import tag."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from gittrack.errors import GittrackError, UsageError

if TYPE_CHECKING:
    import pygit2

IMPORTED_RUN_TAG = "mlflow.imported_run_id"
_RUNS_SOURCE = re.compile(r"^runs:/(?P<run>[^/]+)/(?P<path>.+)$")
_ARTIFACTS_SOURCE = re.compile(r"/(?P<run>[0-9a-f]{32})/artifacts/(?P<path>.+)$")
_MODELS_SOURCE = re.compile(r"^models:/(?P<model>m-[0-9a-f]+)$")


def mlflow_client(tracking_uri: str | None, create: bool = False):
    """An ``MlflowClient`` on ``tracking_uri`` (its registry too); a one-line error without the extra.
    A folder or SQLite store must exist unless ``create`` (an export) is set."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UsageError("MLflow is not installed; pip install 'gittrack[mlflow]'") from None
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # gittrack shows its own
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "mlruns"
    if uri.startswith("sqlite:///") and not create and not Path(uri[len("sqlite:///") :]).is_file():
        raise UsageError(f"no MLflow database at '{uri}'; give --tracking-uri sqlite:///<path of mlflow.db>")
    if "://" not in uri and not uri.startswith("sqlite:"):
        folder = Path(uri)
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():
            raise UsageError(
                f"no MLflow store at '{uri}'; give --tracking-uri (a mlruns/ folder or sqlite:///mlflow.db)"
            )
        uri = folder.resolve().as_uri()
        # MLflow 3 refuses to open a folder store unless asked: reading one is what we are here for
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def runs_with_tag(repo: pygit2.Repository, tag: str) -> dict[str, tuple[str, str]]:
    """Value of ``tag`` -> (gittrack run id, ref name) for every run here that has it, deleted ones too.

    Reads each run's ``summary.json`` (JSON, several times faster than ``run.yaml``): importing
    again reads every run, 10,000 of them after a large import."""
    from gittrack._store.rules import read_run
    from gittrack._store.runstore import DELETED_NAMESPACE, RunStore

    store = RunStore(repo)
    found: dict[str, tuple[str, str]] = {}
    for namespace in (DELETED_NAMESPACE, "refs/runs/"):
        for ref in store.refs(namespace=namespace)[0]:
            try:
                record = read_run(repo, ref.commit, ref.experiment, ref.run_id)
            except GittrackError:
                continue
            value = record.tags.get(tag)
            if value:
                found[value] = (record.id, ref.name)
    return found


def imported_runs(repo: pygit2.Repository) -> dict[str, tuple[str, str]]:
    """MLflow run id -> (gittrack run id, ref name) for every imported run here, deleted ones too."""
    return runs_with_tag(repo, IMPORTED_RUN_TAG)


def version_artifact(client, version) -> str | None:
    """The artifact path, inside its run, of a registered MLflow model version."""
    source = version.source or ""
    logged = _MODELS_SOURCE.match(source)
    model_id = getattr(version, "model_id", None) or (logged.group("model") if logged else None)
    if model_id:
        return client.get_logged_model(model_id).name
    for pattern in (_RUNS_SOURCE, _ARTIFACTS_SOURCE):
        match = pattern.search(source)
        if match:
            return match.group("path").strip("/")
    return None
