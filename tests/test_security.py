"""A hostile remote: attacks done with plain git (a second clone as the attacker) against a real
bare remote, with and without the server hook; the victim's files, refs and registry checked after."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pygit2
import pytest

import gittrack
from gittrack._data import dvcstore, restore
from gittrack._data.outputs import Output
from gittrack._store.trees import apply_changes
from tests.conftest import BIN, git

pytestmark = pytest.mark.slow
GT = str(BIN / "gittrack")
BLOB, LINK = pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_LINK


def gt(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GT, *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture(params=[False, True], ids=["plain-remote", "server-hook"])
def world(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A bare remote (with or without the server hook), a shared DVC remote, an attacker's clone
    holding one genuine finished run with a logged payload, and a victim's clone."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    attacker = tmp_path / "attacker"
    subprocess.run(["git", "clone", "-q", str(remote), str(attacker)], check=True, capture_output=True)
    dvcstore.open_dvc.cache_clear()
    assert gt(attacker, "init", "--dvc-remote", str(tmp_path / "dvc-remote"), "--commit").returncode == 0
    git(attacker, "push", "-q", "origin", "HEAD:main")
    (attacker / "payload.txt").write_text("echo pwned\n")
    client = gittrack.Client(attacker)
    run = client.create_run(experiment="exp", params={"lr": 0.1})
    client.log_metric(run.info.run_id, "auc", 0.71)
    client.log_artifact(run.info.run_id, attacker / "payload.txt")
    client.set_terminated(run.info.run_id)
    assert gt(attacker, "push").returncode == 0
    if request.param:
        assert gt(remote, "hooks", "install", "--server").returncode == 0
    victim = tmp_path / "victim"
    subprocess.run(["git", "clone", "-q", str(remote), str(victim)], check=True, capture_output=True)
    home = tmp_path / "victim-home"
    home.mkdir()
    (home / ".bashrc").write_text("# the victim's own\n")
    monkeypatch.chdir(victim)
    return {"remote": remote, "attacker": attacker, "victim": victim, "home": home, "run": run.info.run_id,
            "hook": request.param}  # fmt: skip


def forge(root: Path, base: str, changes: dict[str, tuple[bytes, int]], message: str = "forged") -> str:
    """A commit like ``base`` with files replaced (bytes, mode), made with pygit2 as plain git would."""
    repo = pygit2.Repository(str(root))
    commit = repo[base]
    blobs = {path: (repo.create_blob(data), mode) for path, (data, mode) in changes.items()}
    tree = apply_changes(repo, commit.tree_id, blobs)
    who = pygit2.Signature("Mallory", "m@example.com")
    return str(repo.create_commit(None, who, who, message, tree, list(commit.parent_ids)))


def push_raw(root: Path, refspec: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "push", "-f", "origin", refspec], cwd=root, capture_output=True, text=True)


def run_commit(root: Path, run_id: str) -> str:
    return gittrack.Client(root).get_run(run_id).info.commit


def pointer_md5(root: Path, commit: str) -> str:
    data = git(root, "show", f"{commit}:.gittrack/run/artifacts/payload.txt.dvc")
    return data.split("md5:")[1].split()[0].strip('"')


# -- 1: writing outside the work tree --------------------------------------------------------
@pytest.mark.parametrize("where", ["conf", ".gittrack/run/artifacts/lnk"])
def test_checkout_never_writes_through_a_symlink_of_the_snapshot(world, where: str) -> None:
    attacker, victim, home = world["attacker"], world["victim"], world["home"]
    md5 = pointer_md5(attacker, run_commit(attacker, world["run"]))
    client = gittrack.Client(attacker)
    other = client.create_run(experiment="exp").info.run_id
    client.set_terminated(other)
    pointer = f"outs:\n- md5: {md5}\n  size: 11\n  hash: md5\n  path: {where.rpartition('/')[2]}/.bashrc\n"
    folder = where.rpartition("/")[0]
    forged = forge(attacker, run_commit(attacker, other), {
        where: (str(home).encode(), LINK),
        f"{folder}/{where.rpartition('/')[2]}.dvc".lstrip("/"): (pointer.encode(), BLOB),
    })  # fmt: skip
    ref = f"refs/runs/exp/{other}"
    pushed = push_raw(attacker, f"{forged}:{ref}")
    if world["hook"]:
        assert pushed.returncode != 0
        assert "symlink" in pushed.stderr
    pulled = gt(victim, "pull")
    assert pulled.returncode == 0, pulled.stderr
    if not world["hook"]:
        assert "symlink" in pulled.stderr
    assert pygit2.Repository(str(victim)).references.get(ref) is None
    # even when plain git brings the commit in, gittrack checkout refuses before touching anything
    git(attacker, "update-ref", ref, forged)
    subprocess.run(["git", "fetch", "-q", str(attacker), f"+{ref}:{ref}"], cwd=victim, check=True)
    repo = pygit2.Repository(str(victim))
    head = str(repo.head.target)
    refused = gt(victim, "checkout", other, "--force")
    assert refused.returncode == 1
    assert "symlink" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert (home / ".bashrc").read_text() == "# the victim's own\n"
    assert str(pygit2.Repository(str(victim)).head.target) == head
    assert not (victim / where).exists()


def test_a_symlink_made_after_the_check_is_refused_at_write_time(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "p"
    root.mkdir()
    git(root, "init", "-q")
    (root / "a.txt").write_text("a\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "i")
    monkeypatch.chdir(root)
    dvcstore.open_dvc.cache_clear()
    assert gt(root, "init", "--commit").returncode == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    source = tmp_path / "x.txt"
    source.write_text("data\n")
    dvc = dvcstore.open_dvc(str(root))
    entry = dvcstore.add_to_cache(dvc, source)
    (root / "data").symlink_to(outside)  # appeared between the snapshot check and the write
    (root / "deep").mkdir()
    (root / "deep" / "x.txt").symlink_to(outside / "y.txt")  # a link at the final name is replaced, not followed
    with pytest.raises(dvcstore.DataError, match="symlink"):
        restore.write(dvc, root, [Output("data/x.txt", entry, "data/x.txt.dvc")])
    restore.write(dvc, root, [Output("deep/x.txt", entry, "deep/x.txt.dvc")])
    assert list(outside.iterdir()) == []
    assert not (root / "deep" / "x.txt").is_symlink()
    assert (root / "deep" / "x.txt").read_text() == "data\n"


# -- 2: YAML bombs and malformed records -----------------------------------------------------
def _bomb(levels: int) -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return ("\n".join(lines) + f"\ninputs: *a{levels - 1}\n").encode()


def test_a_yaml_bomb_in_run_yaml_is_refused_quickly(world) -> None:
    attacker, victim = world["attacker"], world["victim"]
    real = run_commit(attacker, world["run"])
    record = git(attacker, "show", f"{real}:.gittrack/run/run.yaml").encode()
    other = gittrack.Client(attacker).create_run(experiment="exp")
    other_id = other.info.run_id
    body = record.replace(world["run"].encode(), other_id.encode()).replace(b"inputs:", b"old_inputs:")
    forged = forge(attacker, real, {".gittrack/run/run.yaml": (_bomb(9) + body, BLOB)})
    repo = pygit2.Repository(str(attacker))
    tree = repo[forged].tree
    stripped = apply_changes(repo, tree.id, {".gittrack/run/summary.json": None})
    who = pygit2.Signature("Mallory", "m@example.com")
    forged = str(repo.create_commit(None, who, who, "bomb", stripped, list(repo[real].parent_ids)))
    started = time.monotonic()
    pushed = push_raw(attacker, f"{forged}:refs/runs/exp/{other_id}")
    assert (pushed.returncode != 0) == world["hook"]
    if world["hook"]:
        assert "aliases" in pushed.stderr
    pulled = gt(victim, "pull")
    assert pulled.returncode == 0
    listed = gt(victim, "runs", "list", "-e", "exp")
    assert listed.returncode == 0
    assert "Traceback" not in listed.stderr
    assert time.monotonic() - started < 60
    assert pygit2.Repository(str(victim)).references.get(f"refs/runs/exp/{other_id}") is None


# -- 3 and 6: forged and oversized run indexes -------------------------------------------------
def test_a_forged_index_fast_forward_is_not_taken_in(world) -> None:
    attacker, victim = world["attacker"], world["victim"]
    assert gt(attacker, "runs", "pack").returncode == 0
    assert gt(attacker, "push").returncode == 0
    assert gt(victim, "pull").returncode == 0
    repo = pygit2.Repository(str(attacker))
    tip = repo.references["refs/runs-index/exp"].target
    batches = repo[tip].tree["runs"]
    entry = next(iter(repo[batches.id]))
    data = repo[entry.id].data
    assert b'"value":0.71' in data
    changes = {f"runs/{entry.name}": (data.replace(b'"value":0.71', b'"value":0.99'), BLOB)}
    forged_tree = apply_changes(repo, repo[tip].tree_id, {p: (repo.create_blob(d), m) for p, (d, m) in changes.items()})
    who = pygit2.Signature("Mallory", "m@example.com")
    child = repo.create_commit(None, who, who, "tweak", forged_tree, [tip])
    pushed = push_raw(attacker, f"{child}:refs/runs-index/exp")
    assert (pushed.returncode != 0) == world["hook"]
    pulled = gt(victim, "pull")
    assert pulled.returncode == 0
    shutil.rmtree(victim / ".git" / "gittrack", ignore_errors=True)  # no local cache hides the answer
    shown = json.loads(gt(victim, "runs", "list", "-e", "exp", "--json").stdout)
    aucs = [r["metrics"].get("auc") for r in shown if r["metrics"].get("auc") is not None]
    assert aucs == [0.71]


def test_an_oversized_index_batch_is_refused_whole(world) -> None:
    attacker, victim = world["attacker"], world["victim"]
    repo = pygit2.Repository(str(attacker))
    junk = b"".join(b"%026d %s {}\n" % (i, b"0" * 40) for i in range(20_000))
    blob = repo.create_blob(junk)
    tree = apply_changes(repo, None, {"FORMAT": (repo.create_blob(b"gittrack-run-index 1\n"), BLOB),
                                      "runs/junk.runs": (blob, BLOB)})  # fmt: skip
    who = pygit2.Signature("Mallory", "m@example.com")
    commit = repo.create_commit(None, who, who, "junk", tree, [])
    pushed = push_raw(attacker, f"{commit}:refs/runs-index/other")
    assert (pushed.returncode != 0) == world["hook"]
    pulled = gt(victim, "pull")
    assert pulled.returncode == 0
    assert len(pulled.stderr.splitlines()) < 30
    assert pygit2.Repository(str(victim)).references.get("refs/runs-index/other") is None


# -- 4 and 5: the registry ---------------------------------------------------------------------
def _tag(root: Path, name: str, commit: str, when: int) -> None:
    env = {"GIT_COMMITTER_DATE": f"{when} +0000", "GIT_COMMITTER_NAME": "M", "GIT_COMMITTER_EMAIL": "m@x",
           "HOME": str(Path.home()), "PATH": "/usr/bin:/bin"}  # fmt: skip
    subprocess.run(["git", "tag", "-a", "-m", "event", name, commit], cwd=root, check=True, env=env)


def test_future_and_backdated_stage_tags(world) -> None:
    attacker, victim = world["attacker"], world["victim"]
    commit = run_commit(attacker, world["run"])
    _tag(attacker, "churn@v0.0.1", commit, int(time.time()) - 100)
    assert push_raw(attacker, "refs/tags/churn@v0.0.1").returncode == 0
    _tag(attacker, "churn#staging#2", commit, 4070908800)  # 2099
    future = push_raw(attacker, "refs/tags/churn#staging#2")
    _tag(attacker, "churn#staging#3", commit, 978307200)  # 2001
    past = push_raw(attacker, "refs/tags/churn#staging#3")
    if world["hook"]:
        assert future.returncode != 0
        assert "ahead of the server's clock" in future.stderr
        assert past.returncode != 0
        assert "before the model's previous event" in past.stderr
    else:
        assert future.returncode == 0
    assert gt(victim, "pull").returncode == 0
    shown = gt(victim, "models", "history", "churn", "--json")
    assert "4070908800" not in shown.stdout
    events = json.loads(shown.stdout)
    assert all(e["time"] < time.time() + 600 for e in events)


def test_versions_on_commits_that_are_not_runs_are_invalid(world) -> None:
    attacker, victim = world["attacker"], world["victim"]
    main = git(attacker, "rev-parse", "HEAD").strip()
    now = int(time.time())
    _tag(attacker, "churn@v9.9.9", main, now - 10)
    _tag(attacker, "churn#production#1", main, now - 5)
    push_raw(attacker, "refs/tags/churn@v9.9.9")
    push_raw(attacker, "refs/tags/churn#production#1")
    assert gt(victim, "pull").returncode == 0
    listed = json.loads(gt(victim, "models", "list", "--json").stdout)
    churn = [m for m in listed["models"] if m["model"] == "churn"] if isinstance(listed, dict) else [
        m for m in listed if m["model"] == "churn"]  # fmt: skip
    assert all(not m["stages"] for m in churn)
    loaded = gt(victim, "models", "get", "churn@production")
    assert loaded.returncode != 0
    assert "Traceback" not in loaded.stderr
    with pytest.raises(gittrack.GittrackError, match=r"not a run here|no version"):
        gittrack.load_model("churn@v9.9.9")


# -- 4: runs the hook must protect ------------------------------------------------------------
@pytest.mark.parametrize("world", [True], indirect=True, ids=["server-hook"])
def test_server_hook_refuses_forged_refs_of_packed_and_running_runs(world) -> None:
    attacker, remote = world["attacker"], world["remote"]
    assert gt(attacker, "runs", "pack").returncode == 0
    assert gt(attacker, "push").returncode == 0
    real = run_commit(attacker, world["run"])
    summary = git(attacker, "show", f"{real}:.gittrack/run/summary.json").encode()
    forged = forge(attacker, real, {".gittrack/run/summary.json": (summary.replace(b"0.71", b"0.99"), BLOB),
                                    "train.py": (b"print('other')\n", BLOB)})  # fmt: skip
    refused = push_raw(attacker, f"{forged}:refs/runs/exp/{world['run']}")
    assert refused.returncode != 0
    assert "is packed with commit" in refused.stderr
    # someone else's RUNNING run, force-pushed as FINISHED with other params
    client = gittrack.Client(attacker)
    running = client.create_run(experiment="exp", params={"lr": 0.1}).info.run_id
    client.log_metric(running, "auc", 0.5)
    client.flush(running)
    assert gt(attacker, "push").returncode == 0
    old = run_commit(attacker, running)
    summary = json.loads(git(attacker, "show", f"{old}:.gittrack/run/summary.json"))
    summary["status"] = "FINISHED"
    summary["params"]["lr"] = "0.9"
    body = json.dumps(summary, separators=(",", ":")).encode()
    rewritten = forge(attacker, old, {".gittrack/run/summary.json": (body, BLOB)})
    refused = push_raw(attacker, f"{rewritten}:refs/runs/exp/{running}")
    assert refused.returncode != 0
    assert "changes param 'lr'" in refused.stderr
    assert git(remote, "rev-parse", f"refs/runs/exp/{running}").strip() == old


# -- 7 and 8: big valid runs, limits and terminal output ---------------------------------------
def test_histories_stream_and_runs_show_reads_only_the_summary(repo: Path) -> None:
    client = gittrack.Client(repo)
    run_id = client.create_run(experiment="big").info.run_id
    for i in range(10_000):
        client.log_metric(run_id, "loss", float(i % 1000), step=i, timestamp=1_700_000_000_000 + i)
    client.set_terminated(run_id)
    csv_out = gt(repo, "metrics", run_id, "--csv")
    assert csv_out.returncode == 0
    lines = csv_out.stdout.splitlines()
    assert lines[0] == "key,step,timestamp_ms,value"
    assert len(lines) == 10_001
    assert lines[-1] == "loss,9999,1700000009999,999.0"
    assert len(gt(repo, "metrics", run_id).stdout.splitlines()) == 10_002
    commit = client.get_run(run_id).info.commit
    raw = pygit2.Repository(str(repo))
    segments = raw[commit].tree[".gittrack/run/metrics/loss.segments"]
    first = next(iter(raw[segments.id]))
    broken = forge(repo, commit, {f".gittrack/run/metrics/loss.segments/{first.name}": (b"garbage", BLOB)})
    raw.references[f"refs/runs/big/{run_id}"].set_target(pygit2.Oid(hex=broken))
    shown = json.loads(gt(repo, "runs", "show", run_id, "--json").stdout)  # never reads the history
    assert shown["metric_histories"]["loss"] == {"count": 10_000, "last_step": 9999, "min": 0.0, "max": 999.0}
    failed = gt(repo, "metrics", run_id, "--csv")
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr


def test_values_out_of_range_and_bad_keys_are_refused(repo: Path) -> None:
    client = gittrack.Client(repo)
    run_id = client.create_run().info.run_id
    for kwargs, message in (({"step": 2**70}, "64-bit"), ({"timestamp": 10**20}, "between 1970 and 9999")):
        with pytest.raises(gittrack.GittrackError, match=message):
            client.log_metric(run_id, "m", 1.0, **kwargs)
    with pytest.raises(gittrack.GittrackError, match="characters other than"):
        client.log_param(run_id, "acc\n", 1)
    outside = repo.parent / "outside.csv"
    outside.write_text("a\n")
    assert gt(repo, "init", "--commit").returncode == 0
    with pytest.raises(gittrack.GittrackError, match="outside the repository"):
        client.log_input(run_id, "../outside.csv", track=True)
    client.set_terminated(run_id)


def test_control_characters_are_escaped_on_output(repo: Path) -> None:
    client = gittrack.Client(repo)
    run_id = client.create_run(experiment="esc", params={"p": "\x1b]0;owned\x07\x1b[2J"},
                               tags={"t": "a\x1b[31mred"}).info.run_id  # fmt: skip
    client.set_terminated(run_id)
    for args in (("runs", "show", run_id), ("runs", "list", "-e", "esc", "-c", "params.*", "-c", "tags.t")):
        out = gt(repo, *args)
        assert out.returncode == 0, out.stderr
        assert "\x1b" not in out.stdout
        assert "\\x1b" in out.stdout


def test_oversized_filters_are_usage_errors_and_keep_the_index(repo: Path) -> None:
    client = gittrack.Client(repo)
    client.set_terminated(client.create_run(experiment="f").info.run_id)
    assert gt(repo, "runs", "list").returncode == 0
    index = repo / ".git" / "gittrack" / "index.sqlite"
    assert index.exists()
    for text in (" OR ".join(f"metrics.a = {i}" for i in range(1000)), "(" * 400 + "metrics.a > 1" + ")" * 400):
        out = gt(repo, "runs", "list", "-f", text)
        assert out.returncode == 2
        assert len(out.stderr.splitlines()) == 1
    assert index.exists()


# -- edits of ended runs: notes on run commits -------------------------------------------------
def _note(root: Path, target: str, lines: list[str]) -> None:
    """Put a raw note on ``target`` as plain git would (appended to what is there)."""
    (root / "note.txt").write_text("\n".join(lines) + "\n")
    git(root, "notes", "--ref=gittrack", "append", "-F", str(root / "note.txt"), target)
    (root / "note.txt").unlink()


def test_hostile_run_notes_change_only_valid_tags_and_names(world) -> None:
    attacker, victim, run_id = world["attacker"], world["victim"], world["run"]
    commit = run_commit(attacker, run_id)
    head = git(attacker, "rev-parse", "HEAD").strip()
    _note(attacker, commit, [
        '{"t":1,"k":"tag:reviewed","v":"yes"}',
        '{"t":2,"k":"tag:huge","v":"' + "x" * 19_000 + '"}',
        '{"t":3,"k":"tag:bad key;rm -rf","v":"x"}',
        '{"t":4,"k":"tag:mlflow.user","v":"mallory"}',
        '{"t":5,"k":"name","v":"\\u001b]0;owned\\u0007evil"}',
        '{"t":6,"k":"param:lr","v":"0.9"}',
        '{"t":7,"k":"status","v":"FAILED"}',
        '{"t":8,"k":"commit","v":"' + head + '"}',
        '{"t":9,"k":"tag:nul","v":"a\\u0000b"}',
        "x" * 70_000,
        '{"t":10,"k":"tag:color","v":"\\u001b[31mred"}',
    ])  # fmt: skip
    _note(attacker, head, ['{"t":1,"k":"tag:reviewed","v":"yes"}', '{"t":2,"k":"name","v":"ghost"}'])
    assert gt(attacker, "push").returncode == 0
    pulled = gt(victim, "pull")
    assert pulled.returncode == 0, pulled.stderr
    run = gittrack.Client(victim).get_run(run_id)
    assert run.data.tags == {"reviewed": "yes", "color": "\x1b[31mred"}
    assert run.info.run_name != "ghost"
    assert "\x1b" not in run.info.run_name
    assert run.data.params == {"lr": "0.1"}
    assert run.info.status == "FINISHED"
    assert run.info.commit == commit
    listed = gt(victim, "runs", "list", "-f", "tags.reviewed = 'yes'", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]  # not the branch commit
    shown = gt(victim, "runs", "list", "-c", "tags.color")
    assert "\x1b" not in shown.stdout
    assert "\\x1b[31mred" in shown.stdout
    assert gt(victim, "runs", "list", "-f", "tags.huge LIKE 'x%'", "--json").stdout.strip() == "[]"


def test_rewriting_the_notes_is_refused_by_the_hook_and_merged_by_pull(world) -> None:
    attacker, victim, run_id = world["attacker"], world["victim"], world["run"]
    assert gt(victim, "pull").returncode == 0
    gittrack.Client(victim).set_tag(run_id, "reviewed", "yes")
    assert gt(victim, "push").returncode == 0
    git(attacker, "fetch", "-q", "origin", "+refs/notes/gittrack:refs/notes/gittrack")
    parent = git(attacker, "rev-parse", "refs/notes/gittrack").strip()
    git(attacker, "update-ref", "-d", "refs/notes/gittrack")
    _note(attacker, run_commit(attacker, run_id), ['{"t":1,"k":"tag:reviewed","v":"no"}'])  # a new history
    assert git(attacker, "merge-base", "--is-ancestor", parent, "refs/notes/gittrack", check=False) == ""
    pushed = push_raw(attacker, "refs/notes/gittrack:refs/notes/gittrack")
    assert (pushed.returncode != 0) == world["hook"]
    if world["hook"]:
        assert "drops notes the server holds" in pushed.stderr
        assert push_raw(attacker, ":refs/notes/gittrack").returncode != 0  # nor deleted
    assert gt(victim, "pull").returncode == 0
    tags = gittrack.Client(victim).get_run(run_id).data.tags
    assert tags == {"reviewed": "yes"}  # our edit came later than theirs (t=1), both lines kept
