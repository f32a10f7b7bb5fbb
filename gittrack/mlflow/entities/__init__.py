"""``mlflow.entities`` for gittrack: runs, experiments and their parts, shaped as MLflow's."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class _Entity:
    """Equality and a readable repr from the attributes, as MLflow's entities have."""

    def __iter__(self):
        yield from vars(self).items()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"<{type(self).__name__}: {inner}>"


class ViewType:
    """Which runs or experiments a search covers."""

    ACTIVE_ONLY, DELETED_ONLY, ALL = 1, 2, 3
    _NAMES = {"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3}

    @classmethod
    def from_string(cls, view_str: str) -> int:
        """``"ACTIVE_ONLY"`` -> 1 (any case)."""
        key = str(view_str).upper()
        if key not in cls._NAMES:
            from gittrack.mlflow.exceptions import MlflowException

            raise MlflowException.invalid_parameter_value(f"view type {view_str!r} is not one of {list(cls._NAMES)}")
        return cls._NAMES[key]

    @classmethod
    def to_string(cls, view_type: int) -> str:
        """1 -> ``"ACTIVE_ONLY"``."""
        return {v: k for k, v in cls._NAMES.items()}[view_type]

    @classmethod
    def to_gittrack(cls, view_type: Any) -> str:
        """gittrack's ``run_view``: active, deleted or all."""
        if isinstance(view_type, str):
            view_type = cls.from_string(view_type)
        return {1: "active", 2: "deleted", 3: "all"}.get(view_type, "active")


class LifecycleStage:
    """Runs and experiments are active or deleted (restorable)."""

    ACTIVE, DELETED = "active", "deleted"

    @classmethod
    def view_type_to_stages(cls, view_type: int = ViewType.ALL) -> list[str]:
        """The stages a view type covers."""
        return {1: [cls.ACTIVE], 2: [cls.DELETED]}.get(view_type, [cls.ACTIVE, cls.DELETED])

    @classmethod
    def is_valid(cls, stage: str) -> bool:
        """Whether ``stage`` is one."""
        return stage in (cls.ACTIVE, cls.DELETED)


class RunStatus:
    """MLflow's run statuses and their numbers."""

    RUNNING, SCHEDULED, FINISHED, FAILED, KILLED = 1, 2, 3, 4, 5
    _NAMES = {"RUNNING": 1, "SCHEDULED": 2, "FINISHED": 3, "FAILED": 4, "KILLED": 5}

    @classmethod
    def from_string(cls, status_str: str) -> int:
        """``"FINISHED"`` -> 3."""
        return cls._NAMES[status_str]

    @classmethod
    def to_string(cls, status: int) -> str:
        """3 -> ``"FINISHED"``."""
        return {v: k for k, v in cls._NAMES.items()}[status]

    @classmethod
    def is_terminated(cls, status: Any) -> bool:
        """FINISHED, FAILED or KILLED."""
        name = status if isinstance(status, str) else cls.to_string(status)
        return name in ("FINISHED", "FAILED", "KILLED")

    @classmethod
    def all_status(cls) -> list[int]:
        """Every status number."""
        return list(cls._NAMES.values())


class SourceType:
    """Where a run's code came from (gittrack runs are LOCAL)."""

    NOTEBOOK, JOB, PROJECT, LOCAL, UNKNOWN = 1, 2, 3, 4, 1000
    _NAMES = {"NOTEBOOK": 1, "JOB": 2, "PROJECT": 3, "LOCAL": 4, "UNKNOWN": 1000}

    @classmethod
    def to_string(cls, value: int) -> str:
        """4 -> ``"LOCAL"``."""
        return {v: k for k, v in cls._NAMES.items()}[value]

    @classmethod
    def from_string(cls, name: str) -> int:
        """``"LOCAL"`` -> 4."""
        return cls._NAMES[name]


class Metric(_Entity):
    """One metric point: ``Metric(key, value, timestamp, step)`` (MLflow's argument order), and
    MLflow 3's links: the logged model, the dataset and the run it belongs to."""

    def __init__(
        self,
        key: str,
        value: float,
        timestamp: int,
        step: int,
        model_id: str | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        run_id: str | None = None,
    ) -> None:
        self.key, self.value, self.timestamp, self.step = key, value, timestamp, step
        self.model_id, self.run_id = model_id, run_id
        self.dataset_name, self.dataset_digest = dataset_name, dataset_digest


class Param(_Entity):
    """A param: key and string value."""

    def __init__(self, key: str, value: str) -> None:
        self.key, self.value = key, value


class RunTag(_Entity):
    """A run tag."""

    def __init__(self, key: str, value: str) -> None:
        self.key, self.value = key, value


class ExperimentTag(RunTag):
    """An experiment tag."""


class InputTag(RunTag):
    """A tag of a dataset input (``mlflow.data.context``)."""


class Dataset(_Entity):
    """A dataset as recorded by a run: name, digest, source."""

    def __init__(
        self,
        name: str,
        digest: str,
        source_type: str = "local",
        source: str = "",
        schema: str | None = None,
        profile: str | None = None,
    ) -> None:
        self.name, self.digest, self.source_type, self.source = name, digest, source_type, source
        self.schema, self.profile = schema, profile


class DatasetInput(_Entity):
    """A dataset a run used, with its tags (the context)."""

    def __init__(self, dataset: Dataset, tags: list[InputTag] | None = None) -> None:
        self.dataset, self.tags = dataset, list(tags or [])


class RunInputs(_Entity):
    """The inputs of a run."""

    def __init__(self, dataset_inputs: list[DatasetInput] | None = None, model_inputs: list | None = None) -> None:
        self.dataset_inputs, self.model_inputs = list(dataset_inputs or []), list(model_inputs or [])


class LoggedModelOutput(_Entity):
    """A model a run logged: its logged-model id and the step it was logged at."""

    def __init__(self, model_id: str, step: int = 0) -> None:
        self.model_id, self.step = model_id, step


class RunOutputs(_Entity):
    """The outputs of a run: the models it logged."""

    def __init__(self, model_outputs: list[LoggedModelOutput] | None = None) -> None:
        self.model_outputs = list(model_outputs or [])


class LoggedModelStatus(StrEnum):
    """A logged model's status: gittrack's are READY once their run recorded them."""

    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


class LoggedModel(_Entity):
    """MLflow 3's logged model: a model a run logged (``log_model``), by its ``model_id``."""

    def __init__(
        self,
        experiment_id: str,
        model_id: str,
        name: str,
        artifact_location: str,
        creation_timestamp: int | None,
        last_updated_timestamp: int | None,
        model_type: str | None = None,
        source_run_id: str | None = None,
        status: str = LoggedModelStatus.READY,
        status_message: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        metrics: list[Metric] | None = None,
    ) -> None:
        self.experiment_id, self.model_id, self.name = experiment_id, model_id, name
        self.artifact_location = artifact_location
        self.creation_timestamp, self.last_updated_timestamp = creation_timestamp, last_updated_timestamp
        self.model_type, self.source_run_id = model_type, source_run_id
        self.status, self.status_message = status, status_message
        self.tags, self.params, self.metrics = dict(tags or {}), dict(params or {}), list(metrics or [])

    @property
    def model_uri(self) -> str:
        """``models:/<model_id>``, which every load call takes."""
        return f"models:/{self.model_id}"

    def to_dictionary(self) -> dict[str, Any]:
        """The attributes as a dict (``model_uri`` included), as MLflow's."""
        return {**vars(self), "model_uri": self.model_uri}


class FileInfo(_Entity):
    """An artifact as listed: path, whether it is a folder, size in bytes."""

    def __init__(self, path: str, is_dir: bool, file_size: int | None) -> None:
        self.path, self.is_dir, self.file_size = path, is_dir, file_size


class RunInfo(_Entity):
    """MLflow's run info: ids, name, experiment id, user, status, times (epoch ms), artifact URI."""

    def __init__(
        self,
        run_uuid: str = "",
        experiment_id: str = "",
        user_id: str = "",
        status: str = "RUNNING",
        start_time: int | None = None,
        end_time: int | None = None,
        lifecycle_stage: str = "active",
        artifact_uri: str | None = None,
        run_id: str | None = None,
        run_name: str | None = None,
    ) -> None:
        self.run_uuid = run_id or run_uuid
        self.run_id = self.run_uuid
        self.run_name = run_name
        self.experiment_id = experiment_id
        self.user_id = user_id
        self.status = status
        self.start_time = start_time
        self.end_time = end_time
        self.lifecycle_stage = lifecycle_stage
        self.artifact_uri = artifact_uri


class RunData(_Entity):
    """What a run logged: ``metrics`` (latest values), ``params`` and ``tags`` (with MLflow's system tags)."""

    def __init__(self, metrics: Any = None, params: Any = None, tags: Any = None) -> None:
        self.metrics = _as_dict(metrics)
        self.params = _as_dict(params)
        self.tags = _as_dict(tags)


def _as_dict(items: Any) -> dict:
    if items is None:
        return {}
    if isinstance(items, dict):
        return dict(items)
    return {item.key: item.value for item in items}


class Run(_Entity):
    """A run: ``info``, ``data``, ``inputs``."""

    def __init__(
        self,
        run_info: RunInfo,
        run_data: RunData | None,
        run_inputs: RunInputs | None = None,
        run_outputs: RunOutputs | None = None,
    ) -> None:
        self._info = run_info
        self._data = run_data or RunData()
        self._inputs = run_inputs or RunInputs()
        self._outputs = run_outputs or RunOutputs()

    @property
    def info(self) -> RunInfo:
        """The run's ``RunInfo``."""
        return self._info

    @property
    def data(self) -> RunData:
        """The run's ``RunData``."""
        return self._data

    @property
    def inputs(self) -> RunInputs:
        """The run's datasets."""
        return self._inputs

    @property
    def outputs(self) -> RunOutputs:
        """The run's outputs."""
        return self._outputs

    def to_dictionary(self) -> dict[str, Any]:
        """``{"info": {...}, "data": {...}}`` as MLflow's ``Run.to_dictionary``."""
        return {
            "info": dict(vars(self.info)),
            "data": {"metrics": self.data.metrics, "params": self.data.params, "tags": self.data.tags},
        }


@dataclass
class Experiment:
    """An experiment: in gittrack its id is its name (``"0"`` also names the default experiment)."""

    experiment_id: str
    name: str
    artifact_location: str | None = None
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


from gittrack.mlflow.entities.model_registry import (  # noqa: E402 - MLflow exports them here too
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)

__all__ = [
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "FileInfo",
    "InputTag",
    "LifecycleStage",
    "LoggedModel",
    "LoggedModelOutput",
    "LoggedModelStatus",
    "Metric",
    "ModelVersion",
    "ModelVersionTag",
    "Param",
    "RegisteredModel",
    "RegisteredModelAlias",
    "RegisteredModelTag",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunOutputs",
    "RunStatus",
    "RunTag",
    "SourceType",
    "ViewType",
]
