"""GTO's tag grammar: model versions and stage events as git tag names (see docs/registry.md).

churn@v1.2.0        register version        churn@v1.2.0!       deregister (deprecate) version
churn#production#3  assign stage            churn#production!#4 unassign stage
churn@deprecated    deprecate the model     (each may carry a trailing #N counter)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gittrack.errors import InvalidNameError

NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9/_-]*[a-zA-Z0-9])?"
SEMVER = (
    r"v(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_NAME = re.compile(rf"^{NAME}$")
_VERSION = re.compile(rf"^{SEMVER}$")
_TAG = re.compile(
    rf"^(?P<model>(?:[A-Za-z0-9._/-]+=)?{NAME})"
    rf"(?:(?:#(?P<stage>{NAME})|@(?P<version>{SEMVER.replace('?P<', '?P<v_')}))(?P<bang>!)?|@(?P<special>deprecated))"
    r"(?:#(?P<counter>\d+))?$"
)


class EventKind(StrEnum):
    """What a registry tag does (GTO's event types); equal to its lower-case name as a string."""

    REGISTER = "register"
    DEREGISTER = "deregister"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    DEPRECATE = "deprecate"


REGISTER, DEREGISTER, ASSIGN, UNASSIGN, DEPRECATE = EventKind


@dataclass(frozen=True)
class TagName:
    """A parsed registry tag name."""

    kind: EventKind
    model: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None


def validate_model(name: str) -> str:
    """A model name GTO accepts: letters, digits, ``/ _ -`` inside, starting and ending alphanumeric."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidNameError(
            f"model name {name!r} must be letters and digits, with '-', '_' or '/' inside (e.g. churn-model)"
        )
    return name


def validate_stage(name: str) -> str:
    """A stage name (same rules as model names)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidNameError(f"stage name {name!r} must be letters and digits, with '-', '_' or '/' inside")
    return name


def validate_version(version: str) -> str:
    """A full semantic version with its leading ``v`` (``v1.2.0``, ``v1.0.0-rc.1``)."""
    if not isinstance(version, str) or not _VERSION.match(version):
        raise InvalidNameError(f"version {version!r} is not semver with a leading v, such as v1.2.0")
    return version


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key of semver precedence: prereleases below their release, numeric parts numerically."""
    match = _VERSION.match(version)
    if match is None:
        return (-1, -1, -1, 0, ())
    pre = match.group("pre")
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")) if pre else ()
    return (int(match.group("major")), int(match.group("minor")), int(match.group("patch")), 0 if pre else 1, parts)


def bump(version: str | None, part: str) -> str:
    """The next version: ``v0.0.1`` when there is none (GTO's first), else ``part`` bumped."""
    if version is None:
        return "v0.0.1" if part == "patch" else "v0.1.0" if part == "minor" else "v1.0.0"
    match = _VERSION.match(version)
    if match is None:
        raise InvalidNameError(f"cannot bump {version!r}")
    major, minor, patch = (int(match.group(k)) for k in ("major", "minor", "patch"))
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "minor":
        return f"v{major}.{minor + 1}.0"
    if part == "patch":
        return f"v{major}.{minor}.{patch + 1}"
    raise InvalidNameError(f"bump must be major, minor or patch, not {part!r}")


def parse_tag(name: str) -> TagName | None:
    """Parse a tag name (without ``refs/tags/``); None if it is not a registry tag."""
    match = _TAG.match(name)
    if match is None:
        return None
    counter = int(match.group("counter")) if match.group("counter") else None
    bang = bool(match.group("bang"))
    if match.group("special"):
        return TagName(DEPRECATE, match.group("model"), counter=counter)
    if match.group("stage"):
        return TagName(UNASSIGN if bang else ASSIGN, match.group("model"), stage=match.group("stage"), counter=counter)
    version = name[len(match.group("model")) + 1 :].split("!")[0].split("#")[0]
    return TagName(DEREGISTER if bang else REGISTER, match.group("model"), version=version, counter=counter)


def looks_like_registry_tag(name: str) -> bool:
    """Whether a tag name is in the registry's namespace (has ``@`` or ``#``), valid or not."""
    return "@" in name or "#" in name


def format_tag(
    kind: str, model: str, version: str | None = None, stage: str | None = None, counter: int | None = None
) -> str:
    """The tag name GTO writes by default for an event."""
    suffix = f"#{counter}" if counter is not None else ""
    if kind == REGISTER:
        return f"{model}@{version}{suffix}"
    if kind == DEREGISTER:
        return f"{model}@{version}!{suffix}"
    if kind == ASSIGN:
        return f"{model}#{stage}#{counter}"
    if kind == UNASSIGN:
        return f"{model}#{stage}!#{counter}"
    return f"{model}@deprecated{suffix}"
