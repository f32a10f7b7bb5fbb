"""The ASGI application: MLflow's REST endpoints (``routes.ENDPOINTS``) and the artifact proxy
over one repository, with optional basic auth and the web UI under ``/``."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from gittrack.server import artifacts
from gittrack.server.backend import Backend
from gittrack.server.errors import ENDPOINT_NOT_FOUND, ServerError, error_body
from gittrack.server.request import Args
from gittrack.server.routes import ENDPOINTS, Endpoint

if TYPE_CHECKING:
    from gittrack.server.auth import Auth
    from gittrack.server.sharing import Sharer

MAX_JSON = 64 << 20  # a log-batch of MLflow's limits (1000 metrics, 100 params) is far below


def error_response(exc: BaseException) -> JSONResponse:
    status, body = error_body(exc)
    headers = {"WWW-Authenticate": 'Basic realm="gittrack"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def read_args(request: Request, user: str | None) -> Args:
    values: dict[str, Any] = dict(request.query_params)
    multi = {k: request.query_params.getlist(k) for k in request.query_params}
    if request.method != "GET":
        body = await request.body()
        if len(body) > MAX_JSON:
            raise ServerError(f"request bodies are limited to {MAX_JSON} bytes")
        if body.strip():
            try:
                parsed = json.loads(body)
            except ValueError:
                raise ServerError("the request body is not JSON", "BAD_REQUEST") from None
            if not isinstance(parsed, dict):
                raise ServerError("the request body must be a JSON object", "BAD_REQUEST")
            values.update(parsed)
    values.update(request.path_params)
    return Args(values, multi, user)


def _endpoint_route(backend: Backend, auth: Auth | None, endpoint: Endpoint) -> Route:
    async def answer(request: Request) -> Response:
        try:
            user = auth.user_of(request) if auth is not None and endpoint.resource != "public" else None
            args = await read_args(request, user)

            def call() -> Any:
                with backend.lock:
                    if auth is not None:
                        auth.check(backend, user, endpoint, args)
                    result = endpoint.handler(backend, args)
                    if auth is not None:
                        result = auth.filter(backend, user, endpoint, result)
                    return result

            return JSONResponse(await run_in_threadpool(call))
        except Exception as exc:  # noqa: BLE001 - every failure is answered in MLflow's shape
            return error_response(exc)

    return Route(endpoint.path, answer, methods=[endpoint.method], name=f"{endpoint.method} {endpoint.path}")


def create_app(
    repo: str | os.PathLike | None = None,
    auth: Auth | None = None,
    ui: bool = False,
    sharer: Sharer | None = None,
) -> Starlette:
    """The server over the repository at ``repo`` (default: the current folder); ``auth``: users
    and permissions (``gittrack.server.auth.load``); ``ui``: the web UI under ``/``; ``sharer``:
    pushes and pulls in the background (``gittrack.server.sharing``)."""
    backend = Backend(repo or ".", sharer.wrote if sharer is not None else None)
    routes: list[Any] = [_endpoint_route(backend, auth, e) for e in ENDPOINTS]
    if auth is not None:
        from gittrack.server import accounts

        routes += [_endpoint_route(backend, auth, e) for e in accounts.endpoints(auth)]
    routes += artifacts.routes(backend, auth, error_response)
    api_paths = ("/api/", "/ajax-api/")

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith(api_paths) or not ui:
            return error_response(ServerError(f"no endpoint {request.method} {request.url.path} here",
                                              ENDPOINT_NOT_FOUND))  # fmt: skip
        return JSONResponse({"error_code": ENDPOINT_NOT_FOUND, "message": "not found"}, status_code=404)

    async def health(request: Request) -> Response:
        return Response("OK", media_type="text/plain")

    async def unknown(request: Request) -> Response:
        return error_response(ServerError(f"no endpoint {request.method} {request.url.path} here", ENDPOINT_NOT_FOUND))

    routes.append(Route("/health", health))
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes += [Route(p + "{rest:path}", unknown, methods=methods) for p in ("/api/2.0/", "/api/3.0/", "/ajax-api/")]
    if ui:
        from gittrack.ui import create_app as ui_app

        routes.append(Mount("/", app=ui_app(backend.repo)))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if sharer is not None:
            sharer.start(backend.lock)
        try:
            yield
        finally:
            if sharer is not None:
                await run_in_threadpool(sharer.stop)

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found}, lifespan=lifespan)
    app.state.backend = backend
    return app
