"""``gittrack server --auth users.yaml``: basic auth, MLflow's permission levels per experiment and
registered model, 401/403 in MLflow's error shape, the authenticated user as the run's git author."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import gittrack
from gittrack.server import hash_password
from tests.conftest import BIN, git, optional
from tests.server_helpers import free_port, running_server


def hashed(password: str) -> str:
    done = subprocess.run([str(BIN / "gittrack"), "server", "hash-password"], input=password + "\n",
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def users(tmp_path: Path) -> Path:
    path = tmp_path / "users.yaml"
    path.write_text(
        "default_permission: NO_PERMISSIONS\n"
        "users:\n"
        f"  admin: {{password_hash: '{hash_password('root-pw')}', admin: true}}\n"
        f"  alice: {{password_hash: '{hash_password('alice-pw')}', experiments: {{churn-exp: EDIT}}, "
        "models: {churn: MANAGE}}\n"
        f"  bob: {{password_hash: '{hash_password('bob-pw')}', experiments: {{churn-exp: READ}}}}\n"
    )
    return path


def as_user(monkeypatch: pytest.MonkeyPatch, name: str, password: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", name)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)


def test_hash_password_prints_a_bcrypt_hash_never_the_password() -> None:
    import bcrypt

    out = hashed("s3cret")
    assert out.startswith("$2")
    assert "s3cret" not in out
    assert bcrypt.checkpw(b"s3cret", out.encode())


def test_the_server_refuses_to_start_with_auth_and_no_users(repo: Path, tmp_path: Path) -> None:
    empty = tmp_path / "users.yaml"
    empty.write_text("default_permission: READ\nusers: {}\n")
    done = subprocess.run([str(BIN / "gittrack"), "server", "--auth", str(empty), "--port", str(free_port())],
                          cwd=repo, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2  # a usage error: the file is wrong
    assert "lists no users" in done.stderr
    assert "Traceback" not in done.stderr


def test_permissions_and_authors(repo: Path, users: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    optional("mlflow", "MLflow's client sends the credentials")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with running_server(repo, "--auth", str(users)) as url:
        c = MlflowClient(tracking_uri=url, registry_uri=url)
        as_user(monkeypatch, "alice", "wrong")
        with pytest.raises(MlflowException) as wrong:
            c.search_experiments()
        assert wrong.value.error_code == "UNAUTHENTICATED"
        assert wrong.value.get_http_status_code() == 401

        as_user(monkeypatch, "admin", "root-pw")
        c.create_experiment("churn-exp")
        c.create_experiment("secret-exp")

        as_user(monkeypatch, "bob", "bob-pw")  # READ: sees, cannot log
        assert c.get_experiment_by_name("churn-exp").name == "churn-exp"
        with pytest.raises(MlflowException) as denied:
            c.create_run("churn-exp")
        assert denied.value.error_code == "PERMISSION_DENIED"
        assert denied.value.get_http_status_code() == 403
        assert [e.name for e in c.search_experiments()] == ["churn-exp"]  # not secret-exp (no permission)

        as_user(monkeypatch, "alice", "alice-pw")  # EDIT: logs
        run = c.create_run("churn-exp", run_name="by-alice")
        c.log_metric(run.info.run_id, "auc", 0.9)
        c.set_terminated(run.info.run_id)
        with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
            c.delete_experiment("churn-exp")  # MANAGE
        with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
            c.get_experiment("secret-exp")
        c.create_registered_model("churn")  # MANAGE on the model
        c.set_registered_model_tag("churn", "owner", "alice")

        as_user(monkeypatch, "bob", "bob-pw")
        assert c.get_run(run.info.run_id).data.metrics == {"auc": 0.9}
        with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
            c.log_metric(run.info.run_id, "auc", 0.1)
        with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
            c.set_registered_model_tag("churn", "owner", "bob")

    recorded = gittrack.Client(repo).get_run(run.info.run_id)
    assert recorded.info.user == "alice"
    ref = f"refs/runs/churn-exp/{run.info.run_id}"
    assert git(repo, "log", "-1", "--format=%an", ref).strip() == "alice"
