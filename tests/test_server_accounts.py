"""``gittrack server --auth``: MLflow's basic-auth administration through MLflow's own
``AuthServiceClient`` (``mlflow.server.get_app_client("basic-auth")``): MANAGE changes permissions,
others get 403, admins manage users; every change lands in the users file (hashes only), and
every worker of a multi-worker server sees it."""

from __future__ import annotations

import json
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest
import yaml

from gittrack.server import hash_password
from tests.conftest import optional
from tests.server_helpers import running_server


@pytest.fixture
def users(tmp_path: Path) -> Path:
    path = tmp_path / "users.yaml"
    path.write_text(
        "default_permission: NO_PERMISSIONS\n"
        "users:\n"
        f"  admin: {{password_hash: '{hash_password('root-pw')}', admin: true}}\n"
        f"  alice: {{password_hash: '{hash_password('alice-pw')}', experiments: {{churn-exp: MANAGE}}}}\n"
        f"  bob: {{password_hash: '{hash_password('bob-pw')}', experiments: {{churn-exp: READ}}}}\n"
    )
    return path


def as_user(monkeypatch: pytest.MonkeyPatch, name: str, password: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", name)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)


def http(url: str, method: str, user: str, password: str, body: dict | None = None) -> tuple[int, dict]:
    basic = "Basic " + b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json", "Authorization": basic})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.mark.slow
def test_manage_changes_permissions_and_admins_manage_users(
    repo: Path, users: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    optional("mlflow", "MLflow's own AuthServiceClient is the client")
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with running_server(repo, "--auth", str(users), "--workers", "2") as url:
        auth = get_app_client("basic-auth", tracking_uri=url)
        tracking = MlflowClient(tracking_uri=url, registry_uri=url)
        as_user(monkeypatch, "admin", "root-pw")
        tracking.create_experiment("churn-exp")
        tracking.create_experiment("other-exp")
        tracking.create_registered_model("churn")

        as_user(monkeypatch, "bob", "bob-pw")  # READ only: may not change permissions
        with pytest.raises(MlflowException) as denied:
            auth.grant_user_permission("bob", "experiment", "churn-exp", "EDIT")
        assert denied.value.error_code == "PERMISSION_DENIED"
        assert denied.value.get_http_status_code() == 403
        with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
            auth.create_user("mallory", "mallory-pw")
        assert auth.get_user_permission("bob", "experiment", "churn-exp").permission == "READ"

        as_user(monkeypatch, "alice", "alice-pw")  # MANAGE on churn-exp: may
        auth.grant_user_permission("bob", "experiment", "churn-exp", "EDIT")
        with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
            auth.grant_user_permission("bob", "experiment", "other-exp", "EDIT")  # no MANAGE there
        with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
            auth.grant_user_permission("alice", "registered_model", "churn", "MANAGE")

        as_user(monkeypatch, "bob", "bob-pw")  # every worker sees the grant at once (2 workers, 6 requests)
        runs = [tracking.create_run("churn-exp") for _ in range(6)]
        assert auth.get_user_permission("bob", "experiment", "churn-exp").permission == "EDIT"

        as_user(monkeypatch, "alice", "alice-pw")
        auth.revoke_user_permission("bob", "experiment", "churn-exp")  # back to the default
        as_user(monkeypatch, "bob", "bob-pw")
        for _ in range(4):
            with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
                tracking.get_run(runs[0].info.run_id)

        as_user(monkeypatch, "admin", "root-pw")  # users: create, get, admin flag, password, delete
        carol = auth.create_user("carol", "carol-pw")
        assert (carol.username, carol.is_admin) == ("carol", False)
        auth.grant_user_permission("carol", "registered_model", "churn", "MANAGE")
        auth.update_user_admin("carol", True)
        assert auth.get_user("carol").is_admin
        auth.update_user_password("carol", "carol-pw-2")
        with pytest.raises(MlflowException, match="RESOURCE_ALREADY_EXISTS"):
            auth.create_user("carol", "x")
        as_user(monkeypatch, "carol", "carol-pw-2")
        assert auth.get_user("carol").username == "carol"
        auth.update_user_password("carol", "carol-pw-3", current_password="carol-pw-2")
        with pytest.raises(MlflowException) as old:
            auth.get_user("carol")  # the old password is gone in every worker
        assert old.value.error_code == "UNAUTHENTICATED"
        as_user(monkeypatch, "carol", "carol-pw-3")
        auth.delete_user("bob")
        as_user(monkeypatch, "bob", "bob-pw")
        with pytest.raises(MlflowException, match="UNAUTHENTICATED"):
            tracking.search_experiments()

        # MLflow 2's per-resource endpoints, as older clients call them
        status, body = http(url + "/api/2.0/mlflow/experiments/permissions/create", "POST", "alice", "alice-pw",
                            {"experiment_id": "churn-exp", "username": "carol", "permission": "READ"})  # fmt: skip
        assert status == 200
        assert body["experiment_permission"]["permission"] == "READ"
        status, body = http(url + "/api/2.0/mlflow/registered-models/permissions/update", "PATCH", "alice",
                            "alice-pw", {"name": "churn", "username": "alice", "permission": "MANAGE"})  # fmt: skip
        assert status == 403
        assert body["error_code"] == "PERMISSION_DENIED"

    text = users.read_text()
    for password in ("root-pw", "alice-pw", "carol-pw", "carol-pw-2", "carol-pw-3"):
        assert password not in text
    saved = yaml.safe_load(text)
    assert set(saved["users"]) == {"admin", "alice", "carol"}
    assert saved["users"]["carol"]["admin"] is True
    assert saved["users"]["carol"]["models"] == {"churn": "MANAGE"}
    assert saved["users"]["carol"]["experiments"] == {"churn-exp": "READ"}
    assert saved["users"]["alice"]["experiments"] == {"churn-exp": "MANAGE"}
    assert saved["users"]["carol"]["password_hash"].startswith("$2")
    assert not list(users.parent.glob(".users-*"))  # no temporary file left behind


def test_a_hand_edit_applies_at_the_next_request_and_a_broken_one_is_ignored(tmp_path: Path) -> None:
    import gittrack.server

    path = tmp_path / "users.yaml"
    secret = hash_password("pw")
    path.write_text(f"users:\n  ann: {{password_hash: '{secret}', experiments: {{e: READ}}}}\n")
    auth = gittrack.server.load_auth(str(path))
    assert auth.experiment_level("ann", "e") == 1
    ann = f"ann: {{password_hash: '{secret}', experiments: {{e: EDIT}}}}"
    path.write_text(f"users:\n  {ann}\n  ben: {{password_hash: x}}\n")
    auth.refresh()
    assert auth.experiment_level("ann", "e") == 2
    assert set(auth.users) == {"ann", "ben"}
    path.write_text("users: [not, a, mapping\n")  # a half-saved edit: the users as last read stay
    auth.refresh()
    assert set(auth.users) == {"ann", "ben"}
