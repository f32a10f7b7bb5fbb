"""``gittrack runs``: list, show, edit, delete and restore runs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from gittrack.cli.app import main
from gittrack.cli.options import key_values
from gittrack.cli.render import (
    fmt_duration,
    fmt_time,
    fmt_value,
    now_ms,
    progress_printer,
    safe_text,
    table,
    to_csv,
    to_json,
    warn,
)

if TYPE_CHECKING:
    from gittrack import Run

DEFAULT_LIMIT = 50
METRIC_COLUMNS = 3


@main.group()
def runs() -> None:
    """List, inspect, edit and delete recorded runs."""


def _client():
    from gittrack import Client

    return Client()


@runs.command("list")
@click.option("-e", "--experiment", "experiments", multiple=True, help="Only runs of this experiment (repeatable).")
@click.option(
    "-f",
    "--filter",
    "filter_string",
    default="",
    help="MLflow filter, e.g. \"metrics.rmse < 0.8 and params.model = 'rf'\".",
)
@click.option(
    "-s", "--sort", "order_by", multiple=True, help="Order, e.g. 'metrics.rmse ASC' (repeatable; default newest first)."
)
@click.option(
    "-c",
    "--columns",
    "patterns",
    multiple=True,
    help="Columns to show: names or globs such as 'params.*' (repeatable).",
)
@click.option(
    "-n", "--limit", type=click.IntRange(min=1), help=f"At most this many runs (table default: {DEFAULT_LIMIT})."
)
@click.option("--all", "show_all", is_flag=True, help="No limit.")
@click.option("--deleted", is_flag=True, help="Deleted runs instead.")
@click.option(
    "--json", "as_json", is_flag=True, help="JSON array of runs (stable keys; the chosen columns with --columns)."
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV with every column (or the chosen ones).")
def list_runs(experiments, filter_string, order_by, patterns, limit, show_all, deleted, as_json, as_csv) -> None:
    """List runs, newest first, optionally filtered and sorted (see docs/search.md)."""
    machine = as_json or as_csv
    wanted = None if show_all else limit or (None if machine else DEFAULT_LIMIT)
    client = _client()
    found = client.runs_table(
        list(experiments) or None, filter_string, list(order_by), wanted, "deleted" if deleted else "active",
        list(patterns) or None,
    )  # fmt: skip
    for problem in found.problems:
        warn(f"skipped {problem}")
    for column in found.unsorted:
        warn(f"no run listed has {column}, so it does not change the order; is the key misspelled?")
    rows = found.rows
    if as_json and not patterns:
        click.echo(to_json([r.to_dict() for r in client.runs_of(rows)]))
        return
    if not rows and not machine:
        if filter_string or experiments or deleted:
            click.echo("no runs match")
        else:
            click.echo("no runs yet: start one with 'gittrack run -- CMD' or gittrack.start_run() in Python")
        return
    if machine or patterns:
        records = found.records()
        if as_json:
            click.echo(to_json(records))
        elif as_csv:
            click.echo(to_csv(found.columns, [[f.get(c) for c in found.columns] for f in records]), nl=False)
        else:
            click.echo(table(found.columns, [[f.get(c) for c in found.columns] for f in records]))
        return
    metrics = found.metric_columns(METRIC_COLUMNS)
    headers = ["run_id", "name", "experiment", "status", "start (UTC)", "duration", *metrics]
    now = now_ms()
    body = [
        [r.short_id, r.run_name, r.experiment, r.status, fmt_time(r.start_time),
         fmt_duration(r.start_time, r.end_time, now), *[r.metrics.get(key) for key in metrics]]
        for r in rows
    ]  # fmt: skip
    click.echo(table(headers, body))
    if found.more:
        click.echo(f"(first {len(rows)} runs shown; --limit N or --all for more)")


@runs.command("show")
@click.argument("run")
@click.option("--json", "as_json", is_flag=True, help="Everything recorded, as JSON.")
def show(run: str, as_json: bool) -> None:
    """Show everything recorded for RUN (id, id prefix, name or ref)."""
    client = _client()
    found = client.get_run(run)
    summaries = {key: _history_summary(m) for key, m in found.details.metrics.items()}  # never the histories
    if as_json:
        data = found.to_dict(details=True)
        data["metric_histories"] = summaries
        click.echo(to_json(data))
        return
    _print_run(found, summaries)


def _history_summary(summary) -> dict:
    """What ``runs show`` says of a metric's history, from the run's summary (no history is read)."""
    return {"count": summary.count, "last_step": summary.step, "min": summary.min, "max": summary.max}


def _print_run(run: Run, summaries: dict) -> None:
    info, record = run.info, run.details
    source = record.source
    error = f" ({record.error.get('type')}: {record.error.get('message')})" if record.error else ""
    lines = [
        f"run         {info.run_name} ({info.run_id})",
        f"experiment  {info.experiment}",
        f"status      {info.status}{error}",
        f"started     {fmt_time(info.start_time)} UTC, took {fmt_duration(info.start_time, info.end_time, now_ms())}",
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
    click.echo("\n".join(safe_text(line) for line in lines))
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
    if record.inputs:
        click.echo("\ndata inputs")
        rows = [
            [i.get("path"), i.get("md5"), i.get("source"), "DIRTY" if i.get("dirty") else ""] for i in record.inputs
        ]
        click.echo(table(["path", "md5", "from", ""], rows))
    if record.artifacts:
        click.echo("\nartifacts (gittrack artifacts get RUN PATH)")
        rows = [[a.get("path"), a.get("kind"), a.get("md5"), a.get("size")] for a in record.artifacts]
        click.echo(table(["path", "kind", "md5", "bytes"], rows))
    excluded = record.snapshot.get("excluded") or []
    if excluded:
        click.echo("\nleft out of the snapshot")
        click.echo(table(["path", "reason"], [[e.get("path"), e.get("reason")] for e in excluded]))
    for name, log in record.logs.items():
        note = f", truncated to {log.get('kept_bytes')}" if log.get("truncated") else ""
        commit = (info.commit or "")[:12]
        click.echo(f"\n{name}: {log.get('bytes')} bytes{note} (git show {commit}:.gittrack/run/logs/{name}.txt)")
    click.echo(f"\ncheck out exactly what ran: gittrack checkout {info.short_id} (or git checkout {info.commit})")


@runs.command("tag")
@click.argument("run")
@click.argument("tags", metavar="KEY=VALUE...", nargs=-1, callback=key_values)
@click.option("-d", "--delete", "removed", multiple=True, metavar="KEY", help="Remove this tag (repeatable).")
def tag(run: str, tags: dict[str, str], removed: tuple[str, ...]) -> None:
    """Set (or with --delete remove) tags of RUN, ended or not; an ended run's commit stays as it is."""
    if not tags and not removed:
        raise click.UsageError("give at least one KEY=VALUE or --delete KEY")
    edited = _client().edit_run(run, {**tags, **dict.fromkeys(removed)})
    changes = [f"{key}={safe_text(value)}" for key, value in tags.items()] + [f"-{key}" for key in removed]
    click.echo(f"tagged {safe_text(edited.info.run_name)} ({edited.info.short_id}): {' '.join(changes)}")


@runs.command("rename")
@click.argument("run")
@click.argument("name")
def rename(run: str, name: str) -> None:
    """Give RUN another name (its id, and an ended run's commit, stay)."""
    edited = _client().edit_run(run, name=name)
    click.echo(f"renamed run {edited.info.short_id} to {safe_text(edited.info.run_name)}")


@runs.command("describe")
@click.argument("run")
@click.argument("text")
def describe(run: str, text: str) -> None:
    """Set the description of RUN (MLflow's mlflow.note.content tag); an empty TEXT removes it."""
    edited = _client().edit_run(run, description=text)
    what = "described" if text else "removed the description of"
    click.echo(f"{what} {safe_text(edited.info.run_name)} ({edited.info.short_id})")


@runs.command("delete")
@click.argument("run_specs", metavar="RUN...", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(run_specs: tuple[str, ...], yes: bool) -> None:
    """Delete runs (restorable with 'gittrack runs restore' until git gc)."""
    client = _client()
    targets = [client.get_run(spec) for spec in run_specs]
    if not yes:
        names = ", ".join(f"{r.info.run_name} ({r.info.short_id})" for r in targets)
        click.confirm(f"delete {len(targets)} run(s): {names}?", abort=True)
    for run, moved in client.delete_runs([r.info.run_id for r in targets]):
        click.echo(f"deleted {run.info.run_name} ({run.info.short_id}); kept as {moved}")


@runs.command("restore")
@click.argument("run")
def restore(run: str) -> None:
    """Bring back a deleted run."""
    restored = _client().restore_run(run)
    click.echo(f"restored {restored.info.run_name} ({restored.info.short_id}) at {restored.info.ref}")


@runs.command("pack")
@click.argument("experiments", metavar="[EXPERIMENT]...", nargs=-1)
def pack(experiments: tuple[str, ...]) -> None:
    """Move ended runs from a ref each into their experiment's index ref (fast pushes and fetches)."""
    report = _client().pack_runs(list(experiments) or None, progress=progress_printer("packing runs"))
    for experiment, count in sorted(report.packed.items()):
        click.echo(f"{experiment}: packed {count} run(s)")
    if report.refs_removed:
        click.echo(f"removed {report.refs_removed} ref(s) of packed runs")
    if not report.packed:
        click.echo("nothing new to pack (only ended runs with a ref of their own are packed)")
    for item in report.skipped:
        warn(f"skipped {item}")


@runs.command("compare")
@click.argument("run_specs", metavar="RUN RUN...", nargs=-1, required=True)
@click.option("--diff-only", is_flag=True, help="Only the params and inputs that differ.")
@click.option(
    "--json", "as_json", is_flag=True, help="JSON (keys: runs, params, metrics, best, inputs, source_commits)."
)
def compare(run_specs: tuple[str, ...], diff_only: bool, as_json: bool) -> None:
    """Runs side by side: params, metrics (* marks the best), data inputs, source commits."""
    result = _client().compare_runs(list(run_specs))
    if as_json:
        click.echo(to_json(result.to_dict()))
        return
    color = sys.stdout.isatty()
    headers = ["", *[f"{r.info.run_name} ({r.info.short_id})" for r in result.runs]]

    def section(title: str, values: dict, mark_best: bool = False) -> None:
        body = []
        for key, row in values.items():
            differs = result.differs(row)
            if diff_only and not differs and not mark_best:
                continue
            cells = [fmt_value(v) if v is not None else "-" for v in row]
            if mark_best and result.best.get(key) is not None:
                cells[result.best[key]] += " *"
            label = key if not (differs and color) else click.style(key, bold=True, fg="yellow")
            body.append([label, *cells])
        if body:
            click.echo(f"\n{title}")
            click.echo(table(headers, body))

    section("params", result.params)
    section("metrics (* best)", result.metrics, mark_best=True)
    section("data inputs", result.inputs)
    section("source", {"commit": [(c or "")[:12] for c in result.sources]})


@runs.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--stat", "mode", flag_value="stat", default=True, help="Code changes as a diffstat (default).")
@click.option("-p", "--patch", "mode", flag_value="patch", help="The full code patch.")
@click.option("--json", "as_json", is_flag=True, help="JSON; with -p it includes the patch.")
def diff(run_a: str, run_b: str, mode: str, as_json: bool) -> None:
    """What changed from RUN_A to RUN_B: params, metrics, data, packages and code."""
    result = _client().diff_runs(run_a, run_b)
    if as_json:
        click.echo(to_json(result.to_dict(with_patch=mode == "patch")))
        return
    a, b = result.a.info, result.b.info
    click.echo(f"a: {a.run_name} ({a.run_id})\nb: {b.run_name} ({b.run_id})")

    def section(title: str, changes: dict, numeric: bool = False) -> None:
        if not changes:
            return
        rows = []
        for key, (old, new) in changes.items():
            row = [key, "-" if old is None else fmt_value(old), "-" if new is None else fmt_value(new)]
            if numeric:
                row.append(fmt_value(new - old) if old is not None and new is not None else "")
            rows.append(row)
        click.echo(f"\n{title}")
        click.echo(table(["", "a", "b", *(["b - a"] if numeric else [])], rows))

    section("params", result.params)
    section("metrics", result.metrics, numeric=True)
    section("data inputs", result.inputs)
    section("packages", result.packages)
    if result.python[0] != result.python[1]:
        click.echo(f"\npython: {result.python[0]} -> {result.python[1]}")
    if not result.files:
        click.echo("\ncode: identical")
    elif mode == "patch":
        click.echo("\n" + result.patch.rstrip("\n"))
    else:
        click.echo("\ncode")
        width = max(len(f.path) for f in result.files)
        for f in result.files:
            click.echo(f" {f.path.ljust(width)} | {f.status:8} +{f.additions} -{f.deletions}")
        total_add = sum(f.additions for f in result.files)
        total_del = sum(f.deletions for f in result.files)
        click.echo(f" {len(result.files)} file(s) changed, {total_add} insertion(s), {total_del} deletion(s)")
