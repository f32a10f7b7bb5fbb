"""Real processes: ``gittrack run``, signals, SIGKILL mid-run, concurrent writers, import cost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import gittrack
from tests.conftest import git

pytestmark = pytest.mark.slow


def _default_sigint() -> None:
    """In the child: SIGINT as a terminal delivers it, even when the suite itself was started in the
    background by a shell that ignores SIGINT (which its children would inherit)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_gittrack_run_passes_output_through_and_logs_the_script(repo: Path, gittrack_cmd: list[str]) -> None:
    (repo / "train.py").write_text(
        textwrap.dedent(
            """
            import sys
            import gittrack
            with gittrack.start_run(params={"depth": 3}):
                for step in range(5):
                    gittrack.log_metric("loss", 1.0 / (step + 1))
                print("epoch done")
                print("a warning", file=sys.stderr)
            """
        )
    )
    proc = subprocess.run(
        [*gittrack_cmd, "run", "-e", "cli", "-p", "lr=0.1", "--", sys.executable, "train.py"],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "epoch done\n"
    assert "a warning" in proc.stderr
    assert "FINISHED" in proc.stderr
    [run] = gittrack.list_runs("cli")
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.1", "depth": "3"}
    assert run.data.metrics == {"loss": pytest.approx(0.2)}
    assert run.details.command["entry_point"] == "train.py"
    assert run.details.command["launcher"] == "gittrack run"
    assert run.details.logs["stdout"]["bytes"] == len("epoch done\n")
    assert git(repo, "show", f"{run.info.ref}:train.py").startswith("\nimport sys")


def test_gittrack_run_exit_code_becomes_the_status(repo: Path, gittrack_cmd: list[str]) -> None:
    proc = subprocess.run(
        [*gittrack_cmd, "run", "--", sys.executable, "-c", "import sys; sys.exit(4)"],
        capture_output=True,
        env=_env(),
        check=False,
    )
    assert proc.returncode == 4
    [run] = gittrack.list_runs()
    assert run.info.status == "FAILED"
    # 143 (128 + SIGTERM) is how a script using gittrack exits on SIGTERM: the run was killed
    stopped = subprocess.run([*gittrack_cmd, "run", "--", sys.executable, "-c", "import sys; sys.exit(143)"],
                             capture_output=True, env=_env(), check=False)  # fmt: skip
    assert stopped.returncode == 143
    assert gittrack.list_runs()[0].info.status == "KILLED"


def test_sigkill_mid_run_keeps_checkpointed_metrics_and_shows_killed(repo: Path) -> None:
    script = textwrap.dedent(
        """
        import time
        import gittrack
        gittrack.start_run(experiment="crash")
        step = 0
        while True:
            gittrack.log_metric("loss", 1.0 / (step + 1), step=step)
            step += 1
            time.sleep(0.001)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=_env(GITTRACK_CHECKPOINT_INTERVAL="0.2"))
    try:

        def checkpointed() -> bool:
            if "crash" not in gittrack.Client().experiment_names():  # not written yet
                return False
            runs = gittrack.list_runs("crash")
            return bool(runs) and runs[0].details.metrics.get("loss") is not None

        _wait_for(checkpointed)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    [run] = gittrack.list_runs("crash")
    assert run.details.status == "RUNNING"  # as written: the process never got to say otherwise
    assert run.info.status == "KILLED"  # as shown: its process is gone
    history = gittrack.get_metric_history(run.info.run_id, "loss")
    assert len(history) == run.details.metrics["loss"].count > 0
    assert list(history["step"]) == list(range(len(history)))
    assert git(repo, "fsck", "--no-dangling") == ""


def test_a_run_killed_before_its_first_checkpoint_is_seen_killed_once_its_process_is_gone(repo: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import gittrack
        gittrack.start_run(experiment="early", run_name="early-death", params={"lr": 0.1})
        print("started", flush=True)
        sys.stdin.read()  # until the test kills it
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env())
    try:
        assert proc.stdout.readline() == b"started\n"
        assert "early" not in gittrack.Client().experiment_names()  # not written before its first checkpoint...
        assert len(list((repo / ".git" / "gittrack" / "starts").iterdir())) == 1  # ...and alive: left alone
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    [run] = gittrack.list_runs("early")
    assert (run.details.status, run.info.status, run.info.run_name) == ("RUNNING", "KILLED", "early-death")
    assert run.data.params == {"lr": "0.1"}
    assert run.info.end_time == run.info.start_time
    assert list((repo / ".git" / "gittrack" / "starts").iterdir()) == []
    assert git(repo, "fsck", "--no-dangling") == ""


def test_a_killed_run_ended_at_its_last_heartbeat_everywhere(repo: Path, gittrack_cmd: list[str]) -> None:
    import json

    from starlette.testclient import TestClient

    from gittrack._store.timefmt import ms_to_iso
    from gittrack.mlflow.tracking import MlflowClient
    from gittrack.ui.app import create_app

    script = textwrap.dedent(
        """
        import time
        import gittrack
        gittrack.start_run(experiment="crash", run_name="crashed")
        gittrack.log_metric("loss", 1.0, step=0)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=_env(GITTRACK_CHECKPOINT_INTERVAL="0.2"))
    try:
        _wait_for(lambda: "crash" in gittrack.Client().experiment_names()  # not written yet
                  and "loss" in gittrack.list_runs("crash")[0].details.metrics)  # fmt: skip
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run = gittrack.get_run("crashed")
    start, heartbeat = run.info.start_time, run.details.heartbeat
    assert run.details.end_time is None  # the process never wrote its end
    assert (run.info.status, run.info.end_time) == ("KILLED", heartbeat)
    time.sleep(1.2)  # later, the run has not lasted any longer
    [listed] = gittrack.list_runs("crash")
    assert listed.info.end_time == heartbeat
    frame = gittrack.search_runs("crash")
    assert frame["end_time"][0].value // 1_000_000 == heartbeat
    assert frame["duration"][0].value // 1_000_000 == heartbeat - start
    assert len(gittrack.search_runs("crash", filter_string=f"end_time = {heartbeat}")) == 1
    assert len(gittrack.search_runs("crash", filter_string="end_time > 0", order_by="end_time DESC")) == 1
    shown = subprocess.run([*gittrack_cmd, "runs", "list", "-e", "crash", "--json"], capture_output=True, text=True)
    assert json.loads(shown.stdout)[0]["end_time"] == ms_to_iso(heartbeat)
    columns = subprocess.run([*gittrack_cmd, "runs", "list", "-e", "crash", "--json", "-c", "duration"],
                             capture_output=True, text=True)  # fmt: skip
    assert json.loads(columns.stdout)[0]["duration"] == (heartbeat - start) / 1000
    details = subprocess.run([*gittrack_cmd, "runs", "show", "crashed"], capture_output=True, text=True).stdout
    assert f"took {(heartbeat - start) / 1000:.1f}s" in details
    assert MlflowClient().get_run(run.info.run_id).info.end_time == heartbeat
    with TestClient(create_app(repo), base_url="http://127.0.0.1:5151") as http:
        [row] = http.get("/api/runs", params={"experiment": "crash"}).json()["runs"]
    assert (row["status"], row["end_time"], row["duration"]) == ("KILLED", heartbeat, heartbeat - start)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_end_an_api_run_as_killed_with_a_final_checkpoint(repo: Path, signum: int) -> None:
    script = textwrap.dedent(
        """
        import time
        import gittrack
        with gittrack.start_run(experiment="sig"):
            gittrack.log_metric("m", 1.0)
            print("ready", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
                            preexec_fn=_default_sigint)  # fmt: skip
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signum)
    proc.wait(timeout=120)
    [run] = gittrack.list_runs("sig")
    assert run.details.status == "KILLED"
    assert run.data.metrics == {"m": 1.0}


def test_sigint_to_gittrack_run_kills_the_command_and_the_run(repo: Path, gittrack_cmd: list[str]) -> None:
    proc = subprocess.Popen(
        [
            *gittrack_cmd,
            "run",
            "-e",
            "int",
            "--",
            sys.executable,
            "-c",
            "import time; print('up', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        preexec_fn=_default_sigint,
    )
    assert proc.stdout.readline() == b"up\n"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    [run] = gittrack.list_runs("int")
    assert run.details.status == "KILLED"


def test_eight_processes_recording_concurrently(repo: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import gittrack
        for i in range(25):
            with gittrack.start_run(experiment="load", params={"worker": sys.argv[1], "i": i}):
                gittrack.log_metric("score", i)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(w)], env=_env()) for w in range(8)]
    assert [p.wait(timeout=300) for p in procs] == [0] * 8
    runs = gittrack.list_runs("load")
    assert len(runs) == 200
    assert len({r.info.run_id for r in runs}) == 200
    assert {(r.data.params["worker"], r.data.params["i"]) for r in runs} == {
        (str(w), str(i)) for w in range(8) for i in range(25)
    }
    assert all(r.info.status == "FINISHED" for r in runs)
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=repo, capture_output=True, text=True, check=False)
    assert fsck.returncode == 0, fsck.stderr
    assert "error" not in fsck.stderr.lower()


def test_import_stays_light() -> None:
    heavy = "('pygit2', 'pandas', 'dvc', 'yaml', 'numpy', 'click')"
    code = f"import sys, gittrack; print(','.join(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_python_dash_m_runs_the_cli(repo: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "gittrack", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"gittrack, version {gittrack.__version__}"


def test_uncaught_exception_without_with_ends_the_run_as_failed(repo: Path) -> None:
    script = (
        "import gittrack\ngittrack.start_run(experiment='exc')\ngittrack.log_metric('a', 1)\nraise RuntimeError('boom')"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(), check=False)
    assert proc.returncode == 1
    [run] = gittrack.list_runs("exc")
    assert run.info.status == "FAILED"
    assert run.details.error["message"] == "boom"
    assert run.data.metrics == {"a": 1.0}


def test_searches_run_safely_beside_concurrent_writers(repo: Path) -> None:
    writer = textwrap.dedent(
        """
        import gittrack
        for i in range(15):
            with gittrack.start_run(experiment="busy"):
                gittrack.log_metric("m", i)
        """
    )
    reader = textwrap.dedent(
        """
        import gittrack
        for _ in range(15):
            frame = gittrack.search_runs(filter_string="metrics.m >= 0")
            assert frame["status"].isin(["RUNNING", "FINISHED"]).all()
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", writer], env=_env()) for _ in range(2)]
    procs += [subprocess.Popen([sys.executable, "-c", reader], env=_env()) for _ in range(3)]
    assert [p.wait(timeout=300) for p in procs] == [0] * 5
    assert len(gittrack.search_runs(experiment_names="busy", filter_string="metrics.m >= 0")) == 30
