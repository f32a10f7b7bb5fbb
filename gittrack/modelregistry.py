"""Deprecated import path: the registry service is ``gittrack.registry.service`` (use ``Client().registry``).

Kept for one release so that code importing ``gittrack.modelregistry`` keeps working.
"""

import warnings

from gittrack.registry.service import *  # noqa: F403
from gittrack.registry.service import load  # noqa: F401

warnings.warn(
    "gittrack.modelregistry is deprecated: use gittrack.Client().registry (or gittrack.registry.service)",
    DeprecationWarning,
    stacklevel=2,
)
