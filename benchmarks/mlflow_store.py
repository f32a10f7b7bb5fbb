"""MLflow SQLite stores for benchmarks, built in minutes instead of an hour, in MLflow's own schema.

Logging 10,000 runs x 2,000 points through MLflow's client takes about 50 minutes on a 2-core
machine (one ORM round trip per batch, each checking and updating the latest metrics). Here MLflow
still creates and migrates the database (``SqlAlchemyStore``) and creates the experiments; the
runs, params, tags, metric points and latest metrics are then inserted with MLflow's own
SQLAlchemy tables (``mlflow.store.tracking.dbmodels.models``), a chunk of runs per transaction.
``check_store`` reads the result back through ``MlflowClient`` to show MLflow sees what was meant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path


@dataclass
class Run:
    """One finished MLflow run to insert; ``metrics``: key -> [(step, timestamp ms, value)]."""

    name: str
    start_time: int
    end_time: int
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)
    user: str = "bench"


def create_store(path: Path):
    """A new ``SqlAlchemyStore`` on ``sqlite:///path``: MLflow creates and migrates the schema."""
    import logging

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    logging.getLogger("alembic").setLevel(logging.WARNING)
    return SqlAlchemyStore(f"sqlite:///{path}", path.parent.as_uri())


def create_experiment(store, name: str) -> str:
    """An experiment made by MLflow's store, its artifacts under ``mlruns/`` beside the database."""
    return store.create_experiment(name)


def _chunks(items: Iterable[Run], size: int) -> Iterator[list[Run]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def add_runs(store, experiment_id: str, runs: Iterable[Run], chunk: int = 100) -> list[str]:
    """Insert ``runs`` as FINISHED runs of ``experiment_id``, ``chunk`` runs a transaction; their ids."""
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
    from sqlalchemy import event, insert

    artifact_root = store.get_experiment(experiment_id).artifact_location.rstrip("/")
    engine = store.engine

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection, _record) -> None:  # a benchmark's throwaway store: no fsync
        dbapi_connection.execute("PRAGMA synchronous = OFF")

    engine.dispose()  # new connections get the pragma
    ids: list[str] = []
    for part in _chunks(runs, chunk):
        rows: dict[str, list[dict]] = {"runs": [], "params": [], "tags": [], "metrics": [], "latest": []}
        for run in part:
            run_id = uuid.uuid4().hex
            ids.append(run_id)
            rows["runs"].append(
                {"run_uuid": run_id, "name": run.name, "source_type": "LOCAL", "source_name": "",
                 "entry_point_name": "", "user_id": run.user, "status": "FINISHED", "start_time": run.start_time,
                 "end_time": run.end_time, "deleted_time": None, "source_version": "", "lifecycle_stage": "active",
                 "artifact_uri": f"{artifact_root}/{run_id}/artifacts", "experiment_id": int(experiment_id)}
            )  # fmt: skip
            rows["params"] += [{"key": k, "value": v, "run_uuid": run_id} for k, v in run.params.items()]
            tags = {"mlflow.runName": run.name, "mlflow.user": run.user, **run.tags}
            rows["tags"] += [{"key": k, "value": v, "run_uuid": run_id} for k, v in tags.items()]
            for key, points in run.metrics.items():
                rows["metrics"] += [
                    {"key": key, "value": v, "timestamp": t, "step": s, "is_nan": False, "run_uuid": run_id}
                    for s, t, v in points
                ]
                step, timestamp, value = max(points)  # MLflow's latest: highest step, then time, then value
                rows["latest"].append(
                    {"key": key, "value": value, "timestamp": timestamp, "step": step, "is_nan": False,
                     "run_uuid": run_id}
                )  # fmt: skip
        with engine.begin() as conn:
            for table, model in (("runs", SqlRun), ("params", SqlParam), ("tags", SqlTag), ("metrics", SqlMetric),
                                 ("latest", SqlLatestMetric)):  # fmt: skip
                if rows[table]:
                    conn.execute(insert(model.__table__), rows[table])
    event.remove(engine, "connect", _fast)
    engine.dispose()
    return ids


def check_store(uri: str, experiment_name: str, runs: int, run_id: str, params: dict[str, str], metric: str,
                points: int) -> None:  # fmt: skip
    """Read the store back through ``MlflowClient``: run count, one run's params, one metric's history."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(experiment_name)
    found, token = 0, None
    while True:
        page = client.search_runs([experiment.experiment_id], max_results=5000, page_token=token)
        found += len(page)
        token = page.token
        if not token:
            break
    assert found == runs, f"MLflow finds {found} runs in {experiment_name!r}, not {runs}"
    run = client.get_run(run_id)
    assert run.data.params == params, run.data.params
    assert run.info.status == "FINISHED"
    history = client.get_metric_history(run_id, metric)
    assert len(history) == points, f"{metric}: MLflow reads {len(history)} points, not {points}"
    assert run.data.metrics[metric] == max((m.step, m.timestamp, m.value) for m in history)[2]
