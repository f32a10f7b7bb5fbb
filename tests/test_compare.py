"""Comparing runs side by side and in depth, through the API and the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import gittrack
from gittrack.cli import main


@pytest.fixture
def two_runs(repo: Path) -> tuple[str, str]:
    with gittrack.start_run(run_name="base", params={"lr": 0.1, "depth": 3}) as a:
        gittrack.log_metrics({"val_loss": 0.5, "accuracy": 0.80})
    (repo / "train.py").write_text("print('training, improved')\nprint('more')\n")
    (repo / "features.py").write_text("FEATURES = ['distance']\n")
    with gittrack.start_run(run_name="better", params={"lr": 0.05, "depth": 3, "l2": 0.1}) as b:
        gittrack.log_metrics({"val_loss": 0.4, "accuracy": 0.85})
        gittrack.log_metric("val_loss", 0.3)
    return a.run_id, b.run_id


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_compare_api(two_runs) -> None:
    a, b = two_runs
    frame = gittrack.compare_runs(["base", "better"])
    assert list(frame.columns) == [a, b, "differs", "best"]
    assert frame.loc["params.lr", a] == "0.1"
    assert frame.loc["params.l2", a] is None
    assert bool(frame.loc["params.depth", "differs"]) is False
    assert bool(frame.loc["params.lr", "differs"]) is True
    assert frame.loc["metrics.val_loss", "best"] == b  # losses: lower is better
    assert frame.loc["metrics.accuracy", "best"] == b  # the rest: higher is better
    assert frame.loc["metrics.val_loss", b] == pytest.approx(0.3)
    with pytest.raises(gittrack.UsageError, match="at least two"):
        gittrack.compare_runs(["base"])


def test_compare_cli(two_runs) -> None:
    a, b = two_runs
    out = cli("runs", "compare", "base", "better").output
    assert "params" in out
    assert "0.3 *" in out  # best val_loss marked
    only = cli("runs", "compare", "base", "better", "--diff-only").output
    params_section = only.split("metrics")[0]
    assert "lr" in params_section
    assert "depth" not in params_section
    data = json.loads(cli("runs", "compare", a, b, "--json").output)
    assert data["best"]["val_loss"] == b
    assert data["params"]["lr"] == ["0.1", "0.05"]


def test_diff_api_and_cli(two_runs) -> None:
    a, b = two_runs
    result = gittrack.Client().diff_runs(a, b)
    assert result.params == {"l2": (None, "0.1"), "lr": ("0.1", "0.05")}
    assert result.metrics["val_loss"] == (0.5, pytest.approx(0.3))
    assert {(f.path, f.status) for f in result.files} == {("features.py", "added"), ("train.py", "modified")}
    assert ".gittrack" not in result.patch
    stat = cli("runs", "diff", "base", "better").output
    assert "features.py" in stat
    assert "2 file(s) changed" in stat
    assert "+0.3" not in stat
    assert "-0.2" in stat  # b - a for val_loss
    patch = cli("runs", "diff", "base", "better", "-p").output
    assert "+print('more')" in patch
    data = json.loads(cli("runs", "diff", a, b, "--json").output)
    assert data["params"]["lr"] == ["0.1", "0.05"]
    assert "patch" not in data
    same = cli("runs", "diff", a, a).output
    assert "code: identical" in same


def test_metrics_command(two_runs) -> None:
    _, b = two_runs
    table = cli("metrics", "better", "val_loss").output
    assert table.splitlines()[0].split() == ["key", "step", "time", "(UTC)", "value"]
    assert len(table.splitlines()) == 4
    rows = list(csv.DictReader(io.StringIO(cli("metrics", b, "--csv").output)))
    assert {r["key"] for r in rows} == {"val_loss", "accuracy"}
    data = json.loads(cli("metrics", b, "val_loss", "--json").output)
    assert [p["value"] for p in data["val_loss"]] == [0.4, 0.3]
    missing = cli("metrics", b, "nope")
    assert missing.exit_code == 1
    assert "has no metric 'nope'" in missing.output


def test_runs_list_filter_sort_columns(two_runs) -> None:
    _, b = two_runs
    out = cli("runs", "list", "--filter", "metrics.val_loss < 0.45", "--json")
    assert [r["run_id"] for r in json.loads(out.output)] == [b]
    sorted_csv = cli(
        "runs", "list", "--sort", "metrics.accuracy ASC", "--csv", "--columns", "run_name", "-c", "metrics.*"
    )
    rows = list(csv.DictReader(io.StringIO(sorted_csv.output)))
    assert [r["run_name"] for r in rows] == ["base", "better"]
    assert list(rows[0]) == ["run_name", "metrics.accuracy", "metrics.val_loss"]
    limited = cli("runs", "list", "--limit", "1")
    assert "better" in limited.output
    assert "base" not in limited.output.split("\n", 2)[2]
    bad = cli("runs", "list", "--filter", "metrics.x = 'abc'")
    assert bad.exit_code == 2
    assert "compares with numbers" in bad.output
    narrow = cli("runs", "list", "-c", "params.*", "-c", "run_name")
    assert narrow.output.splitlines()[0].split() == ["run_name", "params.depth", "params.l2", "params.lr"]
