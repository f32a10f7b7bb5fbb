"""``gittrack models serve`` (MLflow's scoring protocol over HTTP) and ``gittrack models predict``
(batch scoring of a file)."""

from __future__ import annotations

import contextlib
import os

import click

from gittrack.cli.models import models
from gittrack.errors import UsageError

ANY_ADDRESS = ("0.0.0.0", "::")  # noqa: S104 - compared, to warn about them
SPEC_HELP = "MODEL, MODEL@STAGE, MODEL@VERSION, MODEL:VERSION, models:/MODEL@STAGE or runs:/RUN/PATH"


def _need(*modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"serving needs {', '.join(missing)}: pip install 'gittrack[serve]'")


@models.command("serve")
@click.argument("spec", metavar="MODEL[@STAGE|:VERSION]|runs:/RUN/PATH")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every network).")
@click.option("-p", "--port", type=click.IntRange(0, 65535), default=5000, show_default=True, help="0: any free port.")
@click.option("-w", "--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes, each with its own copy of the model.")  # fmt: skip
@click.option("--fixed", is_flag=True, help="Keep serving the version the stage holds now; do not follow it.")
@click.option("--poll-interval", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True,
              help="Seconds between reads of the registry's tags (when following a stage).")  # fmt: skip
@click.option("--max-body-mb", type=click.FloatRange(0, 4096, min_open=True), default=64.0, show_default=True,
              help="Larger request bodies get 413.")  # fmt: skip
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Also answer requests naming this host (bound to a local address, only local names "
                   "are answered); repeatable.")  # fmt: skip
@click.option("--pull", "pull_remote", is_flag=False, flag_value="", default=None, metavar="[REMOTE]",
              help="Also pull runs and registry tags from REMOTE (default: the upstream, else origin) "
                   "every --pull-interval seconds, to follow stage moves made elsewhere.")  # fmt: skip
@click.option("--pull-interval", type=click.FloatRange(1, 86400), default=60.0, show_default=True,
              help="Seconds between pulls (with --pull).")  # fmt: skip
@click.option("--repo", type=click.Path(file_okay=False), help="The repository (default: the current folder).")
def serve(spec, host, port, workers, fixed, poll_interval, max_body_mb, allowed_hosts, pull_remote, pull_interval,
          repo) -> None:  # fmt: skip
    """Serve a model over HTTP with MLflow's scoring protocol: POST /invocations, GET /ping, /health, /version.

    A stage (MODEL@production) or MODEL alone (its latest version) is followed: when the stage moves
    (after 'gittrack pull', a promotion or 'promotions apply'), the new version is loaded and served;
    the X-Gittrack-Model-Version response header says which version answered."""
    _need("starlette", "uvicorn", "orjson")
    import socket

    import uvicorn

    from gittrack.serving import Puller, ServeOptions, create_app

    local = host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
    bound_name = f"[{host}]" if ":" in host else host
    names = ["localhost", "127.0.0.1", "[::1]", bound_name, *allowed_hosts] if local else None
    options = ServeOptions(spec, repo or os.environ.get("GITTRACK_REPO"), fixed, poll_interval,
                           int(max_body_mb * 1024 * 1024), names)  # fmt: skip
    app = create_app(options)  # loads the model here: a bad spec is one line, before anything listens
    follower = app.state.follower
    if host in ANY_ADDRESS:
        click.echo(f"warning: listening on {host}: anyone who can reach this machine can query the model", err=True)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and without it a small
    # response waits ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port") from None
    sock.listen(2048)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    current = follower.current
    what = f"{current.version} (run {current.run_id[:12]})" if current.version else f"run {current.run_id[:12]}"
    mode = "following it" if follower.following else "fixed"
    click.echo(f"gittrack models serve: {spec} -> {what}, {mode}; listening on http://{shown}:{bound} "
               f"(POST /invocations; {workers} worker{'s' if workers > 1 else ''}; Ctrl-C to stop)")  # fmt: skip
    puller = Puller(options.repo, pull_remote or None, pull_interval) if pull_remote is not None else None
    if puller is not None:
        puller.start()  # one puller for all workers: they see its tags at their next poll
    with contextlib.suppress(KeyboardInterrupt), _stopping(puller):
        if workers == 1:
            config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, access_log=False)
            uvicorn.Server(config).run(sockets=[sock])
            return
        from uvicorn.supervisors import Multiprocess

        follower.stop()  # each worker loads and follows its own copy
        options.to_environment()
        config = uvicorn.Config("gittrack.serving.app:app_from_environment", factory=True, workers=workers,
                                log_level="warning", timeout_graceful_shutdown=2, access_log=False)  # fmt: skip
        Multiprocess(config, sockets=[sock]).run()


@contextlib.contextmanager
def _stopping(puller):
    try:
        yield
    finally:
        if puller is not None:
            puller.stop()


@models.command("predict")
@click.argument("spec", metavar="MODEL[@STAGE|:VERSION]|runs:/RUN/PATH")
@click.option(
    "-i", "--input", "input_path", required=True, help="A .csv, .jsonl or .json (a scoring request) file; - for stdin."
)
@click.option("-o", "--output", "output_path", default="-", show_default=True,
              help="A .csv or .json file; - for standard output (JSON).")  # fmt: skip
@click.option("--input-format", type=click.Choice(["csv", "json", "jsonl"]), help="When the file name does not say.")
@click.option("--output-format", type=click.Choice(["csv", "json"]), help="When the file name does not say.")
@click.option("--chunk-size", type=click.IntRange(1), default=10_000, show_default=True, help="Rows scored at a time.")
@click.option("--repo", type=click.Path(file_okay=False), help="The repository (default: the current folder).")
def predict(spec, input_path, output_path, input_format, output_format, chunk_size, repo) -> None:
    """Score a file with a model (the signature enforced as by 'serve'), streaming it in chunks."""
    _need("orjson")
    from gittrack.serving import predict_file

    version, rows = predict_file(spec, input_path, output_path, repo or os.environ.get("GITTRACK_REPO"), chunk_size,
                                 input_format, output_format)  # fmt: skip
    if output_path != "-":
        click.echo(f"scored {rows} rows with {spec}{f' ({version})' if version else ''} into {output_path}", err=True)
