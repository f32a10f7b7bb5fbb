"""``push``, ``pull``, ``remote setup``, ``checkout`` and ``reproduce``."""

from __future__ import annotations

import shlex
import sys

import click

from gittrack.cli.app import main
from gittrack.cli.options import client_here
from gittrack.cli.render import progress_bar, progress_printer, table, warn


def _report(verb: str, report) -> None:
    parts = [f"{len(report.sent)} run(s) {verb}"]
    if report.updated:
        parts.append(f"{len(report.updated)} updated")
    parts.append(f"{report.unchanged} already there")
    if report.packed_runs:
        parts.append(
            f"{report.packed_runs} run(s) packed" if verb == "sent" else f"{report.packed_runs} packed run(s) taken in"
        )
    if report.indexes:
        parts.append(f"{len(report.indexes)} run index(es) updated")
    if report.pruned:
        parts.append(f"{report.pruned} remote ref(s) of packed runs removed")
    if report.tags:
        parts.append(f"{report.tags} registry tag(s)")
    if report.data_objects:
        parts.append(f"{report.data_objects} DVC object(s)")
    click.echo(f"{report.remote}: " + ", ".join(parts))
    for item in report.skipped:
        warn(f"skipped {item}")
    for conflict in report.conflicts:
        sides = f"local {conflict.local[:12]}, remote {conflict.remote[:12]}"
        warn(f"conflict on {conflict.ref}: {sides} ({conflict.reason}); left as it was")
    for item in report.refused:
        warn(f"the remote refused {item}")
    for item in report.missing_data:
        click.echo(f"error: {item}", err=True)
    if report.conflicts or report.refused or report.missing_data:
        sys.exit(1)


@main.command()
@click.argument("remote", required=False)
@click.argument("run_specs", metavar="[RUN]...", nargs=-1)
@click.option("-e", "--experiment", help="Only this experiment's runs.")
@click.option("--no-artifacts", is_flag=True, help="Do not push artifact data to the DVC remote.")
@click.option(
    "--pack/--no-pack",
    default=None,
    help="Pack ended runs first, or never (default: when more than gittrack.autoPack, 1000, have a ref each).",
)
def push(
    remote: str | None, run_specs: tuple[str, ...], experiment: str | None, no_artifacts: bool, pack: bool | None
) -> None:
    """Push runs, registry tags and artifact data to REMOTE (default: the upstream, else origin)."""
    runs = list(run_specs) or None
    sync = client_here().remote
    _report("sent", sync.push(remote, runs, experiment, not no_artifacts, pack, progress_printer("packing")))


@main.command()
@click.argument("remote", required=False)
@click.option("-e", "--experiment", help="Fetch only this experiment's runs.")
@click.option("--artifacts", is_flag=True, help="Also fetch the artifact data from the DVC remote (else lazily).")
def pull(remote: str | None, experiment: str | None, artifacts: bool) -> None:
    """Fetch runs and registry tags from REMOTE (default: the upstream, else origin)."""
    _report("new", client_here().remote.pull(remote, experiment, artifacts, progress_printer("checking runs")))


@main.group()
def remote() -> None:
    """Configure git remotes for runs."""


@remote.command("setup")
@click.argument("name", default="origin")
@click.option("--no-push", is_flag=True, help="Only add the fetch refspec.")
def setup(name: str, no_push: bool) -> None:
    """Make plain 'git fetch' / 'git push' of NAME move runs too."""
    added = client_here().remote.setup(name, push_runs=not no_push)
    click.echo("\n".join(f"added {line}" for line in added) or f"{name} already moves runs")


@main.command()
@click.argument("run")
@click.option("-b", "branch", help="Create this branch at the run's code (without .gittrack/run/).")
@click.option("-f", "--force", is_flag=True, help="Discard uncommitted changes.")
def checkout(run: str, branch: str | None, force: bool) -> None:
    """Put RUN's code, inputs and artifacts in the work tree."""
    found, data = client_here().checkout(run, branch, force, progress_bar("restoring DVC data"))
    where = f"on new branch {branch}" if branch else f"detached at {found.info.commit[:12]}"
    click.echo(f"checked out run {found.info.run_name} ({found.info.run_id}) {where}; {data.summary()}")


@main.command()
@click.argument("run")
@click.option("--tolerance", type=float, default=1e-6, show_default=True, help="Relative tolerance for metrics.")
@click.option("-t", "--metric-tolerance", "overrides", multiple=True, metavar="KEY=REL", help="Per-metric tolerance.")
@click.option("--keep", is_flag=True, help="Keep the temporary worktree and its branch.")
@click.option(
    "--allow-outside", is_flag=True, help="Re-run even a script that is not in the snapshot (today's version of it)."
)
@click.option("-y", "--yes", is_flag=True, help="Run the command of a run recorded by someone else without asking.")
def reproduce(
    run: str, tolerance: float, overrides: tuple[str, ...], keep: bool, allow_outside: bool, yes: bool
) -> None:
    """Re-run RUN's command at its snapshot, with its DVC data, and check that its metrics come out the same."""
    from gittrack.errors import UsageError

    limits = {}
    for item in overrides:
        key, _, value = item.partition("=")
        try:
            limits[key] = float(value)
        except ValueError:
            raise UsageError(f"--metric-tolerance {item!r} is not KEY=NUMBER") from None

    def write(stream):
        def sink(chunk: bytes) -> None:
            stream.write(chunk)
            stream.flush()

        return sink

    def approve(plan) -> bool:
        info = plan.run.info
        who = f"{info.user or '?'} on {info.host or '?'}"
        click.echo(f"reproducing run {plan.run.info.run_name} ({plan.run.info.run_id}), recorded by {who}")
        click.echo(f"command: {shlex.join(plan.argv)}  (in {plan.cwd}, {plan.outputs} DVC output(s) to restore)")
        if not plan.foreign or yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError("this run was recorded by someone else or on another machine; read its command above "
                             "and pass --yes to run it")  # fmt: skip
        return click.confirm("run this command?", default=False)

    result = client_here().reproduce(
        run, tolerance, limits, keep, write(sys.stdout.buffer), write(sys.stderr.buffer), allow_outside, approve,
        progress_bar("restoring DVC data"),
    )  # fmt: skip
    rows = [[c.key, c.original, "-" if c.reproduced is None else c.reproduced, c.tolerance if c.compared else "-",
             ("ok" if c.ok else "DIFFERS") if c.compared else "not compared"] for c in result.checks]  # fmt: skip
    click.echo(f"\noriginal {result.original.info.run_id}, reproduction {result.reproduced.info.run_id}")
    if result.data is not None and result.data.outputs:
        click.echo(result.data.summary())
    if rows:
        click.echo(table(["metric", "original", "reproduced", "tolerance", ""], rows))
    skipped = [c.key for c in result.checks if not c.compared]
    if skipped:
        click.echo(f"not compared (they measure the machine, not the model): {', '.join(skipped)}")
    if result.worktree:
        click.echo(f"worktree kept at {result.worktree} on branch {result.branch}")
    if result.exit_code != 0:
        click.echo(f"the command exited with status {result.exit_code}")
    click.echo("reproduced" if result.ok else "NOT reproduced")
    sys.exit(0 if result.ok else 1)
