"""Basic auth with per-experiment and per-registered-model permissions, MLflow's ``basic-auth``
levels (READ, EDIT, MANAGE, NO_PERMISSIONS), read from a users file the admin edits:

    default_permission: READ
    users:
      admin: {password_hash: "...", admin: true}
      alice: {password_hash: "...", experiments: {churn-exp: EDIT}, models: {churn: MANAGE}}

The file holds bcrypt hashes (``gittrack server hash-password``), never a password. Wrong or
missing credentials: 401 ``UNAUTHENTICATED``; a missing permission: 403 ``PERMISSION_DENIED``.
The file is re-read when it changes (``usersfile``): an edit through ``accounts``' endpoints, by
any worker, or by hand, applies from the next request on."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gittrack.errors import UsageError
from gittrack.server import usersfile
from gittrack.server.errors import PERMISSION_DENIED, UNAUTHENTICATED, ServerError

if TYPE_CHECKING:
    from starlette.requests import Request

    from gittrack.server.backend import Backend
    from gittrack.server.request import Args
    from gittrack.server.routes import Endpoint

LEVELS = {"NO_PERMISSIONS": 0, "READ": 1, "EDIT": 2, "MANAGE": 3}
MANAGE = LEVELS["MANAGE"]
log = logging.getLogger("gittrack.server")


def hash_password(password: str) -> str:
    """A bcrypt hash of ``password`` for the users file."""
    import bcrypt

    if not password:
        raise UsageError("the password is empty")
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


@dataclass
class User:
    name: str
    password_hash: str
    admin: bool = False
    experiments: dict[str, int] = field(default_factory=dict)
    models: dict[str, int] = field(default_factory=dict)


def _level(value: Any, where: str) -> int:
    text = str(value).upper()
    if text not in LEVELS:
        raise UsageError(f"{where}: permission {value!r} is not one of {', '.join(LEVELS)}")
    return LEVELS[text]


def level_name(level: int) -> str:
    return next(k for k, v in LEVELS.items() if v == level)


def experiment_key(name: str) -> str:
    return "default" if name in ("0", "Default") else name


class Auth:
    """Users and their permissions, and the checks of each request."""

    def __init__(self, users: dict[str, User], default: int, path: str | None = None) -> None:
        self.users, self.default = users, default
        self.path = path
        self._stamp = usersfile.stamp(path) if path else None
        self._verified: dict[tuple[str, str, str], bool] = {}  # bcrypt costs ~0.2 s: each is checked once
        self._lock = threading.Lock()

    # -- the file ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the users file if it changed since it was read (one ``stat`` per request); a file
        broken by a hand edit is logged and the users as last read stay."""
        if self.path is None:
            return
        now = usersfile.stamp(self.path)
        if now is None or now == self._stamp:
            return
        with self._lock:
            if now == self._stamp:
                return
            try:
                self.users, self.default = parse(usersfile.read(self.path), self.path)
            except UsageError as exc:
                log.warning("the users file was not re-read: %s", exc)
            self._stamp = now

    def edit(self, change: Any) -> None:
        """Change the users file (``change`` edits its YAML mapping) for every worker: atomically,
        checked before it is written (a ``UsageError`` leaves the file as it was)."""
        if self.path is None:
            raise ServerError("this server's users are not kept in a file: they cannot be changed", "INVALID_STATE")

        def checked(data: dict) -> None:
            change(data)
            parse(data, self.path or "")

        usersfile.update(self.path, checked)
        self.refresh()

    # -- who --------------------------------------------------------------------------------
    def user_of(self, request: Request) -> str:
        self.refresh()
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise ServerError("You are not authenticated. Please see the docs (basic auth).", UNAUTHENTICATED)
        try:
            name, sep, password = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep, name, password = "", "", ""
        user = self.users.get(name)
        if not sep or user is None or not self._password_ok(user, password):
            raise ServerError("Incorrect username or password", UNAUTHENTICATED)
        return name

    def _password_ok(self, user: User, password: str) -> bool:
        import hashlib

        import bcrypt

        key = (user.name, user.password_hash, hashlib.sha256(password.encode("utf-8")).hexdigest())
        with self._lock:
            known = self._verified.get(key)
        if known is None:
            known = bcrypt.checkpw(password.encode("utf-8"), user.password_hash.encode("ascii"))
            with self._lock:
                if len(self._verified) > 10_000:
                    self._verified.clear()
                self._verified[key] = known
        return hmac.compare_digest(str(known), "True")

    # -- may they -------------------------------------------------------------------------------
    def experiment_level(self, user: str, experiment: str) -> int:
        found = self.users[user]
        return MANAGE if found.admin else found.experiments.get(experiment_key(experiment), self.default)

    def model_level(self, user: str, model: str) -> int:
        found = self.users[user]
        return MANAGE if found.admin else found.models.get(model, self.default)

    def check(self, backend: Backend, user: str | None, endpoint: Endpoint, args: Args) -> None:
        """Raise PERMISSION_DENIED unless ``user`` may call ``endpoint`` with ``args``."""
        if user is None or endpoint.resource in ("public", "any"):
            return
        need = LEVELS[endpoint.level]
        if endpoint.resource == "experiment":
            experiment = args.get("experiment_id") or args.get("experiment_name") or "0"
            self._need(self.experiment_level(user, str(experiment)), need, user, f"experiment {experiment!r}")
        elif endpoint.resource == "run":
            from gittrack.server.backend import run_experiment

            experiment = run_experiment(backend, args.run_id())
            self._need(self.experiment_level(user, experiment), need, user, f"experiment {experiment!r}")
        elif endpoint.resource == "model-of":  # a logged model: m-<run id>-<hash>
            from gittrack.server.backend import run_experiment

            parts = str(args.required("model_id")).split("-")
            experiment = run_experiment(backend, parts[1] if len(parts) == 3 else "")
            self._need(self.experiment_level(user, experiment), need, user, f"experiment {experiment!r}")
        elif endpoint.resource == "experiments":
            for experiment in args.list("experiment_ids") or ["0"]:
                self._need(self.experiment_level(user, str(experiment)), need, user, f"experiment {experiment!r}")
        elif endpoint.resource == "model":
            name = str(args.get("name", ""))
            self._need(self.model_level(user, name), need, user, f"registered model {name!r}")

    @staticmethod
    def _need(have: int, need: int, user: str, what: str) -> None:
        if have < need:
            wanted = level_name(need)
            raise ServerError(f"Permission denied: user {user!r} needs {wanted} on {what}", PERMISSION_DENIED)

    def filter(self, backend: Backend, user: str | None, endpoint: Endpoint, result: dict) -> dict:
        """Searches list only what the user may read."""
        if user is None:
            return result
        if "experiments" in result:
            result["experiments"] = [e for e in result["experiments"]
                                     if self.experiment_level(user, e["experiment_id"]) >= 1]  # fmt: skip
        for key in ("registered_models", "model_versions"):
            if key in result and endpoint.resource == "any":
                result[key] = [m for m in result[key] if self.model_level(user, m["name"]) >= 1]
        return result


def parse(data: dict, where: str) -> tuple[dict[str, User], int]:
    """(users, default level) of a users file's mapping; refused when it lists no users."""
    default = _level(data.get("default_permission", "READ"), where)
    users: dict[str, User] = {}
    entries = data.get("users") or {}
    if not isinstance(entries, dict):
        raise UsageError(f"{where}: 'users:' must be a mapping of user names")
    for name, entry in entries.items():
        if not isinstance(entry, dict) or not entry.get("password_hash"):
            raise UsageError(f"{where}: user {name!r} needs a password_hash (gittrack server hash-password)")
        users[str(name)] = User(
            str(name), str(entry["password_hash"]), bool(entry.get("admin", False)),
            {experiment_key(str(k)): _level(v, where) for k, v in (entry.get("experiments") or {}).items()},
            {str(k): _level(v, where) for k, v in (entry.get("models") or {}).items()},
        )  # fmt: skip
    if not users:
        raise UsageError(f"{where} lists no users: add one (there is no default admin password)")
    return users, default


def load(path: str | os.PathLike) -> Auth:
    """The users file at ``path``, re-read when it changes; refused when it has no users (there is
    no default admin)."""
    where = os.path.abspath(os.fspath(path))
    before = usersfile.stamp(where)  # taken first: a change while reading is seen at the next request
    users, default = parse(usersfile.read(where), os.fspath(path))
    auth = Auth(users, default, where)
    auth._stamp = before
    return auth
