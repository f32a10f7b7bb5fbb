"""The permissions file: parsing, what each level allows, and its round trip to gitolite's rules
(judged by gitolite's own 'access' command) and to the HTTPS side (hidden refs, the hook's check);
credentials out of every URL gittrack prints, and every line a refusing server sends."""

from __future__ import annotations

import itertools
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import gittrack
from gittrack._gitserver import http, permissions
from gittrack._store import transport
from gittrack.errors import UsageError
from tests import servers
from tests.conftest import BIN, git

TEAM = """\
groups:
  churn-team: [alice, bob]
  fraud-team: [dave]
  ci: [ci-bot]
default: READ
code: {churn-team: EDIT, ci: MANAGE}
experiments:
  churn: {churn-team: EDIT}
  secret: {fraud-team: EDIT, default: NONE}
models:
  churn: {churn-team: EDIT, ci: MANAGE}
  fraud/detector: {fraud-team: MANAGE}
"""
USERS = ["alice", "bob", "ci-bot", "dave", "rita"]
REFS = [
    "refs/heads/main",
    "refs/heads/promote/churn/production/v0.0.1",
    "refs/runs/churn/0123456789abcdef0123456789abcdef",
    "refs/runs-index/churn",
    "refs/runs/secret/0123456789abcdef0123456789abcdef",
    "refs/runs-index/secret",
    "refs/runs/other/0123456789abcdef0123456789abcdef",
    "refs/tags/churn@v0.0.1",
    "refs/tags/churn#staging#3",
    "refs/tags/churn#production#4",
    "refs/tags/churn#production!#5",
    "refs/tags/fraud/detector#production#1",
    "refs/tags/other@v1.0.0",
    "refs/tags/other#production#1",
    "refs/tags/v1.0",
    "refs/tags/not@a#registry#tag",
    "refs/notes/gittrack",
]


@pytest.fixture
def team(tmp_path: Path) -> Path:
    path = tmp_path / "permissions.yaml"
    path.write_text(TEAM)
    return path


def test_levels(team: Path) -> None:
    perms = permissions.load(team)
    assert perms.experiment("alice", "churn") == permissions.EDIT
    assert perms.experiment("rita", "churn") == permissions.READ  # the default
    assert perms.experiment("rita", "secret") == permissions.NONE  # the entry's own default
    assert perms.model("ci-bot", "churn") == permissions.MANAGE
    assert permissions.ref_problem(perms, "alice", REFS[2]) is None
    assert permissions.ref_problem(perms, "alice", REFS[4]) == "alice may not write to experiment 'secret' (needs EDIT)"
    assert "needs MANAGE" in str(permissions.ref_problem(perms, "bob", "refs/tags/churn#production#4"))
    assert permissions.ref_problem(perms, "ci-bot", "refs/tags/churn#production#4") is None
    assert "needs MANAGE on the code" in str(permissions.ref_problem(perms, "alice", "refs/heads/main"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("default: WRITE\n", "'WRITE' is not a permission"),
        ("groups: {a: [a]}\n", "a is both a group and a user"),
        ("experiments: {churn: EDIT}\n", "must map users or groups"),
        ("colour: blue\n", "unknown key(s) colour"),
        ("models: {'bad name': {a: READ}}\n", "model name"),
        ("groups: [unclosed\n", "permissions.yaml"),
    ],
)
def test_a_broken_file_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "permissions.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        gittrack.server_rules(path)
    result = subprocess.run([str(BIN / "gittrack"), "server-rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_https_hides_what_a_user_may_not_read(team: Path) -> None:
    env, _ = http.backend_env({"GITTRACK_PERMISSIONS": str(team), "REMOTE_USER": "rita"})
    assert env is not None
    hidden = [env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))]
    assert hidden == ["refs/runs/secret", "refs/runs-index/secret"]
    env, _ = http.backend_env({"GITTRACK_PERMISSIONS": str(team), "REMOTE_USER": "dave"})
    assert env is not None
    assert env["GIT_CONFIG_COUNT"] == "0"
    closed = team.with_name("closed.yaml")
    closed.write_text("default: NONE\nexperiments: {churn: {alice: READ}}\n")
    env, reason = http.backend_env({"GITTRACK_PERMISSIONS": str(closed), "REMOTE_USER": "rita"})
    assert env is None
    assert reason == "gittrack: rita may not read this repository"
    env, _ = http.backend_env({"GITTRACK_PERMISSIONS": str(closed), "REMOTE_USER": "alice"})
    assert env is not None
    hidden = [env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))]
    assert hidden == ["refs/runs", "refs/runs-index", "!refs/runs/churn", "!refs/runs-index/churn"]


@pytest.mark.slow
def test_gitolite_rules_round_trip(team: Path, tmp_path: Path) -> None:
    """For every user and ref, gitolite's verdict on the generated rules (its 'access' command) is
    the permissions file's verdict, which gittrack's hook gives on the HTTPS side."""
    servers.need(servers.GITOLITE)
    home = tmp_path / "gitolite"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    key = servers.keygen(tmp_path / "admin", "admin")
    subprocess.run([servers.GITOLITE, "setup", "-pk", str(key.with_suffix(".pub"))], env=env, check=True,
                   capture_output=True)  # fmt: skip
    rc = home / ".gitolite.rc"
    rc.write_text(rc.read_text().replace("\n1;", "\n" + gittrack.server_rules(team, "gitolite-rc") + "\n1;"))
    (home / ".gitolite" / "conf" / "gitolite.conf").write_text(
        "repo gitolite-admin\n    RW+ = admin\n\n" + gittrack.server_rules(team, "gitolite", "team")
    )
    subprocess.run([servers.GITOLITE, "compile"], env=env, check=True, capture_output=True)
    perms = permissions.load(team)

    def allowed(user: str, perm: str, ref: str) -> bool:
        command = [servers.GITOLITE, "access", "-q", "team", user, perm, ref]
        return subprocess.run(command, env=env, capture_output=True).returncode == 0

    pairs = list(itertools.product(USERS, REFS))
    with ThreadPoolExecutor(4) as pool:  # one perl process each
        verdicts = list(pool.map(lambda pair: allowed(pair[0], "W", pair[1]), pairs))
    for (user, ref), verdict in zip(pairs, verdicts, strict=True):
        assert verdict == (permissions.ref_problem(perms, user, ref) is None), (user, ref)
    for user in USERS:
        assert allowed(user, "R", "any") == (perms.highest(user) >= permissions.READ)


def test_the_server_hook_checks_the_pushing_user(team: Path, tmp_path: Path, repo: Path) -> None:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    gittrack.install_hooks(bare, server=True)
    base = {**os.environ, "GITTRACK_PERMISSIONS": str(team)}
    result = subprocess.run(["git", "push", str(bare), "HEAD:refs/heads/main"], cwd=repo, capture_output=True,
                            text=True, env={**base, "REMOTE_USER": "alice"})  # fmt: skip
    assert "gittrack: refused refs/heads/main: alice may not push refs/heads/main (needs MANAGE on the code)" in (
        result.stderr
    )
    result = subprocess.run(["git", "push", str(bare), "HEAD:refs/heads/main"], cwd=repo, capture_output=True,
                            text=True, env={**base, "GL_USER": "ci-bot"})  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_credentials_never_printed(repo: Path) -> None:
    assert transport.redact("git push to https://alice:s3cret@host:8443/team.git failed") == (
        "git push to https://host:8443/team.git failed"
    )
    assert transport.redact("ssh://git@host/team and https://tok@h/x") == "ssh://host/team and https://h/x"
    port = servers.free_port()  # nothing listens there
    url = f"http://alice:alice-secret@127.0.0.1:{port}/team.git"
    with gittrack.start_run(experiment="e"):
        pass
    result = subprocess.run([str(BIN / "gittrack"), "push", url], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 1
    assert "alice-secret" not in result.stdout + result.stderr
    assert "alice@" not in result.stderr
    assert f"git push to http://127.0.0.1:{port}/team.git failed" in result.stderr


def test_every_line_a_refusing_server_sends(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'FATAL: W refs/heads/main bob DENIED by fallthru' >&2\n"
                    "echo '(or you mis-spelled the reponame)' >&2\nexit 1\n")  # fmt: skip
    hook.chmod(0o755)
    (repo / "x").write_text("x")
    results = transport.push(repo, str(bare), ["HEAD:refs/heads/main"])
    assert results[0].why == "FATAL: W refs/heads/main bob DENIED by fallthru; (or you mis-spelled the reponame)"
    said = transport._server_said(
        "FATAL: W any team bob DENIED by fallthru\n(or you mis-spelled the reponame)\n"
        "fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\n"
        "and the repository exists.\n"
    )
    assert said == (
        "FATAL: W any team bob DENIED by fallthru; (or you mis-spelled the reponame); "
        "fatal: Could not read from remote repository."
    )


def test_the_cgi_answers_a_user_who_may_read_nothing(team: Path, tmp_path: Path) -> None:
    closed = tmp_path / "closed.yaml"
    closed.write_text("default: NONE\n")
    env = {**os.environ, "GITTRACK_PERMISSIONS": str(closed), "REMOTE_USER": "rita"}
    result = subprocess.run([str(BIN / "gittrack"), "http-backend"], env=env, capture_output=True)
    assert result.stdout == (
        b"Status: 403 Forbidden\r\nContent-Type: text/plain\r\n\r\ngittrack: rita may not read this repository\n"
    )
    closed.write_text("default: SOMETIMES\n")
    result = subprocess.run([str(BIN / "gittrack"), "http-backend"], env=env, capture_output=True)
    assert result.stdout.startswith(b"Status: 500 Internal Server Error")
    assert b"'SOMETIMES' is not a permission" in result.stdout


def test_dvc_remote_shown_without_credentials_and_a_misfit_config_is_one_line(repo: Path) -> None:
    with pytest.raises(
        UsageError, match=r"holds a password, which \.dvc/config would share: give https://dvc\.example"
    ):
        gittrack.init(repo, dvc_remote="https://alice:alice-secret@dvc.example.com/store")
    assert gittrack.init(repo, dvc_remote="https://alice@dvc.example.com/store").dvc_remote == (
        "https://dvc.example.com/store"  # a user name is no secret, yet gittrack shows no user info
    )
    subprocess.run([str(BIN / "dvc"), "remote", "modify", "--local", "gittrack", "auth", "basic"], cwd=repo, check=True)
    result = subprocess.run([str(BIN / "gittrack"), "init", "--dvc-remote", "s3://bucket/path"], cwd=repo,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot make s3://bucket/path DVC's remote: config file error: extra keys")
    assert len(result.stderr.strip().splitlines()) == 1


def test_https_refuses_pushes_to_a_repository_without_the_hook(team: Path, tmp_path: Path) -> None:
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    request = {"GITTRACK_PERMISSIONS": str(team), "REMOTE_USER": "alice", "GIT_PROJECT_ROOT": str(tmp_path)}
    advert = {**request, "PATH_INFO": "/team.git/info/refs", "QUERY_STRING": "service=git-receive-pack"}
    env, reason = http.backend_env(advert)
    assert env is None
    assert reason.startswith("gittrack: this repository has no gittrack pre-receive hook")
    assert http.backend_env({**request, "PATH_INFO": "/team.git/info/refs", "QUERY_STRING": "service=git-upload-pack"})[
        0
    ]
    gittrack.install_hooks(bare, server=True)
    assert http.backend_env(advert)[0] is not None
    assert http.backend_env({**request, "PATH_INFO": "/team.git/git-receive-pack"})[0] is not None
    assert http.backend_env({**request, "PATH_INFO": "/../team.git/git-receive-pack"})[0] is None
