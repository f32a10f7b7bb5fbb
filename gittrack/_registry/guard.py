"""The one guard rule of the registry (docs/promotions.md): may a registry event change a guarded
stage? The registry service (a direct promote), promotions and the server hook all ask it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from gittrack._registry.tags import ASSIGN, DEPRECATE, DEREGISTER, UNASSIGN, TagName

if TYPE_CHECKING:
    from gittrack._registry.state import Model, Version


def guard_problem(
    parsed: TagName, model: Model | None, version: Version | None, guard: Iterable[str], asked: Mapping[str, str]
) -> str | None:
    """Why a registry event changes a guarded stage in a way ``asked`` (the protected branch's
    registry.yaml for the model: stage -> version) does not ask for. A guarded stage's holder
    changes only through review, whoever set it: an unassign, deregister or deprecate that
    takes the stage from its holder is refused unless the version left holding it is the one
    registry.yaml asks for, also when registry.yaml names no holder (one from before the guard)."""
    if parsed.kind == ASSIGN and parsed.stage is not None and parsed.stage in guard:
        if version is None or asked.get(parsed.stage) != version.version:
            given = version.version if version else "this commit"
            wants = asked.get(parsed.stage) or "nothing"
            return (f"stage {parsed.stage!r} of {parsed.model} is guarded and the protected branch's "
                    f"registry.yaml asks for {wants}, not {given}; request it with 'gittrack models promote "
                    f"{parsed.model} {given if version else 'VERSION'} {parsed.stage} --request', get the pull "
                    "request merged, and CI applies it")  # fmt: skip
        return None
    if model is None or parsed.kind not in (UNASSIGN, DEREGISTER, DEPRECATE):
        return None

    def loses(holder: Version, stage: str) -> bool:
        if parsed.kind == UNASSIGN:
            return version is not None and holder.version == version.version and stage == parsed.stage
        return parsed.kind == DEPRECATE or holder.version == parsed.version

    for stage in sorted(set(guard)):
        holders = model.holders(stage)
        if not holders or not loses(holders[0], stage):
            continue  # the stage keeps its holder
        left = next((v.version for v in holders if not loses(v, stage)), None)
        asked_for = asked.get(stage)
        if left is not None and left == asked_for:
            continue  # it leaves the stage to the version registry.yaml asks for
        if asked_for == holders[0].version:
            return (f"stage {stage!r} of {parsed.model} is guarded and the protected branch's registry.yaml "
                    f"asks for {asked_for} there; change it through a promotion request first")  # fmt: skip
        named = f"asks for {asked_for}" if asked_for else "names no holder"
        return (f"stage {stage!r} of {parsed.model} is guarded: {holders[0].version} holds it and the protected "
                f"branch's registry.yaml {named}; its holder changes only through a promotion request")  # fmt: skip
    return None
