"""MLflow's ``basic-auth`` administration endpoints, as ``mlflow.server.get_app_client("basic-auth")``
(``AuthServiceClient``) calls them: users (create, get, list, current, update-password,
update-admin, delete) and per-user permissions on experiments and registered models (MLflow 3's
``users/permissions/grant|revoke|get``, and MLflow 2's ``experiments/permissions/...`` and
``registered-models/permissions/...``). Every change is written to the users file (``Auth.edit``).

Who may: an admin anything; a user with MANAGE on an experiment or a model may change who has
what on it; a user may read themselves and change their own password (giving the current one)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gittrack.server.auth import LEVELS, MANAGE, Auth, experiment_key, hash_password, level_name
from gittrack.server.errors import PERMISSION_DENIED, ServerError
from gittrack.server.request import Args

if TYPE_CHECKING:
    from gittrack.server.backend import Backend

NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
RESOURCES = {"experiment": "experiments", "registered_model": "models"}  # MLflow's type -> the file's key


# -- who may -------------------------------------------------------------------------------------
def _requester(auth: Auth, a: Args) -> str:
    assert a.user is not None  # these endpoints exist only with --auth
    return a.user


def _admin_only(auth: Auth, a: Args, what: str) -> None:
    if not auth.users[_requester(auth, a)].admin:
        raise ServerError(f"Permission denied: only an admin may {what}", PERMISSION_DENIED)


def _admin_or_self(auth: Auth, a: Args, username: str) -> None:
    requester = _requester(auth, a)
    if requester != username and not auth.users[requester].admin:
        raise ServerError(f"Permission denied: user {requester!r} may not see user {username!r}", PERMISSION_DENIED)


def _known(auth: Auth, username: str) -> str:
    if username not in auth.users:
        raise ServerError(f"User with username={username} not found", NOT_FOUND)
    return username


def _resource(b: Backend, resource_type: str, resource_id: str) -> tuple[str, str]:
    """(the file's section, the key in it) of an existing experiment or registered model."""
    section = RESOURCES.get(resource_type)
    if section is None:
        raise ServerError(f"resource_type {resource_type!r} is not one of {', '.join(RESOURCES)} here")
    if section == "experiments":
        key = experiment_key(resource_id)
        b.mlflow.get_experiment(key)  # unknown: RESOURCE_DOES_NOT_EXIST
    else:
        key = resource_id
        b.mlflow.get_registered_model(key)
    return section, key


def _level_of(auth: Auth, username: str, section: str, key: str) -> int:
    return auth.experiment_level(username, key) if section == "experiments" else auth.model_level(username, key)


def _may_manage(auth: Auth, a: Args, section: str, key: str) -> None:
    requester = _requester(auth, a)
    if _level_of(auth, requester, section, key) < MANAGE:
        what = "experiment" if section == "experiments" else "registered model"
        raise ServerError(f"Permission denied: user {requester!r} needs MANAGE on {what} {key!r} to change "
                          "its permissions", PERMISSION_DENIED)  # fmt: skip


def _permission(value: Any) -> str:
    text = str(value or "").upper()
    if text not in LEVELS:
        raise ServerError(f"permission {value!r} is not one of {', '.join(LEVELS)}")
    return text


def _entry(data: dict, username: str) -> dict:
    users = data.get("users") or {}
    if username not in users:
        raise ServerError(f"User with username={username} not found", NOT_FOUND)
    return users[username]


def _set(auth: Auth, username: str, section: str, key: str, permission: str | None) -> None:
    """Give ``username`` ``permission`` on the resource (None: take it away, back to the default)."""

    def change(data: dict) -> None:
        entry = _entry(data, username)
        granted = dict(entry.get(section) or {})
        if permission is None:
            granted.pop(key, None)
        else:
            granted[key] = permission
        if granted:
            entry[section] = granted
        else:
            entry.pop(section, None)

    auth.edit(change)


def _user_json(auth: Auth, username: str) -> dict:
    return {"id": list(auth.users).index(username) + 1, "username": username, "is_admin": auth.users[username].admin}


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise ServerError(f"is_admin must be true or false, not {value!r}")
    return text in ("true", "1")


# -- users -----------------------------------------------------------------------------------------
def create_user(auth: Auth, b: Backend, a: Args) -> dict:
    _admin_only(auth, a, "create users")
    username, password = str(a.required("username")), str(a.required("password"))
    if username in auth.users:
        raise ServerError(f"User (username={username}) already exists.", "RESOURCE_ALREADY_EXISTS")
    hashed = hash_password(password)  # only the hash reaches the file

    def change(data: dict) -> None:
        users = data.get("users") or {}
        if username in users:
            raise ServerError(f"User (username={username}) already exists.", "RESOURCE_ALREADY_EXISTS")
        users[username] = {"password_hash": hashed}
        data["users"] = users

    auth.edit(change)
    return {"user": _user_json(auth, username)}


def get_user(auth: Auth, b: Backend, a: Args) -> dict:
    username = str(a.required("username"))
    _admin_or_self(auth, a, username)
    return {"user": _user_json(auth, _known(auth, username))}


def list_users(auth: Auth, b: Backend, a: Args) -> dict:
    return {"users": [{**_user_json(auth, name), "roles": []} for name in auth.users]}


def current_user(auth: Auth, b: Backend, a: Args) -> dict:
    return {"user": _user_json(auth, _requester(auth, a)), "is_basic_auth": True}


def update_password(auth: Auth, b: Backend, a: Args) -> dict:
    import bcrypt

    username, password = str(a.required("username")), str(a.required("password"))
    requester = _requester(auth, a)
    if requester == username:  # their own: MLflow asks for the current one too
        current = str(a.get("current_password") or "")
        if not current:
            raise ServerError("Current password is required when changing your own password.")
        if not bcrypt.checkpw(current.encode("utf-8"), auth.users[username].password_hash.encode("ascii")):
            raise ServerError("Current password does not match.")
        if password == current:
            raise ServerError("New password must differ from the current password.")
    else:
        _admin_only(auth, a, "change another user's password")
        _known(auth, username)
    hashed = hash_password(password)
    auth.edit(lambda data: _entry(data, username).__setitem__("password_hash", hashed))
    return {}


def update_admin(auth: Auth, b: Backend, a: Args) -> dict:
    _admin_only(auth, a, "make or unmake admins")
    username = _known(auth, str(a.required("username")))
    admin = _flag(a.required("is_admin"))

    def change(data: dict) -> None:
        entry = _entry(data, username)
        if admin:
            entry["admin"] = True
        else:
            entry.pop("admin", None)

    auth.edit(change)
    return {}


def delete_user(auth: Auth, b: Backend, a: Args) -> dict:
    _admin_only(auth, a, "delete users")
    username = _known(auth, str(a.required("username")))
    if username == _requester(auth, a):
        raise ServerError("Users cannot delete their own account. Ask another admin to delete this user instead.",
                          "BAD_REQUEST")  # fmt: skip

    def change(data: dict) -> None:
        _entry(data, username)
        del data["users"][username]

    auth.edit(change)
    return {}


# -- permissions (MLflow 3) ------------------------------------------------------------------------------
def grant(auth: Auth, b: Backend, a: Args) -> dict:
    section, key = _resource(b, str(a.required("resource_type")), str(a.required("resource_id")))
    _may_manage(auth, a, section, key)
    _set(auth, _known(auth, str(a.required("username"))), section, key, _permission(a.required("permission")))
    return {}


def revoke(auth: Auth, b: Backend, a: Args) -> dict:
    section, key = _resource(b, str(a.required("resource_type")), str(a.required("resource_id")))
    _may_manage(auth, a, section, key)
    _set(auth, _known(auth, str(a.required("username"))), section, key, None)
    return {}


def get_permission(auth: Auth, b: Backend, a: Args) -> dict:
    username = str(a.required("username"))
    _admin_or_self(auth, a, username)
    section, key = _resource(b, str(a.required("resource_type")), str(a.required("resource_id")))
    level = _level_of(auth, _known(auth, username), section, key)
    return {"allowed": level >= LEVELS["READ"], "permission": level_name(level)}


# -- permissions (MLflow 2: one endpoint set per resource) -----------------------------------------
def _legacy(resource_type: str, id_field: str, body: str, action: str) -> Callable[[Auth, Backend, Args], dict]:
    def handler(auth: Auth, b: Backend, a: Args) -> dict:
        resource_id = str(a.required(id_field))
        section, key = _resource(b, resource_type, resource_id)
        username = str(a.required("username"))
        if action == "get":
            _admin_or_self(auth, a, username)
            level = _level_of(auth, _known(auth, username), section, key)
            user_id = _user_json(auth, username)["id"]
            return {body: {id_field: resource_id, "user_id": user_id, "permission": level_name(level)}}
        _may_manage(auth, a, section, key)
        permission = None if action == "delete" else _permission(a.required("permission"))
        _set(auth, _known(auth, username), section, key, permission)
        if action == "create":
            user_id = _user_json(auth, username)["id"]
            return {body: {id_field: resource_id, "user_id": user_id, "permission": permission}}
        return {}

    return handler


def endpoints(auth: Auth) -> list[Any]:
    """The endpoints above, bound to ``auth`` (``routes.Endpoint``s any signed-in user may call:
    each handler checks who may)."""
    from gittrack.server.routes import Endpoint

    v2, v3 = "/api/2.0/mlflow", "/api/3.0/mlflow"
    table: list[tuple[str, str, Callable[[Auth, Backend, Args], dict]]] = [
        ("POST", v2 + "/users/create", create_user),
        ("GET", v2 + "/users/get", get_user),
        ("GET", v2 + "/users/list", list_users),
        ("GET", v2 + "/users/current", current_user),
        ("PATCH", v2 + "/users/update-password", update_password),
        ("PATCH", v2 + "/users/update-admin", update_admin),
        ("DELETE", v2 + "/users/delete", delete_user),
        ("POST", v3 + "/users/permissions/grant", grant),
        ("POST", v3 + "/users/permissions/revoke", revoke),
        ("GET", v3 + "/users/permissions/get", get_permission),
    ]
    for path, resource_type, id_field, body in (
        ("/experiments/permissions", "experiment", "experiment_id", "experiment_permission"),
        ("/registered-models/permissions", "registered_model", "name", "registered_model_permission"),
    ):
        for method, action in (("POST", "create"), ("GET", "get"), ("PATCH", "update"), ("DELETE", "delete")):
            table.append((method, f"{v2}{path}/{action}", _legacy(resource_type, id_field, body, action)))
    return [Endpoint(method, path, functools.partial(handler, auth), "any") for method, path, handler in table]
