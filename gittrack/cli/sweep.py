"""``gittrack sweep``: a hyperparameter search whose trials are runs; ``status``, ``best``,
``stop`` and ``trials`` of a sweep."""

from __future__ import annotations

import sys
from typing import Any

import click

from gittrack.cli.app import main
from gittrack.cli.render import fmt_value, table, to_json

SUBCOMMANDS = ("status", "best", "stop", "trials")


class _SweepGroup(click.Group):
    """``gittrack sweep [OPTIONS] -- COMMAND...`` starts a sweep; ``gittrack sweep status ID``
    and the other subcommands read one. Anything that is not a subcommand's name is the command."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and args[0] in self.commands and args[0] in SUBCOMMANDS:
            return super().resolve_command(ctx, args)
        return "run", self.commands["run"], args


storage_option = click.option(
    "--storage", metavar="URL", help="Optuna storage URL, e.g. postgresql://... (default: a journal in .git/gittrack)."
)


@main.group(cls=_SweepGroup, invoke_without_command=True,
            context_settings={"ignore_unknown_options": False, "allow_interspersed_args": False})  # fmt: skip
@click.option("-e", "--experiment", help="Experiment of the trials' runs (default: $GITTRACK_EXPERIMENT or 'default').")
@click.option("--space", "space", type=click.Path(dir_okay=False), help="The search space, a YAML file (space.yaml).")
@click.option("--trials", type=click.IntRange(min=1), default=20, show_default=True, help="Trials in all (the total).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes here.")
@click.option("--sampler", type=click.Choice(["tpe", "random", "grid", "cmaes"]), default="tpe", show_default=True)
@click.option(
    "--metric", default="value", show_default=True, help="The metric COMMAND logs; its last value is the objective."
)
@click.option("--direction", type=click.Choice(["minimize", "maximize"]), default="minimize", show_default=True)
@click.option("--pruner", type=click.Choice(["median", "hyperband", "none"]), default="median", show_default=True)
@click.option("--seed", type=int, help="Sampler seed (each worker derives its own from it).")
@storage_option
@click.option("--resume", metavar="SWEEP", help="Go on with a killed or stopped sweep of this repository.")
@click.option("--join", metavar="SWEEP", help="Add this machine's workers to a sweep in --storage.")
@click.option("--backend", type=click.Choice(["process", "ray"]), default="process", show_default=True,
              help="Run workers as processes here, or as Ray tasks (ray.init() finds the cluster).")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="Do not pass the trials' output through.")
@click.pass_context
def sweep(ctx: click.Context, **options: Any) -> None:
    """Search hyperparameters with Optuna; every trial is a run of COMMAND with {name} replaced.

    \b
        gittrack sweep -e taxi --space space.yaml --trials 50 --workers 2 \\
            --metric rmse -- python train.py --lr {lr} --depth {depth}
        gittrack sweep status SWEEP | best SWEEP | stop SWEEP | trials SWEEP

    COMMAND logs its metric with gittrack.log_metric(NAME, v, step=...); the pruner reads those
    values while it runs. See docs/sweeps.md.
    """
    ctx.obj = options
    if ctx.invoked_subcommand is None:
        _start(options, [])


@sweep.command("run", hidden=True, add_help_option=False,
               context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})  # fmt: skip
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run_(ctx: click.Context, command: tuple[str, ...]) -> None:
    _start(ctx.obj, list(command))


def _start(options: dict[str, Any], command: list[str]) -> None:
    import gittrack
    from gittrack.errors import UsageError

    if not command and not (options["resume"] or options["join"]):
        raise UsageError("give the command to run after '--', e.g. gittrack sweep --space space.yaml -- python "
                         "train.py --lr {lr}")  # fmt: skip
    if not command and not options["resume"] and not options["join"]:
        raise UsageError("give --space FILE")
    if not (options["resume"] or options["join"]) and not options["space"]:
        raise UsageError("give the search space: --space space.yaml")

    def started(result) -> None:
        click.echo(f"sweep: {result.sweep_id}")
        sys.stdout.flush()
        done = result.finished
        if done:
            click.echo(f"gittrack: {done} of {result.trials} trials already finished", err=True)

    result = gittrack.sweep(
        None, options["space"], command=command or None, experiment=options["experiment"],
        trials=options["trials"], workers=options["workers"], metric=options["metric"],
        direction=options["direction"], sampler=options["sampler"], pruner=options["pruner"], seed=options["seed"],
        storage=options["storage"], resume=options["resume"], join=options["join"], backend=options["backend"],
        quiet=options["quiet"], on_start=started,
    )  # fmt: skip
    click.echo(f"gittrack: {_summary(result)}", err=True)


def _storage(ctx: click.Context, storage: str | None) -> str | None:
    """--storage given after the subcommand, or before it ('gittrack sweep --storage URL status ID')."""
    return storage or (ctx.obj or {}).get("storage")


def _summary(result) -> str:
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(result.counts.items()) if state != "SKIPPED")
    best = "no completed trial"
    if result.best_value is not None:
        run = (result.best_run_id or "not here")[:12]
        best = f"best {result.metric}={fmt_value(result.best_value)} (trial {result.best_trial}, run {run})"
    stopped = ", stopped" if result.stopped else ""
    done = f"{result.finished} of {result.trials} trials finished ({counts}{stopped})"
    return f"sweep {result.sweep_id[:12]}: {done}; {best}"


@sweep.command("status")
@click.argument("sweep_id", metavar="SWEEP")
@storage_option
@click.option("--json", "as_json", is_flag=True, help="JSON with stable keys.")
@click.pass_context
def status(ctx: click.Context, sweep_id: str, storage: str | None, as_json: bool) -> None:
    """Trial counts by state (COMPLETE, PRUNED, FAIL, RUNNING)."""
    from gittrack.sweeps import sweep_status

    result = sweep_status(sweep_id, _storage(ctx, storage))
    if as_json:
        click.echo(to_json(result.to_dict()))
        return
    click.echo(_summary(result))
    rows = [(state, n) for state, n in sorted(result.counts.items()) if state != "SKIPPED"]
    click.echo(table(["state", "trials"], rows))


@sweep.command("best")
@click.argument("sweep_id", metavar="SWEEP")
@storage_option
@click.option("--json", "as_json", is_flag=True, help="JSON with stable keys.")
@click.pass_context
def best(ctx: click.Context, sweep_id: str, storage: str | None, as_json: bool) -> None:
    """The best trial: its run id, value and params."""
    from gittrack.errors import NotFoundError
    from gittrack.sweeps import sweep_status

    result = sweep_status(sweep_id, _storage(ctx, storage))
    if result.best_value is None:
        raise NotFoundError(f"sweep {result.sweep_id[:12]} has no completed trial yet")
    out = {"run_id": result.best_run_id, "trial": result.best_trial, "value": result.best_value,
           "metric": result.metric, "params": result.best_params}  # fmt: skip
    if as_json:
        click.echo(to_json(out))
        return
    click.echo(f"{result.best_run_id}  {result.metric}={fmt_value(result.best_value)}  trial {result.best_trial}")
    click.echo(table(["param", "value"], [(k, fmt_value(v)) for k, v in result.best_params.items()]))


@sweep.command("stop")
@click.argument("sweep_id", metavar="SWEEP")
@storage_option
@click.pass_context
def stop(ctx: click.Context, sweep_id: str, storage: str | None) -> None:
    """Start no new trial (running ones finish); 'gittrack sweep --resume SWEEP' goes on."""
    from gittrack.sweeps import stop_sweep

    result = stop_sweep(sweep_id, _storage(ctx, storage))
    click.echo(f"sweep {result.sweep_id[:12]} stopped after {result.finished} of {result.trials} trials "
               f"(running ones finish)")  # fmt: skip


@sweep.command("trials")
@click.argument("sweep_id", metavar="SWEEP")
@storage_option
@click.option("--json", "as_json", is_flag=True, help="JSON with stable keys.")
@click.pass_context
def trials(ctx: click.Context, sweep_id: str, storage: str | None, as_json: bool) -> None:
    """Every trial: number, state, value, run id and params."""
    from gittrack.sweeps import trials_of

    rows = trials_of(sweep_id, _storage(ctx, storage))
    if as_json:
        click.echo(to_json(rows))
        return
    names = sorted({k for r in rows for k in r["params"]})
    click.echo(table(["trial", "state", "value", "run_id", *names],
                     [(r["number"], r["state"], fmt_value(r["value"]), (r["run_id"] or "")[:12],
                       *(fmt_value(r["params"].get(n)) for n in names)) for r in rows]))  # fmt: skip
