"""``gittrack import`` and ``gittrack export``: history from MLflow and DVC experiments, and back to MLflow."""

from __future__ import annotations

import click

from gittrack.cli.app import main
from gittrack.cli.render import migration_summary, progress_bar, to_json


@main.group("import")
def import_() -> None:
    """Bring runs recorded by another tool into this repository (docs/migrate.md)."""


@import_.command("mlflow")
@click.option("--tracking-uri", help="The MLflow store: a mlruns/ folder or sqlite:///mlflow.db (default: "
              "$MLFLOW_TRACKING_URI, else ./mlruns).")  # fmt: skip
@click.option("-e", "--experiment", "experiments", multiple=True, help="Only this MLflow experiment (repeatable).")
@click.option("--registry/--no-registry", default=True, show_default=True, help="Import registered models too.")
@click.option("--dry-run", is_flag=True, help="Say what would be imported; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON (keys as in docs/migrate.md).")
def import_mlflow(tracking_uri: str | None, experiments: tuple[str, ...], registry: bool, dry_run: bool,
                  as_json: bool) -> None:  # fmt: skip
    """Import MLflow runs, their artifacts and models, and the model registry. Runs imported
    before are skipped, so running it again (after an interruption too) adds only what is new."""
    from gittrack import Client

    report = Client().import_mlflow(
        tracking_uri, list(experiments) or None, registry, dry_run, progress=progress_bar("importing runs")
    )
    click.echo(to_json(report.as_dict()) if as_json else migration_summary(report.as_dict()))


@import_.command("dvc-exps")
@click.option("-e", "--experiment", help="The gittrack experiment to record them in (default: 'default').")
@click.option("--all-commits", is_flag=True, help="The experiments of every commit, not only of HEAD's.")
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON (keys as in docs/migrate.md).")
def import_dvc_exps(experiment: str | None, all_commits: bool, as_json: bool) -> None:
    """Import DVC experiments (refs/exps) as runs: the experiment's commit as snapshot, params and
    metrics as 'dvc exp show' shows them, DVCLive step histories as metric histories."""
    from gittrack import Client

    report = Client().import_dvc_experiments(experiment, all_commits, progress=progress_bar("importing experiments"))
    click.echo(to_json(report.as_dict()) if as_json else migration_summary(report.as_dict()))


@main.group("export")
def export() -> None:
    """Write this repository's runs and registry into another tool's store (docs/migrate.md)."""


@export.command("mlflow")
@click.option("--tracking-uri", required=True, help="The MLflow store to write: a folder or sqlite:///mlflow.db.")
@click.option("-e", "--experiment", "experiments", multiple=True, help="Only this experiment (repeatable).")
@click.option("--registry/--no-registry", default=True, show_default=True, help="Export the model registry too.")
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON (keys as in docs/migrate.md).")
def export_mlflow(tracking_uri: str, experiments: tuple[str, ...], registry: bool, as_json: bool) -> None:
    """Export runs (params, metric histories, tags, times, status, artifacts, models) and the registry
    (versions; each stage's holder as an alias) to MLflow. Runs exported before are skipped."""
    from gittrack import Client

    report = Client().export_mlflow(
        tracking_uri, list(experiments) or None, registry, progress=progress_bar("exporting runs")
    )
    click.echo(to_json(report.as_dict()) if as_json else migration_summary(report.as_dict(), "exported"))
