"""git's smart HTTP (``git http-backend``) behind a web server's basic auth, with the permissions
file: the CGI that fcgiwrap runs hides the experiments the user may not read (git's
``transfer.hideRefs``, given through ``GIT_CONFIG_*``) and refuses users who may read nothing;
the repository's pre-receive hook, seeing ``REMOTE_USER`` and ``GITTRACK_PERMISSIONS`` in its
environment, checks every update (hooks.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from gittrack._gitserver import permissions

BACKEND = "/usr/lib/git-core/git-http-backend"


def backend_env(environ: Mapping[str, str]) -> tuple[dict[str, str] | None, str]:
    """The environment to run git-http-backend in for this request, or None and the reason to
    answer 403 with. Without ``GITTRACK_PERMISSIONS`` nothing changes."""
    env = dict(environ)
    path = env.get("GITTRACK_PERMISSIONS")
    if not path:
        return env, ""
    user = env.get("REMOTE_USER", "")
    if not user:
        return None, "gittrack: this repository needs a user (basic auth)"
    perms = permissions.load(path)
    if perms.highest(user) < permissions.READ:
        return None, f"gittrack: {user} may not read this repository"
    if _pushing(env) and not _has_server_hook(env):
        return None, "gittrack: this repository has no gittrack pre-receive hook, so pushes are refused; " + (
            "its administrator runs 'gittrack hooks install --server'"
        )
    count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    for ref in permissions.hidden_refs(perms, user):
        env[f"GIT_CONFIG_KEY_{count}"] = "transfer.hideRefs"
        env[f"GIT_CONFIG_VALUE_{count}"] = ref
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)
    return env, ""


def _pushing(env: Mapping[str, str]) -> bool:
    """Whether the request is (the start of) a push: git's receive-pack service."""
    return env.get("PATH_INFO", "").endswith("/git-receive-pack") or "service=git-receive-pack" in env.get(
        "QUERY_STRING", ""
    )


def _has_server_hook(env: Mapping[str, str]) -> bool:
    """Whether the repository the request names has gittrack's pre-receive hook (which checks every
    update against the permissions file): without it, a push would go unchecked."""
    from pathlib import Path

    root = env.get("GIT_PROJECT_ROOT", "")
    path = env.get("PATH_INFO", "")
    for suffix in ("/info/refs", "/git-receive-pack"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    if not root or ".." in path.split("/"):
        return False
    hook = Path(root, path.lstrip("/"), "hooks", "pre-receive")
    try:
        return "hooks run pre-receive" in hook.read_text(errors="replace")[:4096]
    except OSError:
        return False


def serve(backend: str = BACKEND) -> int:
    """Run as the CGI: exec git-http-backend with the user's environment, or answer 403 with a
    plain-text reason (git shows it as ``remote:`` lines)."""
    from gittrack.errors import GittrackError

    try:
        env, reason = backend_env(os.environ)
    except GittrackError as exc:  # a broken permissions file: the server's fault, said in one line
        env, reason, status = None, f"gittrack: {exc}", "500 Internal Server Error"
    else:
        status = "403 Forbidden"
    if env is None:
        sys.stdout.write(f"Status: {status}\r\nContent-Type: text/plain\r\n\r\n{reason}\n")
        sys.stdout.flush()
        return 0
    sys.stdout.flush()
    os.execve(backend, [backend], env)  # noqa: S606 - the CGI becomes git's backend, as web servers expect
    return 0  # not reached


def cgi_script(permissions_path: str, python: str | None = None) -> str:
    """The executable fcgiwrap runs for the git URLs (nginx's ``SCRIPT_FILENAME``)."""
    return (
        "#!/bin/sh\n# gittrack: git http-backend with the permissions file (docs/team-server.md)\n"
        f"GITTRACK_PERMISSIONS='{permissions_path}' exec \"{python or sys.executable}\" -m gittrack http-backend\n"
    )
