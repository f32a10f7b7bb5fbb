"""``mlflow.models.model`` for gittrack: ``ModelInfo``, what ``log_model`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gittrack.mlflow.models.signature import ModelSignature


@dataclass
class ModelInfo:
    """What ``log_model`` returns: where the model is and how to load it."""

    artifact_path: str
    model_uri: str
    run_id: str
    flavors: dict[str, Any]
    signature: ModelSignature | None = None
    registered_model_version: str | None = None
    model_uuid: str = ""
    utc_time_created: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The artifact path (MLflow 3's name)."""
        return self.artifact_path
