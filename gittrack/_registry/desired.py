"""``registry.yaml``: the committed desired state of the registry and the promotion policy.

    schema: 1
    models:
      churn:
        stages: {production: v0.0.3, staging: v0.0.4}
    policy:
      "*":                                   # every model without its own entry
        guard: [production]                  # stages that need a reviewed request
        no_worse: [{metric: rmse, direction: min, tolerance: 0.0}]
        thresholds: [{metric: auc, op: ">=", value: 0.8}]
      churn: {...}                           # replaces "*" for this model

Read from untrusted commits (a branch under review): safe YAML, validated, size-capped.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gittrack._registry import tags
from gittrack._store.yamlio import dump_yaml, load_yaml
from gittrack.errors import InvalidValueError, MalformedRunError

if TYPE_CHECKING:
    import pygit2

FILE = "registry.yaml"
MAX_BYTES = 1024 * 1024
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
WORD_OPS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "eq": "=="}  # no shell metacharacters to quote
ALL = "*"


@dataclass
class Policy:
    """The promotion rules of one model (or of every model, ``*``)."""

    guard: list[str] = field(default_factory=list)
    no_worse: list[dict[str, Any]] = field(default_factory=list)  # metric, direction (min|max), tolerance
    thresholds: list[dict[str, Any]] = field(default_factory=list)  # metric, op, value

    def to_doc(self) -> dict[str, Any]:
        """The YAML form."""
        doc: dict[str, Any] = {}
        if self.guard:
            doc["guard"] = list(self.guard)
        if self.no_worse:
            doc["no_worse"] = list(self.no_worse)
        if self.thresholds:
            doc["thresholds"] = list(self.thresholds)
        return doc


@dataclass
class Desired:
    """Which version should hold which stage, per model, and the policies."""

    models: dict[str, dict[str, str]] = field(default_factory=dict)  # model -> stage -> version
    policies: dict[str, Policy] = field(default_factory=dict)

    def policy(self, model: str) -> Policy:
        """The model's own policy, else the ``*`` one, else no rules."""
        return self.policies.get(model) or self.policies.get(ALL) or Policy()

    def to_bytes(self) -> bytes:
        """The file's bytes (with a header comment pointing at the docs)."""
        doc: dict[str, Any] = {
            "schema": 1,
            "models": {m: {"stages": dict(sorted(s.items()))} for m, s in sorted(self.models.items())},
        }
        policies = {name: p.to_doc() for name, p in sorted(self.policies.items()) if p.to_doc()}
        if policies:
            doc["policy"] = policies
        header = b"# gittrack registry: desired stage holders and promotion policy (see docs/promotions.md)\n"
        return header + dump_yaml(doc)


def parse_no_worse(text: str) -> dict[str, Any]:
    """``rmse:min`` or ``accuracy:max:0.01`` (tolerance: how much worse is still accepted)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or parts[1] not in ("min", "max"):
        raise InvalidValueError(
            f"--no-worse {text!r} must be METRIC:min|max[:TOLERANCE], e.g. rmse:min or acc:max:0.01"
        )
    tolerance = _number(parts[2], text) if len(parts) == 3 else 0.0
    return {"metric": parts[0], "direction": parts[1], "tolerance": tolerance}


def parse_threshold(text: str) -> dict[str, Any]:
    """``auc:>=:0.8``, or ``auc:ge:0.8`` (``ge gt le lt eq``: the same without shell quoting)."""
    parts = text.split(":")
    if len(parts) == 3:
        parts[1] = WORD_OPS.get(parts[1].lower(), parts[1])
    if len(parts) != 3 or parts[1] not in OPS:
        raise InvalidValueError(
            f"--threshold {text!r} must be METRIC:OP:VALUE with OP one of {' '.join(WORD_OPS)} (or, quoted, "
            f"{' '.join(OPS)}), e.g. auc:ge:0.8"
        )
    return {"metric": parts[0], "op": parts[1], "value": _number(parts[2], text)}


def _number(text: str, whole: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidValueError(f"{whole!r}: {text!r} is not a finite number")
    return value


def _policy(doc: Any, what: str) -> Policy:
    if not isinstance(doc, dict):
        raise MalformedRunError(f"{what} must be a mapping")
    guard = doc.get("guard") or []
    if not isinstance(guard, list) or not all(isinstance(s, str) for s in guard):
        raise MalformedRunError(f"{what}: guard must be a list of stages")
    try:
        no_worse = [
            parse_no_worse(f"{r['metric']}:{r['direction']}:{r.get('tolerance', 0)}") for r in doc.get("no_worse") or []
        ]
        thresholds = [parse_threshold(f"{r['metric']}:{r['op']}:{r['value']}") for r in doc.get("thresholds") or []]
    except (KeyError, TypeError, InvalidValueError) as exc:
        raise MalformedRunError(f"{what}: a rule is malformed ({exc})") from None
    return Policy([tags.validate_stage(s) for s in guard], no_worse, thresholds)


def parse(data: bytes, what: str = FILE) -> Desired:
    """Read the file (untrusted: it may come from a branch under review)."""
    if len(data) > MAX_BYTES:
        raise MalformedRunError(f"{what} is larger than {MAX_BYTES} bytes")
    doc = load_yaml(data, what) or {}
    if not isinstance(doc, dict) or doc.get("schema", 1) != 1:
        raise MalformedRunError(f"{what} is not a schema-1 gittrack registry file")
    desired = Desired()
    for model, body in (doc.get("models") or {}).items():
        stages = (body or {}).get("stages") or {} if isinstance(body, dict) else None
        if not isinstance(stages, dict):
            raise MalformedRunError(f"{what}: models.{model} must have a 'stages' mapping")
        try:
            desired.models[tags.validate_model(str(model))] = {
                tags.validate_stage(str(s)): tags.validate_version(str(v)) for s, v in stages.items()
            }
        except Exception as exc:  # noqa: BLE001 - InvalidNameError; reported as a malformed file
            raise MalformedRunError(f"{what}: models.{model}: {exc}") from None
    for name, body in (doc.get("policy") or {}).items():
        desired.policies[str(name)] = _policy(body, f"{what}: policy.{name}")
    return desired


def read_at(repo: pygit2.Repository, commit: pygit2.Oid | str | None) -> Desired:
    """The desired state in a commit (empty when the commit or the file is missing)."""
    import pygit2

    if commit is None:
        return Desired()
    try:
        entry = repo[pygit2.Oid(hex=str(commit))].peel(pygit2.Commit).tree[FILE]
    except (KeyError, ValueError):
        return Desired()
    _, size = repo.odb.read_header(entry.id)
    if size > MAX_BYTES:
        raise MalformedRunError(f"{FILE} in {str(commit)[:12]} is larger than {MAX_BYTES} bytes")
    return parse(repo.odb.read(entry.id)[1], f"{FILE} in {str(commit)[:12]}")
