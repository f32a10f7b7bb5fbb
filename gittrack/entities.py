"""Run objects shaped like MLflow's (``run.info``, ``run.data``), built from stored records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gittrack.store.ids import short_id
from gittrack.store.liveness import effective_end_time, effective_status
from gittrack.store.record import RunRecord
from gittrack.store.timefmt import ms_to_iso

if TYPE_CHECKING:
    from gittrack.store.runstore import StoredRun


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
class Run:
    """One run: ``info``, ``data`` and ``record``, a :class:`RunRecord` with run.yaml's fields as
    attributes (``record.to_dict()``: the run.yaml document itself)."""

    info: RunInfo
    data: RunData
    record: RunRecord

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
        return cls(info, data, record)

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
            record = self.record
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
