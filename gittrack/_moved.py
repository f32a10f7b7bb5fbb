"""Old import paths kept for one release: a module that moved leaves a stub that calls ``alias``."""

from __future__ import annotations

import importlib
import sys
import warnings


def alias(old: str, new: str) -> None:
    """Make module ``old`` the module ``new`` (same object, private names too), with a deprecation warning."""
    warnings.warn(f"{old} is deprecated: import {new}", DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
