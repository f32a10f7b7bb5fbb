"""The ``gittrack`` command line: argument parsing and presentation over the Python API."""

from __future__ import annotations

import sys

import click

from gittrack._version import __version__
from gittrack.errors import GittrackError, UsageError


class _Group(click.Group):
    """Turns gittrack errors into one line on stderr: exit 2 for usage errors, 1 for failures."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GittrackError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2 if isinstance(exc, UsageError) else 1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gittrack")
def main() -> None:
    """Experiment tracking and model management with git as the store.

    Runs are commits under refs/runs/<experiment>/<run-id>; see 'gittrack COMMAND --help'.
    """
    import logging

    logging.basicConfig(format="%(message)s", level=logging.WARNING)


from gittrack.cli import artifacts, commands, metrics, models, promotions, runs, sharing, ui  # noqa: E402

__all__ = ["artifacts", "commands", "main", "metrics", "models", "promotions", "runs", "sharing", "ui"]
