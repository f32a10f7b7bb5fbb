"""The search space: ``space.yaml`` (one entry per param) parsed into checked specs, and
sampling them on an Optuna trial.

```yaml
lr: {type: float, low: 1e-4, high: 1e-1, log: true}
depth: {type: int, low: 2, high: 8}
model: {type: categorical, choices: [a, b]}
```

Every mistake is a ``SpaceError`` naming the param and what to write instead; nothing else
escapes ``parse_space`` whatever the input (a property-based test holds it to that).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gittrack.errors import UsageError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,99}")
TYPES = ("float", "int", "categorical")
KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}
MAX_PARAMS = 1000
MAX_CHOICES = 10_000
Scalar = str | int | float | bool | None


class SpaceError(UsageError):
    """A search space that cannot be used, with what to change."""


@dataclass(frozen=True)
class Param:
    """One searched param: ``kind`` float, int or categorical, with its bounds or choices."""

    name: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Scalar, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The param as ``space.yaml`` writes it (parse_space reads it back to an equal Param)."""
        if self.kind == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out

    def grid(self) -> list[Scalar]:
        """Every value a grid search tries: the choices, each int, or each float step."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.step is None and self.kind == "float":
            raise SpaceError(f"{self.name}: a grid search needs 'step' for a float param (or make it categorical)")
        step = self.step or 1
        count = math.floor((self.high - self.low) / step + 1e-9) + 1  # type: ignore[operator]
        if count > MAX_CHOICES:
            raise SpaceError(f"{self.name}: the grid has {count} values; at most {MAX_CHOICES}, give a larger step")
        values = [self.low + i * step for i in range(count)]  # type: ignore[operator]
        return [int(v) for v in values] if self.kind == "int" else [round(v, 12) for v in values]

    def contains(self, value: Any) -> bool:
        """Whether a sampled value lies in this param's range (or is one of its choices)."""
        if self.kind == "categorical":
            return value in self.choices
        return self.low <= value <= self.high


def load_space(path: str | Path) -> list[Param]:
    """Read and check a space file (YAML or JSON)."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpaceError(f"cannot read the space file {str(path)!r}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise SpaceError(f"{path}: not valid YAML{at}; write one 'name: {{type: ..., ...}}' entry per line") from None
    return parse_space(data, source=str(path))


def parse_space(data: Any, source: str = "space") -> list[Param]:
    """Check a space given as a mapping (a parsed ``space.yaml``) and return its params in order."""
    if not isinstance(data, Mapping) or not data:
        raise SpaceError(f"{source}: the space must be a mapping of param names to specs, e.g. lr: {{type: float, "
                         "low: 0.001, high: 0.1}")  # fmt: skip
    if len(data) > MAX_PARAMS:
        raise SpaceError(f"{source}: {len(data)} params; at most {MAX_PARAMS}")
    return [_param(name, spec, source) for name, spec in data.items()]


def dump_space(params: list[Param]) -> dict[str, Any]:
    """The mapping ``parse_space`` reads back to ``params``."""
    return {p.name: p.to_dict() for p in params}


def _param(name: Any, spec: Any, source: str) -> Param:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise SpaceError(f"{source}: param name {str(name)[:60]!r} must start with a letter or '_' and hold only "
                         "letters, digits, '_', '.', '-' (at most 100)")  # fmt: skip
    where = f"{source}: {name}"
    if not isinstance(spec, Mapping):
        raise SpaceError(f"{where}: give a mapping such as {{type: float, low: 0.001, high: 0.1}}")
    kind = spec.get("type")
    if kind not in TYPES:
        raise SpaceError(f"{where}: type must be one of {', '.join(TYPES)} (got {str(kind)[:40]!r})")
    unknown = sorted(str(k) for k in spec if k not in KEYS[kind])
    if unknown:
        raise SpaceError(f"{where}: unknown key(s) {', '.join(unknown)}; a {kind} param takes "
                         f"{', '.join(sorted(KEYS[kind]))}")  # fmt: skip
    if kind == "categorical":
        return Param(name, kind, choices=_choices(spec.get("choices"), where))
    number = _float if kind == "float" else _int
    low, high = number(spec.get("low"), "low", where), number(spec.get("high"), "high", where)
    if low > high:
        raise SpaceError(f"{where}: low ({low}) must not be above high ({high})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SpaceError(f"{where}: log must be true or false (got {str(log)[:40]!r})")
    if log and low <= 0:
        raise SpaceError(f"{where}: a log scale needs low > 0 (got {low})")
    step = spec.get("step")
    if step is not None:
        step = number(step, "step", where)
        if step <= 0:
            raise SpaceError(f"{where}: step must be positive (got {step})")
        if log and (kind == "float" or step != 1):
            raise SpaceError(f"{where}: step and log cannot be used together")
        count = (high - low) / step
        if abs(count - round(count)) > 1e-6 or count > 1e12:
            raise SpaceError(f"{where}: high - low ({high - low:g}) must be a whole number of steps ({step:g})")
    return Param(name, kind, low, high, log, step)


def _float(value: Any, key: str, where: str) -> float:
    if value is None:
        raise SpaceError(f"{where}: {key} is missing")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SpaceError(f"{where}: {key} must be a number (got {str(value)[:40]!r})")
    try:
        number = float(value)  # YAML reads 1e-4 (no dot) as a string
    except ValueError:
        raise SpaceError(f"{where}: {key} must be a number (got {str(value)[:40]!r})") from None
    if not math.isfinite(number):
        raise SpaceError(f"{where}: {key} must be finite (got {value!r})")
    return number


def _int(value: Any, key: str, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,18}", value.strip()):
        return int(value)
    if value is None:
        raise SpaceError(f"{where}: {key} is missing")
    raise SpaceError(f"{where}: {key} must be a whole number (got {str(value)[:40]!r})")


def _choices(value: Any, where: str) -> tuple[Scalar, ...]:
    if not isinstance(value, list) or not value:
        raise SpaceError(f"{where}: choices must be a non-empty list, e.g. choices: [a, b]")
    if len(value) > MAX_CHOICES:
        raise SpaceError(f"{where}: {len(value)} choices; at most {MAX_CHOICES}")
    for choice in value:
        if choice is not None and not isinstance(choice, str | int | float | bool):
            raise SpaceError(
                f"{where}: each choice must be a string, number, boolean or null (got {str(choice)[:40]!r})"
            )
        if isinstance(choice, float) and not math.isfinite(choice):
            raise SpaceError(f"{where}: choice {choice!r} must be finite")
    seen: list[Any] = []
    for choice in value:
        if any(type(choice) is type(s) and choice == s for s in seen):
            raise SpaceError(f"{where}: choice {str(choice)[:40]!r} is listed twice")
        seen.append(choice)
    return tuple(value)


def suggest(trial: Any, params: list[Param]) -> dict[str, Any]:
    """Sample every param on an Optuna trial (``trial.suggest_*``) and return the values by name."""
    values: dict[str, Any] = {}
    for p in params:
        if p.kind == "categorical":
            values[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            values[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)  # type: ignore[arg-type]
        else:
            values[p.name] = trial.suggest_float(p.name, p.low, p.high, step=p.step, log=p.log)
    return values


def grid_space(params: list[Param]) -> dict[str, list[Scalar]]:
    """The search space of Optuna's ``GridSampler``."""
    return {p.name: p.grid() for p in params}


PLACEHOLDER = re.compile(r"\{(" + NAME.pattern + r")\}")


def check_command(command: list[str], params: list[Param]) -> None:
    """Refuse a command whose ``{name}`` refers to no param of the space."""
    names = {p.name for p in params}
    for arg in command:
        for match in PLACEHOLDER.finditer(arg):
            if match.group(1) not in names:
                raise SpaceError(f"the command refers to {{{match.group(1)}}}, which is not a param of the space "
                                 f"({', '.join(sorted(names))})")  # fmt: skip


def fill_command(command: list[str], values: Mapping[str, Any]) -> list[str]:
    """The command with each ``{name}`` replaced by the sampled value (others left as they are)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)

    return [PLACEHOLDER.sub(value, arg) for arg in command]
