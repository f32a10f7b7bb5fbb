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


def param_values(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, object]:
    """``KEY=VALUE`` params, each value typed as a script would log it: ``true``/``false`` as a
    bool, and an int or float written as Python writes it (``5``, ``0.1``, not ``1e-3`` or
    ``1.10``, which stay strings, so that the recorded text is always the one given)."""
    return {key: _typed(value) for key, value in key_values(ctx, param, values).items()}


def _typed(text: str) -> object:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        if str(value) == text:
            return value
    return text


def client_here():
    """The ``Client`` of the current folder's repository (or ``$GITTRACK_REPO``'s)."""
    from gittrack import Client

    return Client()
