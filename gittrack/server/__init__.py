"""``gittrack server``: MLflow's tracking REST API over a git repository, so that an unmodified
``import mlflow`` script with ``MLFLOW_TRACKING_URI=http://host:port`` records gittrack runs.

Requests are translated into ``gittrack.mlflow``'s ``MlflowClient`` calls (``tracking``,
``registry``, ``artifacts``), answered in MLflow's JSON (``protocol``, ``errors``); ``auth`` checks
users and permissions; ``sharing`` pushes to and pulls from a team remote. Starlette and uvicorn
are imported only here (the ``ui`` extra)."""

from __future__ import annotations

from typing import Any


def create_app(*args: Any, **kwargs: Any) -> Any:
    """The ASGI application (see ``gittrack.server.app.create_app``)."""
    from gittrack.server.app import create_app as create

    return create(*args, **kwargs)


def hash_password(password: str) -> str:
    """A bcrypt hash of ``password`` for the users file."""
    from gittrack.server.auth import hash_password as hashed

    return hashed(password)


def load_auth(path: str) -> Any:
    """Users and permissions from a users file."""
    from gittrack.server.auth import load

    return load(path)


def listen(host: str, port: int) -> Any:
    """A listening socket for ``serve`` (port 0: a free one)."""
    from gittrack.server.run import listen as bound

    return bound(host, port)


def serve(*args: Any, **kwargs: Any) -> None:
    """Run the server (see ``gittrack.server.run.serve``)."""
    from gittrack.server.run import serve as run

    run(*args, **kwargs)
