"""The scoring server: a Starlette app speaking MLflow's protocol.

``POST /invocations`` (JSON or CSV -> ``{"predictions": ...}``), ``GET /ping`` and ``/health``
(200 once the model is loaded), ``GET /version`` (gittrack's version). Every response to
``/invocations`` names the model version and run that answered (``X-Gittrack-Model-Version``,
``X-Gittrack-Run-Id``). Bodies over ``max_body`` bytes get 413 before they are read in full;
bound to a loopback address, requests must name a local host (DNS rebinding).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gittrack._version import __version__
from gittrack.serving import inputs
from gittrack.serving.inputs import ScoringError
from gittrack.serving.scoring import error_json, predict, to_json
from gittrack.serving.source import Follower, Loaded, parse_spec

log = logging.getLogger("gittrack")
OPTIONS_VARIABLE = "GITTRACK_SERVE_OPTIONS"  # how worker processes get the options (JSON)
LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")


@dataclass
class ServeOptions:
    """What ``gittrack models serve`` was asked to serve, and how."""

    spec: str
    repo: str | None = None
    fixed: bool = False
    poll_interval: float = 2.0
    max_body: int = 64 * 1024 * 1024
    allowed_hosts: list[str] | None = field(default_factory=lambda: list(LOCAL_NAMES))  # None: any

    def to_environment(self) -> None:
        """Put the options where worker processes read them."""
        os.environ[OPTIONS_VARIABLE] = json.dumps(asdict(self))


def app_from_environment() -> Starlette:
    """The app of a worker process (``uvicorn --factory``): options from the environment."""
    return create_app(ServeOptions(**json.loads(os.environ[OPTIONS_VARIABLE])))


def create_app(options: ServeOptions, follower: Follower | None = None) -> Starlette:
    """The scoring app serving ``options.spec`` (or what ``follower`` has loaded already)."""
    follower = follower or Follower(options.repo, parse_spec(options.spec), options.fixed, options.poll_interval)
    hosts = None if options.allowed_hosts is None else {h.lower() for h in options.allowed_hosts}
    limit = options.max_body

    def host_ok(request: Request) -> bool:
        return hosts is None or _host_name(request.headers.get("host", "")) in hosts

    async def ping(request: Request) -> Response:
        return Response("\n", 200, media_type="application/json")

    async def version(request: Request) -> Response:
        return Response(__version__, 200, media_type="application/json")

    async def invocations(request: Request) -> Response:
        loaded = follower.current  # one model for the whole request, even if the stage moves meanwhile
        headers = loaded.headers()
        try:
            if not host_ok(request):
                raise ScoringError("this server answers requests to localhost only", "PERMISSION_DENIED", 403)
            mime = inputs.media_type(request.headers.get("content-type"))
            body = await _read_body(request, limit)
            answer = await run_in_threadpool(_score, loaded, body, mime)  # off the event loop: /ping stays quick
            return Response(answer, 200, headers=headers, media_type="application/json")
        except ScoringError as exc:
            if exc.status == 415:
                return Response(exc.message, 415, headers=headers, media_type="text/plain")
            return Response(error_json(exc), exc.status, headers=headers, media_type="application/json")
        except Exception as exc:  # a bug of ours: one JSON error, the details in the server's log
            log.exception("gittrack: scoring failed")
            error = ScoringError(f"the server failed on this request ({type(exc).__name__})", "INTERNAL_ERROR", 500)
            return Response(error_json(error), 500, headers=headers, media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        follower.start()
        try:
            yield
        finally:
            follower.stop()

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.follower = follower
    return app


def _score(loaded: Loaded, body: bytes, mime: str) -> bytes:
    """Parse, predict, serialise: the answer's body."""
    data, params = inputs.parse(body, mime, loaded.schema)
    return to_json(predict(loaded, data, params))


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it is known to be over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ScoringError(f"the request body is over the limit of {limit} bytes", "RESOURCE_EXHAUSTED", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ScoringError(f"the request body is over the limit of {limit} bytes", "RESOURCE_EXHAUSTED", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _host_name(header: str) -> str:
    """``name`` of a Host header ``name:port`` (``[::1]`` of ``[::1]:5000``), lowercased."""
    if header.startswith("["):
        return header.partition("]")[0].lower() + "]"
    return (header.rpartition(":")[0] if ":" in header else header).lower()
