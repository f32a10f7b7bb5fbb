"""``gittrack runs``: list, show, delete and restore runs."""

from __future__ import annotations

import math
from collections import Counter

import click

from gittrack.cli import main
from gittrack.cli.render import fmt_duration, fmt_time, table, to_csv, to_json, warn
from gittrack.entities import Run
from gittrack.store.ids import short_id

DEFAULT_LIMIT = 50
METRIC_COLUMNS = 3


@main.group()
def runs() -> None:
    """List, inspect and delete recorded runs."""


def _client():
    from gittrack.client import Client

    return Client()


def _now() -> int:
    from gittrack.store.timefmt import now_ms

    return now_ms()


@runs.command("list")
@click.option("-e", "--experiment", help="Only runs of this experiment.")
@click.option("--all", "show_all", is_flag=True, help=f"Every run (default: the newest {DEFAULT_LIMIT}).")
@click.option("--json", "as_json", is_flag=True, help="JSON array of runs (stable keys).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per run.")
def list_runs(experiment: str | None, show_all: bool, as_json: bool, as_csv: bool) -> None:
    """List runs, newest first."""
    client = _client()
    found = client.list_runs(experiment)
    for problem in client.list_problems(experiment):
        warn(f"skipped {problem}")
    shown = found if show_all or as_json or as_csv else found[:DEFAULT_LIMIT]
    if as_json:
        click.echo(to_json([r.to_dict() for r in shown]))
        return
    counts = Counter(key for r in shown for key in r.data.metrics)
    metrics = [key for key, _ in counts.most_common(METRIC_COLUMNS)]
    headers = ["run_id", "name", "experiment", "status", "start (UTC)", "duration", *metrics]
    now = _now()
    rows = [
        [
            short_id(r.info.run_id) if not as_csv else r.info.run_id,
            r.info.run_name,
            r.info.experiment,
            r.info.status,
            fmt_time(r.info.start_time),
            fmt_duration(r.info.start_time, r.info.end_time, now),
            *[r.data.metrics.get(key) for key in metrics],
        ]
        for r in shown
    ]
    if as_csv:
        click.echo(to_csv(headers, rows), nl=False)
        return
    if not shown:
        click.echo("no runs yet: start one with 'gittrack run -- CMD' or gittrack.start_run() in Python")
        return
    click.echo(table(headers, rows))
    if len(shown) < len(found):
        click.echo(f"({len(shown)} of {len(found)} runs shown; --all for every run)")


@runs.command("show")
@click.argument("run")
@click.option("--json", "as_json", is_flag=True, help="Everything recorded, as JSON.")
def show(run: str, as_json: bool) -> None:
    """Show everything recorded for RUN (id, id prefix, name or ref)."""
    client = _client()
    found = client.get_run(run)
    histories = {key: client.get_metric_history(found.info.run_id, key) for key in found.data.metrics}
    summaries = {key: _history_summary(points) for key, points in histories.items()}
    if as_json:
        data = found.to_dict(details=True)
        data["metric_histories"] = summaries
        click.echo(to_json(data))
        return
    _print_run(found, summaries)


def _history_summary(points) -> dict:
    values = [p.value for p in points if not math.isnan(p.value)]
    return {
        "count": len(points),
        "first_step": points[0].step if points else None,
        "last_step": points[-1].step if points else None,
        "min": min(values) if values else None,
        "max": max(values) if values else None,
    }


def _print_run(run: Run, summaries: dict) -> None:
    info, record = run.info, run.record
    source = record.source
    error = f" ({record.error.get('type')}: {record.error.get('message')})" if record.error else ""
    lines = [
        f"run         {info.run_name} ({info.run_id})",
        f"experiment  {info.experiment}",
        f"status      {info.status}{error}",
        f"started     {fmt_time(info.start_time)} UTC, took {fmt_duration(info.start_time, info.end_time, _now())}",
        f"user        {info.user} <{info.user_email}> on {info.host} (pid {record.pid})",
        f"source      {source.get('commit') or '(no commit yet)'} on {source.get('branch') or '(detached)'}"
        + (f", dirty: {source['diffstat']['files']} file(s) +{source['diffstat']['insertions']}"
           f" -{source['diffstat']['deletions']}" if source.get("dirty") else ", clean"),
        f"command     {' '.join(record.command.get('argv') or []) or '(none)'}"
        f"  [{record.command.get('launcher')}, entry point {record.command.get('entry_point') or 'none'}]",
        f"python      {record.environment.get('python')} on {record.environment.get('platform')}",
        f"ref         {info.ref}",
        f"commit      {info.commit}",
    ]  # fmt: skip
    if info.parent_run_id:
        lines.append(f"parent run  {info.parent_run_id}")
    click.echo("\n".join(lines))
    if run.data.params:
        click.echo("\nparams")
        click.echo(
            table(
                ["key", "value", "type"],
                [[k, v, record.param_types.get(k, "str")] for k, v in sorted(run.data.params.items())],
            )
        )
    if record.metrics:
        click.echo("\nmetrics")
        rows = [
            [key, m.value, m.step, summaries[key]["count"], summaries[key]["min"], summaries[key]["max"]]
            for key, m in record.metrics.items()
        ]
        click.echo(table(["key", "last", "step", "points", "min", "max"], rows))
    if run.data.tags:
        click.echo("\ntags")
        click.echo(table(["key", "value"], sorted(run.data.tags.items())))
    excluded = record.snapshot.get("excluded") or []
    if excluded:
        click.echo("\nleft out of the snapshot")
        click.echo(table(["path", "reason"], [[e.get("path"), e.get("reason")] for e in excluded]))
    for name, log in record.logs.items():
        note = f", truncated to {log.get('kept_bytes')}" if log.get("truncated") else ""
        click.echo(
            f"\n{name}: {log.get('bytes')} bytes{note} (git show {info.commit[:12]}:.gittrack/run/logs/{name}.txt)"
        )
    click.echo(f"\ncheck out exactly what ran: git checkout {info.ref}")


@runs.command("delete")
@click.argument("run_specs", metavar="RUN...", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(run_specs: tuple[str, ...], yes: bool) -> None:
    """Delete runs (restorable with 'gittrack runs restore' until git gc)."""
    client = _client()
    targets = [client.get_run(spec) for spec in run_specs]
    if not yes:
        names = ", ".join(f"{r.info.run_name} ({short_id(r.info.run_id)})" for r in targets)
        click.confirm(f"delete {len(targets)} run(s): {names}?", abort=True)
    for run, moved in client.delete_runs([r.info.run_id for r in targets]):
        click.echo(f"deleted {run.info.run_name} ({short_id(run.info.run_id)}); kept as {moved}")


@runs.command("restore")
@click.argument("run")
def restore(run: str) -> None:
    """Bring back a deleted run."""
    restored = _client().restore_run(run)
    click.echo(f"restored {restored.info.run_name} ({short_id(restored.info.run_id)}) at {restored.info.ref}")
