"""Run objects shaped like MLflow's (``run.info``, ``run.data``), built from stored records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gittrack._store.ids import short_id
from gittrack._store.liveness import effective_end_time, effective_status
from gittrack._store.record import MetricSummary, RunRecord
from gittrack._store.timefmt import ms_to_iso

if TYPE_CHECKING:
    from gittrack._store.runstore import StoredRun


@dataclass(frozen=True)
class RunInfo:
    """Identity and system metadata of a run; times are epoch milliseconds as in MLflow."""

    run_id: str
    run_name: str
    experiment: str
    status: str
    start_time: int
    end_time: int | None
    user: str
    user_email: str
    source_commit: str | None
    source_branch: str | None
    dirty: bool
    parent_run_id: str | None
    host: str
    ref: str
    commit: str | None

    @property
    def short_id(self) -> str:
        """The run id as shown to people: 12 characters, unique unless two runs started in the same
        millisecond (a prefix any command accepts)."""
        return short_id(self.run_id)


@dataclass(frozen=True)
class RunData:
    """What was logged: params (strings), metrics (latest values) and tags (strings)."""

    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunDetails:
    """What a run recorded beyond ``info`` and ``data``: how it was started, what it used and left
    (the fields of run.yaml, docs/format.md). ``status`` and ``end_time`` are as written, where
    ``info`` shows the effective ones (a vanished RUNNING run is KILLED)."""

    status: str
    end_time: int | None
    heartbeat: int
    pid: int
    source: dict[str, Any]
    command: dict[str, Any]
    environment: dict[str, Any]
    snapshot: dict[str, Any]
    param_types: dict[str, str]
    metrics: dict[str, MetricSummary]
    """Per metric: its latest point, how many points, lowest and highest value (never the history)."""
    inputs: list[dict[str, Any]]
    artifacts: list[dict[str, Any]]
    error: dict[str, str] | None
    logs: dict[str, Any]
    _record: RunRecord = field(repr=False, compare=False)

    @classmethod
    def of(cls, record: RunRecord) -> RunDetails:
        """The details of a stored record."""
        return cls(
            status=record.status,
            end_time=record.end_time,
            heartbeat=record.heartbeat,
            pid=record.pid,
            source=record.source,
            command=record.command,
            environment=record.environment,
            snapshot=record.snapshot,
            param_types=record.param_types,
            metrics=record.metrics,
            inputs=record.inputs,
            artifacts=record.artifacts,
            error=record.error,
            logs=record.logs,
            _record=record,
        )

    def document(self) -> dict[str, Any]:
        """The run.yaml document itself, as plain data (a copy)."""
        return self._record.to_dict()


@dataclass(frozen=True)
class Run:
    """One run: ``info`` (identity, status, times), ``data`` (params, latest metrics, tags) and
    ``details`` (command, environment, inputs, artifacts, metric summaries...)."""

    info: RunInfo
    data: RunData
    details: RunDetails

    @classmethod
    def from_record(cls, record: RunRecord, ref: str, commit: Any, status: str | None = None) -> Run:
        """Build a run; the status shown is the effective one (a vanished RUNNING run is KILLED,
        ended at its last heartbeat)."""
        source = record.source
        status = status or effective_status(record)
        info = RunInfo(
            run_id=record.id,
            run_name=record.name,
            experiment=record.experiment,
            status=status,
            start_time=record.start_time,
            end_time=effective_end_time(status, record.end_time, record.heartbeat),
            user=record.user.get("name", ""),
            user_email=record.user.get("email", ""),
            source_commit=source.get("commit"),
            source_branch=source.get("branch"),
            dirty=bool(source.get("dirty")),
            parent_run_id=record.parent_run,
            host=record.host,
            ref=ref,
            commit=str(commit) if commit is not None else None,
        )
        data = RunData(
            params=dict(record.params),
            metrics={key: m.value for key, m in record.metrics.items()},
            tags=dict(record.tags),
        )
        return cls(info, data, RunDetails.of(record))

    @classmethod
    def from_stored(cls, stored: StoredRun) -> Run:
        """A run as the store read it (its ref and record)."""
        return cls.from_record(stored.record, stored.ref.name, stored.ref.commit)

    def to_dict(self, details: bool = False) -> dict[str, Any]:
        """A JSON-ready view with stable keys (docs/tracking.md); ``details`` adds the full record."""
        info = self.info
        out: dict[str, Any] = {
            "run_id": info.run_id,
            "run_name": info.run_name,
            "experiment": info.experiment,
            "status": info.status,
            "start_time": ms_to_iso(info.start_time),
            "end_time": ms_to_iso(info.end_time) if info.end_time is not None else None,
            "user": info.user,
            "source_commit": info.source_commit,
            "dirty": info.dirty,
            "parent_run_id": info.parent_run_id,
            "ref": info.ref,
            "commit": info.commit,
            "params": self.data.params,
            "metrics": self.data.metrics,
            "tags": self.data.tags,
        }
        if details:
            record = self.details
            out.update(
                user_email=info.user_email,
                host=info.host,
                pid=record.pid,
                source=record.source,
                command=record.command,
                environment=record.environment,
                snapshot=record.snapshot,
                param_types=record.param_types,
                metric_summaries={
                    key: {"value": m.value, "step": m.step, "timestamp": m.timestamp, "count": m.count}
                    for key, m in record.metrics.items()
                },
                inputs=record.inputs,
                artifacts=record.artifacts,
                error=record.error,
                logs=record.logs,
            )
        return out


@dataclass(frozen=True)
class Metric:
    """One point of a metric history."""

    key: str
    value: float
    step: int
    timestamp: int
