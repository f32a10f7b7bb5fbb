"""``gittrack server-rules`` (a team server's rules from the permissions file) and the hidden
``gittrack http-backend`` CGI (docs/team-server.md)."""

from __future__ import annotations

import sys

import click

from gittrack.cli.app import main


@main.command("server-rules")
@click.argument("permissions", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(["gitolite", "gitolite-rc", "gitolite-hook", "http-cgi"]),
    default="gitolite",
    show_default=True,
    help="gitolite.conf rules, the .gitolite.rc lines for GTO tags, gitolite's common pre-receive hook, "
    "or the CGI script for git over HTTPS.",
)
@click.option("--repo", default="team", show_default=True, help="The gitolite repository the rules are for.")
def server_rules(permissions: str, kind: str, repo: str) -> None:
    """Print what a git server needs from the PERMISSIONS file (READ/EDIT/MANAGE per experiment and model)."""
    import gittrack

    click.echo(gittrack.server_rules(permissions, kind, repo), nl=False)


@main.command("http-backend", hidden=True)
def http_backend() -> None:
    """The CGI that fcgiwrap runs: git http-backend for the authenticated user (REMOTE_USER)."""
    import gittrack

    sys.exit(gittrack.serve_http())
