"""Presentation for the CLI: tables sized to the terminal, JSON and CSV for machines."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click


def now_ms() -> int:
    """This instant in epoch milliseconds, as run times are recorded."""
    return time.time_ns() // 1_000_000


def fmt_time(ms: int | None) -> str:
    """Epoch ms as local-free UTC text, or '' when missing."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(start: int, end: int | None, now: int) -> str:
    """A compact duration such as ``4.2s``, ``3m05s`` or ``2h10m``."""
    seconds = ((end if end is not None else now) - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def safe_text(text: str) -> str:
    """Text with control characters shown as escapes (``\\x1b``): values recorded by anyone (a
    param pulled from a remote) must not drive the terminal (colours, cursor moves, titles)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def fmt_value(value: Any) -> str:
    """Numbers with 6 significant digits, everything else as text (control characters escaped)."""
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return "" if value is None else safe_text(str(value))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], width: int | None = None) -> str:
    """A plain-text table. On a terminal its widest columns are shortened to fit (``width``: that
    many characters instead); piped to a file or another program, every value is printed whole."""
    cells = [[fmt_value(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    if width is None:
        width = shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else 0
    budget = width - 2 * (len(headers) - 1)
    while width and sum(widths) > budget and max(widths) > 8:
        widest = widths.index(max(widths))
        widths[widest] -= 1

    def line(values: Sequence[str]) -> str:
        out = []
        for value, w in zip(values, widths, strict=True):
            out.append(value if len(value) <= w else value[: max(w - 1, 0)] + "…")
        return "  ".join(v.ljust(w) for v, w in zip(out, widths, strict=True)).rstrip()

    return "\n".join([line(list(headers)), line(["-" * w for w in widths])] + [line(r) for r in cells])


def to_json(data: Any) -> str:
    """Stable JSON: sorted keys, NaN/inf as strings so that any JSON parser accepts it."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(data), indent=2, sort_keys=True, ensure_ascii=False)


def to_csv(headers: Sequence[str] | None, rows: Sequence[Sequence[Any]]) -> str:
    """CSV with a header row (None: the rows alone, to continue a CSV printed in parts)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if headers is not None:
        writer.writerow(headers)
    writer.writerows([["" if c is None else c for c in row] for row in rows])
    return buffer.getvalue()


def policy_lines(rules: dict[str, Any]) -> list[str]:
    """A promotion policy (``Client().promotions.policy``'s form) as indented lines."""
    no_worse = [
        f"{r['metric']} ({'lower' if r['direction'] == 'min' else 'higher'} is better"
        + (f", tolerance {r['tolerance']:g})" if r["tolerance"] else ")")
        for r in rules["no_worse"]
    ]
    thresholds = [f"{r['metric']} {r['op']} {r['value']:g}" for r in rules["thresholds"]]
    return [
        f"  guard       {', '.join(rules['guard']) or 'no stage (every stage takes direct promotions)'}",
        f"  no worse    {', '.join(no_worse) or 'no rule'}",
        f"  thresholds  {', '.join(thresholds) or 'no rule'}",
    ]


def warn(message: str) -> None:
    """A warning line on stderr."""
    click.echo(f"warning: {message}", err=True)


def progress_printer(label: str):
    """A ``progress(done, total)`` callback that shows ``label done/total`` on a terminal only."""

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and (done == total or done % 500 == 0):
            click.echo(f"\r{label} {done}/{total}", err=True, nl=done == total)

    return progress


def progress_bar(label: str, width: int = 30):
    """A ``progress(done, total)`` callback drawing ``label [####....] done/total`` on a terminal
    only (at most ten redraws a second)."""
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if not sys.stderr.isatty() or (done != total and now - last[0] < 0.1):
            return
        last[0] = now
        filled = width * done // total if total else width
        click.echo(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", err=True, nl=done == total)

    return progress


def migration_summary(report: dict[str, Any], verb: str = "imported") -> str:
    """An import's or export's summary (``MigrationReport.as_dict()``) as lines for people."""
    verb = f"would {verb.removesuffix('ed')}" if report.get("dry_run") else verb
    lines = [
        f"{verb} {report['runs']} runs ({report['runs_present']} already here), "
        f"{report['metric_points']} metric points, {report['params']} params, {report['tags']} tags",
        f"artifacts: {report['artifacts']} ({report['artifact_bytes']} bytes), {report['models']} logged models",
        f"registry: {report['registered_models']} models, {report['versions']} new versions, "
        f"{report['stage_events']} stage events",
    ]
    skipped = report.get("skipped") or []
    lines.append(f"skipped: {len(skipped)}")
    lines += [f"  {item['what']}: {item['why']}" for item in skipped]
    return "\n".join(lines)
