"""A hostile remote, round 2: attacks played with plain git from a second clone against a real bare
remote, with and without the server hook (the ``world`` of test_security.py); the victim's files,
refs and what a fresh clone shows checked after."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gittrack
from gittrack._store.naming import metric_filename
from gittrack._store.record import dump_record, dump_summary, parse_summary
from tests import test_security
from tests.conftest import git, optional
from tests.test_security import BLOB, GT, _note, forge, gt, push_raw, run_commit

pytestmark = pytest.mark.slow
RUN = ".gittrack/run"
world = test_security.world  # the fixture: a bare remote, an attacker's clone, a victim's clone


def _fresh_clone(world: dict, name: str = "fresh") -> Path:
    clone = world["remote"].parent / name
    subprocess.run(["git", "clone", "-q", str(world["remote"]), str(clone)], check=True, capture_output=True)
    assert gt(clone, "pull").returncode == 0
    return clone


# -- 6: a forged "later checkpoint" of someone else's RUNNING run ------------------------------
def test_a_forged_checkpoint_of_a_running_run_cannot_rewrite_it(world) -> None:
    attacker, victim = world["attacker"], world["victim"]
    (victim / "train.py").write_text("print('the real training')\n")
    client = gittrack.Client(victim)
    run_id = client.create_run(experiment="live", params={"lr": 0.1}, command=["python", "train.py"]).info.run_id
    for step in range(3):
        client.log_metric(run_id, "loss", 1.0 - step / 10, step=step)
    client.flush(run_id)
    pushed = gt(victim, "push")
    assert pushed.returncode == 0, pushed.stderr
    ref = f"refs/runs/live/{run_id}"
    genuine = git(victim, "rev-parse", ref).strip()

    git(attacker, "fetch", "-q", "origin", f"+{ref}:{ref}")
    tail = f"{RUN}/metrics/{metric_filename('loss')}"
    appended = git(attacker, "show", f"{genuine}:{tail}") + "3\t1700000000000\t0.05\n"
    forgeries = {  # each a later checkpoint (a point appended, FINISHED) that also changes one thing
        "recorded points": ({}, {tail: (appended.replace("\t0.9\n", "\t0.1\n").encode(), BLOB)}),
        "snapshot": ({}, {tail: (appended.encode(), BLOB), "train.py": (b"print('not what ran')\n", BLOB)}),
        "command": ({"argv": ["python", "evil.py"]}, {tail: (appended.encode(), BLOB)}),
    }
    for what, (command, changes) in forgeries.items():
        record = parse_summary(git(attacker, "show", f"{genuine}:{RUN}/summary.json").encode())
        record.status, record.end_time = "FINISHED", record.heartbeat + 2000
        record.heartbeat += 1000
        record.command.update(command)
        record.metrics["loss"].count += 1
        files = {f"{RUN}/summary.json": (dump_summary(record), BLOB), f"{RUN}/run.yaml": (dump_record(record), BLOB)}
        forged = forge(attacker, genuine, {**files, **changes})
        pushed = push_raw(attacker, f"{forged}:{ref}")
        pulled = gt(victim, "pull")  # the owner's clone keeps its run either way
        if world["hook"]:
            assert pushed.returncode != 0
            assert f"changes the {what}" in pushed.stderr or f"rewrites {what}" in pushed.stderr
            assert git(world["remote"], "rev-parse", ref).strip() == genuine
            assert pulled.returncode == 0, pulled.stderr
        else:
            assert pushed.returncode == 0
            assert f"conflict on {ref}" in pulled.stderr
            assert f"changes the {what}" in pulled.stderr or f"rewrites {what}" in pulled.stderr
        assert git(victim, "rev-parse", ref).strip() == genuine, what
    run = gittrack.Client(victim).get_run(run_id)
    assert run.info.status == "RUNNING"
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [1.0, 0.9, 0.8]
    if world["hook"]:  # with the hook, a fresh clone sees the genuine run too
        fresh = _fresh_clone(world)
        assert gittrack.Client(fresh).get_run(run_id).info.status == "RUNNING"
    # the owner's own later checkpoint (points appended) is still taken
    client.log_metric(run_id, "loss", 0.7, step=3)
    client.flush(run_id)
    if world["hook"]:
        assert gt(victim, "push").returncode == 0
        assert git(world["remote"], "rev-parse", ref).strip() == git(victim, "rev-parse", ref).strip()


# -- 7: the UI serves only files inside a run's materialised artifacts ---------------------------
def _ui(root: Path):
    from starlette.testclient import TestClient

    from gittrack.ui.app import create_app

    return TestClient(create_app(root), base_url="http://127.0.0.1:5151")


DEEP = "../" * 12


def test_an_artifact_path_out_of_the_run_is_refused_by_the_reader_and_the_ui(world, monkeypatch) -> None:
    attacker, victim, run_id = world["attacker"], world["victim"], world["run"]
    client = gittrack.Client(attacker)
    other = client.create_run(experiment="exp").info.run_id
    client.log_artifact(other, attacker / "payload.txt")
    client.set_terminated(other)
    commit = run_commit(attacker, other)
    record = parse_summary(git(attacker, "show", f"{commit}:{RUN}/summary.json").encode())
    md5 = record.artifacts[0]["md5"]
    record.artifacts.append({**record.artifacts[0], "path": f"{DEEP}etc"})
    files = {f"{RUN}/summary.json": (dump_summary(record), BLOB), f"{RUN}/run.yaml": (dump_record(record), BLOB)}
    forged = forge(attacker, git(attacker, "rev-parse", f"refs/runs/exp/{other}").strip(), files)
    ref = f"refs/runs/exp/{other}"
    pushed = push_raw(attacker, f"{forged}:{ref}")
    if world["hook"]:
        assert pushed.returncode != 0
        assert "escapes the run's artifact folder" in pushed.stderr
    pulled = gt(victim, "pull")
    assert pulled.returncode == 0, pulled.stderr
    if not world["hook"]:
        assert "escapes the run's artifact folder" in pulled.stderr
    assert git(victim, "rev-parse", "--verify", "-q", ref, check=False) == ""
    # brought in with plain git, the run is unreadable rather than a way out
    git(attacker, "update-ref", ref, forged)
    git(victim, "fetch", "-q", str(attacker), f"+{ref}:{ref}")
    with _ui(victim) as http:
        for path in ("payload.txt", f"{DEEP}etc/passwd", f"{DEEP}etc"):
            for url in (
                f"/api/runs/{other}/artifact",
                f"/api/runs/{other}/artifact/raw",
                f"/api/runs/{other}/artifacts",
            ):
                answer = http.get(url, params={"path": path})
                assert answer.status_code >= 400, (url, path)
                assert "root:" not in answer.text
        # a genuine run: its artifact opens, a path out of it does not, nor a listing of '/'
        assert http.get(f"/api/runs/{run_id}/artifact", params={"path": "payload.txt"}).json()["text"] == "echo pwned\n"
        for path in (f"{DEEP}etc/passwd", "payload.txt/../../../../etc/passwd", "/", "//etc"):
            for url in (f"/api/runs/{run_id}/artifact/raw", f"/api/runs/{run_id}/artifacts"):
                answer = http.get(url, params={"path": path})
                assert answer.status_code == 404, (url, path, answer.text)
        # and if a reader ever let such an entry through, the UI still serves nothing outside
        backend = http.app.app.state.backend
        hostile = {"path": f"{DEEP}etc", "md5": md5, "size": 1, "nfiles": None, "kind": "artifact"}
        real = type(backend.client).list_artifacts
        monkeypatch.setattr(type(backend.client), "list_artifacts", lambda self, r: [*real(self, r), hostile])
        for url in (f"/api/runs/{run_id}/artifact/raw", f"/api/runs/{run_id}/artifacts"):
            assert http.get(url, params={"path": f"{DEEP}etc/passwd"}).status_code == 404
            assert http.get(url, params={"path": f"{DEEP}etc"}).status_code == 404
        monkeypatch.undo()
        # nor a file of the materialised folder replaced by a symlink out of it
        opened = next(backend._artifacts_dir.glob(f"{run_id}/*/payload.txt"))
        opened.unlink()
        opened.symlink_to("/etc/passwd")
        answer = http.get(f"/api/runs/{run_id}/artifact/raw", params={"path": "payload.txt"})
        assert answer.status_code == 404
        assert "root:" not in answer.text


def test_a_folder_listing_is_bounded_and_skips_symlinks(tmp_path: Path, monkeypatch) -> None:
    from gittrack.ui import api

    folder = tmp_path / "art"
    (folder / "sub").mkdir(parents=True)
    for i in range(30):
        (folder / "sub" / f"f{i:02d}.txt").write_text("x")
    (folder / "a.txt").write_text("a")
    (folder / "out").symlink_to("/etc")
    (folder / "passwd").symlink_to("/etc/passwd")
    listed = api._listing(folder, "art")
    assert [f["path"] for f in listed][:2] == ["art/a.txt", "art/sub/f00.txt"]
    assert len(listed) == 31
    monkeypatch.setattr(api, "MAX_LISTED", 5)
    assert len(api._listing(folder, "art")) == 5
    monkeypatch.setattr(api, "MAX_VISITED", 3)
    assert len(api._listing(folder, "art")) <= 3


# -- 8: importing a hostile MLflow store --------------------------------------------------------
_HOSTILE_STORE = """
import sys, tempfile, warnings
from pathlib import Path
import mlflow
from mlflow import MlflowClient
warnings.filterwarnings("ignore")
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("churn")
with tempfile.TemporaryDirectory() as tmp:
    (Path(tmp) / "model.txt").write_text("weights")
    (Path(tmp) / "notes.md").write_text("# notes")
    for name in ("tampered", "honest"):
        with mlflow.start_run(run_name=name, tags={"mlflow.source.git.commit": "secret-branch"}) as run:
            for step in range(3):
                mlflow.log_metric("loss", 1.0 - step / 10, step=step)
            mlflow.log_artifact(str(Path(tmp) / "notes.md"))
            client = MlflowClient()
            model = client.create_logged_model(run.info.experiment_id, name="model", source_run_id=run.info.run_id)
            client.log_model_artifacts(model.model_id, tmp)
            client.finalize_logged_model(model.model_id, "READY")
        print(run.info.run_id, model.model_id)
"""


def _hostile_mlflow_store(folder: Path, escape: Path, outside: Path) -> tuple[str, dict[str, str]]:
    """A SQLite MLflow store whose first run names a model id that is an absolute path, a branch
    as its source commit, artifacts in a folder outside the store and a text step."""
    import os
    import sqlite3
    import sys

    folder.mkdir()
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    made = subprocess.run([sys.executable, "-c", _HOSTILE_STORE, uri], cwd=folder, capture_output=True, text=True,
                          env=env, check=False)  # fmt: skip
    assert made.returncode == 0, made.stderr[-2000:]
    (tampered, model), (honest, _) = (line.split() for line in made.stdout.split("\n")[-3:-1])
    db = sqlite3.connect(folder / "mlflow.db")
    for table in ("logged_models", "logged_model_tags", "logged_model_params", "logged_model_metrics"):
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        if "model_id" in columns:
            db.execute(f"UPDATE {table} SET model_id = ? WHERE model_id = ?", (str(escape), model))
    db.execute("UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?", (outside.as_uri(), tampered))
    db.execute("UPDATE metrics SET step = 'one' WHERE run_uuid = ? AND step = 1", (tampered,))
    db.commit()
    db.close()
    return uri, {"tampered": tampered, "honest": honest}


def test_importing_a_hostile_mlflow_store_stays_in_its_folders_and_commits(dvc_project: Path, tmp_path: Path):
    optional("mlflow", reason="MLflow is optional (the mlflow extra)")
    git(dvc_project, "checkout", "-q", "-b", "secret-branch")
    (dvc_project / "secret.txt").write_text("the private branch\n")
    git(dvc_project, "add", "secret.txt")
    git(dvc_project, "commit", "-q", "-m", "private")
    git(dvc_project, "checkout", "-q", "-")
    outside = tmp_path / "victim-files"
    outside.mkdir()
    (outside / "id_rsa.txt").write_text("PRIVATE KEY\n")
    escape = tmp_path / "written-by-import"
    uri, runs = _hostile_mlflow_store(tmp_path / "store", escape, outside)
    client = gittrack.Client(dvc_project)
    report = client.import_mlflow(uri, registry=False)
    skipped = dict(report.skipped)
    assert report.runs == 2
    assert not escape.exists()
    assert any("is not a plain name" in why for why in skipped.values())
    assert any("outside the MLflow store" in why for why in skipped.values())
    assert any("'one'" in why and "not integers" in why for why in skipped.values())
    imported = {r.data.tags["mlflow.imported_run_id"]: r for r in client.list_runs("churn")}
    tampered, honest = imported[runs["tampered"]], imported[runs["honest"]]
    assert [a["path"] for a in client.list_artifacts(tampered.info.run_id)] == []
    assert sorted(a["path"] for a in client.list_artifacts(honest.info.run_id)) == ["model", "notes.md"]
    assert [m.step for m in client.get_metric_history(tampered.info.run_id, "loss")] == [0, 2]
    head = git(dvc_project, "rev-parse", "HEAD").strip()
    for run in (tampered, honest):
        assert "not a full commit id" in run.data.tags["gittrack.import.snapshot"]
        assert git(dvc_project, "rev-parse", f"{run.info.commit}^").strip() == head
        assert "secret.txt" not in git(dvc_project, "ls-tree", "-r", "--name-only", run.info.commit)


# -- 9: an experiment's lifecycle and the order of note events ----------------------------------
FUTURE = 1_999_999_999_999  # 2033


def test_notes_cannot_delete_an_experiment_nor_outlive_later_edits_by_a_future_date(world) -> None:
    from gittrack._store import notes

    attacker, victim = world["attacker"], world["victim"]
    gittrack.Client(attacker).create_experiment("churn", tags={"team": "ml"}, description="ours")
    assert gt(attacker, "push").returncode == 0
    assert gt(victim, "pull").returncode == 0
    repo = pygit2.Repository(str(attacker))
    for name in ("churn", "exp"):
        _note(attacker, str(notes.subject(repo, notes.EXPERIMENT, name)), [
            f'{{"k":"lifecycle","t":{FUTURE},"v":"deleted"}}',
            f'{{"k":"description","t":{FUTURE},"v":"defaced"}}',
            f'{{"k":"tag.team","t":{FUTURE},"v":"mallory"}}',
        ])  # fmt: skip
    # a registered model's note: the same replay
    _note(attacker, str(notes.subject(repo, notes.MODEL, "churn")), [f'{{"k":"description","t":{FUTURE},"v":"x"}}'])
    assert push_raw(attacker, "refs/notes/gittrack:refs/notes/gittrack").returncode == 0  # a fast-forward
    assert gt(victim, "pull").returncode == 0
    client = gittrack.Client(victim)
    for name in ("churn", "exp"):
        experiment = client.get_experiment(name)
        assert experiment.lifecycle_stage == "active"
        assert experiment.last_update_time < FUTURE
    churn = client.get_experiment("churn")
    assert (churn.description, churn.tags) == ("ours", {"team": "ml"})
    assert {e.name for e in client.list_experiments()} >= {"churn", "exp"}
    assert client.list_experiments("deleted") == []
    assert len(client.search_runs("exp")) == 1  # its runs are where they were
    # our own edits, made now, are what everyone reads, and the lifecycle is ours alone
    client.set_experiment_description("churn", "ours, v2")
    assert client.get_experiment("churn").description == "ours, v2"
    assert client.delete_experiment("exp") == 1
    assert client.get_experiment("exp").lifecycle_stage == "deleted"
    assert client.restore_experiment("exp") == 1
    assert client.get_experiment("exp").lifecycle_stage == "active"
    assert client.delete_experiment("exp") == 1
    assert gt(victim, "push").returncode == 0
    fresh = _fresh_clone(world)
    other = gittrack.Client(fresh)
    assert other.get_experiment("churn").description == "ours, v2"
    assert other.get_experiment("exp").lifecycle_stage == "active"  # a deletion is local, as runs' are
    from gittrack._registry.meta import model_metadata

    assert model_metadata(pygit2.Repository(str(fresh)), "churn").description is None


# -- 13: LIKE in linear time ---------------------------------------------------------------------
def _like_reference(pattern: str, text: str, ci: bool) -> bool:
    import re

    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL | (re.IGNORECASE if ci else 0)) is not None


@given(st.text("ab%_", max_size=8), st.text("abAB", max_size=10), st.booleans())
def test_like_matches_as_sql_does(pattern: str, text: str, ci: bool) -> None:
    from gittrack._search.rows import like_pattern

    assert like_pattern(pattern, ci).matches(text) == _like_reference(pattern, text, ci)


def test_like_with_many_wildcards_over_a_long_value_is_fast(repo: Path) -> None:
    import time

    client = gittrack.Client(repo)
    run_id = client.create_run(experiment="like", tags={"t": "a" * 8000}).info.run_id
    client.set_terminated(run_id)
    hostile = "tags.t LIKE '" + "%a" * 40 + "%b'"
    started = time.monotonic()
    assert len(client.search_runs("like", hostile)) == 0
    assert len(client.search_runs("like", "tags.t LIKE '" + "%a" * 40 + "%'")) == 1
    assert len(client.search_runs("like", "tags.t ILIKE 'A%a_'")) == 1
    assert time.monotonic() - started < 5


# -- 13: derived tags, the Host check and request bodies ---------------------------------------
def test_notes_cannot_set_the_tags_gittrack_derives(world) -> None:
    from gittrack.mlflow.tracking import MlflowClient

    attacker, victim, run_id = world["attacker"], world["victim"], world["run"]
    commit = run_commit(attacker, run_id)
    other = "f" * 40
    _note(attacker, commit, [
        f'{{"t":1,"k":"tag:mlflow.source.git.commit","v":"{other}"}}',
        '{"t":2,"k":"tag:mlflow.source.git.branch","v":"release"}',
        '{"t":3,"k":"tag:mlflow.parentRunId","v":"x"}',
        '{"t":4,"k":"tag:reviewed","v":"yes"}',
    ])  # fmt: skip
    assert gt(attacker, "push").returncode == 0
    assert gt(victim, "pull").returncode == 0
    run = gittrack.Client(victim).get_run(run_id)
    tags = MlflowClient(tracking_uri=str(victim)).get_run(run_id).data.tags
    assert tags["mlflow.source.git.commit"] == run.info.source_commit != other
    assert tags.get("mlflow.source.git.branch") == run.info.source_branch
    assert "mlflow.parentRunId" not in tags
    assert tags["reviewed"] == "yes"


def test_the_host_check_stays_on_for_every_address_and_takes_allowed_hosts(repo: Path) -> None:
    from starlette.testclient import TestClient

    from gittrack.ui.app import create_app

    for host, allowed in (("0.0.0.0", ()), ("::", ()), ("0.0.0.0", ("gpu-box", "10.0.0.5"))):
        with TestClient(create_app(repo, host=host, allowed_hosts=allowed), base_url="http://127.0.0.1") as http:
            assert http.get("/api/experiments").status_code == 200
            assert http.get("/api/experiments", headers={"Host": "rebound.evil.example"}).status_code == 421
            for name in allowed:
                assert http.get("/api/experiments", headers={"Host": f"{name.upper()}:5151"}).status_code == 200
    shown = subprocess.run([GT, "ui", "--help"], capture_output=True, text=True, check=True).stdout
    assert "--allowed-host" in shown


def test_a_chunked_body_over_the_limit_is_413(repo: Path) -> None:
    from starlette.testclient import TestClient

    from gittrack.ui.app import create_app

    def chunks():
        for _ in range(20):
            yield b"x" * 8192

    client = gittrack.Client(repo)
    run_id = client.create_run(experiment="e").info.run_id
    client.set_terminated(run_id)
    with TestClient(create_app(repo, allow_write=True), base_url="http://127.0.0.1") as http:
        url = f"/api/runs/{run_id}/edit"
        big = http.post(url, content=chunks(), headers={"X-Gittrack-Write": "1"})
        assert big.status_code == 413
        assert "limited to 65536 bytes" in big.text
        small = http.post(url, content=iter([b'{"tags":', b' {"a": "1"}}']), headers={"X-Gittrack-Write": "1"})
        assert small.status_code == 200, small.text
    assert client.get_run(run_id).data.tags == {"a": "1"}
