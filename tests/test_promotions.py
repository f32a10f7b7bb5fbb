"""Promotions reviewed in pull requests, end to end with real git, a server hook and two clones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest
import yaml
from click.testing import CliRunner

import gittrack
from gittrack._data import dvcstore
from gittrack._hooks import pre_receive, script
from gittrack._registry.desired import parse
from gittrack.cli import main
from tests.conftest import BIN, git

pytestmark = pytest.mark.slow
GT = str(BIN / "gittrack")
ROOT = Path(__file__).resolve().parent.parent


class Scaler:
    """A python-flavor model."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def predict(self, values):
        return [self.factor * v for v in values]


def gt(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([GT, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def train(root: Path, factor: float, auc: float) -> str:
    client = gittrack.Client(root)
    run_id = client.create_run(experiment="churn", params={"factor": factor}).info.run_id
    client.log_metric(run_id, "auc", auc)
    client.log_model(run_id, Scaler(factor), name="model")
    client.set_terminated(run_id)
    return run_id


def scientist(tmp_path: Path) -> tuple[Path, Path]:
    """A bare remote (main) and a data scientist's clone of it with DVC set up and committed."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    ds = tmp_path / "scientist"
    subprocess.run(["git", "clone", "-q", str(remote), str(ds)], check=True, capture_output=True)
    dvcstore.open_dvc.cache_clear()
    gt(ds, "init", "--dvc-remote", str(tmp_path / "dvc-remote"), "--commit")
    return remote, ds


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A bare remote with the server hook, a data scientist's clone with three registered versions
    (auc 0.80, 0.85, 0.70) and a policy guarding production, and a reviewer's clone."""
    remote, ds = scientist(tmp_path)
    monkeypatch.chdir(ds)
    ids = [train(ds, f, auc) for f, auc in ((1.0, 0.80), (2.0, 0.85), (3.0, 0.70))]
    for run_id in ids:
        gt(ds, "models", "register", "churn", "--run", run_id)
    gt(ds, "promotions", "policy", "churn", "--no-worse", "auc:max", "--threshold", "auc:>=:0.75", "--guard",
       "production", "--commit")  # fmt: skip
    git(ds, "push", "-q", "origin", "main")
    gt(ds, "push")
    gt(remote, "hooks", "install", "--server")
    reviewer = tmp_path / "reviewer"
    subprocess.run(["git", "clone", "-q", str(remote), str(reviewer)], check=True, capture_output=True)
    gt(reviewer, "pull")
    return remote, ds, reviewer, ids


def merge(reviewer: Path, branch: str) -> None:
    git(reviewer, "fetch", "-q", "origin")
    git(reviewer, "checkout", "-q", "main")
    git(reviewer, "pull", "-q", "--ff-only", "origin", "main")
    git(reviewer, "merge", "-q", "--no-ff", "-m", f"Merge {branch}", f"origin/{branch}")
    git(reviewer, "push", "-q", "origin", "main")


def test_request_check_merge_apply(team, tmp_path: Path) -> None:
    remote, ds, reviewer, _ = team
    refused = gt(ds, "models", "promote", "churn", "v0.0.2", "production", ok=False)
    assert refused.returncode == 2
    assert "guarded" in refused.stderr
    assert "--request" in refused.stderr
    git(ds, "config", "gittrack.stages", "staging")  # a configured stage list restricts requests too
    refused = gt(ds, "models", "promote", "churn", "v0.0.2", "production", "--request", ok=False)
    assert "stage 'production' is not allowed here; allowed stages: staging" in refused.stderr
    git(ds, "config", "--unset", "gittrack.stages")
    report_file = tmp_path / "report.md"
    made = gt(ds, "models", "promote", "churn", "v0.0.2", "production", "--request", "--push", "--report",
              str(report_file))  # fmt: skip
    assert "created branch promote/churn/production/v0.0.2" in made.stdout
    report = report_file.read_text()
    assert "## Promote `churn` v0.0.2 to `production`" in report
    assert "**Policy: PASS**" in report
    assert git(remote, "rev-parse", "refs/heads/promote/churn/production/v0.0.2").strip()
    # the reviewer's CI checks the request: it passes
    git(reviewer, "fetch", "-q", "origin")
    git(reviewer, "checkout", "-q", "origin/promote/churn/production/v0.0.2")
    gt(reviewer, "pull")
    checked = gt(reviewer, "promotions", "check", "--remote", "origin")
    assert "**Check: PASS**" in checked.stdout
    merge(reviewer, "promote/churn/production/v0.0.2")
    applied = gt(reviewer, "promotions", "apply", "--push")
    assert "created tag churn#production#" in applied.stdout
    assert "Gittrack-Merge:" in git(remote, "tag", "-l", "--format=%(contents)", "churn#production#*")
    assert "nothing to apply" in gt(reviewer, "promotions", "apply").stdout  # idempotent
    assert "in sync" in gt(reviewer, "promotions", "status").stdout
    gt(ds, "pull")
    assert gittrack.load_model("churn@production", repo=ds).predict([1]) == [2.0]
    # a second request for a worse version fails the check, with the reasons
    gt(ds, "models", "promote", "churn", "v0.0.3", "production", "--request", "--push")
    git(reviewer, "fetch", "-q", "origin")
    git(reviewer, "checkout", "-q", "origin/promote/churn/production/v0.0.3")
    failed = gt(reviewer, "promotions", "check", ok=False)
    assert failed.returncode == 1
    assert "**Check: FAIL**" in failed.stdout
    assert "auc no worse (max, tolerance 0) failed" in failed.stdout
    assert "auc >= 0.75 failed" in failed.stdout


def test_server_hook_refuses_unreviewed_removal_of_a_guarded_stage(team) -> None:
    _remote, ds, reviewer, _ = team
    gt(ds, "models", "promote", "churn", "v0.0.2", "production", "--request", "--push")
    merge(reviewer, "promote/churn/production/v0.0.2")
    gt(reviewer, "promotions", "apply", "--push")
    gt(ds, "pull")
    holder = gittrack.Client(ds).get_run(gittrack.Client(ds).get_model_version("churn", "v0.0.2")["run_id"])
    commit = holder.info.commit
    for name in ("churn#production!#99", "churn@v0.0.2!", "churn@deprecated"):
        git(ds, "tag", "-a", "-m", "sneaky", name, commit)
        pushed = subprocess.run(["git", "push", "origin", name], cwd=ds, capture_output=True, text=True)
        assert pushed.returncode != 0, name
        assert "stage 'production' of churn is guarded" in pushed.stderr
        assert "asks for v0.0.2 there" in pushed.stderr
        git(ds, "tag", "-d", name)
    gt(reviewer, "pull")
    assert "v0.0.2" in gt(reviewer, "models", "list").stdout


def test_the_request_cannot_loosen_its_own_policy(team) -> None:
    _, ds, _, _ = team
    gt(ds, "models", "promote", "churn", "v0.0.3", "production", "--request")
    git(ds, "checkout", "-q", "promote/churn/production/v0.0.3")
    wanted = parse((ds / "registry.yaml").read_bytes())
    wanted.policies.clear()  # the branch drops the policy...
    (ds / "registry.yaml").write_bytes(wanted.to_bytes())
    git(ds, "commit", "-q", "-am", "loosen the policy")
    result = gt(ds, "promotions", "check", "--base", "main", ok=False)
    assert result.returncode == 1  # ...but the check reads the policy from the default branch
    assert "auc >= 0.75 failed" in result.stdout


def test_server_hook_refuses_bypasses(team) -> None:
    remote, ds, _, ids = team
    commit = gittrack.Client(ds).get_run(ids[2]).info.commit
    git(ds, "tag", "-a", "-m", "sneaky", "churn#production#99", commit)
    pushed = subprocess.run(["git", "push", "origin", "churn#production#99"], cwd=ds, capture_output=True, text=True)
    assert pushed.returncode != 0
    assert "stage 'production' of churn is guarded" in pushed.stderr
    refused = gt(ds, "push", ok=False)  # gittrack push says so too, and exits 1
    assert refused.returncode == 1
    assert "refused refs/tags/churn#production#99" in refused.stderr
    git(ds, "tag", "-d", "churn#production#99")
    ref = gittrack.Client(ds).get_run(ids[0]).info.ref
    deleted = subprocess.run(["git", "push", "origin", f":{ref}"], cwd=ds, capture_output=True, text=True)
    assert deleted.returncode != 0
    assert "deleting runs is refused" in deleted.stderr
    other = gittrack.Client(ds).get_run(ids[1]).info.commit
    forced = subprocess.run(["git", "push", "-f", "origin", f"{other}:{ref}"], cwd=ds, capture_output=True, text=True)
    assert forced.returncode != 0
    assert "not the run its name says" in forced.stderr
    bad = subprocess.run(["git", "push", "origin", f"{commit}:refs/runs/Bad/x"], cwd=ds, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "not a valid run ref" in bad.stderr
    moved = subprocess.run(["git", "push", "-f", "origin", f"{commit}:refs/tags/churn@v0.0.1"], cwd=ds,
                           capture_output=True, text=True)  # fmt: skip
    assert moved.returncode != 0
    assert "never moved or deleted" in moved.stderr
    # allowed: an unguarded stage, and new runs
    gt(ds, "models", "promote", "churn", "v0.0.1", "staging")
    gt(ds, "push")
    assert "churn#staging#" in git(remote, "tag", "-l")


def test_pre_receive_rules_directly(team) -> None:
    remote, _, _, _ = team
    repo = pygit2.Repository(str(remote))
    zero = "0" * 40
    assert pre_receive([f"{zero} {zero} refs/heads/feature"], repo) == []
    refused = pre_receive([f"{zero} {zero} refs/runs/churn/not-an-id"], repo)
    assert len(refused) == 1


def test_client_hooks(team, tmp_path: Path) -> None:
    remote, ds, reviewer, _ = team
    gt(ds, "hooks", "install")
    assert (ds / ".git" / "hooks" / "pre-push").exists()
    (ds / "train.py").write_text("print(1)\n")
    git(ds, "add", "train.py")
    git(ds, "commit", "-q", "-m", "new code")
    run_id = train(ds, 5.0, 0.9)
    git(ds, "push", "-q", "origin", "main")  # the pre-push hook pushes the run recorded from this commit
    assert run_id in git(remote, "for-each-ref", "refs/runs/")
    # post-merge applies merged promotions when asked to
    gt(reviewer, "hooks", "install")
    git(reviewer, "config", "gittrack.applyOnMerge", "true")
    gt(ds, "models", "promote", "churn", "v0.0.2", "production", "--request", "--push")
    git(reviewer, "checkout", "-q", "main")
    git(reviewer, "fetch", "-q", "origin")
    gt(reviewer, "pull")
    git(reviewer, "merge", "-q", "--no-ff", "-m", "merge", "origin/promote/churn/production/v0.0.2")
    assert "churn#production#" in git(reviewer, "tag", "-l")


def test_policy_command_and_status_drift(team) -> None:
    _, ds, _, _ = team
    shown = gt(ds, "promotions", "policy", "churn")
    assert "churn: its own, in force from registry.yaml on main at" in shown.stdout
    assert "  guard       production\n" in shown.stdout
    bad = gt(ds, "promotions", "policy", "churn", "--no-worse", "auc:sideways", ok=False)
    assert bad.returncode == 2
    assert "METRIC:min|max" in bad.stderr
    bad = gt(ds, "promotions", "policy", "churn", "--threshold", "auc:~:1", ok=False)
    assert bad.returncode == 2
    gt(ds, "models", "promote", "churn", "v0.0.1", "staging")
    drift = gt(ds, "promotions", "status")
    assert "in sync" in drift.stdout  # staging is not guarded and registry.yaml names none
    wanted = parse((ds / "registry.yaml").read_bytes())
    wanted.models["churn"] = {"production": "v0.0.2"}
    (ds / "registry.yaml").write_bytes(wanted.to_bytes())
    git(ds, "commit", "-q", "-am", "want v0.0.2")
    out = gt(ds, "promotions", "status", ok=False)
    assert "wants v0.0.2, the tags say nobody" in out.stdout


def test_registry_policy_shows_without_writing(repo: Path) -> None:
    def cli(*args: str):
        return CliRunner().invoke(main, ["promotions", "policy", *args], catch_exceptions=False)

    none = cli("churn")
    assert none.exit_code == 0
    assert none.output.startswith("churn: no policy in registry.yaml on main at ")
    assert not (repo / "registry.yaml").exists()
    cli("churn", "--guard", "production", "--no-worse", "auc:max", "--no-worse", "rmse:min:0.05",
        "--threshold", "auc:>=:0.8")  # fmt: skip
    written = (repo / "registry.yaml").read_bytes()
    shown = cli("churn")
    assert (repo / "registry.yaml").read_bytes() == written
    assert git(repo, "status", "--porcelain") == "?? registry.yaml\n"
    assert shown.output.splitlines()[1:] == [
        "the work tree's registry.yaml has another policy for churn, in force once committed on main:",
        "  guard       production",
        "  no worse    auc (higher is better), rmse (lower is better, tolerance 0.05)",
        "  thresholds  auc >= 0.8",
    ]
    committed = cli("churn", "--commit")
    assert "committed registry.yaml as" in committed.output
    head = git(repo, "rev-parse", "HEAD").strip()
    assert json.loads(cli("churn", "--json").output) == {
        "model": "churn",
        "branch": "main",
        "commit": head,
        "in_force": {
            "applies": "churn",
            "guard": ["production"],
            "no_worse": [
                {"metric": "auc", "direction": "max", "tolerance": 0.0},
                {"metric": "rmse", "direction": "min", "tolerance": 0.05},
            ],
            "thresholds": [{"metric": "auc", "op": ">=", "value": 0.8}],
        },
        "work_tree": None,
    }
    assert git(repo, "status", "--porcelain") == ""


def test_shipped_hooks_and_ci_files() -> None:
    for name in ("pre-push", "post-merge", "pre-receive"):
        shipped = ROOT / "hooks" / name
        assert shipped.read_text() == script(name)
        assert os.access(shipped, os.X_OK)
    github = yaml.safe_load((ROOT / "docs" / "ci" / "github-actions.yml").read_text())
    assert {"check", "apply"} <= set(github["jobs"])
    assert "gittrack promotions check" in str(github)
    gitlab = yaml.safe_load((ROOT / "docs" / "ci" / "gitlab-ci.yml").read_text())
    assert {"registry-check", "registry-apply"} <= set(gitlab)
    result = CliRunner().invoke(main, ["hooks", "run", "nope"])
    assert result.exit_code != 0
    assert sys.executable


def test_push_shows_the_hooks_reasons_and_sends_what_it_accepts(team) -> None:
    remote, ds, _, ids = team
    commit = gittrack.Client(ds).get_run(ids[2]).info.commit
    git(ds, "tag", "-a", "-m", "sneaky", "churn#production#99", commit)  # the hook refuses this tag...
    git(ds, "update-ref", "refs/runs/Bad/x", commit)  # ...and this malformed run ref
    new_run = train(ds, 4.0, 0.9)  # but not a new run...
    gt(ds, "models", "promote", "churn", "v0.0.1", "staging")  # ...nor an unguarded stage
    refused = gt(ds, "push", ok=False)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    lines = [line for line in refused.stderr.splitlines() if "refused" in line]
    assert len(lines) == 2, refused.stderr
    assert any("refs/tags/churn#production#99" in line and "stage 'production' of churn is guarded" in line
               for line in lines)  # fmt: skip
    assert any("refs/runs/Bad/x" in line and "not a valid run ref" in line for line in lines)
    assert new_run in git(remote, "for-each-ref", "refs/runs/")
    assert "churn#staging#" in git(remote, "tag", "-l")
    assert "churn#production#99" not in git(remote, "tag", "-l")


def test_a_committed_policy_is_enforced_before_the_default_branch_is_pushed(tmp_path: Path, monkeypatch) -> None:
    _, ds = scientist(tmp_path)
    git(ds, "push", "-q", "origin", "main")  # origin/main now exists, without any policy
    monkeypatch.chdir(ds)
    gt(ds, "models", "register", "churn", "--run", train(ds, 1.0, 0.8))
    committed = gt(ds, "promotions", "policy", "churn", "--guard", "production", "--commit")
    assert "in force here now" in committed.stdout
    assert "the server hook and CI enforce it once main is pushed" in committed.stdout
    refused = gt(ds, "models", "promote", "churn", "v0.0.1", "production", ok=False)  # not pushed yet
    assert refused.returncode == 2
    assert "guarded" in refused.stderr
    git(ds, "checkout", "-q", "-b", "side", "HEAD~1")  # a branch that is not the default one
    elsewhere = gt(ds, "promotions", "policy", "churn", "--guard", "staging", "--commit")
    assert "takes effect once merged into main" in elsewhere.stdout


def test_a_holder_from_before_the_guard_changes_only_through_review(tmp_path: Path, monkeypatch) -> None:
    remote, ds = scientist(tmp_path)
    monkeypatch.chdir(ds)
    ids = [train(ds, f, auc) for f, auc in ((1.0, 0.80), (2.0, 0.85))]
    for run_id in ids:
        gt(ds, "models", "register", "churn", "--run", run_id)
    gt(ds, "models", "promote", "churn", "v0.0.1", "production")  # no policy yet: a direct promotion
    git(ds, "push", "-q", "origin", "main")
    gt(ds, "push")
    gt(remote, "hooks", "install", "--server")
    holder, other = (gittrack.Client(ds).get_run(run_id).info.commit for run_id in ids)
    # guarding the stage records who holds it, so the desired state is not in drift at once
    guarded = gt(ds, "promotions", "policy", "churn", "--guard", "production", "--commit")
    assert "recorded v0.0.1, which holds production now, as the production holder of churn" in guarded.stdout
    assert parse((ds / "registry.yaml").read_bytes()).models == {"churn": {"production": "v0.0.1"}}
    assert "in sync" in gt(ds, "promotions", "status").stdout
    assert gittrack.Client(ds).promotions.set_policy("churn", guard=["production"])["recorded"] == []  # once
    git(ds, "push", "-q", "origin", "main")

    def sneak(name: str, commit: str) -> subprocess.CompletedProcess:
        git(ds, "tag", "-a", "-m", "sneaky", name, commit)
        pushed = subprocess.run(["git", "push", "origin", name], cwd=ds, capture_output=True, text=True)
        git(ds, "tag", "-d", name)
        return pushed

    for name in ("churn#production!#7", "churn@v0.0.1!", "churn@deprecated"):
        pushed = sneak(name, holder)
        assert pushed.returncode != 0, name
        assert "stage 'production' of churn is guarded and the protected branch's registry.yaml asks for v0.0.1" in (
            pushed.stderr
        )
    # a guard written into registry.yaml by hand, naming no holder: the holder is guarded all the same
    wanted = parse((ds / "registry.yaml").read_bytes())
    wanted.models.clear()
    (ds / "registry.yaml").write_bytes(wanted.to_bytes())
    git(ds, "commit", "-q", "-am", "guard production, naming no holder")
    git(ds, "push", "-q", "origin", "main")
    drift = gt(ds, "promotions", "status", ok=False)
    assert "churn production: the tags say v0.0.1, registry.yaml names none" in drift.stdout
    for name in ("churn#production!#7", "churn@v0.0.1!", "churn@deprecated"):
        pushed = sneak(name, holder)
        assert pushed.returncode != 0, name
        assert (
            "stage 'production' of churn is guarded: v0.0.1 holds it and the protected branch's registry.yaml "
            "names no holder; its holder changes only through a promotion request"
        ) in pushed.stderr
    # what leaves the guarded stage's holder alone is accepted
    assert sneak("churn@v0.0.2!", other).returncode == 0
    assert sneak("churn#staging#8", other).returncode == 0
    gt(ds, "pull")
    assert gittrack.Client(ds).get_model_version("churn", "production")["version"] == "v0.0.1"
