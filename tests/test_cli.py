"""The CLI through click's CliRunner: output, JSON/CSV, exit codes and error lines."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import gittrack
from gittrack.cli import main
from tests.conftest import git


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def three_runs(repo: Path) -> list[str]:
    ids = []
    for i, lr in enumerate((0.1, 0.2, 0.3)):
        with gittrack.start_run(experiment="taxi" if i < 2 else "other", run_name=f"run-{i}") as active:
            gittrack.log_param("lr", lr)
            gittrack.log_metric("rmse", 1 - lr)
            gittrack.set_tag("team", "ml")
        ids.append(active.run_id)
    return ids


def test_init_creates_a_repository_and_reports(tmp_path: Path, cli) -> None:
    target = tmp_path / "new"
    result = cli("init", "--path", str(target), "--no-dvc")
    assert result.exit_code == 0
    assert f"created git repository {target}" in result.output
    assert "runs: 0 in 0 experiment(s)" in result.output
    assert (target / ".git").is_dir()
    assert sorted(p.name for p in target.iterdir()) == [".git"]
    again = cli("init", "--path", str(target))
    assert "using git repository" in again.output


def test_runs_list_table_json_and_csv(three_runs: list[str], cli) -> None:
    table = cli("runs", "list")
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split()[:4] == ["run_id", "name", "experiment", "status"]
    assert "rmse" in lines[0]
    assert [line.split()[1] for line in lines[2:]] == ["run-2", "run-1", "run-0"]  # newest first
    data = json.loads(cli("runs", "list", "--json").output)
    assert [r["run_id"] for r in data] == three_runs[::-1]
    assert data[0]["params"] == {"lr": "0.3"}
    assert data[0]["metrics"]["rmse"] == pytest.approx(0.7)
    assert data[0]["status"] == "FINISHED"
    rows = list(csv.DictReader(io.StringIO(cli("runs", "list", "--csv", "-e", "taxi").output)))
    assert [r["run_id"] for r in rows] == three_runs[1::-1]
    assert [r["experiment"] for r in rows] == ["taxi", "taxi"]


def test_runs_list_empty_and_limited(repo: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "no runs yet" in cli("runs", "list").output
    import gittrack.cli.runs as runs_cli

    monkeypatch.setattr(runs_cli, "DEFAULT_LIMIT", 1)
    client = gittrack.Client()
    for _ in range(2):
        client.set_terminated(client.create_run().info.run_id)
    limited = cli("runs", "list")
    assert "(first 1 runs shown; --limit N or --all for more)" in limited.output
    assert len(cli("runs", "list", "--all").output.splitlines()) == 4


def test_runs_list_sort_typos_are_errors_or_warnings(three_runs: list[str], cli) -> None:
    typo = cli("runs", "list", "-s", "metrics.rmse DSC")
    assert typo.exit_code == 2
    assert "error: order_by 'metrics.rmse DSC': expected ASC or DESC at position 13, found 'DSC'" in typo.output
    assert "Traceback" not in typo.output
    unknown = cli("runs", "list", "-s", "metrics.rsme DESC", "--csv")
    assert unknown.exit_code == 0
    assert "warning: no run listed has metrics.rsme, so it does not change the order" in unknown.output
    assert [r["run_id"] for r in csv.DictReader(io.StringIO(unknown.stdout))] == three_runs[::-1]
    known = cli("runs", "list", "-s", "metrics.`rmse` ASC")
    assert "warning" not in known.output
    assert [line.split()[1] for line in known.output.splitlines()[2:]] == ["run-2", "run-1", "run-0"]


def test_runs_list_columns_that_match_nothing_are_an_error(three_runs: list[str], cli) -> None:
    nothing = cli("runs", "list", "-c", "run_name", "-c", "nomatch*")
    assert nothing.exit_code == 2
    assert "error: column pattern 'nomatch*' matches no column (names are case-sensitive)" in nothing.output
    assert "params.lr, metrics.rmse, tags.team" in nothing.output
    typo = cli("runs", "list", "-c", "params.lrr", "--csv")
    assert typo.exit_code == 2
    assert "column pattern 'params.lrr' matches no column; did you mean params.lr?" in typo.output
    chosen = cli("runs", "list", "-c", "run_name", "-c", "params.*", "--csv")
    assert chosen.output.splitlines() == ["run_name,params.lr", "run-2,0.3", "run-1,0.2", "run-0,0.1"]
    none = cli("runs", "list", "-f", "metrics.rmse > 5", "-c", "params.*")
    assert (none.exit_code, none.output) == (0, "no runs match\n")
    assert cli("runs", "list", "-f", "metrics.rmse > 5", "-c", "params.*", "--json").output == "[]\n"


def test_runs_show_text_and_json(three_runs: list[str], cli) -> None:
    result = cli("runs", "show", "run-0")
    assert result.exit_code == 0
    assert f"run         run-0 ({three_runs[0]})" in result.output
    assert "experiment  taxi" in result.output
    assert "lr" in result.output
    assert "rmse" in result.output
    data = json.loads(cli("runs", "show", three_runs[0][:10], "--json").output)
    assert f"gittrack checkout {three_runs[0][:12]} (or git checkout {data['commit']})" in result.output
    assert data["run_id"] == three_runs[0]
    assert data["param_types"] == {"lr": "float"}
    assert data["metric_histories"]["rmse"]["count"] == 1
    assert data["environment"]["gittrack"] == gittrack.__version__


def test_runs_delete_asks_then_restore(three_runs: list[str], cli) -> None:
    refused = cli("runs", "delete", "run-0", input="n\n")
    assert refused.exit_code == 1
    assert len(json.loads(cli("runs", "list", "--json").output)) == 3
    done = cli("runs", "delete", "run-0", "run-1", "--yes")
    assert done.exit_code == 0
    assert "deleted run-0" in done.output
    assert [r["run_name"] for r in json.loads(cli("runs", "list", "--json").output)] == ["run-2"]
    shown = cli("runs", "show", "run-0")
    assert shown.exit_code == 1
    assert shown.output == (
        f"error: run 'run-0' is deleted (refs/runs-deleted/taxi/{three_runs[0]}); "
        f"bring it back with 'gittrack runs restore {three_runs[0][:12]}'\n"
    )
    restored = cli("runs", "restore", three_runs[0])
    assert "restored run-0" in restored.output
    again = cli("runs", "restore", "run-0")
    assert again.exit_code == 1
    assert f"error: run 'run-0' is not deleted: it is refs/runs/taxi/{three_runs[0]}; there is nothing" in again.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["runs", "show", "nope"], 1, "error: no run matches 'nope'"),
        (["runs", "show", "0"], 1, "ambiguous"),
        (["run", "-p", "novalue", "--", "true"], 2, "is not KEY=VALUE"),
        (["run", "--", "definitely-not-a-program-xyz"], 2, "command not found"),
        (["run", "-e", "bad\nname", "--", "true"], 2, "control characters"),
        (["runs", "list", "-e", "bad\nname"], 2, "control characters"),
    ],
)
def test_errors_are_one_line_with_exit_codes(three_runs, cli, args, code, message) -> None:
    result = cli(*args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_outside_a_repository(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    result = cli("runs", "list")
    assert result.exit_code == 1
    assert "not inside a git repository; run 'git init' or 'gittrack init'" in result.output


def test_run_command_through_the_runner(repo: Path, cli) -> None:
    result = cli("run", "-e", "cli", "-n", "echoer", "-p", "lr=0.5", "-t", "k=v", "--", "sh", "-c", "echo hi; exit 3")
    assert result.exit_code == 3
    run = gittrack.get_run("echoer")
    assert run.info.status == "FAILED"
    assert run.details.error == {"type": "ExitCode", "message": "command exited with status 3"}
    assert run.data.params == {"lr": "0.5"}
    assert run.data.tags == {"k": "v"}
    assert run.details.command["argv"] == ["sh", "-c", "echo hi; exit 3"]
    assert gittrack.Client().get_log(run.info.run_id, "stdout") == "hi\n"
    assert git(repo, "status", "--porcelain") == ""


def test_run_params_and_the_script_params_compare_by_value(repo: Path, cli) -> None:
    (repo / "train.py").write_text(
        textwrap.dedent(
            """
            import sys
            import gittrack
            with gittrack.start_run():
                gittrack.log_params({"alpha": float(sys.argv[2]), "gpu": True, "lr": "0.10"})
            """
        )
    )
    same = cli("run", "-n", "same", "-p", "alpha=5", "-p", "gpu=true", "-p", "lr=0.10", "-p", "model=rf", "--",
               sys.executable, "train.py", "--alpha", "5")  # fmt: skip
    assert same.exit_code == 0, same.output
    run = gittrack.get_run("same")
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "5", "gpu": "True", "lr": "0.10", "model": "rf"}
    assert run.details.param_types == {"alpha": "int", "gpu": "bool", "lr": "str", "model": "str"}
    other = cli("run", "-n", "other", "-p", "alpha=5", "--", sys.executable, "train.py", "--alpha", "6")
    assert other.exit_code == 1
    assert "param 'alpha' is already '5' (int) in run" in other.output
    assert "not '6.0' (float)" in other.output
    assert "a param given to 'gittrack run -p' must have the value the command logs" in other.output
    assert gittrack.get_run("other").info.status == "FAILED"


def test_a_script_under_gittrack_run_is_told_what_its_start_run_cannot_change(repo: Path, cli) -> None:
    (repo / "train.py").write_text(
        textwrap.dedent(
            """
            import gittrack
            for step in range(2):
                with gittrack.start_run(experiment="exp-b", run_name="x"):
                    gittrack.log_metric("m", step)
            """
        )
    )
    unnamed = cli("run", "-e", "exp-a", "--", sys.executable, "train.py")
    assert unnamed.exit_code == 0, unnamed.output
    [run] = gittrack.list_runs("exp-a")
    assert run.info.run_name == "x"  # the command gave no name: the script's is used
    assert run.data.metrics == {"m": 1.0}
    warning = f"this script runs under 'gittrack run', so it logs into that command's run {run.info.run_id[:12]}"
    assert unnamed.output.count(warning) == 1  # once, not at each start_run
    assert "ignored experiment 'exp-b': give them to gittrack run (-e EXPERIMENT, -n NAME) instead" in unnamed.output
    named = cli("run", "-e", "exp-a", "-n", "given", "--", sys.executable, "train.py")
    assert named.exit_code == 0, named.output
    run = gittrack.get_run("given")
    assert run.data.tags["gittrack.script_run_name"] == "x"
    assert "ignored experiment 'exp-b' and run_name 'x'" in named.output
    assert "exp-b" not in gittrack.Client().experiment_names()


def test_without_e_the_scripts_own_experiment_takes_the_run_of_gittrack_run(
    repo: Path, gittrack_cmd, monkeypatch
) -> None:
    (repo / "train.py").write_text(
        textwrap.dedent(
            """
            import time
            import gittrack
            with gittrack.start_run(experiment="taxi", run_name="fit"):
                gittrack.log_metric("rmse", 0.5)
                time.sleep(0.5)  # the launcher's heartbeat writes the run meanwhile, wherever it is
                gittrack.log_metric("rmse", 0.4)
            with gittrack.start_run(experiment="other"):  # the run has its experiment now
                gittrack.log_param("second", 1)
            print("trained")
            """
        )
    )
    monkeypatch.setenv("GITTRACK_CHECKPOINT_INTERVAL", "0.1")
    monkeypatch.setenv("GITTRACK_EXPERIMENT", "sandbox")  # a default from the shell, not the command line
    done = subprocess.run([*gittrack_cmd, "run", "--", sys.executable, "train.py"], capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    monkeypatch.delenv("GITTRACK_EXPERIMENT")
    [run] = gittrack.list_runs("taxi")
    assert (run.info.run_name, run.info.status, run.info.experiment) == ("fit", "FINISHED", "taxi")
    assert run.info.ref == f"refs/runs/taxi/{run.info.run_id}"
    assert run.data.metrics == {"rmse": 0.4}
    assert run.data.params == {"second": "1"}
    assert gittrack.Client().get_log(run.info.run_id, "stdout") == "trained\n"  # written by the launcher
    assert gittrack.Client().experiment_names() == ["taxi"]  # nothing left in 'sandbox'
    assert done.stderr.startswith("gittrack: run ")
    assert "in experiment 'sandbox'\n" in done.stderr  # where it started
    assert f"run {run.info.short_id} FINISHED after" in done.stderr
    assert "in experiment 'taxi'; see 'gittrack runs show" in done.stderr
    assert "ignored experiment 'other'" in done.stderr
    # MLflow-style code too, through the API: set_experiment decides where the run goes
    (repo / "train.py").write_text(
        textwrap.dedent(
            """
            import gittrack.mlflow as mlflow
            mlflow.set_experiment("churn")
            with mlflow.start_run():
                mlflow.log_metric("auc", 0.9)
            """
        )
    )
    ran, code = gittrack.Client().run_command([sys.executable, "train.py"])
    assert code == 0
    assert (ran.info.experiment, ran.data.metrics) == ("churn", {"auc": 0.9})
    # the command line's experiment still wins over the script's
    given, _ = gittrack.Client().run_command([sys.executable, "train.py"], experiment="cli")
    assert given.info.experiment == "cli"
    assert len(gittrack.list_runs("churn")) == 1


def test_push_to_a_path_that_does_not_exist_suggests_a_remote_name(repo: Path, tmp_path: Path, cli) -> None:
    missing = str(tmp_path / "nowhere" / "exist.git")
    result = cli("push", missing)
    assert result.exit_code == 2
    assert f"git remote add origin {missing}" in result.output
    assert f"git remote add {missing}" not in result.output
    assert "Traceback" not in result.output
    git(repo, "remote", "add", "origin", str(tmp_path))
    taken = cli("pull", missing)
    assert taken.exit_code == 2
    assert f"git remote add team {missing}" in taken.output  # origin is taken: another name
    typo = cli("push", "orign")
    assert typo.exit_code == 2
    assert "git remote add orign URL" in typo.output


def test_init_twice_commits_every_dvc_file_and_keeps_dvcs_chatter_out(repo: Path, tmp_path: Path, gittrack_cmd) -> None:
    first = subprocess.run([*gittrack_cmd, "init", "--no-commit"], capture_output=True, text=True, check=True)
    assert "You can now commit" not in first.stdout + first.stderr
    assert "commit them when ready: git add .dvc/.gitignore .dvc/config .dvcignore" in first.stdout
    second = subprocess.run([*gittrack_cmd, "init", "--dvc-remote", str(tmp_path / "dvc-remote"), "--commit"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert "You can now commit" not in second.stdout + second.stderr
    assert "DVC set up: .dvc/.gitignore, .dvc/config, .dvcignore" in second.stdout
    assert git(repo, "status", "--porcelain") == ""  # nothing left staged or untracked
    committed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == [".dvc/.gitignore", ".dvc/config", ".dvcignore"]
    third = subprocess.run([*gittrack_cmd, "init"], capture_output=True, text=True, check=True)
    assert "DVC set up" not in third.stdout  # nothing new to commit
    (repo / ".dvcignore").write_text("# changed by hand\n")
    fourth = subprocess.run([*gittrack_cmd, "init", "--commit"], capture_output=True, text=True, check=True)
    assert "DVC set up: .dvcignore" in fourth.stdout
    assert git(repo, "status", "--porcelain") == ""


def test_tables_piped_to_another_program_keep_whole_values(repo: Path, gittrack_cmd) -> None:
    long_metric = "validation_root_mean_squared_error_of_the_holdout_month"
    with gittrack.start_run(experiment="taxi-duration-forecasting", run_name="gradient-boosting-with-many-trees"):
        gittrack.log_metric(long_metric, 0.123456)
        gittrack.log_metric("mean_absolute_percentage_error_on_weekends", 4.5)
    piped = subprocess.run([*gittrack_cmd, "runs", "list"], stdout=subprocess.PIPE, text=True, check=True)
    header, _, row = piped.stdout.splitlines()
    assert long_metric in header
    assert "mean_absolute_percentage_error_on_weekends" in header
    assert "gradient-boosting-with-many-trees" in row
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row)  # the whole start time
    assert "…" not in piped.stdout
    # on a terminal the table still fits its width
    import pty

    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "90"}
    done = subprocess.run([*gittrack_cmd, "runs", "list"], stdout=follower, env=env, check=True)
    os.close(follower)
    shown = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(leader, 65536):
            shown += chunk
    os.close(leader)
    assert done.returncode == 0
    lines = shown.decode().splitlines()
    assert "…" in shown.decode()
    assert max(len(line) for line in lines) <= 90 < len(header)
