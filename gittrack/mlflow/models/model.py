"""``mlflow.models.model`` for gittrack: ``Model`` (a model's ``MLmodel`` file) and ``ModelInfo``
(what ``log_model`` returns)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from gittrack.mlflow.models.signature import ModelSignature


class Model:
    """A model's ``MLmodel`` file: ``run_id``, ``model_id``, ``flavors``, ``signature``,
    ``metadata``... (``PyFuncModel.metadata`` is one)."""

    def __init__(
        self,
        artifact_path: str | None = None,
        run_id: str | None = None,
        utc_time_created: str | None = None,
        flavors: dict[str, Any] | None = None,
        signature: ModelSignature | None = None,
        saved_input_example_info: dict[str, Any] | None = None,
        model_uuid: str | None = None,
        mlflow_version: str | None = None,
        metadata: dict[str, Any] | None = None,
        model_id: str | None = None,
        model_size_bytes: int | None = None,
    ) -> None:
        self.artifact_path, self.run_id, self.utc_time_created = artifact_path, run_id, utc_time_created
        self.flavors = dict(flavors or {})
        self.signature = signature
        self.saved_input_example_info = saved_input_example_info
        self.model_uuid, self.mlflow_version, self.metadata = model_uuid, mlflow_version, metadata
        self.model_id, self.model_size_bytes = model_id, model_size_bytes

    @classmethod
    def from_dict(cls, model_dict: dict[str, Any]) -> Model:
        """A ``Model`` from an ``MLmodel`` file's content."""
        signature = model_dict.get("signature")
        return cls(
            artifact_path=model_dict.get("artifact_path"),
            run_id=model_dict.get("run_id"),
            utc_time_created=model_dict.get("utc_time_created"),
            flavors=model_dict.get("flavors"),
            signature=ModelSignature.from_dict(signature) if isinstance(signature, dict) else None,
            saved_input_example_info=model_dict.get("saved_input_example_info"),
            model_uuid=model_dict.get("model_uuid"),
            mlflow_version=model_dict.get("mlflow_version"),
            metadata=model_dict.get("metadata"),
            model_id=model_dict.get("model_id"),
            model_size_bytes=model_dict.get("model_size_bytes"),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> Model:
        """The ``MLmodel`` of a model URI (``runs:/``, ``models:/``, an artifact location) or of a
        model folder (or of an ``MLmodel`` file)."""
        from pathlib import Path

        from gittrack.mlflow._loading import locate, model_document

        text = os.fspath(path)
        if Path(text).is_file():
            text = str(Path(text).parent)
        folder, _, logged = locate(text)
        return cls.from_dict(model_document(folder, logged))

    def to_dict(self) -> dict[str, Any]:
        """The ``MLmodel`` content."""
        out = {k: v for k, v in vars(self).items() if v is not None and k != "signature"}
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        return out

    def to_yaml(self) -> str:
        """The ``MLmodel`` file's text."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def get_input_schema(self):
        """The signature's inputs, or None."""
        return self.signature.inputs if self.signature is not None else None

    def get_output_schema(self):
        """The signature's outputs, or None."""
        return self.signature.outputs if self.signature is not None else None

    def get_params_schema(self):
        """The signature's params, or None."""
        return self.signature.params if self.signature is not None else None

    def __repr__(self) -> str:
        return f"<Model: run_id={self.run_id!r}, model_id={self.model_id!r}, flavors={sorted(self.flavors)}>"


@dataclass
class ModelInfo:
    """What ``log_model`` returns: where the model is (``model_uri``: ``models:/<model_id>``; the run
    and its ``artifact_path``) and what its ``MLmodel`` says."""

    artifact_path: str
    flavors: dict[str, Any]
    model_uri: str
    model_uuid: str
    run_id: str | None
    saved_input_example_info: dict[str, Any] | None = None
    signature: ModelSignature | None = None
    utc_time_created: str = ""
    mlflow_version: str = ""
    metadata: dict[str, Any] | None = None
    registered_model_version: str | None = None
    model_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[Any] = field(default_factory=list)
    creation_timestamp: int | None = None
    artifact_location: str | None = None  # gittrack's: the model's artifact location (get_artifact_uri)
    env_vars: list[str] | None = None
    prompts: list[str] | None = None

    @property
    def name(self) -> str:
        """The model's name: its artifact path in the run (MLflow 3's ``name=``)."""
        return self.artifact_path

    @property
    def signature_dict(self) -> dict[str, Any] | None:
        """The signature as in the ``MLmodel`` file."""
        return self.signature.to_dict() if self.signature is not None else None

    @classmethod
    def from_mlmodel(cls, document: dict[str, Any], **fields: Any) -> ModelInfo:
        """A ``ModelInfo`` of an ``MLmodel`` file's content, with ``fields`` over it."""
        model = Model.from_dict(document)
        values: dict[str, Any] = {
            "artifact_path": model.artifact_path or "",
            "flavors": model.flavors,
            "model_uri": f"models:/{model.model_id}",
            "model_uuid": model.model_uuid or "",
            "run_id": model.run_id,
            "saved_input_example_info": model.saved_input_example_info,
            "signature": model.signature,
            "utc_time_created": model.utc_time_created or "",
            "mlflow_version": model.mlflow_version or "",
            "metadata": model.metadata,
            "model_id": model.model_id,
        }
        values.update(fields)
        return cls(**values)


def get_model_info(model_uri: str) -> ModelInfo:
    """The ``ModelInfo`` of a model URI or folder, from its ``MLmodel``."""
    from gittrack.mlflow._loading import locate, model_document

    folder, _, logged = locate(model_uri)
    document = model_document(folder, logged)
    model_id = document.get("model_id")
    return ModelInfo.from_mlmodel(document, model_uri=f"models:/{model_id}" if model_id else str(model_uri))
