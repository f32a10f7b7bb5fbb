"""``mlflow.entities.model_registry`` for gittrack: registered models and versions, spelled as
MLflow spells them (``version == "1"``, ``current_stage == "Staging"``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ModelVersionStatus:
    """gittrack versions are READY as soon as their tag exists."""

    PENDING_REGISTRATION, FAILED_REGISTRATION, READY = "PENDING_REGISTRATION", "FAILED_REGISTRATION", "READY"


@dataclass
class ModelVersion:
    """One version of a registered model (a GTO version tag), numbered as MLflow numbers them."""

    name: str
    version: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    user_id: str | None = None
    current_stage: str = "None"
    source: str | None = None
    run_id: str | None = None
    status: str = ModelVersionStatus.READY
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_link: str | None = None
    aliases: list[str] = field(default_factory=list)
    model_id: str | None = None  # MLflow 3's: the logged model this version is
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Any] = field(default_factory=list)
    deployment_job_state: Any = None
    gto_version: str | None = None  # gittrack's: the semver of the GTO tag (v0.0.3)
    gto_artifact: str | None = None  # gittrack's: the model's artifact path in its run

    def __iter__(self):
        yield from vars(self).items()


@dataclass
class RegisteredModel:
    """A registered model: description, tags, aliases and its latest version per stage."""

    name: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def __iter__(self):
        yield from vars(self).items()


@dataclass
class ModelVersionTag:
    """A tag of a model version."""

    key: str
    value: Any


@dataclass
class RegisteredModelTag:
    """A tag of a registered model."""

    key: str
    value: Any


@dataclass
class RegisteredModelAlias:
    """An alias and the version it names."""

    alias: str
    version: str


__all__ = [
    "ModelVersion",
    "ModelVersionStatus",
    "ModelVersionTag",
    "RegisteredModel",
    "RegisteredModelAlias",
    "RegisteredModelTag",
]
