"""``gittrack promotions`` (policy, check, apply, status) and ``gittrack hooks``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gittrack.cli.app import main
from gittrack.cli.options import client_here
from gittrack.cli.render import policy_lines, to_json, warn


@main.group()
def promotions() -> None:
    """Promotion requests reviewed in pull requests: policy, check (CI), apply, status."""


@promotions.command("policy")
@click.argument("model", metavar="MODEL|*")
@click.option(
    "--no-worse", "no_worse", multiple=True, metavar="METRIC:min|max[:TOL]", help="Not worse than the holder."
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="METRIC:OP:VALUE",
    help="An absolute bar, e.g. auc:ge:0.8 (OP: ge gt le lt eq, or quoted >= > <= < ==).",
)
@click.option("--guard", multiple=True, metavar="STAGE", help="A stage that needs a reviewed request.")
@click.option("--clear", is_flag=True, help="Start MODEL's policy from scratch.")
@click.option("--commit", is_flag=True, help="Commit registry.yaml (it takes effect on the default branch).")
@click.option(
    "--json", "as_json", is_flag=True, help="The policy as JSON (keys: model, branch, commit, in_force, work_tree)."
)
def policy(model: str, no_worse, thresholds, guard, clear: bool, commit: bool, as_json: bool) -> None:
    """Show (without options) or change the promotion policy of MODEL (* for every model).

    Showing writes nothing: it prints the policy in force (the default branch's registry.yaml)
    and, when it differs, the one in the work tree's registry.yaml.
    """
    promotions = client_here().promotions
    changed = None
    if no_worse or thresholds or guard or clear or commit:
        changed = promotions.set_policy(model, list(no_worse), list(thresholds), list(guard), clear, commit)
    shown = promotions.policy(model)
    if as_json:
        click.echo(to_json(shown))
        return
    click.echo("\n".join(_policy_text(shown)))
    for held in changed["recorded"] if changed is not None else []:
        click.echo(
            f"recorded {held['version']}, which holds {held['stage']} now, as the {held['stage']} holder of "
            f"{held['model']} in registry.yaml: it changes only through a promotion request from now on"
        )
    if changed is not None and changed["commit"]:
        sha, branch, default = changed["commit"], changed["branch"], changed["default_branch"]
        if branch == default:
            click.echo(f"committed registry.yaml as {sha[:12]} on {branch}: in force here now; "
                       f"the server hook and CI enforce it once {branch} is pushed")  # fmt: skip
        else:
            click.echo(f"committed registry.yaml as {sha[:12]} on {branch}; it takes effect once merged into {default}")
    elif changed is not None:
        click.echo(
            f"wrote {changed['written']}; it takes effect once committed on the default branch (or pass --commit)"
        )


def _policy_text(shown: dict) -> list[str]:
    model, branch, commit = shown["model"], shown["branch"], shown["commit"]
    where = f"registry.yaml on {branch}" + (f" at {commit[:12]}" if commit else " (no commit yet)")
    in_force, work_tree = shown["in_force"], shown["work_tree"]
    if in_force["applies"] is None:
        lines = [f"{model}: no policy in {where}: every stage takes direct promotions"]
    else:
        entry = "its own" if in_force["applies"] == model else "the '*' policy"
        lines = [f"{model}: {entry}, in force from {where}", *policy_lines(in_force)]
    if work_tree is not None:
        entry = "" if work_tree["applies"] in (model, None) else " (the '*' policy)"
        lines += [
            f"the work tree's registry.yaml has another policy for {model}{entry}, "
            f"in force once committed on {branch}:",
            *policy_lines(work_tree),
        ]
    return lines


@promotions.command("check")
@click.option("--base", help="What the request is compared with (default: the default branch).")
@click.option("--remote", help="Also check that the runs are on this remote.")
@click.option("--report", "report_file", type=click.Path(), help="Write the Markdown report here too.")
def check(base: str | None, remote: str | None, report_file: str | None) -> None:
    """Check the promotion request on HEAD (for CI on pull requests): exit 1 with the reasons if it fails."""
    result = client_here().promotions.check(base, remote=remote)
    click.echo(result.report)
    if report_file:
        Path(report_file).write_text(result.report)
    sys.exit(0 if result.ok else 1)


@promotions.command("apply")
@click.option(
    "--push", "push_remote", is_flag=False, flag_value="", default=None, help="Push the new tags (REMOTE optional)."
)
def apply(push_remote: str | None) -> None:
    """Create the stage tags registry.yaml asks for (for CI on the default branch); idempotent."""
    promotions = client_here().promotions
    created = promotions.apply()
    for tag in created:
        click.echo(f"created tag {tag}")
    if not created:
        click.echo("nothing to apply: the tags already match registry.yaml")
    if push_remote is not None and created:
        refused = promotions.push_tags(created, push_remote or None)
        for item in refused:
            warn(f"the remote refused {item}")
        if refused:
            sys.exit(1)


@promotions.command("status")
def status() -> None:
    """Drift between registry.yaml and the registry's tags, both ways."""
    drift = client_here().promotions.status()
    click.echo("\n".join(drift) if drift else "in sync: the tags match registry.yaml")
    sys.exit(1 if drift else 0)


@main.group()
def hooks() -> None:
    """Install or run the git hooks gittrack ships."""


@hooks.command("install")
@click.option("--server", is_flag=True, help="Install the pre-receive hook into a bare remote.")
@click.option("--path", default=".", type=click.Path(exists=True, file_okay=False), help="The repository.")
def install(server: bool, path: str) -> None:
    """Install the client hooks (pre-push, post-merge) or the server hook (pre-receive)."""
    import gittrack

    for written in gittrack.install_hooks(path, server):
        click.echo(f"installed {written}")


@hooks.command("run", hidden=True)
@click.argument("name")
@click.argument("args", nargs=-1)
def run(name: str, args: tuple[str, ...]) -> None:
    """Run hook NAME (called by the hook scripts)."""
    import gittrack

    lines = sys.stdin.read().splitlines() if name in ("pre-push", "pre-receive") else []
    code, messages = gittrack.run_hook(name, list(args), lines)
    for message in messages:
        click.echo(message, err=True)
    sys.exit(code)
