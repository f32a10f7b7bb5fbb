"""The web UI (``gittrack ui``) and the static HTML report (``gittrack report``).

Everything here calls the public :class:`gittrack.Client` only. The web stack (starlette,
uvicorn, jinja2, plotly's bundled JS) comes with the ``ui`` extra and is imported only by these
modules, never by ``import gittrack``.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {"create_app": "gittrack.ui.app", "write_report": "gittrack.ui.report", "render_report": "gittrack.ui.report"}


def __getattr__(name: str) -> Any:
    """``create_app`` (the ASGI app over a repository) and ``write_report``/``render_report`` (the
    HTML report), loaded with the web stack on first use."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'gittrack.ui' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
