"""Shared click option parsing."""

from __future__ import annotations

import click


def key_values(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    """Turn repeated ``KEY=VALUE`` options into a dict (values stay strings, as given)."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{item}' is not KEY=VALUE", ctx=ctx, param=param)
        out[key] = value
    return out


def repo_here():
    """The repository of the current folder (or ``$GITTRACK_REPO``)."""
    from gittrack.store.repo import open_repo

    return open_repo()
