"""``gittrack server``: MLflow's tracking REST API over this repository (docs/server.md); the team
git server's rules are ``gittrack server-rules`` (cli/gitserver.py)."""

from __future__ import annotations

import os
import sys

import click

from gittrack.cli.app import main
from gittrack.cli.ui import ANY_ADDRESS
from gittrack.errors import UsageError


def _need_server_extra() -> None:
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn", "bcrypt") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"gittrack server needs {', '.join(missing)}: pip install 'gittrack[tracking-server]'")


@main.group("server", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every network).")
@click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True)
@click.option("--repo", type=click.Path(file_okay=False), help="The repository (default: the current folder).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option("--auth", "auth", type=click.Path(dir_okay=False, exists=True),
              help="Users and permissions file (YAML); without it, no login is asked.")  # fmt: skip
@click.option("--ui", is_flag=True, help="Also serve the web UI under /.")
@click.option("--push-to", metavar="REMOTE", help="Push runs, tags and DVC data to REMOTE after writes.")
@click.option("--push-delay", type=float, default=2.0, show_default=True, help="Seconds of quiet before a push.")
@click.option("--pull-interval", type=float, default=60.0, show_default=True,
              help="Seconds between pulls from --push-to's remote.")  # fmt: skip
@click.pass_context
def server(ctx: click.Context, host: str, port: int, repo: str | None, workers: int, auth: str | None, ui: bool,
           push_to: str | None, push_delay: float, pull_interval: float) -> None:  # fmt: skip
    """Serve MLflow's tracking REST API over this repository: MLFLOW_TRACKING_URI=http://HOST:PORT."""
    if ctx.invoked_subcommand is not None:
        return
    _need_server_extra()
    import gittrack
    import gittrack.server

    where = gittrack.Client(repo or os.environ.get("GITTRACK_REPO") or ".").repo_path
    if auth:
        gittrack.server.load_auth(auth)  # a bad or empty users file stops here, in one line
    if host in ANY_ADDRESS and not auth:
        click.echo(f"warning: listening on {host} without --auth: anyone who can reach it can write runs", err=True)
    sock = gittrack.server.listen(host, port)
    shown = "127.0.0.1" if host in ANY_ADDRESS else (f"[{host}]" if ":" in host else host)
    url = f"http://{shown}:{sock.getsockname()[1]}"
    click.echo(f"gittrack server: {url}  (MLFLOW_TRACKING_URI={url}; {where}; Ctrl-C to stop)")
    import contextlib

    with contextlib.suppress(KeyboardInterrupt):
        gittrack.server.serve(where, sock, workers, auth, ui, push_to, push_delay, pull_interval)


@server.command("hash-password")
def hash_password() -> None:
    """Read a password on stdin and print its hash for the users file."""
    import gittrack.server

    password = sys.stdin.readline().rstrip("\r\n")
    click.echo(gittrack.server.hash_password(password))
