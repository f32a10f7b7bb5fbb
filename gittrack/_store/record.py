"""The run record: what ``.gittrack/run/run.yaml`` holds, and its strict reader for untrusted input."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gittrack._store import naming
from gittrack._store.ids import validate_run_id
from gittrack._store.limits import INT64_MAX, INT64_MIN
from gittrack._store.timefmt import iso_to_ms, ms_to_iso
from gittrack._store.yamlio import MAX_YAML_BYTES, dump_yaml, load_yaml
from gittrack.errors import InvalidNameError, InvalidValueError, MalformedRunError

SCHEMA_VERSION = 1
RUNNING, FINISHED, FAILED, KILLED = "RUNNING", "FINISHED", "FAILED", "KILLED"
STATUSES = (RUNNING, FINISHED, FAILED, KILLED)
ENDED = frozenset((FINISHED, FAILED, KILLED))
MAX_PARAM_LENGTH = 6000  # characters of a param value
MAX_TAG_LENGTH = 8000  # characters of a tag value


def checked_text(what: str, value: Any, limit: int) -> str:
    """``str(value)``, checked for length, for being encodable as UTF-8, and for NUL characters
    (SQLite, which searches filter with, and most databases end text there)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise InvalidValueError(f"{what} is {len(text)} characters, over the {limit} limit")
    if "\x00" in text:
        raise InvalidValueError(f"{what} contains a NUL character (\\x00); remove it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValueError(f"{what} is not valid unicode (lone surrogates)") from None
    return text


@dataclass
class MetricSummary:
    """The latest point of one metric (max by step, timestamp, value) and how many points it has."""

    value: float
    step: int
    timestamp: int
    count: int
    min: float | None = None  # lowest and highest non-NaN value (None: all NaN, or a run from
    max: float | None = None  # before gittrack recorded them)

    def sort_key(self) -> tuple[int, int, float]:
        """MLflow's order for 'latest': step, then timestamp, then value (NaN lowest)."""
        return (self.step, self.timestamp, -math.inf if math.isnan(self.value) else self.value)


@dataclass
class RunRecord:
    """Everything a run records besides its metric histories; mirrors ``run.yaml`` field by field."""

    id: str
    name: str
    experiment: str
    status: str = RUNNING
    start_time: int = 0
    end_time: int | None = None
    heartbeat: int = 0
    checkpoint_interval: float = 10.0
    user: dict[str, str] = field(default_factory=dict)
    host: str = ""
    pid: int = 0
    parent_run: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    command: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    param_types: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, str] | None = None
    logs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``run.yaml`` document as plain data, a copy (keys and formats: docs/format.md)."""
        return copy.deepcopy(_to_doc(self, float))


def _to_doc(record: RunRecord, metric_value: Callable[[float], Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "id": record.id,
        "name": record.name,
        "experiment": record.experiment,
        "status": record.status,
        "start_time": ms_to_iso(record.start_time),
        "end_time": None if record.end_time is None else ms_to_iso(record.end_time),
        "heartbeat": ms_to_iso(record.heartbeat),
        "checkpoint_interval": record.checkpoint_interval,
        "user": record.user,
        "host": record.host,
        "pid": record.pid,
        "parent_run": record.parent_run,
        "source": record.source,
        "command": record.command,
        "environment": record.environment,
        "snapshot": record.snapshot,
        "params": record.params,
        "param_types": record.param_types,
        "tags": record.tags,
        "metrics": {key: _metric_doc(m, metric_value) for key, m in record.metrics.items()},
        "inputs": record.inputs,
        "artifacts": record.artifacts,
    }
    if record.error is not None:
        data["error"] = record.error
    if record.logs:
        data["logs"] = record.logs
    return data


def _metric_doc(m: MetricSummary, metric_value: Callable[[float], Any]) -> dict[str, Any]:
    doc = {"value": metric_value(m.value), "step": m.step, "timestamp": m.timestamp, "count": m.count}
    if m.min is not None and m.max is not None:
        doc["min"], doc["max"] = metric_value(m.min), metric_value(m.max)
    return doc


def dump_record(record: RunRecord) -> bytes:
    """Serialise a record to the bytes of ``run.yaml`` (schema 1, see docs/format.md)."""
    return dump_yaml(_to_doc(record, float))


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)


def dump_summary(record: RunRecord) -> bytes:
    """The same record as compact JSON (``summary.json``): fast to read in bulk for listings.

    Non-finite metric values are the strings ``"nan"``, ``"inf"`` and ``"-inf"``, so the file
    is standard JSON.
    """
    doc = _to_doc(record, _json_float)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise MalformedRunError(f"{what}: field '{key}' is missing or not a {_kind_name(kind)}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return "/".join(k.__name__ for k in _as_tuple(kind))


_VALID_KEYS: set[str] = set()  # keys already checked by naming.validate_key: they repeat across runs
_MAX_VALID_KEYS = 100_000


def _str_map(data: dict[str, Any], key: str, what: str, check_keys: bool) -> dict[str, str]:
    value = data.get(key)
    if value is None:
        return {}
    if type(value) is not dict:
        raise MalformedRunError(f"{what}: field '{key}' is missing or not a dict")
    if not _STR_TYPES.issuperset(map(type, value.values())) or not _STR_TYPES.issuperset(map(type, value)):
        raise MalformedRunError(f"{what}: '{key}' must map strings to strings")
    if check_keys and not _VALID_KEYS.issuperset(value):
        try:
            for k in value:
                naming.validate_key(k, key)
        except InvalidNameError as exc:
            raise MalformedRunError(f"{what}: {exc}") from None
        if len(_VALID_KEYS) > _MAX_VALID_KEYS:
            _VALID_KEYS.clear()
        _VALID_KEYS.update(value)
    return value


_STR_TYPES = frozenset((str,))


def _time(data: dict[str, Any], key: str, what: str, optional: bool = False) -> int | None:
    value = data.get(key)
    if type(value) is not str:
        value = _require(data, key, str, what, optional=optional)
        if value is None:
            return None
    try:
        return iso_to_ms(value)
    except ValueError:
        raise MalformedRunError(f"{what}: '{key}' is not an ISO 8601 time: {value[:40]!r}") from None


def _required_time(data: dict[str, Any], key: str, what: str) -> int:
    value = _time(data, key, what)
    assert value is not None  # not optional: _require raised
    return value


def _metrics(data: dict[str, Any], what: str) -> dict[str, MetricSummary]:
    raw = _require(data, "metrics", dict, what, optional=True) or {}
    if raw and not _VALID_KEYS.issuperset(raw):
        _str_map({"metrics": dict.fromkeys(raw, "")}, "metrics", what, check_keys=True)
    out = {}
    for key, m in raw.items():
        try:
            value, step, timestamp, count = m["value"], m["step"], m["timestamp"], m["count"]
            if not all(type(n) is int and _INT64[0] <= n <= _INT64[1] for n in (step, timestamp, count)):
                raise ValueError
            low, high = m.get("min"), m.get("max")
            bounds = (None, None) if low is None or high is None else (_number(low), _number(high))
            out[key] = MetricSummary(_number(value), step, timestamp, count, *bounds)
        except (KeyError, TypeError, ValueError, OverflowError):
            raise MalformedRunError(f"{what}: metric {key!r} has a malformed summary") from None
    return out


def _number(value: Any) -> float:
    """A metric value as stored: a float, an int, or "nan"/"inf"/"-inf" (JSON has no such numbers)."""
    if type(value) is float:
        return value
    if type(value) is int or value in ("nan", "inf", "-inf"):
        return float(value)
    raise TypeError


def parse_record(data: bytes, what: str = "run.yaml") -> RunRecord:
    """Read ``run.yaml`` bytes into a record, validating every field (the input is untrusted)."""
    return _from_doc(load_yaml(data, what), what)


def parse_summary(data: bytes, what: str = "summary.json") -> RunRecord:
    """Read ``summary.json`` bytes into a record, with the same validation as ``run.yaml``."""
    return parse_summary_doc(data, what)[0]


def parse_summary_doc(data: bytes, what: str = "summary.json") -> tuple[RunRecord, dict[str, Any]]:
    """:func:`parse_summary`, and the JSON document the record was read from."""
    if len(data) > MAX_YAML_BYTES:
        raise MalformedRunError(f"{what} is {len(data)} bytes, over the {MAX_YAML_BYTES} byte limit")
    import orjson

    try:
        doc = orjson.loads(data)  # strict JSON, 64-bit integers; twice as fast as json on listings
    except orjson.JSONDecodeError:
        raise MalformedRunError(f"{what} is not valid JSON") from None
    return _from_doc(doc, what), doc


_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_BOUNDS = ("value", "min", "max")


def record_yaml(doc: dict[str, Any], data: bytes) -> bytes:
    """YAML of the document of a valid ``summary.json`` (``data``, parsed: ``doc``) with its
    non-finite metric values as numbers: for a summary gittrack wrote, exactly the ``run.yaml``
    it wrote with it (:func:`dump_record` of the record), without making the record's document
    again (pull checks every incoming run's ``run.yaml`` against it). In any case it loads back as
    a record equal to the summary's."""
    metrics = doc.get("metrics")
    if metrics and (b'"nan"' in data or b'inf"' in data):
        doc = {**doc, "metrics": {
            key: {k: _NON_FINITE.get(v, v) if k in _BOUNDS and type(v) is str else v for k, v in m.items()}
            for key, m in metrics.items()
        }}  # fmt: skip
    return dump_yaml(doc)


_SCALARS = {"name": str, "host": str, "pid": int}
_INT64 = (INT64_MIN, INT64_MAX)

# The shape of every nested field readers use: a tuple of allowed types, a dict of key -> shape
# ("*" for any key), or a one-item list (a list of that shape). Unknown keys are allowed (newer
# writers may add some) but must hold plain data; known keys must have their type.
_S, _SN, _IN, _BN = (str,), (str, type(None)), (int, type(None)), (bool, type(None))
_SCALAR = (str, int, float, bool, type(None))
_SHAPES: dict[str, Any] = {
    "source": {"commit": _SN, "branch": _SN, "dirty": _BN, "diffstat": {"files": (int,), "insertions": (int,),
               "deletions": (int,)}},
    "command": {"argv": [_S], "entry_point": _SN, "cwd": _SN, "launcher": _SN},
    "environment": {"*": _SCALAR},
    "snapshot": {"excluded": [{"path": _S, "reason": _S}]},
    "inputs": [{"path": _S, "md5": _SN, "size": _IN, "nfiles": _IN, "source": _SN, "dirty": _BN, "name": _S,
                "workspace": _S, "workspace_md5": _S, "digest": _S, "context": _S, "tags": {"*": _S},
                "source_type": _S, "dataset_source": _S, "schema": _S, "profile": _S}],
    "artifacts": [{"path": _S, "md5": _S, "size": _IN, "nfiles": _IN, "kind": _S, "flavor": _S,
                   "model_params": {"*": _S}, "model_tags": {"*": _S}, "model_type": _S, "model_step": (int,),
                   "model_time": (int,)}],
    "error": {"*": _SN},
    "logs": {"*": {"bytes": (int,), "kept_bytes": (int,), "truncated": (bool,)}},
}  # fmt: skip
MAX_DEPTH = 16


def _shape_error(value: Any, shape: Any, where: str, depth: int = 0) -> str | None:
    """Where ``value`` departs from ``shape`` (None: it fits); plain data of bounded depth elsewhere."""
    if depth > MAX_DEPTH:
        return f"{where} is nested deeper than {MAX_DEPTH} levels"
    if shape is _PLAIN:
        return _plain_error(value, where, depth)
    if isinstance(shape, tuple):
        if type(value) not in shape:
            return f"{where} is a {type(value).__name__}, not {'/'.join(t.__name__ for t in shape)}"
        if type(value) is int and not _INT64[0] <= value <= _INT64[1]:
            return f"{where} is out of the 64-bit integer range"
        return None
    if isinstance(shape, list):
        if type(value) is not list:
            return f"{where} is a {type(value).__name__}, not a list"
        for i, item in enumerate(value):
            if (problem := _shape_error(item, shape[0], f"{where}[{i}]", depth + 1)) is not None:
                return problem
        return None
    if type(value) is not dict:
        return f"{where} is a {type(value).__name__}, not a mapping"
    for key, item in value.items():
        if type(key) is not str:
            return f"{where} has a key that is not a string"
        inner = shape.get(key, shape.get("*", _PLAIN))
        if (problem := _shape_error(item, inner, f"{where}.{key}", depth + 1)) is not None:
            return problem
    return None


class _Plain:
    """Any plain data: scalars, lists and string-keyed mappings of plain data."""


_PLAIN: Any = _Plain()
_SCALAR_TYPES = frozenset(_SCALAR)


def _fits(value: Any, shape: Any, depth: int = 0) -> bool:
    """Whether ``value`` fits ``shape``: :func:`_shape_error` is None, found without building the
    text of every place looked at (listings validate every run they read)."""
    if depth > MAX_DEPTH:
        return False
    kind = type(value)
    if shape is _PLAIN:
        if kind in _SCALAR_TYPES:
            return kind is not int or _INT64[0] <= value <= _INT64[1]
        shape = [_PLAIN] if kind is list else _ANY_PLAIN
    elif type(shape) is tuple:
        return kind in shape and (kind is not int or _INT64[0] <= value <= _INT64[1])
    if type(shape) is list:
        if kind is not list:
            return False
        inner = shape[0]
        for item in value:  # noqa: SIM110 - a loop: all() over a generator costs more
            if not _fits(item, inner, depth + 1):
                return False
        return True
    if kind is not dict:
        return False
    default = shape.get("*", _PLAIN)
    for key, item in value.items():
        if type(key) is not str or not _fits(item, shape.get(key, default), depth + 1):
            return False
    return True


_ANY_PLAIN = {"*": _PLAIN}


def _plain_error(value: Any, where: str, depth: int) -> str | None:
    if type(value) in _SCALAR:
        return _shape_error(value, _SCALAR, where, depth)
    if type(value) is list:
        return _shape_error(value, [_PLAIN], where, depth)
    return _shape_error(value, _ANY_PLAIN, where, depth)


_OPTIONAL_DICTS = ("source", "command", "environment", "snapshot", "logs", "error")
_DICT_OR_NONE = frozenset((dict, type(None)))
_LIST_OR_NONE = frozenset((list, type(None)))


def _well_typed(doc: dict[str, Any]) -> bool:
    """The common case in one pass: every plain field has its type (else the slow path names it)."""
    get = doc.get
    return (
        all(type(get(k)) is kind for k, kind in _SCALARS.items())
        and type(get("checkpoint_interval")) in (int, float)
        and type(get("parent_run")) in (str, type(None))
        and _DICT_OR_NONE.issuperset([type(get(k)) for k in _OPTIONAL_DICTS])
        and type(get("inputs")) in _LIST_OR_NONE
        and type(get("artifacts")) in _LIST_OR_NONE
    )


_VALID_ARTIFACT_PATHS: set[str] = set()


def _check_artifact_paths(artifacts: list[dict[str, Any]], what: str) -> None:
    """Every artifact path is a relative name inside the run's artifact folder, in the normal form
    the writer gives it (no ``..``, no leading ``/``, no empty or ``.`` parts): readers join these
    paths to folders on disk (the UI, downloads)."""
    for artifact in artifacts:
        path = artifact.get("path")
        if path is None or path in _VALID_ARTIFACT_PATHS:
            continue
        try:
            if naming.artifact_path(None, path) != path:
                raise InvalidNameError(f"artifact path {path[:80]!r} is not in normal form")
        except InvalidNameError as exc:
            raise MalformedRunError(f"{what}: {exc}") from None
        if len(_VALID_ARTIFACT_PATHS) > _MAX_VALID_KEYS:
            _VALID_ARTIFACT_PATHS.clear()
        _VALID_ARTIFACT_PATHS.add(path)


def _from_doc(doc: Any, what: str) -> RunRecord:
    if type(doc) is not dict:
        raise MalformedRunError(f"{what} is not a mapping")
    schema = doc.get("schema")
    if schema != SCHEMA_VERSION:
        raise MalformedRunError(
            f"{what} has schema {schema!r}; this gittrack reads schema {SCHEMA_VERSION}: upgrade gittrack"
        )
    try:
        run_id = validate_run_id(doc.get("id"))
        experiment = naming.validate_experiment(doc.get("experiment"))
    except InvalidNameError as exc:
        raise MalformedRunError(f"{what}: {exc}") from None
    status = doc.get("status")
    if status not in STATUSES:
        raise MalformedRunError(f"{what}: status {status!r} is not one of {', '.join(STATUSES)}")
    if not _well_typed(doc):
        for key, kind in _SCALARS.items():
            _require(doc, key, kind, what)
        _require(doc, "checkpoint_interval", (int, float), what)
        _require(doc, "parent_run", str, what, optional=True)
        for key in _OPTIONAL_DICTS:
            _require(doc, key, dict, what, optional=True)
        _require(doc, "inputs", list, what, optional=True)
        _require(doc, "artifacts", list, what, optional=True)
    get = doc.get
    for key, shape in _SHAPES.items():
        value = get(key)
        if value is not None and not _fits(value, shape) and (problem := _shape_error(value, shape, key)) is not None:
            raise MalformedRunError(f"{what}: {problem}")
    if not _INT64[0] <= doc["pid"] <= _INT64[1] or not 0 <= doc["checkpoint_interval"] <= 86400:
        raise MalformedRunError(f"{what}: 'pid' or 'checkpoint_interval' is out of range")
    _check_artifact_paths(get("artifacts") or [], what)
    return RunRecord(
        id=run_id,
        name=doc["name"],
        experiment=experiment,
        status=status,
        start_time=_required_time(doc, "start_time", what),
        end_time=_time(doc, "end_time", what, optional=True),
        heartbeat=_required_time(doc, "heartbeat", what),
        checkpoint_interval=float(doc["checkpoint_interval"]),
        user=_str_map(doc, "user", what, check_keys=False),
        host=doc["host"],
        pid=doc["pid"],
        parent_run=get("parent_run"),
        source=get("source") or {},
        command=get("command") or {},
        environment=get("environment") or {},
        snapshot=get("snapshot") or {},
        params=_str_map(doc, "params", what, check_keys=True),
        param_types=_str_map(doc, "param_types", what, check_keys=True),
        tags=_str_map(doc, "tags", what, check_keys=True),
        metrics=_metrics(doc, what),
        inputs=get("inputs") or [],
        artifacts=get("artifacts") or [],
        error=get("error"),
        logs=get("logs") or {},
    )
