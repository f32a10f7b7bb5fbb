"""Deprecated import path: promotions are ``gittrack.registry.policy``, ``.report`` and
``.promotions`` (use ``Client().promotions``). Kept for one release."""

import warnings

from gittrack.registry.policy import *  # noqa: F403
from gittrack.registry.promotions import *  # noqa: F403
from gittrack.registry.report import *  # noqa: F403

warnings.warn(
    "gittrack.promotions is deprecated: use gittrack.Client().promotions (or gittrack.registry.promotions)",
    DeprecationWarning,
    stacklevel=2,
)
