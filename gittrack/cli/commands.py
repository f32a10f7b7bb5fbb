"""Top-level commands: ``init`` and ``run``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gittrack.cli.app import main
from gittrack.cli.options import client_here, key_values, param_values
from gittrack.cli.render import fmt_duration


@main.command()
@click.option("--path", type=click.Path(file_okay=False, path_type=Path), default=".", help="Folder to set up.")
@click.option("--dvc/--no-dvc", "with_dvc", default=True, help="Set up DVC for artifacts when missing (default).")
@click.option("--dvc-remote", metavar="URL", help="Default DVC remote (a path, s3://..., gs://..., ssh://...).")
@click.option("--commit/--no-commit", default=None, help="Commit the DVC set-up files (default: ask on a terminal).")
@click.option("--remote", "git_remote", metavar="NAME", help="Make plain git fetch/push of this remote move runs.")
def init(path: Path, with_dvc: bool, dvc_remote: str | None, commit: bool | None, git_remote: str | None) -> None:
    """Check (or create) the git repository, set up DVC, and show how gittrack is set up there."""
    import gittrack

    report = gittrack.init(path, with_dvc, dvc_remote)
    click.echo(f"{'created' if report.created else 'using'} git repository {report.root}")
    if report.dvc_files:
        click.echo(f"DVC set up: {', '.join(report.dvc_files)}")
        if commit is None and sys.stdin.isatty():
            commit = click.confirm("commit these DVC files now?", default=True)
        if commit:
            sha = gittrack.Client(report.root).commit_files(report.dvc_files, "Set up DVC for gittrack artifacts")
            click.echo(f"committed them as {sha[:12]}")
        else:
            click.echo(f"commit them when ready: git add {' '.join(report.dvc_files)} && git commit")
    click.echo(
        f"DVC: {'remote ' + report.dvc_remote if report.dvc_remote else 'no remote' if report.dvc else 'not set up'}"
    )
    if git_remote:
        added = gittrack.Client(report.root).remote.setup(git_remote)
        click.echo("\n".join(f"added {line}" for line in added) or f"{git_remote} already moves runs")
    packed = f" ({report.packed} packed, under refs/runs-index/)" if report.packed else ""
    click.echo(f"runs: {report.runs} in {report.experiments} experiment(s), under refs/runs/{packed}")
    hint = "" if report.identity_configured else " (from the OS; set git user.name and user.email)"
    click.echo(f"identity: {report.user} <{report.email}>{hint}")
    click.echo(
        f"checkpoint interval: {report.checkpoint_interval:g}s; snapshot file cap: {report.max_file_bytes} bytes"
    )
    click.echo("next: gittrack run -- python train.py   (or 'with gittrack.start_run(): ...' in Python)")


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-e", "--experiment", help="Experiment name (default: $GITTRACK_EXPERIMENT or 'default').")
@click.option("-n", "--name", "run_name", help="Run name (default: a generated one such as brave-owl-42).")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    callback=param_values,
    metavar="KEY=VALUE",
    help="A param (repeatable); numbers and true/false are typed as a script would log them.",
)
@click.option(
    "-t", "--tag", "tags", multiple=True, callback=key_values, metavar="KEY=VALUE", help="A tag (repeatable)."
)
@click.option(
    "--system-metrics/--no-system-metrics",
    default=None,
    help="Sample CPU, memory, disk, network and GPU use as system/ metrics (default: gittrack.systemMetrics).",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def run(
    experiment: str | None,
    run_name: str | None,
    params: dict,
    tags: dict,
    system_metrics: bool | None,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND as a run: its output passes through and is kept, its exit code is the status.

    A script that uses gittrack logs into this same run. Example:

        gittrack run -e taxi -p lr=0.1 -- python train.py --epochs 5
    """
    out, err = sys.stdout.buffer, sys.stderr.buffer

    def write(stream):
        def sink(chunk: bytes) -> None:
            stream.write(chunk)
            stream.flush()

        return sink

    first_experiment = [experiment]

    def started(r) -> None:
        first_experiment[0] = r.info.experiment
        click.echo(f"gittrack: run {r.info.run_name} {r.info.run_id} in experiment '{r.info.experiment}'", err=True)

    finished, code = client_here().run_command(
        list(command), experiment, run_name, params, tags,
        on_stdout=write(out), on_stderr=write(err), on_start=started, system_metrics=system_metrics,
    )  # fmt: skip
    info = finished.info
    took = fmt_duration(info.start_time, info.end_time, info.end_time or info.start_time)
    moved = f", in experiment '{info.experiment}'" if info.experiment != first_experiment[0] else ""
    click.echo(
        f"gittrack: run {info.short_id} {info.status} after {took}{moved}; see 'gittrack runs show {info.short_id}'",
        err=True,
    )
    sys.exit(code)
