"""Running the server with uvicorn: one process, or several workers sharing the socket (each
opens the repository itself; git's ref locks and the writers' compare-and-swap keep them safe).
The settings travel to the workers in ``GITTRACK_SERVER_SETTINGS`` (JSON)."""

from __future__ import annotations

import json
import os
from typing import Any

SETTINGS_ENV = "GITTRACK_SERVER_SETTINGS"


def factory() -> Any:
    """The app of one worker, from the settings ``serve`` left in the environment."""
    settings = json.loads(os.environ[SETTINGS_ENV])
    from gittrack.server.app import create_app

    auth = None
    if settings.get("auth"):
        from gittrack.server.auth import load

        auth = load(settings["auth"])
    sharer = None
    if settings.get("push_to"):
        from gittrack.server.sharing import Sharer

        sharer = Sharer(settings["repo"], settings["push_to"], settings.get("debounce", 2.0),
                        settings.get("pull_interval", 60.0))  # fmt: skip
    return create_app(settings["repo"], auth=auth, ui=bool(settings.get("ui")), sharer=sharer)


def listen(host: str, port: int):
    """A socket bound to ``host:port`` (0: a free port) and listening, before any worker starts."""
    import socket

    from gittrack.errors import UsageError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on connections of a socket that says TCP, and
    # without it every answer on a kept-alive connection waits ~40 ms for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None
    sock.listen(2048)
    return sock


def serve(repo: str, sock: Any, workers: int = 1, auth: str | None = None, ui: bool = False,
          push_to: str | None = None, debounce: float = 2.0, pull_interval: float = 60.0) -> None:  # fmt: skip
    """Serve on the listening socket ``sock`` until interrupted (Ctrl-C, SIGTERM)."""
    import uvicorn

    if auth:
        from gittrack.server.auth import load

        load(auth)  # refuse a bad or empty users file before serving
    settings = {"repo": os.path.abspath(repo), "auth": os.path.abspath(auth) if auth else None, "ui": ui,
                "push_to": push_to, "debounce": debounce, "pull_interval": pull_interval}  # fmt: skip
    os.environ[SETTINGS_ENV] = json.dumps(settings)
    config = uvicorn.Config("gittrack.server.run:factory", factory=True, workers=workers, log_level="warning",
                            timeout_graceful_shutdown=5)  # fmt: skip
    server = uvicorn.Server(config)
    if workers == 1:
        server.run(sockets=[sock])
        return
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=[sock]).run()
