"""A team's git server: the permissions file (permissions.py), gitolite's rules (gitolite.py) and
git's smart HTTP behind a web server's basic auth (http.py). See docs/team-server.md."""

from __future__ import annotations

import os

KINDS = ("gitolite", "gitolite-rc", "gitolite-hook", "http-cgi")


def server_rules(permissions_file: str | os.PathLike[str], kind: str = "gitolite", repo: str = "team") -> str:
    """What a server needs from a permissions file: gitolite's ``repo`` rules (``gitolite``), the
    ``.gitolite.rc`` lines for GTO's tags (``gitolite-rc``), gitolite's common pre-receive hook
    (``gitolite-hook``: the file applies to ``repo``) or the CGI script fcgiwrap runs for git over
    HTTPS (``http-cgi``)."""
    from gittrack._gitserver import gitolite, http, permissions
    from gittrack.errors import UsageError

    path = os.path.abspath(permissions_file)
    perms = permissions.load(path)  # a broken file fails here, not on the server
    if kind == "gitolite":
        return gitolite.rules(perms, repo)
    if kind == "gitolite-rc":
        return gitolite.RC_SNIPPET
    if kind == "gitolite-hook":
        return gitolite.hook_script(path, repo)
    if kind == "http-cgi":
        return http.cgi_script(path)
    raise UsageError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")


def serve_http() -> int:
    """``gittrack http-backend``: the CGI behind the web server (see http.py)."""
    from gittrack._gitserver import http

    return http.serve()
