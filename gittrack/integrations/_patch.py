"""Patching with a way back, per-library settings, and logging that never breaks training.

Every attribute an integration replaces is recorded with its original, so that
``autolog(disable=True)`` puts back exactly what was there. Each logging step runs through
``safely``: an exception is caught and warned about once per library and step, and the user's
training goes on as if autologging were off.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gittrack._state import STATE

log = logging.getLogger("gittrack")


@dataclass(frozen=True)
class Settings:
    """What one library's autologging records (the arguments of ``gittrack.autolog``)."""

    log_models: bool = True
    log_input_examples: bool = False
    log_datasets: bool = True
    exclusive: bool = False
    silent: bool = False
    max_tuning_runs: int | None = 5
    log_post_training_metrics: bool = True
    log_model_signatures: bool = True
    extra_tags: dict[str, Any] = field(default_factory=dict)  # set on every run autologging starts
    extra: dict[str, Any] = field(default_factory=dict)


_lock = threading.RLock()  # guards STATE.autolog's settings, patches and warned


def settings(library: str) -> Settings | None:
    """The library's settings while its autologging is on, else None."""
    return STATE.autolog.settings.get(library)


def set_settings(library: str, value: Settings | None) -> None:
    with _lock:
        if value is None:
            STATE.autolog.settings.pop(library, None)
        else:
            STATE.autolog.settings[library] = value


def patch(library: str, owner: Any, name: str, make: Callable[[Callable], Callable]) -> None:
    """Replace ``owner.name`` by ``make(original)``, once; ``unpatch(library)`` restores it."""
    with _lock:
        entries = STATE.autolog.patches.setdefault(library, [])
        if any(o is owner and n == name for o, n, _, _ in entries):
            return
        is_class = isinstance(owner, type)
        own = not is_class or name in owner.__dict__
        raw = owner.__dict__[name] if is_class and own else getattr(owner, name)
        if isinstance(raw, staticmethod | classmethod):
            raise TypeError(f"cannot patch the {type(raw).__name__} {name}")
        original = getattr(owner, name)
        wrapper = make(original)
        functools.update_wrapper(wrapper, original)
        wrapper.__gittrack_original__ = original  # type: ignore[attr-defined]
        setattr(owner, name, wrapper)
        entries.append((owner, name, raw, own))


def is_patched(library: str, owner: Any, name: str) -> bool:
    return any(o is owner and n == name for o, n, _, _ in STATE.autolog.patches.get(library, []))


def unpatch(library: str) -> None:
    """Put back everything ``library`` replaced, newest first."""
    with _lock:
        for owner, name, raw, had_own in reversed(STATE.autolog.patches.pop(library, [])):
            if had_own:
                setattr(owner, name, raw)
            else:
                delattr(owner, name)


def warn_once(library: str, step: str, exc: BaseException) -> None:
    """Say once per library and step that logging failed; training is not affected."""
    key = (library, step)
    with _lock:
        if key in STATE.autolog.warned:
            return
        STATE.autolog.warned.add(key)
    current = STATE.autolog.settings.get(library)
    if current is not None and current.silent:
        return
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    log.warning("gittrack: autologging (%s) could not log %s: %s%s; training goes on without it",
                library, step, type(exc).__name__, f": {first}" if first else "")  # fmt: skip


def safely(library: str, step: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, or None after warning once when it raises."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        log.debug("gittrack: autologging (%s) failed to log %s", library, step, exc_info=True)
        warn_once(library, step, exc)
        return None
