"""APIs MLflow 2.0 removed, which 2022-2023 course material still calls: answered by their
documented successors, with a one-line DeprecationWarning naming it."""

from __future__ import annotations

import warnings


def warn(old: str, new: str) -> None:
    """Say once per call site that ``old`` is gone from MLflow and ``new`` answers it."""
    warnings.warn(
        f"{old} was removed in MLflow 2.0; gittrack.mlflow answers it with {new}, which new code should call",
        DeprecationWarning,
        stacklevel=4,  # the caller of the removed function (past the function and translate)
    )
