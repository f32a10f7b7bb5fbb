"""What an import or export did: counts, and what it skipped with why."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MigrationReport:
    """The summary of one import or export (``dry_run``: what it would do)."""

    dry_run: bool = False
    runs: int = 0
    runs_present: int = 0
    metric_points: int = 0
    params: int = 0
    tags: int = 0
    artifacts: int = 0
    artifact_bytes: int = 0
    models: int = 0
    registered_models: int = 0
    versions: int = 0
    stage_events: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, what: str, why: str) -> None:
        self.skipped.append((what, why))

    def as_dict(self) -> dict:
        """The report as JSON-ready keys (the CLI's ``--json``)."""
        return {
            "dry_run": self.dry_run,
            "runs": self.runs,
            "runs_present": self.runs_present,
            "metric_points": self.metric_points,
            "params": self.params,
            "tags": self.tags,
            "artifacts": self.artifacts,
            "artifact_bytes": self.artifact_bytes,
            "models": self.models,
            "registered_models": self.registered_models,
            "versions": self.versions,
            "stage_events": self.stage_events,
            "skipped": [{"what": what, "why": why} for what, why in self.skipped],
        }
