"""``gittrack models``: the model registry on git tags (GTO's format)."""

from __future__ import annotations

import sys

import click

from gittrack.cli.app import main
from gittrack.cli.options import client_here
from gittrack.cli.render import fmt_time, fmt_value, table, to_json, warn


@main.group()
def models() -> None:
    """Register model versions and move them through stages (git tags readable by GTO)."""


@models.command("register")
@click.argument("model")
@click.option("--run", "run_spec", required=True, help="The run that logged the model.")
@click.option("--artifact", default="model", show_default=True, help="The model's artifact name in the run.")
@click.option("--version", help="An explicit version, e.g. v1.2.0.")
@click.option("--bump", type=click.Choice(["major", "minor", "patch"]), default="patch", show_default=True)
@click.option("-m", "--message", help="Tag message.")
def register(model: str, run_spec: str, artifact: str, version: str | None, bump: str, message: str | None) -> None:
    """Register RUN's logged model as a new version of MODEL."""
    created = client_here().registry.register(model, run_spec, artifact, version, bump, message)
    click.echo(f"registered {model} {created.version} (tag {created.registered.tag}) from run {created.run_id}")
    click.echo("share it with: gittrack push")


@models.command("promote")
@click.argument("model")
@click.argument("version")
@click.argument("stage")
@click.option("--archive-existing", is_flag=True, help="Take every other version out of STAGE.")
@click.option("--request", is_flag=True, help="Propose it as a branch changing registry.yaml, with a report.")
@click.option(
    "--push",
    "push_remote",
    is_flag=False,
    flag_value="",
    default=None,
    help="With --request: push the branch, runs and tags.",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(),
    help="With --request: write the report here (Markdown; a .html file embeds it with the runs' charts).",
)
def promote(model, version, stage, archive_existing, request, push_remote, report_file) -> None:
    """Put MODEL VERSION in STAGE (promoting an older version again is a rollback)."""
    if request:
        from pathlib import Path

        promotions = client_here().promotions
        branch, report = promotions.request(model, version, stage)
        if report_file and report_file.endswith((".html", ".htm")):
            from gittrack.cli.ui import promotion_html

            promotion_html(report_file, model, version, stage, report)
        elif report_file:
            Path(report_file).write_text(report)
        click.echo(report if not report_file else f"report written to {report_file}")
        click.echo(f"created branch {branch}; open a pull request from it")
        if push_remote is not None:
            remote = promotions.push_request(branch, push_remote or None)
            click.echo(f"pushed {branch}, the runs and the registry tags to {remote}")
        return
    for tag in client_here().registry.promote(model, version, stage, archive_existing):
        click.echo(f"created tag {tag}")


@models.command("demote")
@click.argument("model")
@click.argument("version")
@click.argument("stage")
def demote(model: str, version: str, stage: str) -> None:
    """Take MODEL VERSION out of STAGE."""
    click.echo(f"created tag {client_here().registry.demote(model, version, stage)}")


@models.command("deprecate")
@click.argument("model")
@click.argument("version", required=False)
def deprecate(model: str, version: str | None) -> None:
    """Deprecate MODEL VERSION, or the whole MODEL."""
    click.echo(f"created tag {client_here().registry.deprecate(model, version)}")


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON: model, latest, deprecated, stages, versions.")
def list_models(as_json: bool) -> None:
    """Every model: its latest version and who holds each stage."""
    found, problems = client_here().registry.list()
    for problem in problems:
        warn(problem)
    if as_json:
        click.echo(to_json(found))
        return
    if not found:
        click.echo("no models yet: gittrack models register MODEL --run RUN")
        return
    rows = [[m["model"] + (" (deprecated)" if m["deprecated"] else ""), m["latest"] or "-",
             ", ".join(f"{s}: {v}" for s, v in m["stages"].items()) or "-", m["versions"]] for m in found]  # fmt: skip
    click.echo(table(["model", "latest", "stages", "versions"], rows))


@models.command("show")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Everything, as JSON.")
def show(model: str, as_json: bool) -> None:
    """MODEL's versions: stages, dates, people, and each version's run with its key metrics."""
    data = client_here().registry.show(model)
    if as_json:
        click.echo(to_json(data))
        return
    click.echo(f"model {model}{' (deprecated)' if data['deprecated'] else ''}, latest {data['latest'] or '-'}")
    rows = []
    for v in data["versions"]:
        run = v["run"]
        metrics = ", ".join(f"{k}={fmt_value(x)}" for k, x in list((run.get("metrics") or {}).items())[:3])
        name = (run.get("run_name") or (v["run_id"] or "?")[:12]) + ("" if run.get("available") else " (not here)")
        label = v["version"] + ("" if v["active"] else " (deprecated)") + ("" if v["valid"] else " (INVALID)")
        stages = ", ".join(v["stages"]) or "-"
        rows.append([label, stages, fmt_time(v["registered_at"] * 1000), v["registered_by"], name, metrics])
    click.echo(table(["version", "stages", "registered (UTC)", "by", "run", "metrics"], rows))
    for v in data["versions"]:
        if v["problem"]:
            warn(f"{v['version']} is invalid: {v['problem']}")


@models.command("history")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True)
def history(model: str, as_json: bool) -> None:
    """Every event of MODEL, oldest first."""
    events = client_here().registry.history(model)
    if as_json:
        click.echo(to_json(events))
        return
    rows = [
        [fmt_time(e["time"] * 1000), e["event"], e["version"] or "-", e["stage"] or "", e["author"], e["tag"]]
        for e in events
    ]
    click.echo(table(["time (UTC)", "event", "version", "stage", "by", "tag"], rows))


@models.command("get")
@click.argument("spec", metavar="MODEL@VERSION|STAGE|latest")
@click.option("-o", "--output", "dest", type=click.Path(), help="Where to write the model folder.")
def get(spec: str, dest: str | None) -> None:
    """Write the model files of SPEC to disk (fetching from the DVC remote when needed)."""
    click.echo(client_here().registry.download(spec, dest))


@models.command("lineage")
@click.argument("spec", metavar="MODEL@VERSION|STAGE|latest")
@click.option("--json", "as_json", is_flag=True)
def lineage(spec: str, as_json: bool) -> None:
    """version -> run (params, metrics) -> source commit -> data inputs, and what is available here."""
    data = client_here().registry.lineage(spec)
    if as_json:
        click.echo(to_json(data))
        return
    version, run, source = data["version"], data["run"], data["source"]
    here = {True: "available", False: "NOT available here"}
    click.echo(
        f"version  {version['model']} {version['version']}  (tag {version['tag']}, commit {version['commit'][:12]})"
    )
    click.echo(f"run      {run.get('run_name', '?')} ({run.get('run_id')})  [{here[bool(run.get('available'))]}]")
    for key, value in sorted((run.get("params") or {}).items()):
        click.echo(f"           param  {key} = {value}")
    for key, value in sorted((run.get("metrics") or {}).items()):
        click.echo(f"           metric {key} = {fmt_value(value)}")
    dirty = "dirty" if source.get("dirty") else "clean"
    click.echo(f"source   {source.get('commit') or '(none)'} ({dirty})  [{here[bool(source.get('available'))]}]")
    for item in data["inputs"]:
        state = (
            "in the DVC cache"
            if item["in_cache"]
            else "in git, the run's snapshot"
            if item["in_git"]
            else "not in the local DVC cache"
        )
        click.echo(f"data     {item.get('path')} md5 {item.get('md5')}  [{state}]")


@models.command("verify")
@click.argument("spec", metavar="MODEL@VERSION|STAGE")
def verify(spec: str) -> None:
    """Check the signatures of the tags behind SPEC with git."""
    results = client_here().registry.verify(spec)
    for tag, ok, words in results:
        click.echo(f"{'good' if ok else 'BAD '}  {tag}  {words}")
    sys.exit(0 if all(ok for _, ok, _ in results) else 1)
