"""``gittrack metrics``: a run's metric histories."""

from __future__ import annotations

import click

from gittrack.cli.app import main
from gittrack.cli.render import fmt_time, fmt_value, to_csv, to_json


@main.command("metrics")
@click.argument("run")
@click.argument("keys", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="JSON: {key: [{step, timestamp, value}, ...]}.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with columns key, step, timestamp_ms, value.")
def metrics(run: str, keys: tuple[str, ...], as_json: bool, as_csv: bool) -> None:
    """Print the history of KEYS (default: every metric) of RUN."""
    from gittrack import Client

    client = Client()
    found = client.get_run(run)
    streams = client.metric_histories(found.info.run_id, list(keys) or None)
    wanted, summaries = list(streams), found.details.metrics
    if as_json:
        data = {
            k: [{"step": p.step, "timestamp": p.timestamp, "value": p.value} for seg in v for p in seg]
            for k, v in streams.items()
        }
        click.echo(to_json(data))
        return
    # CSV and the table stream a segment at a time: millions of points print in constant memory
    if as_csv:
        click.echo(to_csv(["key", "step", "timestamp_ms", "value"], []), nl=False)
    else:
        steps = max((len(str(summaries[k].step)) for k in wanted), default=4)
        widths = [max([3, *(len(fmt_value(k)) for k in wanted)]), max(4, steps + 1), 19]
        heads = ["key", "step", "time (UTC)", "value"]
        click.echo("  ".join(h.ljust(w) for h, w in zip(heads, [*widths, 5], strict=True)).rstrip())
        click.echo("  ".join("-" * w for w in [*widths, 5]))
    for key, segments in streams.items():
        # keys have no commas, quotes or line breaks (store/naming.py), so CSV rows need no quoting
        label = key if as_csv else fmt_value(key).ljust(widths[0])
        for segment in segments:
            if as_csv:
                click.echo("".join([f"{label},{p.step},{p.timestamp},{p.value!r}\n" for p in segment]), nl=False)
                continue
            lines = [
                f"{label}  {str(p.step).ljust(widths[1])}  {fmt_time(p.timestamp).ljust(widths[2])}  "
                + fmt_value(p.value)
                for p in segment
            ]
            click.echo("\n".join(lines))
