"""``gittrack ui`` (the local web app) and ``gittrack report`` (one self-contained HTML file)."""

from __future__ import annotations

import os

import click

from gittrack.cli.app import main
from gittrack.errors import UsageError

ANY_ADDRESS = ("0.0.0.0", "::")  # noqa: S104 - compared, to warn about them


def _need_ui_extra() -> None:
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn", "jinja2", "plotly") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"the web UI needs {', '.join(missing)}: pip install 'gittrack[ui]'")


@main.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every network).")
@click.option("--port", type=click.IntRange(0, 65535), default=5151, show_default=True)
@click.option("--repo", type=click.Path(file_okay=False), help="The repository (default: the current folder).")
@click.option("--open", "open_browser", is_flag=True, help="Open the runs page in the default browser.")
@click.option("--allow-write", is_flag=True, help="Allow deleting/restoring runs and editing names, tags, notes.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Also answer requests naming this host (the machine's name or address, for --host 0.0.0.0); "
                   "repeatable.")  # fmt: skip
def ui(host: str, port: int, repo: str | None, open_browser: bool, allow_write: bool,
       allowed_hosts: tuple[str, ...]) -> None:  # fmt: skip
    """Serve the web UI over this repository: runs, charts, artifacts, code, compare, models."""
    _need_ui_extra()
    import contextlib
    import socket

    import uvicorn

    from gittrack.ui import create_app

    app = create_app(repo or os.environ.get("GITTRACK_REPO") or ".", allow_write=allow_write, host=host,
                     allowed_hosts=allowed_hosts)  # fmt: skip
    if host in ANY_ADDRESS:
        click.echo(
            f"warning: listening on {host}: anyone who can reach this machine can read every run"
            + (" and change runs (--allow-write)" if allow_write else "")
            + "; requests must name localhost"
            + (f" or {', '.join(allowed_hosts)}" if allowed_hosts else " (add --allowed-host NAME for others)"),
            err=True,
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY only then
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None
    sock.listen(2048)  # before the URL is printed: a client that reads it may connect at once (uvicorn's backlog)
    bound = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ANY_ADDRESS else (f"[{host}]" if ":" in host else host)
    url = f"http://{shown}:{bound}/"
    click.echo(f"gittrack ui: {url}  ({'read-write' if allow_write else 'read-only'}; Ctrl-C to stop)", err=False)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, limit_concurrency=64)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it stops: uvicorn shuts down, then re-raises it
        uvicorn.Server(config).run(sockets=[sock])


@main.command("report")
@click.argument("runs", nargs=-1)
@click.option("-e", "--experiment", "experiments", multiple=True, help="Runs of this experiment (repeatable).")
@click.option("-f", "--filter", "filter_string", default="", help="MLflow filter for the runs.")
@click.option("-n", "--limit", type=click.IntRange(1, 200), default=20, show_default=True, help="At most this many.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="report.html", show_default=True)
@click.option("--title", help="The report's title.")
@click.option(
    "--plotly-js",
    "plotly_mode",
    type=click.Choice(["inline", "beside"]),
    default="inline",
    show_default=True,
    help="inline: plotly.js compressed inside the file (about 2 MB); beside: one plotly.min.js written next to it, "
    "shared by the reports of that folder (a report is then tens of KB).",
)
def report(runs, experiments, filter_string, limit, output, title, plotly_mode) -> None:
    """Write one self-contained HTML file (charts and data inline) about RUNs or the runs a filter finds."""
    _need_ui_extra()
    if runs and (experiments or filter_string):
        raise UsageError("give runs, or -e/-f to find them, not both")
    from gittrack.ui import write_report

    count = write_report(output, list(runs), list(experiments) or None, filter_string, limit, title=title,
                         plotly_mode=plotly_mode)  # fmt: skip
    click.echo(f"report of {count} run(s) written to {output}")


def promotion_html(path: str, model: str, version: str, stage: str, markdown: str) -> None:
    """``models promote --request --report FILE.html``: the Markdown report embedded in the HTML
    report of the candidate's run and the current stage holder's."""
    _need_ui_extra()
    import gittrack
    from gittrack.errors import NotFoundError
    from gittrack.ui import write_report

    client = gittrack.Client()
    runs = [client.get_model_version(model, version)["run_id"]]
    try:
        holder = client.get_model_version(model, stage)["run_id"]
    except NotFoundError:
        holder = None
    if holder and holder not in runs:
        runs.append(holder)
    write_report(path, runs, title=f"Promote {model} {version} to {stage}", preamble_markdown=markdown)
