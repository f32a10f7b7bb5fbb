"""Post-import hooks: run a function right after a module has been imported, whenever that happens.

``gittrack.autolog()`` must patch frameworks the script imports later without importing them
itself (``import gittrack`` stays light). A finder at the front of ``sys.meta_path`` notices the
import of a watched module, lets the real finder find it, and wraps its loader so that the
callbacks run once the module's code has executed. Modules already imported are handled by the
caller (``on_import`` returns whether the module is in ``sys.modules``).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from gittrack._state import STATE

log = logging.getLogger("gittrack")

Callback = Callable[[ModuleType], None]
_lock = threading.RLock()  # guards STATE.autolog.callbacks and prefix_callbacks
_busy = threading.local()


def on_import(name: str, callback: Callback, submodules: bool = False) -> None:
    """Call ``callback(module)`` after ``name`` (and with ``submodules``, any ``name.*``) is imported."""
    with _lock:
        table = STATE.autolog.prefix_callbacks if submodules else STATE.autolog.callbacks
        if callback not in table.setdefault(name, []):
            table[name].append(callback)
        _install()


def remove(callback: Callback) -> None:
    """Stop calling ``callback`` on imports; the finder leaves ``sys.meta_path`` when nothing is watched."""
    with _lock:
        for table in (STATE.autolog.callbacks, STATE.autolog.prefix_callbacks):
            for name in list(table):
                table[name] = [c for c in table[name] if c is not callback]
                if not table[name]:
                    del table[name]
        if not STATE.autolog.callbacks and not STATE.autolog.prefix_callbacks:
            _uninstall()


def _watchers(fullname: str) -> list[Callback]:
    with _lock:
        found = list(STATE.autolog.callbacks.get(fullname, []))
        for name, callbacks in STATE.autolog.prefix_callbacks.items():
            if fullname == name or fullname.startswith(name + "."):
                found.extend(callbacks)
        return found


def _run(fullname: str, module: ModuleType) -> None:
    for callback in _watchers(fullname):
        try:
            callback(module)
        except Exception as exc:  # noqa: BLE001 - a hook must never break the user's import
            log.warning("gittrack: autologging could not patch %s (%s: %s); it is not autologged",
                        fullname, type(exc).__name__, exc)  # fmt: skip


class _Loader(importlib.abc.Loader):
    """The real loader, plus the callbacks after the module's code has run."""

    def __init__(self, loader: Any, fullname: str) -> None:
        self._loader = loader
        self._fullname = fullname

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        spec = getattr(module, "__spec__", None)
        if spec is not None:
            spec.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        self._loader.exec_module(module)
        _run(self._fullname, module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: asks the other finders, then wraps the loader of watched modules."""

    def find_spec(self, fullname, path, target=None):
        if not _watchers(fullname):
            return None
        busy = getattr(_busy, "names", None)
        if busy is None:
            busy = _busy.names = set()
        if fullname in busy:
            return None
        busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        except (ImportError, ValueError):
            return None
        finally:
            busy.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _Loader(spec.loader, fullname)
        return spec


_finder = _Finder()


def _install() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def _uninstall() -> None:
    while _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
