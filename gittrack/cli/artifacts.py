"""``gittrack artifacts``: list and fetch the artifacts of a run."""

from __future__ import annotations

import click

from gittrack.cli.app import main
from gittrack.cli.render import table, to_json


@main.group()
def artifacts() -> None:
    """List and fetch run artifacts (content in DVC, pointers in the run commit)."""


@artifacts.command("list")
@click.argument("run")
@click.argument("path", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON array: path, kind, flavor, md5, size, nfiles.")
def list_artifacts(run: str, path: str | None, as_json: bool) -> None:
    """List RUN's artifacts, or those under folder PATH (inside a folder logged as one artifact:
    its files)."""
    from gittrack import Client

    found = Client().list_artifacts(run, path)
    if as_json:
        click.echo(to_json(found))
        return
    if not found:
        click.echo("no artifacts")
        return
    rows = [
        [a.get("path"), a.get("kind"), a.get("flavor", ""), a.get("md5"), a.get("size"), a.get("nfiles") or ""]
        for a in found
    ]
    click.echo(table(["path", "kind", "flavor", "md5", "bytes", "files"], rows))


@artifacts.command("get")
@click.argument("run")
@click.argument("path", required=False)
@click.option("-o", "--output", "dest", type=click.Path(), help="Where to write (default: a new temporary folder).")
def get(run: str, path: str | None, dest: str | None) -> None:
    """Write RUN's artifact PATH, or every artifact under folder PATH (default: all), to disk,
    from the DVC cache or the DVC remote. PATH may be a file inside a folder logged as one
    artifact (plots/curve.csv): just that file is fetched and written."""
    from gittrack import Client

    click.echo(Client().download_artifacts(run, path, dest))
