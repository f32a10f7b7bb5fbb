"""Recording runs through the Python API, in real repositories."""

from __future__ import annotations

import logging
import math
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import pygit2
import pytest

import gittrack
from gittrack._store.ids import short_id
from gittrack._store.record import FAILED, FINISHED, KILLED, RUNNING
from tests.conftest import git


def _run_commit(run: gittrack.Run, root: Path) -> pygit2.Commit:
    repo = pygit2.Repository(str(root))
    return repo[repo.references[run.info.ref].target]


def test_every_recorded_field_round_trips(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    before = time.time_ns() // 1_000_000  # the same clock and rounding as the recorded times
    with gittrack.start_run(experiment="taxi", run_name="first", tags={"team": "ml"}) as active:
        gittrack.log_params({"lr": 0.01, "epochs": 5, "model": "rf", "use_gpu": False, "layers": [1, 2]})
        for step in range(3):
            gittrack.log_metric("rmse", 1.0 / (step + 1))
        gittrack.log_metrics({"mae": 0.5, "r2": 0.9}, step=7)
        gittrack.set_tags({"owner": "ada"})
    run = gittrack.get_run(active.run_id)
    info, record = run.info, run.details
    assert (info.run_name, info.experiment, info.status) == ("first", "taxi", FINISHED)
    assert before <= info.start_time <= info.end_time <= time.time() * 1000
    assert info.user == "Ada Tester"
    assert info.user_email == "ada@example.com"
    assert info.source_commit == head
    assert info.source_branch == "main"
    assert info.dirty is False
    assert info.host == socket.gethostname()
    assert record.pid == os.getpid()
    assert run.data.params == {"lr": "0.01", "epochs": "5", "model": "rf", "use_gpu": "False", "layers": "[1, 2]"}
    assert record.param_types == {"lr": "float", "epochs": "int", "model": "str", "use_gpu": "bool", "layers": "list"}
    assert run.data.metrics == {"rmse": pytest.approx(1 / 3), "mae": 0.5, "r2": 0.9}
    assert record.metrics["rmse"].step == 2
    assert record.metrics["mae"].step == 7
    assert run.data.tags == {"team": "ml", "owner": "ada"}
    assert record.environment["python"] == platform.python_version()
    assert record.environment["gittrack"] == gittrack.__version__
    assert record.command["launcher"] == "python"
    history = gittrack.get_metric_history(info.run_id, "rmse")
    assert list(history.columns) == ["step", "timestamp", "value"]
    assert list(history["value"]) == pytest.approx([1, 0.5, 1 / 3])
    assert list(history["step"]) == [0, 1, 2]
    assert str(history["timestamp"].dt.tz) == "UTC"
    requirements = gittrack.Client().get_requirements(info.run_id)
    assert "pygit2==" in requirements.lower()


def test_commit_shape_follows_the_format(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    with gittrack.start_run(experiment="Taxi Duration", run_name="brave-owl-1") as active:
        gittrack.log_metric("rmse", 5.4123)
    run = gittrack.get_run(active.run_id)
    assert run.info.ref == f"refs/runs/%54axi%20%44uration/{active.run_id}"
    commit = _run_commit(run, repo)
    assert [str(p) for p in commit.parent_ids] == [head]
    assert commit.message.splitlines()[0] == f"run brave-owl-1 {active.run_id[:12]} [FINISHED] rmse=5.4123"
    assert f"Gittrack-Run: {active.run_id}" in commit.message
    assert "Gittrack-Experiment: Taxi Duration" in commit.message
    assert commit.author.time == run.info.start_time // 1000
    assert commit.author.email == "ada@example.com"
    names = set(git(repo, "ls-tree", "-r", "--name-only", run.info.ref).split())
    assert {"train.py", "README.md", ".gitignore", ".gittrack/run/run.yaml"} <= names
    assert ".gittrack/run/metrics/rmse.tsv" in names
    assert ".gittrack/run/env/requirements.txt" in names
    tsv = git(repo, "show", f"{run.info.ref}:.gittrack/run/metrics/rmse.tsv").splitlines()
    assert tsv[0] == "step\ttimestamp_ms\tvalue"
    assert tsv[1].split("\t")[0] == "0"
    assert tsv[1].split("\t")[2] == "5.4123"


def test_recording_leaves_index_head_and_worktree_untouched(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed and staged')\n")
    git(repo, "add", "train.py")
    (repo / "README.md").write_text("# unstaged edit\n")
    (repo / "notes.txt").write_text("untracked\n")
    (repo / "debug.log").write_text("ignored\n")
    status_before = git(repo, "status", "--porcelain=v2", "--branch", "--untracked-files=all", "--ignored")
    index_before = (repo / ".git" / "index").read_bytes()
    head_before = (repo / ".git" / "HEAD").read_text()
    with gittrack.start_run():
        gittrack.log_metric("x", 1)
    assert git(repo, "status", "--porcelain=v2", "--branch", "--untracked-files=all", "--ignored") == status_before
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert (repo / ".git" / "HEAD").read_text() == head_before


def test_snapshot_holds_the_workspace_as_it_was(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    (repo / "train.py").write_text("print('dirty edit')\n")
    (repo / "README.md").unlink()
    (repo / "src").mkdir()
    (repo / "src" / "model.py").write_text("MODEL = 1\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "debug.log").write_text("ignored by .gitignore\n")
    (repo / ".env").write_text("API_KEY=secret\n")
    (repo / "id_rsa").write_text("key\n")
    (repo / "big.bin").write_bytes(b"0" * 2048)
    os.environ["GITTRACK_MAX_FILE_SIZE"] = "1k"
    try:
        with caplog.at_level(logging.WARNING, logger="gittrack"), gittrack.start_run() as active:
            pass
    finally:
        del os.environ["GITTRACK_MAX_FILE_SIZE"]
    run = gittrack.get_run(active.run_id)
    ref = run.info.ref
    files = set(git(repo, "ls-tree", "-r", "--name-only", ref).split())
    assert "src/model.py" in files
    assert "README.md" not in files
    assert {"debug.log", ".env", "id_rsa", "big.bin"}.isdisjoint(files)
    assert git(repo, "show", f"{ref}:train.py") == "print('dirty edit')\n"
    assert "100755 blob" in git(repo, "ls-tree", ref, "run.sh")
    assert run.info.dirty is True
    assert run.details.source["diffstat"]["files"] == 4
    reasons = {e["path"]: e["reason"] for e in run.details.snapshot["excluded"]}
    assert "secret" in reasons[".env"]
    assert "secret" in reasons["id_rsa"]
    assert "dvc add big.bin" in reasons["big.bin"]
    assert "left '.env' out of the run snapshot" in caplog.text


def test_checking_out_a_run_gives_back_exactly_what_ran(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('version that ran')\n")
    (repo / "extra.py").write_text("X = 1\n")
    with gittrack.start_run() as active:
        gittrack.log_param("p", 1)
    (repo / "train.py").write_text("print('later edit')\n")
    ref = gittrack.get_run(active.run_id).info.ref
    checkout = tmp_path / "checkout"
    git(repo, "worktree", "add", "-q", "--detach", str(checkout), ref)
    assert (checkout / "train.py").read_text() == "print('version that ran')\n"
    assert (checkout / "extra.py").read_text() == "X = 1\n"
    assert (checkout / ".gittrack" / "run" / "run.yaml").exists()
    # a run started from that checkout writes its own .gittrack/run, not the old one
    with gittrack.start_run(repo=checkout) as second:
        pass
    second_run = gittrack.Client(checkout).get_run(second.run_id)
    assert second_run.info.dirty is False
    assert second_run.data.params == {}


def test_unborn_repository_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")
    (root / "train.py").write_text("print(1)\n")
    monkeypatch.chdir(root)
    with gittrack.start_run() as active:
        gittrack.log_metric("m", 1.0)
    run = gittrack.get_run(active.run_id)
    assert run.info.source_commit is None
    assert run.info.source_branch == "main"
    assert _run_commit(run, root).parents == []
    assert "train.py" in git(root, "ls-tree", "-r", "--name-only", run.info.ref)


def test_outside_a_repository_the_error_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "nogit"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(gittrack.NotARepositoryError, match="git init"):
        gittrack.start_run()


def test_unicode_names_and_values(repo: Path) -> None:
    with gittrack.start_run(experiment="实验 🚀/Ω", run_name="ünïcødé") as active:
        gittrack.log_param("模型", "随机森林")
        gittrack.log_metric("损失", 0.25)
        gittrack.set_tag("ノート", "😀")
    run = gittrack.get_run(active.run_id)
    assert run.info.experiment == "实验 🚀/Ω"
    assert run.info.run_name == "ünïcødé"
    assert run.data.params == {"模型": "随机森林"}
    assert run.data.metrics == {"损失": 0.25}
    assert run.data.tags == {"ノート": "😀"}
    assert [r.info.run_id for r in gittrack.list_runs("实验 🚀/Ω")] == [active.run_id]
    assert gittrack.get_run("ünïcødé").info.run_id == active.run_id


def test_nan_and_infinities_are_kept(repo: Path) -> None:
    with gittrack.start_run() as active:
        gittrack.log_metric("nan", float("nan"))
        gittrack.log_metric("pinf", float("inf"))
        gittrack.log_metric("ninf", float("-inf"))
        gittrack.log_metric("big", 1e308)
    run = gittrack.get_run(active.run_id)
    assert math.isnan(run.data.metrics["nan"])
    assert run.data.metrics["pinf"] == math.inf
    assert run.data.metrics["ninf"] == -math.inf
    assert run.data.metrics["big"] == 1e308
    assert math.isnan(gittrack.get_metric_history(active.run_id, "nan")["value"][0])
    arrays = gittrack.Client().get_metric_arrays(active.run_id, "ninf")
    assert arrays.value.tolist() == [-math.inf]
    assert arrays.value.dtype.name == "float64"


def test_long_history_is_written_in_segments(repo: Path) -> None:
    client = gittrack.Client()
    run_id = client.create_run().info.run_id
    for i in range(6000):
        client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i)
    client.flush(run_id)
    ref = client.get_run(run_id).info.ref
    first_segment = git(repo, "rev-parse", f"{ref}:.gittrack/run/metrics/loss.segments/00000001.tsv")
    for i in range(6000, 10_000):
        client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i)
    client.set_terminated(run_id)
    # the sealed segment was not rewritten by the later checkpoint: cost grows with new points only
    assert git(repo, "rev-parse", f"{ref}:.gittrack/run/metrics/loss.segments/00000001.tsv") == first_segment
    history = client.get_metric_history(run_id, "loss")
    assert [p.step for p in history] == list(range(10_000))
    assert history[-1].value == pytest.approx(1 / 10_000)
    assert client.get_run(run_id).details.metrics["loss"].count == 10_000
    arrays = client.get_metric_arrays(run_id, "loss")  # the same points as numpy columns
    assert arrays.step.tolist() == [p.step for p in history]
    assert arrays.timestamp.tolist() == [p.timestamp for p in history]
    assert arrays.value.tolist() == [p.value for p in history]
    assert len(client.get_metric_arrays(run_id, "never-logged").value) == 0


def test_steps_auto_increment_per_key(repo: Path) -> None:
    with gittrack.start_run() as active:
        gittrack.log_metric("a", 1)
        gittrack.log_metric("a", 2)
        gittrack.log_metric("b", 1, step=10)
        gittrack.log_metric("b", 2)
        gittrack.log_metric("a", 3)
    history = {k: list(gittrack.get_metric_history(active.run_id, k)["step"]) for k in ("a", "b")}
    assert history == {"a": [0, 1, 2], "b": [10, 11]}


def test_latest_metric_is_the_max_by_step_then_timestamp(repo: Path) -> None:
    with gittrack.start_run() as active:
        gittrack.log_metric("m", 5.0, step=10, timestamp=1000)
        gittrack.log_metric("m", 7.0, step=3, timestamp=2000)
        gittrack.log_metric("m", 6.0, step=10, timestamp=999)
    assert gittrack.get_run(active.run_id).data.metrics["m"] == 5.0


def test_nested_runs_record_their_parent(repo: Path) -> None:
    with gittrack.start_run(experiment="hpo") as parent:
        with gittrack.start_run(nested=True) as child:
            gittrack.log_metric("score", 1)
        assert gittrack.active_run() is parent
    child_run = gittrack.get_run(child.run_id)
    assert child_run.info.parent_run_id == parent.run_id
    assert child_run.info.experiment == "hpo"
    gittrack.start_run()
    with pytest.raises(gittrack.UsageError, match="already active"):
        gittrack.start_run()
    gittrack.end_run()


def test_exception_ends_the_run_as_failed(repo: Path) -> None:
    def train() -> str:
        with gittrack.start_run() as active:
            gittrack.log_metric("loss", 1.0)
            raise ValueError(f"loss diverged in {active.run_id}")

    with pytest.raises(ValueError, match="diverged") as caught:
        train()
    run_id = str(caught.value).rsplit(" ", 1)[-1]
    run = gittrack.get_run(run_id)
    assert run.info.status == FAILED
    assert run.details.error["type"] == "ValueError"
    assert run.details.error["message"] == f"loss diverged in {run_id}"
    assert "Traceback" in run.details.error["traceback"]
    assert run.data.metrics == {"loss": 1.0}


def test_keyboard_interrupt_ends_the_run_as_killed(repo: Path) -> None:
    def train() -> None:
        with gittrack.start_run():
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train()
    [run] = gittrack.list_runs()
    assert run.info.status == KILLED


def test_end_run_without_with(repo: Path) -> None:
    active = gittrack.start_run(params={"a": 1})
    gittrack.log_metric("m", 2)
    gittrack.end_run(status="KILLED")
    assert gittrack.active_run() is None
    assert gittrack.get_run(active.run_id).info.status == KILLED


def test_reset_state_ends_open_runs_as_killed_and_forgets_the_rest(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import gittrack.mlflow as mlflow

    gittrack.set_experiment("tuning")
    mlflow.set_tracking_uri(str(repo))
    outer = gittrack.start_run()
    gittrack.log_metric("loss", 0.5)
    inner = gittrack.start_run(nested=True)
    with caplog.at_level(logging.WARNING, logger="gittrack"):
        ended = gittrack.reset_state()
    assert ended == [inner.run_id, outer.run_id]  # innermost first
    for active in (outer, inner):
        assert gittrack.get_run(active.run_id).info.status == KILLED
        assert f"reset_state ended run {short_id(active.run_id)} as KILLED" in caplog.text
    assert gittrack.get_run(outer.run_id).data.metrics == {"loss": 0.5}
    assert gittrack.active_run() is None
    assert not mlflow.is_tracking_uri_set()
    with gittrack.start_run() as fresh:
        pass
    assert gittrack.get_run(fresh.run_id).info.experiment == "default"
    assert gittrack.reset_state() == []


def test_logging_without_a_run_starts_one(repo: Path) -> None:
    gittrack.log_metric("auto", 1.0)
    active = gittrack.active_run()
    assert active is not None
    gittrack.end_run()
    assert gittrack.get_run(active.run_id).data.metrics == {"auto": 1.0}


def test_set_experiment_and_environment_default(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITTRACK_EXPERIMENT", "from-env")
    with gittrack.start_run() as a:
        pass
    gittrack.set_experiment("chosen")
    with gittrack.start_run() as b:
        pass
    assert gittrack.get_run(a.run_id).info.experiment == "from-env"
    assert gittrack.get_run(b.run_id).info.experiment == "chosen"


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (lambda: gittrack.log_metric("bad*key", 1.0), gittrack.InvalidNameError, "bad\\*key"),
        (lambda: gittrack.log_metric("m", "abc"), gittrack.InvalidValueError, "real numbers"),
        (lambda: gittrack.log_metric("m", None), gittrack.InvalidValueError, "real numbers"),
        (lambda: gittrack.log_metric("m", 10**400), gittrack.InvalidValueError, "real numbers"),
        (lambda: gittrack.log_metric("m", 1.0, step=1.5), gittrack.InvalidValueError, "step"),
        (lambda: gittrack.log_param("x" * 251, 1), gittrack.InvalidNameError, "250"),
        (lambda: gittrack.log_param("p", "v" * 6001), gittrack.InvalidValueError, "6000"),
        (lambda: gittrack.set_tag("t", "a\x00b"), gittrack.InvalidValueError, "NUL character"),
        (lambda: gittrack.set_tag("", "v"), gittrack.InvalidNameError, "non-empty"),
        (lambda: gittrack.log_params(["not", "a", "dict"]), gittrack.InvalidValueError, "mapping"),
    ],
)
def test_bad_input_gets_a_clear_error(repo: Path, action, error, message) -> None:
    with gittrack.start_run() as active:
        gittrack.log_metric("ok", 1.0)
        with pytest.raises(error, match=message):
            action()
    assert gittrack.get_run(active.run_id).data.metrics == {"ok": 1.0}


def test_params_cannot_change(repo: Path) -> None:
    with gittrack.start_run() as active:
        gittrack.log_param("lr", 0.1)
        gittrack.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(gittrack.InvalidValueError, match="params cannot change"):
            gittrack.log_param("lr", 0.2)
    assert gittrack.get_run(active.run_id).data.params == {"lr": "0.1"}


def test_params_compare_by_value_and_type(repo: Path) -> None:
    with gittrack.start_run(params={"alpha": 5, "lr": "0.10", "gpu": "true", "model": "rf"}) as active:
        gittrack.log_params({"alpha": 5.0, "lr": 0.1, "gpu": True, "model": "rf"})  # the same values
        with pytest.raises(
            gittrack.InvalidValueError, match=r"param 'alpha' is already '5' \(int\) in run \w+, not '6'"
        ):
            gittrack.log_param("alpha", 6)
        with pytest.raises(gittrack.InvalidValueError, match=r"already 'rf' \(str\) in run \w+, not 'RF' \(str\)"):
            gittrack.log_param("model", "RF")
    run = gittrack.get_run(active.run_id)
    assert run.data.params == {"alpha": "5", "lr": "0.10", "gpu": "true", "model": "rf"}  # the first ones
    assert run.details.param_types == {"alpha": "int", "lr": "str", "gpu": "str", "model": "str"}


def test_invalid_experiment_name_is_refused(repo: Path) -> None:
    with pytest.raises(gittrack.InvalidNameError, match="control characters"):
        gittrack.start_run(experiment="bad\nname")
    assert gittrack.list_runs() == []


def test_runs_resolve_by_id_prefix_and_name(repo: Path) -> None:
    client = gittrack.Client()
    ids = []
    for name in ("alpha", "beta", "beta"):
        run_id = client.create_run(run_name=name).info.run_id
        client.set_terminated(run_id)
        ids.append(run_id)
    assert client.get_run(ids[0]).info.run_name == "alpha"
    assert client.get_run(ids[0][:20]).info.run_id == ids[0]
    assert client.get_run("alpha").info.run_id == ids[0]
    with pytest.raises(gittrack.AmbiguousRunError, match="matches 2 runs"):
        client.get_run("beta")
    with pytest.raises(gittrack.AmbiguousRunError, match="give more characters"):
        client.get_run(ids[0][:2])
    with pytest.raises(gittrack.NotFoundError, match="no run matches 'nope'"):
        client.get_run("nope")


def test_ended_runs_are_immutable(repo: Path) -> None:
    client = gittrack.Client()
    run_id = client.create_run().info.run_id
    client.set_terminated(run_id)
    with pytest.raises(gittrack.ImmutableRunError, match="FINISHED"):
        client.log_metric(run_id, "late", 1.0)
    with pytest.raises(gittrack.ImmutableRunError):
        gittrack.Client().set_terminated(run_id)


def test_malformed_runs_are_skipped_and_reported(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    with gittrack.start_run() as good:
        gittrack.log_metric("m", 1)
    raw = pygit2.Repository(str(repo))
    head = raw.head.target
    sig = pygit2.Signature("x", "x@example.com")

    def commit_with(files: dict[str, bytes]) -> pygit2.Oid:
        from gittrack._store.trees import apply_changes

        changes = {path: (raw.create_blob(data), pygit2.GIT_FILEMODE_BLOB) for path, data in files.items()}
        tree = apply_changes(raw, None, changes)
        return raw.create_commit(None, sig, sig, "hostile", tree, [])

    raw.references.create("refs/runs/default/01aaaaaaaaaaaaaaaaaaaaaaaa", head)  # no .gittrack/run
    raw.references.create(
        "refs/runs/default/01bbbbbbbbbbbbbbbbbbbbbbbb",
        commit_with({".gittrack/run/run.yaml": b"!!python/object/apply:os.system ['touch pwned']\n"}),
    )
    raw.references.create(
        "refs/runs/default/01cccccccccccccccccccccccc", commit_with({".gittrack/run/run.yaml": b"{unclosed"})
    )
    raw.references.create("refs/runs/Bad/01dddddddddddddddddddddddd", head)  # not canonical
    raw.references.create("refs/runs/default/not-a-run-id", head)
    with caplog.at_level(logging.WARNING, logger="gittrack"):
        runs = gittrack.list_runs()
    assert [r.info.run_id for r in runs] == [good.run_id]
    assert caplog.text.count("skipped") == 5
    assert not (repo / "pwned").exists()
    with pytest.raises(gittrack.MalformedRunError, match=r"no \.gittrack/run"):
        gittrack.get_run("01aaaaaaaaaaaaaaaaaaaaaaaa")


def test_delete_and_restore(repo: Path) -> None:
    client = gittrack.Client()
    run_id = client.create_run().info.run_id
    client.set_terminated(run_id)
    [(_, moved)] = client.delete_runs([run_id])
    assert moved.startswith("refs/runs-deleted/")
    assert client.list_runs() == []
    for spec in (run_id, run_id[:10], f"refs/runs/default/{run_id}", moved):
        with pytest.raises(gittrack.NotFoundError) as caught:
            client.get_run(spec)
        assert str(caught.value) == (
            f"run '{spec}' is deleted ({moved}); bring it back with 'gittrack runs restore {run_id[:12]}'"
        )
    with pytest.raises(
        gittrack.NotFoundError, match="no deleted run matches 'zzz'; see 'gittrack runs list --deleted'"
    ):
        client.restore_run("zzz")
    restored = client.restore_run(run_id[:10])
    assert restored.info.run_id == run_id
    assert [r.info.run_id for r in client.list_runs()] == [run_id]
    with pytest.raises(gittrack.NotFoundError) as caught:
        client.restore_run(run_id)
    assert str(caught.value) == (
        f"run '{run_id}' is not deleted: it is refs/runs/default/{run_id}; there is nothing to restore"
    )


def test_heartbeat_checkpoints_an_idle_run(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITTRACK_CHECKPOINT_INTERVAL", "0.1")
    with gittrack.start_run() as active:
        gittrack.log_metric("m", 1.0)
        first = gittrack.Client().get_run(active.run_id).details.heartbeat
        deadline = time.time() + 5
        while time.time() < deadline:
            stored = gittrack.Client().get_run(active.run_id)
            if stored.details.heartbeat > first and stored.data.metrics:
                break
            time.sleep(0.05)
        assert stored.info.status == RUNNING
        assert stored.data.metrics == {"m": 1.0}
        assert stored.details.heartbeat > first


def test_a_short_run_is_written_once_at_its_end_and_this_process_sees_it_before(repo: Path) -> None:
    from gittrack._store.starts import load_start_records

    with gittrack.start_run(experiment="short", params={"lr": 0.1}) as active:
        assert git(repo, "for-each-ref", "refs/runs/") == ""  # no commit before the first checkpoint...
        [starts] = (repo / ".git" / "gittrack" / "starts").iterdir()
        [start] = load_start_records(starts.read_bytes())  # ...but a start record in this process's file
        assert (start[1].id, start[1].params) == (active.run_id, {"lr": "0.1"})
        assert (active.info.status, active.data.params) == (RUNNING, {"lr": "0.1"})  # as it started
        seen = gittrack.Client().get_run(active.run_id)  # this process's readers write it when they look
        assert (seen.info.status, seen.data.params) == (RUNNING, {"lr": "0.1"})
        gittrack.log_metric("m", 1.0)
    assert load_start_records(starts.read_bytes()) == []
    run = gittrack.get_run(active.run_id)
    assert (run.info.status, run.data.metrics, run.data.params) == (FINISHED, {"m": 1.0}, {"lr": "0.1"})
    with gittrack.start_run(experiment="short") as untouched:
        gittrack.log_metric("m", 2.0)
    assert git(repo, "rev-list", "--count", f"refs/runs/short/{untouched.run_id}") == "2\n"  # the run, then HEAD


def test_a_start_record_of_a_run_whose_process_is_gone_is_written_as_killed(repo: Path) -> None:
    from gittrack._store.ids import new_run_id
    from gittrack._store.starts import dump_start_records, load_start_records

    folder = repo / ".git" / "gittrack" / "starts"
    with gittrack.start_run(experiment="crashed", run_name="early", params={"lr": 0.1}):
        [mine] = folder.iterdir()
        [(ref, record, tree, run_tree, parents, author)] = load_start_records(mine.read_bytes())
        gittrack.end_run()
    gone_pid = 2**22 + 12345
    gone = type(record)(**{**record.__dict__, "id": new_run_id(record.start_time), "pid": gone_pid})
    start = (ref.replace(record.id, gone.id), gone, tree, run_tree, parents, author)
    (folder / f"{gone_pid}-0a1b2c3d.json").write_bytes(dump_start_records([start]))
    [run] = [r for r in gittrack.list_runs("crashed") if r.info.run_id == gone.id]
    assert (run.details.status, run.info.status, run.info.run_name) == (RUNNING, KILLED, "early")
    assert run.info.end_time == run.info.start_time == record.start_time
    assert run.data.params == {"lr": "0.1"}
    assert list(folder.iterdir()) == [mine]  # the file of the process gone is, this process's stays


def test_stale_or_orphaned_running_runs_show_as_killed(repo: Path) -> None:
    from gittrack._store.liveness import effective_status

    client = gittrack.Client()
    run = client.create_run()
    record = client.repository.runs.get(run.info.run_id).record
    assert effective_status(record) == RUNNING
    assert effective_status(record, now=record.heartbeat + 10 * 60_000) == KILLED
    proc = subprocess.run(["true"], check=True)
    assert proc.returncode == 0
    gone = type(record)(**{**record.__dict__, "pid": 2**22 + 12345})
    assert effective_status(gone) == KILLED
    assert effective_status(gone, host="another-host") == RUNNING
    client.set_terminated(run.info.run_id)


def test_concurrent_writers_of_one_run_merge(repo: Path) -> None:
    owner = gittrack.Client()
    run_id = owner.create_run().info.run_id
    helper = gittrack.Client()
    helper.log_metric(run_id, "from_helper", 1.0)
    helper.log_param(run_id, "helper_param", "x")
    owner.log_metric(run_id, "from_owner", 2.0)
    helper.flush(run_id)
    owner.flush(run_id)
    helper.log_metric(run_id, "from_helper", 3.0)
    helper.detach(run_id)
    owner.set_terminated(run_id)
    run = owner.get_run(run_id)
    assert run.data.metrics == {"from_helper": 3.0, "from_owner": 2.0}
    assert run.data.params == {"helper_param": "x"}
    assert [p.value for p in owner.get_metric_history(run_id, "from_helper")] == [1.0, 3.0]
    assert run.info.status == FINISHED


def test_a_foreign_update_is_reported_never_clobbered(repo: Path) -> None:
    client = gittrack.Client()
    victim = client.create_run().info.run_id
    other = client.create_run().info.run_id
    client.set_terminated(other)
    raw = pygit2.Repository(str(repo))
    victim_ref = client.get_run(victim).info.ref
    foreign = raw.references[client.get_run(other).info.ref].target
    raw.references[victim_ref].set_target(foreign)
    client.log_metric(victim, "m", 1.0)
    with pytest.raises(gittrack.ConflictError, match="now holds run"):
        client.flush(victim)
    assert raw.references[victim_ref].target == foreign
    raw.references.delete(victim_ref)
    with pytest.raises(gittrack.ConflictError, match="deleted"):
        client.flush(victim)
    assert raw.references.get(victim_ref) is None


def test_oversized_run_files_are_refused_not_read(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    from gittrack._store.trees import apply_changes

    with gittrack.start_run() as good:
        pass
    raw = pygit2.Repository(str(repo))
    sig = pygit2.Signature("x", "x@example.com")
    huge = raw.create_blob(b"{" + b" " * (17 * 1024 * 1024) + b"}")
    tree = apply_changes(raw, None, {".gittrack/run/summary.json": (huge, pygit2.GIT_FILEMODE_BLOB),
                                     ".gittrack/run/run.yaml": (huge, pygit2.GIT_FILEMODE_BLOB)})  # fmt: skip
    commit = raw.create_commit(None, sig, sig, "hostile", tree, [])
    raw.references.create("refs/runs/default/01eeeeeeeeeeeeeeeeeeeeeeee", commit)
    with caplog.at_level(logging.WARNING, logger="gittrack"):
        found = gittrack.search_runs()
    assert list(found["run_id"]) == [good.run_id]
    assert "byte limit" in caplog.text
    with pytest.raises(gittrack.MalformedRunError, match="byte limit"):
        gittrack.get_run("01eeeeeeeeeeeeeeeeeeeeeeee")


def test_a_run_reads_back_after_its_block(repo: Path) -> None:
    with gittrack.start_run(experiment="taxi", params={"lr": 0.1}) as run:
        gittrack.log_metric("rmse", 0.5)
        assert run.info.status == RUNNING
    assert run.info.status == FINISHED
    assert run.info.end_time is not None
    assert run.data.params == {"lr": "0.1"}
    assert run.data.metrics == {"rmse": 0.5}
    assert run.to_run().info.run_id == run.run_id
    with pytest.raises(ValueError, match="diverged"), gittrack.start_run() as failed:
        raise ValueError("diverged")
    assert failed.info.status == FAILED
    manual = gittrack.start_run()
    gittrack.end_run("KILLED")
    assert manual.info.status == KILLED


def test_end_run_with_a_bad_status_leaves_the_run_active(repo: Path) -> None:
    active = gittrack.start_run()
    with pytest.raises(gittrack.InvalidValueError, match="'DONE' is not one of FAILED, FINISHED, KILLED"):
        gittrack.end_run("DONE")
    assert gittrack.active_run() is active
    assert gittrack.get_run(active.run_id).info.status == RUNNING
    gittrack.log_metric("after", 1.0)
    gittrack.end_run("FAILED")
    assert gittrack.active_run() is None
    assert gittrack.get_run(active.run_id).info.status == FAILED
    assert gittrack.get_run(active.run_id).data.metrics == {"after": 1.0}


@pytest.mark.parametrize(
    "value",
    [10**400, 10**5000, -(10**400), "x" * 10_000, list(range(5000))],
    ids=["e400", "e5000", "-e400", "str", "list"],
)
def test_a_huge_bad_value_is_cut_in_the_error(repo: Path, value) -> None:
    with gittrack.start_run():
        with pytest.raises(gittrack.InvalidValueError, match="real numbers") as raised:
            gittrack.log_metric("m", value)
        with pytest.raises(gittrack.InvalidValueError, match="step must be an integer") as stepped:
            gittrack.log_metric("m", 1.0, step=value if not isinstance(value, int) else 0.5)
    for message in (str(raised.value), str(stepped.value)):
        assert len(message) < 200, message
        assert "\n" not in message
    if isinstance(value, int):
        assert "digits" in str(raised.value)


def test_a_script_logging_a_huge_metric_fails_with_a_short_error(repo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gittrack", "run", "--", sys.executable, "-c",
         "import gittrack; gittrack.log_metric('m', 10**400)"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "about 401 digits" in result.stderr
    assert "0" * 50 not in result.stderr


def test_run_record_to_dict_is_the_run_yaml_document(repo: Path) -> None:
    import yaml

    with gittrack.start_run(params={"lr": 0.1}, tags={"team": "ml"}) as active:
        gittrack.log_metric("rmse", 0.5, step=3)
    run = gittrack.get_run(active.run_id)
    doc = run.details.document()
    assert doc == yaml.safe_load(git(repo, "show", f"{run.info.commit}:.gittrack/run/run.yaml"))
    assert doc["params"] == {"lr": "0.1"}
    assert doc["metrics"]["rmse"] == {"value": 0.5, "step": 3, "timestamp": doc["metrics"]["rmse"]["timestamp"],
                                      "count": 1, "min": 0.5, "max": 0.5}  # fmt: skip
    assert doc["start_time"].endswith("Z")
    doc["params"]["lr"] = "changed"
    assert run.details.document()["params"] == {"lr": "0.1"}  # a copy: changing it changes nothing


def test_start_run_resumes_a_running_run_and_takes_a_parent(repo: Path) -> None:
    client = gittrack._fluent.shared_client()
    created = client.create_run(experiment="resume")
    with gittrack.start_run(run_id=created.info.run_id) as active:
        gittrack.log_metric("m", 1.0)
        gittrack.set_tag("drop", "me")
        client.delete_tag(active.run_id, "drop")
    run = gittrack.get_run(created.info.run_id)
    assert (run.info.status, run.data.metrics, run.data.tags) == ("FINISHED", {"m": 1.0}, {})
    with gittrack.start_run(run_id=created.info.run_id) as reopened:  # ended: its tags and name only
        gittrack.set_tag("reviewed", "yes")
        assert reopened.info.status == "FINISHED"
        with pytest.raises(gittrack.ImmutableRunError, match="has already ended"):
            gittrack.log_metric("m", 2.0)
    run = gittrack.get_run(created.info.run_id)
    assert (run.info.status, run.data.metrics, run.data.tags) == ("FINISHED", {"m": 1.0}, {"reviewed": "yes"})
    with pytest.raises(gittrack.ImmutableRunError, match="params cannot change"):
        gittrack.start_run(run_id=created.info.run_id, params={"p": 1})
    with gittrack.start_run(parent_run_id=created.info.run_id) as child:
        pass
    assert gittrack.get_run(child.run_id).info.parent_run_id == created.info.run_id


def test_a_recorded_run_is_written_whole_with_its_own_times(repo: Path) -> None:
    """RunWriter.create_recorded (imports): given start/end times, user and snapshot commit; no ref
    exists until the one final checkpoint."""
    from gittrack._store.writer import RunWriter

    handle = pygit2.Repository(str(repo))
    head = handle.head.target
    writer = RunWriter.create_recorded(
        handle, "old", start_time=1_600_000_000_000, user=("grace", "grace@example.com"), commit=head, run_name="r1"
    )
    writer.log_param("lr", "0.1")
    writer.log_metric("loss", 0.5, step=3, timestamp=1_600_000_000_500)
    assert handle.references.get(writer.ref) is None
    writer.finish(FAILED, end_time=1_600_000_001_000)
    run = gittrack.Client().get_run(writer.run_id)
    assert (run.info.status, run.info.start_time, run.info.end_time) == (FAILED, 1_600_000_000_000, 1_600_000_001_000)
    assert (run.info.user, run.info.source_commit, run.info.run_name) == ("grace", str(head), "r1")
    assert handle[run.info.commit].parents[0].id == head
    assert handle[run.info.commit].tree["train.py"].id == handle[head].tree["train.py"].id


def test_points_logged_in_a_batch_are_those_logged_one_by_one(repo: Path) -> None:
    """RunWriter.log_metric_points (imports): the same history, summary and later steps as a call
    per point, ties and NaN included; a refused point refuses the batch, nothing of it is kept."""
    from gittrack._store.writer import RunWriter

    handle = pygit2.Repository(str(repo))
    points = [(0, 1_000, 0.5), (2, 1_000, math.nan), (2, 1_000, -math.inf), (1, 5_000, 3.0), (2, 1_000, 7.0),
              (2, 1_000, -math.inf), (2, 999, 9.0), (5_000, 2_000, -0.0), (5_000, 2_000, 0.0)] * 500  # fmt: skip
    histories = {}
    for batched in (False, True):
        writer = RunWriter.create_recorded(handle, "batch", start_time=1_000, user=("a", "a@example.com"), commit=None)
        writer.log_metric("m", 1.0, step=3, timestamp=900)
        if batched:
            writer.log_metric_points("m", points)
            with pytest.raises(gittrack.InvalidValueError, match="timestamp"):
                writer.log_metric_points("m", [(9, 1_000, 1.0), (10, -1, 1.0)])
            with pytest.raises(gittrack.InvalidValueError, match="real numbers"):
                writer.log_metric_points("m", [(9, 1_000, 1.0), (10, 1_000, "x")])
        else:
            for step, timestamp, value in points:
                writer.log_metric("m", value, step=step, timestamp=timestamp)
        writer.log_metric("m", 2.0, timestamp=8_000)  # the next step follows the highest one logged
        writer.finish(FINISHED, end_time=9_000)
        run = gittrack.Client().get_run(writer.run_id)
        history = [
            (m.step, m.timestamp, repr(m.value)) for m in gittrack.Client().get_metric_history(writer.run_id, "m")
        ]
        histories[batched] = (history, run.details.metrics["m"])
    assert histories[True] == histories[False]
    assert histories[True][0][-1][0] == 5_001  # more than a segment of points, sealed as a call per point seals them


def test_a_run_found_once_follows_its_ref(repo: Path) -> None:
    """Resolving a full id is remembered, but never past a change of the refs: a run deleted,
    packed or repointed by plain git is looked up again."""
    client = gittrack.Client()
    first = client.create_run(experiment="e", run_name="first")
    client.set_terminated(first.info.run_id)
    second = client.create_run(experiment="e", run_name="second")
    client.set_terminated(second.info.run_id)
    run_id, ref = first.info.run_id, client.get_run(first.info.run_id).info.ref
    assert client.get_run(run_id).info.run_name == "first"

    git(repo, "update-ref", ref, client.get_run(second.info.run_id).info.commit)  # repointed by hand
    with pytest.raises(gittrack.MalformedRunError):
        client.get_run(run_id)  # the commit is another run's: refused, not the remembered one
    git(repo, "update-ref", ref, first.info.commit)
    assert client.get_run(run_id).info.commit == first.info.commit

    client.delete_runs([run_id])
    with pytest.raises(gittrack.NotFoundError, match="deleted"):
        gittrack.Client().get_run(run_id)
    client.restore_run(run_id)
    client.pack_runs(["e"])
    found = gittrack.Client().get_run(run_id)
    assert (found.info.run_name, found.info.commit) == ("first", first.info.commit)
    client.delete_runs([run_id])  # a packed run: deleted by a ref under refs/runs-deleted/
    with pytest.raises(gittrack.NotFoundError, match="deleted"):
        client.get_run(run_id)


def test_the_clients_services_are_reached_by_name(repo: Path) -> None:
    """docs/tracking.md's table of services: each part of the client by name gives what the flat,
    MLflow-named methods give."""
    client = gittrack.Client(repo)
    run = client.runs.create_run(experiment="taxi", params={"lr": 0.1})
    client.runs.log_metric(run.info.run_id, "rmse", 0.8, step=0)
    client.runs.set_terminated(run.info.run_id)
    other = client.create_run(experiment="taxi", params={"lr": 0.2})
    client.log_metric(other.info.run_id, "rmse", 1.2, step=0)
    client.set_terminated(other.info.run_id)

    assert client.runs.get_run(run.info.run_id) == client.get_run(run.info.run_id)
    assert client.experiments.names() == client.experiment_names() == ["taxi"]
    assert [e.name for e in client.experiments.list("all")] == ["taxi"]
    assert client.search.count(filter_string="metrics.rmse < 1") == 1
    assert [r.info.run_id for r in client.search.runs(filter_string="params.lr = '0.2'", output_format="list")] == [
        other.info.run_id
    ]
    assert client.workspace.compare_runs([run.info.run_id, other.info.run_id]) == client.compare_runs(
        [run.info.run_id, other.info.run_id]
    )
    assert client.repository.workdir == client.repo_path
    assert client.migrate.pack_runs().packed == {"taxi": 2}
    assert client.registry.list_models() == client.list_models() == []
    assert client.promotions.status() == []
