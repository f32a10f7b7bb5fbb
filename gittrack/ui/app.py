"""The ``gittrack ui`` web application: pages from templates, the JSON API, static files.

Security (docs/ui.md): pages carry a Content-Security-Policy that allows scripts from this
server only (no inline script), Jinja escapes every value, the page scripts write values as
text; requests name a local host (no DNS rebinding), stay under ``MAX_BODY`` bytes and
``TIMEOUT`` seconds; writes need ``allow_write`` and a header a cross-site form cannot send.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from gittrack._version import __version__
from gittrack.errors import GittrackError, NotFoundError
from gittrack.ui import api, sweeps

HERE = Path(__file__).resolve().parent
MAX_BODY = 64 * 1024
TIMEOUT = 60.0
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
WRITE_HEADER = "x-gittrack-write"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def plotly_js() -> Path:
    """plotly.min.js as shipped inside the plotly wheel (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError("plotly is not installed; install gittrack with the ui extra: pip install 'gittrack[ui]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise NotFoundError(f"plotly's bundled plotly.min.js is missing ({path}); reinstall plotly")
    return path


class Guard:
    """ASGI middleware: host check, body size and time limits, security headers."""

    def __init__(self, app, hosts: set[str] | None, timeout: float = TIMEOUT, max_body: int = MAX_BODY) -> None:
        self.app, self.hosts, self.timeout, self.max_body = app, hosts, timeout, max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        name = (host.rsplit(":", 1)[0] if not host.endswith("]") else host).lower()
        if self.hosts is not None and name not in self.hosts:
            await _plain(421, f"host {host[:60]!r} is not served here; open the address gittrack ui printed")(
                scope, receive, send
            )
            return
        length = headers.get("content-length")
        too_large = _plain(413, f"request bodies are limited to {self.max_body} bytes")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await too_large(scope, receive, send)
            return
        # the body is read here, whole and bounded, before the app sees it: a chunked body (no
        # Content-Length) over the limit is a 413 too, not an error raised inside a handler
        body = b""
        if scope.get("method") not in ("GET", "HEAD"):
            read = await self._read_body(receive)
            if read is None:
                await too_large(scope, receive, send)
                return
            body = read
        replayed = False

        async def limited_receive():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only a disconnect can come

        started = False

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY")]  # fmt: skip
                names = {k.lower() for k, _ in message.get("headers", [])}
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, limited_receive, send_with_headers), self.timeout)
        except TimeoutError:
            if not started:
                await _plain(503, f"the request took longer than {self.timeout:g} s")(scope, receive, send)

    async def _read_body(self, receive) -> bytes | None:
        """The request body, or None once it is over ``max_body`` bytes (the rest is not read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status_code=status, media_type="text/plain; charset=utf-8")


def _import_readers() -> None:
    import numpy  # noqa: F401
    import pandas  # noqa: F401


def create_app(
    repo: str | os.PathLike | None = None,
    allow_write: bool = False,
    host: str = "127.0.0.1",
    timeout: float = TIMEOUT,
    allowed_hosts: Iterable[str] = (),
) -> Starlette:
    """The ASGI application over the repository at ``repo`` (default: the current folder).

    Requests must name a local host, ``host`` (unless it is every address) or one of
    ``allowed_hosts`` in their ``Host`` header: the check is never off, so a DNS-rebinding page
    cannot read the API even when the server listens on 0.0.0.0."""
    backend = api.Backend(repo or ".", allow_write)
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
    templates = Jinja2Templates(env=env)
    templates.env.globals.update(version=__version__, allow_write=allow_write, repo=backend.repo)

    def page(name: str, request: Request, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"page": name.removesuffix(".html"), **context})

    def runs_page(request: Request) -> HTMLResponse:
        return page("runs.html", request, experiment=request.query_params.get("experiment", ""))

    def run_page(request: Request) -> HTMLResponse:
        found = backend.client.get_run(request.path_params["run_id"])
        return page("run.html", request, run=found)

    def compare_page(request: Request) -> HTMLResponse:
        return page("compare.html", request, runs=request.query_params.get("runs", ""))

    def models_page(request: Request) -> HTMLResponse:
        return page("models.html", request, model=request.query_params.get("model", ""))

    def sweeps_page(request: Request) -> HTMLResponse:
        return page("sweeps.html", request)

    def sweep_page(request: Request) -> HTMLResponse:
        return page("sweep.html", request, sweep_id=request.path_params["sweep_id"])

    def plotly(request: Request) -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GittrackError)
        if request.url.path.startswith("/api/"):
            return api.error_response(exc)
        status = api.error_response(exc).status_code
        return templates.TemplateResponse(request, "error.html", {"page": "error", "message": str(exc)},
                                          status_code=status)  # fmt: skip

    async def forbidden_write(request: Request) -> JSONResponse:
        return api.Json({"error": "this UI is read-only; start it with 'gittrack ui --allow-write'"}, status_code=403)

    def write_route(route: Route) -> Route:
        async def guarded(request: Request) -> Response:
            if not allow_write:
                return await forbidden_write(request)
            if request.headers.get(WRITE_HEADER) != "1":
                return api.Json({"error": f"writes need the header {WRITE_HEADER}: 1"}, status_code=403)
            from starlette.concurrency import run_in_threadpool

            request.state.body = await request.body()
            return await run_in_threadpool(route.endpoint, request)

        return Route(route.path, guarded, methods=["POST"])

    routes = [
        Route("/", runs_page),
        Route("/runs/{run_id}", run_page),
        Route("/compare", compare_page),
        Route("/models", models_page),
        Route("/sweeps", sweeps_page),
        Route("/sweeps/{sweep_id}", sweep_page),
        Route("/static/plotly.min.js", plotly),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        *api.ROUTES,
        *sweeps.ROUTES,
        *[write_route(r) for r in api.WRITE_ROUTES],
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        # numpy and pandas parse metric histories; importing them now, off the event loop, spares
        # the first chart their half second, and the URL is already printed
        threading.Thread(target=_import_readers, name="gittrack-ui-warm-up", daemon=True).start()
        yield
        backend.close()

    app = Starlette(routes=routes, exception_handlers={GittrackError: on_error}, lifespan=lifespan)
    app.state.backend = backend
    hosts = LOCAL_HOSTS | {h.lower() for h in allowed_hosts}
    if host not in ("0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        hosts.add(host)
    return Guard(app, hosts, timeout)  # type: ignore[return-value]
