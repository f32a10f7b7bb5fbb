"""A team on real servers: git over SSH through gitolite with artifacts in S3 (moto's server,
checking signatures and IAM users), and git over HTTPS through nginx and git-http-backend with
artifacts on an SSH host; one permissions file drives both. Two data scientists (alice, bob), a CI
identity (ci-bot), a reader (rita) and another group's member (dave) train, push, pull, reproduce
and promote; every forbidden action is refused with the server's reason in gittrack's output."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import servers
from tests.conftest import BIN, git, optional

pytestmark = pytest.mark.slow

PERMISSIONS = """\
groups:
  churn-team: [alice, bob]
  fraud-team: [dave]
  ci: [ci-bot]
  readers: [rita]
default: READ
code: {churn-team: EDIT, ci: MANAGE}
experiments:
  churn: {churn-team: EDIT}
  secret: {fraud-team: EDIT, ci: READ, default: NONE}
models:
  churn: {churn-team: EDIT, ci: MANAGE}
"""
USERS = ["alice", "bob", "ci-bot", "dave", "rita"]

TRAIN = """
import argparse
import gittrack
from sklearn.linear_model import LinearRegression

parser = argparse.ArgumentParser()
parser.add_argument("--slope", type=float)
slope = parser.parse_args().slope
with gittrack.start_run(params={"slope": slope}):
    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, slope, 2 * slope])
    gittrack.log_metric("auc", 0.5 + slope / 100)
    gittrack.log_model(model, input_example=[[1.0]])
"""


def gt(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the gittrack command in ``cwd``; with ``ok`` it must succeed."""
    result = subprocess.run([str(BIN / "gittrack"), *args], cwd=cwd, capture_output=True, text=True, check=False)
    if ok:
        assert result.returncode == 0, f"gittrack {' '.join(args)} in {cwd.name}: {result.stdout}{result.stderr}"
    return result


def train(root: Path, slope: float, experiment: str = "churn") -> str:
    """One run of train.py; returns its id."""
    import gittrack

    gt(root, "run", "-e", experiment, "--", sys.executable, "train.py", "--slope", str(slope))
    frame = gittrack.Client(root).search_runs(experiment_names=[experiment], order_by=["start_time DESC"])
    return str(frame["run_id"].iloc[0])


def quick_run(root: Path, experiment: str) -> str:
    """A finished run without a model (in this process: no training to wait for); returns its id."""
    import gittrack

    client = gittrack.Client(root)
    run = client.create_run(experiment=experiment, params={"slope": 1}).info.run_id
    client.log_metric(run, "auc", 0.5)
    client.set_terminated(run)
    return run


def clone(url: str, path: Path, user: str, config: dict[str, str]) -> Path:
    env = {**os.environ, "GIT_SSH_COMMAND": config.get("core.sshCommand", "ssh")}
    if "http.sslCAInfo" in config:
        env["GIT_SSL_CAINFO"] = config["http.sslCAInfo"]
    subprocess.run(["git", "clone", "-q", url, str(path)], check=True, capture_output=True, env=env)
    for key, value in {"user.name": user, "user.email": f"{user}@example.com", **config}.items():
        git(path, "config", key, value)
    return path


def dvc_local(root: Path, **settings: str) -> None:
    """The DVC remote's endpoint and credentials, in .dvc/config.local (never committed)."""
    lines = "".join(f"    {key} = {value}\n" for key, value in settings.items())
    (root / ".dvc" / "config.local").write_text(f"['remote \"gittrack\"']\n{lines}")


@pytest.fixture(autouse=True)
def _own_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    """git trusts the test's certificate through each clone's http.sslCAInfo, which the
    environment's GIT_SSL_CAINFO (set on some machines) would override."""
    monkeypatch.delenv("GIT_SSL_CAINFO", raising=False)


@pytest.fixture(scope="module")
def permissions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("perms") / "permissions.yaml"
    path.write_text(PERMISSIONS)
    return path


@pytest.fixture(scope="module")
def ssh(tmp_path_factory: pytest.TempPathFactory, permissions: Path):
    """sshd + gitolite serving repository 'team' with the rules generated from the permissions file."""
    import gittrack

    server = servers.start_ssh(tmp_path_factory.mktemp("ssh"))
    try:
        rules = {
            kind: gittrack.server_rules(permissions, kind, "team")
            for kind in ("gitolite", "gitolite-rc", "gitolite-hook")
        }
        server.configure(rules["gitolite"], rules["gitolite-rc"], rules["gitolite-hook"], USERS)
        bare = server.gitolite_home / "repositories" / "team.git"
        subprocess.run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], cwd=bare, check=True)
        yield server
    finally:
        servers.stop(server.proc)


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory):
    optional("dvc_s3", "DVC's S3 remotes need dvc-s3 (the servers extra)")
    server = servers.start_s3(tmp_path_factory.mktemp("s3"), "team-artifacts", USERS)
    yield server
    servers.stop(server.proc)


def test_team_over_ssh_with_s3_artifacts(ssh, s3, tmp_path: Path) -> None:
    people = {}
    for user in ("ci-bot", "alice", "bob", "rita"):
        people[user] = clone(ssh.url("team"), tmp_path / user, user, {"core.sshCommand": ssh.command(user)})
    ci, alice, bob, rita = people.values()

    # the maintainer (MANAGE on the code) sets the project up: code, DVC on S3, production guarded
    (ci / "train.py").write_text(textwrap.dedent(TRAIN))
    git(ci, "add", "train.py")
    git(ci, "commit", "-q", "-m", "Add the training script")
    assert "s3://team-artifacts/dvc" in gt(ci, "init", "--dvc-remote", "s3://team-artifacts/dvc", "--commit").stdout
    gt(ci, "promotions", "policy", "churn", "--guard", "production", "--commit")
    git(ci, "push", "-q", "origin", "main")
    for user, root in people.items():
        if root != ci:
            git(root, "pull", "-q", "origin", "main")
        key, secret = s3.keys[user]
        dvc_local(root, endpointurl=s3.endpoint, access_key_id=key, secret_access_key=secret)
    assert "config.local" in (ci / ".dvc" / ".gitignore").read_text()  # the credentials stay out of git

    # alice trains and pushes (data to S3 first), bob pulls and reproduces from S3
    run = train(alice, 2)
    pushed = gt(alice, "push").stdout
    assert "1 run(s) sent" in pushed
    assert "DVC object(s)" in pushed
    assert "1 run(s) new" in gt(bob, "pull").stdout
    assert "reproduced" in gt(bob, "reproduce", run, "--yes").stdout

    # forbidden: a run in another group's experiment; a production tag by a user; a force-pushed run
    quick_run(alice, "secret")
    refused = gt(alice, "push", "-e", "secret", ok=False)
    assert refused.returncode == 1
    assert "alice may not write to experiment 'secret' (needs EDIT)" in refused.stderr
    gt(alice, "models", "register", "churn", "--run", run)
    gt(alice, "push", "-e", "churn")  # the registration: EDIT on the model
    version_commit = git(alice, "rev-parse", "refs/tags/churn@v0.0.1^{commit}").strip()
    git(alice, "tag", "churn#production#1", version_commit)
    refused = gt(alice, "push", "-e", "churn", ok=False)
    assert "refs/tags/churn#production#1: alice may not change stage 'production' of model 'churn'" in refused.stderr
    git(alice, "tag", "-d", "churn#production#1")
    ref = f"refs/runs/churn/{run}"
    rewritten = git(alice, "commit-tree", f"{ref}^{{tree}}", "-m", "rewritten").strip()
    forced = subprocess.run(["git", "push", "--force", "origin", f"{rewritten}:{ref}"], cwd=alice,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert forced.returncode != 0
    assert f"gittrack: refused {ref}" in forced.stderr
    # a reader may not push at all: gitolite refuses the whole push, and says so
    quick_run(rita, "churn")
    whole = gt(rita, "push", ok=False)
    assert "FATAL: W any team rita DENIED by fallthru" in whole.stderr, whole.stderr
    assert len(whole.stderr.strip().splitlines()) == 1

    # promotion: alice requests it on a branch, the maintainer merges it, CI applies it
    gt(alice, "models", "promote", "churn", "v0.0.1", "production", "--request", "--push")
    git(ci, "fetch", "-q", "origin")
    git(ci, "merge", "-q", "--no-edit", "origin/promote/churn/production/v0.0.1")
    git(ci, "push", "-q", "origin", "main")
    gt(ci, "pull")  # the runs and the registration
    applied = gt(ci, "promotions", "apply", "--push").stdout
    assert "created tag churn#production#" in applied
    gt(rita, "pull")
    import gittrack

    model = gittrack.Client(rita).load_model("churn@production")  # the data comes from S3
    assert model.predict([[1.0]])[0] == pytest.approx(2)


def test_a_user_without_bucket_access_gets_one_line(s3, tmp_path: Path) -> None:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    root = tmp_path / "carol"
    subprocess.run(["git", "clone", "-q", str(bare), str(root)], check=True, capture_output=True)
    (root / "train.py").write_text(textwrap.dedent(TRAIN))
    git(root, "add", "train.py")
    git(root, "commit", "-q", "-m", "Add the training script")
    gt(root, "init", "--dvc-remote", f"s3://{s3.bucket}/carol", "--commit")
    dvc_local(root, endpointurl=s3.endpoint, access_key_id="AKIANOTAKEY", secret_access_key="not-a-secret")
    train(root, 5)
    result = gt(root, "push", ok=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: could not push to the DVC remote: Forbidden (the DVC remote refused these")
    assert "Traceback" not in result.stderr
    assert "not-a-secret" not in result.stderr


PASSWORDS = {user: f"{user}-secret" for user in USERS}


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory, permissions: Path):
    """nginx + fcgiwrap + git-http-backend over HTTPS with basic auth, serving team.git with
    gittrack's server hook; the CGI and the hook check the permissions file."""
    import gittrack

    server = servers.start_https(
        tmp_path_factory.mktemp("https"), PASSWORDS, gittrack.server_rules(permissions, "http-cgi")
    )
    try:
        bare = server.root / "team.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
        git(bare, "config", "http.receivepack", "true")
        gittrack.install_hooks(bare, server=True)
        yield server
    finally:
        servers.stop(*server.procs)


def test_team_over_https_with_ssh_artifacts(https, ssh, tmp_path: Path) -> None:
    optional("dvc_ssh", "DVC's SSH remotes need dvc-ssh (the servers extra)")
    storage = tmp_path / "dvc-storage"
    storage.mkdir()
    people = {}
    for user in ("ci-bot", "alice", "bob", "dave", "rita"):
        url = https.url("team.git", user, PASSWORDS[user])
        people[user] = clone(url, tmp_path / user, user, {"http.sslCAInfo": str(https.ca)})
    ci, alice, bob, dave, rita = people.values()

    (ci / "train.py").write_text(textwrap.dedent(TRAIN))
    git(ci, "add", "train.py")
    git(ci, "commit", "-q", "-m", "Add the training script")
    gt(ci, "init", "--dvc-remote", f"ssh://{ssh.login}@127.0.0.1:{ssh.port}{storage}", "--commit")
    git(ci, "push", "-q", "origin", "main")
    for root in people.values():
        if root != ci:
            git(root, "pull", "-q", "origin", "main")
        dvc_local(root, keyfile=str(ssh.keys["storage"]))

    run = train(alice, 2)
    pushed = gt(alice, "push")
    assert "1 run(s) sent" in pushed.stdout
    assert "DVC object(s)" in pushed.stdout
    assert "alice-secret" not in pushed.stdout + pushed.stderr
    quick_run(dave, "secret")
    assert "1 run(s) sent" in gt(dave, "push").stdout

    # bob loads alice's model with its data from the SSH host
    assert "1 run(s) new" in gt(bob, "pull").stdout
    import gittrack

    assert gittrack.Client(bob).load_model(f"runs:/{run}/model").predict([[1.0]])[0] == pytest.approx(2)
    gt(bob, "artifacts", "get", run, "model", "-o", str(tmp_path / "fetched"))
    assert any((tmp_path / "fetched").rglob("model.yaml"))
    assert "checked out run" in gt(bob, "checkout", run).stdout

    # the reader sees churn, never the secret experiment; a wrong password is one line without it
    gt(rita, "pull")
    assert list(gittrack.Client(rita).search_runs()["run_id"]) == [run]  # every experiment she can see
    assert "refs/runs/secret" not in git(rita, "ls-remote", "origin")
    assert "0 run(s) new" in gt(rita, "pull", "-e", "secret").stdout
    git(rita, "remote", "set-url", "origin", https.url("team.git", "rita", "not-her-password"))
    denied = gt(rita, "pull", ok=False)
    assert denied.returncode == 1
    assert "Authentication failed" in denied.stderr
    assert "not-her-password" not in denied.stderr
    assert len(denied.stderr.strip().splitlines()) == 1

    # promotion over HTTPS: requested by alice, merged by the maintainer, applied by CI; bob's own
    # production tag is refused for his basic-auth user
    gt(alice, "models", "register", "churn", "--run", run)
    gt(alice, "models", "promote", "churn", "v0.0.1", "production", "--request", "--push")
    git(ci, "fetch", "-q", "origin")
    git(ci, "merge", "-q", "--no-edit", "origin/promote/churn/production/v0.0.1")
    git(ci, "push", "-q", "origin", "main")
    gt(ci, "pull")
    assert "created tag churn#production#" in gt(ci, "promotions", "apply", "--push").stdout
    gt(bob, "pull")
    git(bob, "tag", "churn#production#9", git(bob, "rev-parse", "refs/tags/churn@v0.0.1^{commit}").strip())
    refused = gt(bob, "push", "-e", "churn", ok=False)
    assert "bob may not change stage 'production' of model 'churn' (needs MANAGE)" in refused.stderr

    # alice may not write into the secret experiment, and the hook says why
    quick_run(alice, "secret")
    refused = gt(alice, "push", https.url("team.git", "alice", PASSWORDS["alice"]), ok=False)  # a URL, not a name
    assert "alice may not write to experiment 'secret' (needs EDIT)" in refused.stderr
    assert refused.stdout.startswith(f"https://127.0.0.1:{https.port}/team.git: ")  # no user, no password
    assert "alice-secret" not in refused.stdout + refused.stderr
