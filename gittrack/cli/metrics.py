"""``gittrack metrics``: a run's metric histories."""

from __future__ import annotations

import click

from gittrack.cli import main
from gittrack.cli.render import fmt_time, table, to_csv, to_json


@main.command("metrics")
@click.argument("run")
@click.argument("keys", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="JSON: {key: [{step, timestamp, value}, ...]}.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with columns key, step, timestamp_ms, value.")
def metrics(run: str, keys: tuple[str, ...], as_json: bool, as_csv: bool) -> None:
    """Print the history of KEYS (default: every metric) of RUN."""
    from gittrack.client import Client
    from gittrack.errors import NotFoundError

    client = Client()
    found = client.get_run(run)
    wanted = list(keys) or list(found.data.metrics)
    missing = [k for k in wanted if k not in found.data.metrics]
    if missing:
        known = ", ".join(found.data.metrics) or "none"
        raise NotFoundError(f"run {found.info.run_name} has no metric {missing[0]!r}; it has: {known}")
    histories = {key: client.get_metric_history(found.info.run_id, key) for key in wanted}
    if as_json:
        data = {
            k: [{"step": p.step, "timestamp": p.timestamp, "value": p.value} for p in v] for k, v in histories.items()
        }
        click.echo(to_json(data))
        return
    rows = [[key, p.step, p.timestamp, p.value] for key, points in histories.items() for p in points]
    if as_csv:
        click.echo(to_csv(["key", "step", "timestamp_ms", "value"], rows), nl=False)
        return
    click.echo(table(["key", "step", "time (UTC)", "value"], [[k, s, fmt_time(t), v] for k, s, t, v in rows]))
