"""The UI's sweep API: ``/api/sweeps`` (the sweeps of this repository), ``/api/sweeps/{id}``
(settings, counts, trials, best-so-far curve) and ``/api/sweeps/{id}/importance`` (Optuna's
param importances). Opened studies are kept per server, so a journal is read incrementally."""

from __future__ import annotations

import threading
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from gittrack.ui.api import Json

_lock = threading.Lock()


def _cache(request: Request) -> dict[Any, Any]:
    backend = request.app.state.backend
    with _lock:
        cache = getattr(backend, "sweep_studies", None)
        if cache is None:
            cache = backend.sweep_studies = {}
    return cache


def sweeps(request: Request) -> Json:
    from gittrack.sweeps import list_sweeps

    return Json({"sweeps": list_sweeps(request.app.state.backend.repo)})


def sweep(request: Request) -> Json:
    from gittrack.sweeps import sweep_details

    backend = request.app.state.backend
    return Json(sweep_details(request.path_params["sweep_id"], repo=backend.repo, studies_cache=_cache(request)))


def importance(request: Request) -> Json:
    from gittrack.sweeps import param_importances

    backend = request.app.state.backend
    found = param_importances(request.path_params["sweep_id"], repo=backend.repo, studies_cache=_cache(request))
    return Json({"importance": found})


ROUTES = [
    Route("/api/sweeps", sweeps),
    Route("/api/sweeps/{sweep_id}", sweep),
    Route("/api/sweeps/{sweep_id}/importance", importance),
]
