"""The parts of ``Client`` reached by name, MLflow-style: ``client.registry`` (model versions and
stages), ``client.promotions`` (reviewed promotions and the policy) and ``client.remote`` (push,
pull, remote set-up). Each takes plain values (names, paths, run ids) and uses the client's
repository; the CLI's ``models``, ``promotions`` and ``push``/``pull`` commands call them."""

from __future__ import annotations

import builtins
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack.errors import UsageError

if TYPE_CHECKING:
    import pygit2

    from gittrack.client import Client
    from gittrack.registry.promotions import CheckResult
    from gittrack.registry.state import Version
    from gittrack.store.packing import Progress
    from gittrack.sync import SyncReport


class RegistryClient:
    """The model registry (GTO tags): ``gittrack models ...``."""

    def __init__(self, client: Client, repo: pygit2.Repository) -> None:
        self._client, self._repo = client, repo

    def register(
        self, name: str, run_id: str, artifact: str = "model", version: str | None = None, bump: str = "patch",
        message: str | None = None,
    ) -> Version:  # fmt: skip
        """Register run ``run_id``'s logged model ``artifact`` as a new version of model ``name``."""
        from gittrack.registry.service import register

        return register(self._repo, run_id, artifact, name, version, bump, message)

    def promote(self, name: str, version: str, stage: str, archive_existing: bool = False) -> list[str]:
        """Put a version in a stage (a rollback is promoting an older one); returns the tags written."""
        from gittrack.registry.service import promote

        return promote(self._repo, name, version, stage, archive_existing)

    def demote(self, name: str, version: str, stage: str) -> str:
        """Take a version out of a stage; returns the tag written."""
        from gittrack.registry.service import demote

        return demote(self._repo, name, version, stage)

    def deprecate(self, name: str, version: str | None = None) -> str:
        """Deprecate a version, or the whole model; returns the tag written."""
        from gittrack.registry.service import deprecate

        return deprecate(self._repo, name, version)

    def list(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Every model (latest version, stage holders) and one line per unusable registry tag."""
        from gittrack.registry.service import list_models

        return list_models(self._repo)

    def show(self, name: str) -> dict[str, Any]:
        """One model: every version with its stages, dates, people and run."""
        from gittrack.registry.service import show

        return show(self._repo, name)

    def history(self, name: str) -> builtins.list[dict[str, Any]]:
        """Every event of a model, oldest first."""
        from gittrack.registry.service import history

        return history(self._repo, name)

    def lineage(self, spec: str) -> dict[str, Any]:
        """``MODEL@VERSION|STAGE|latest``: version -> run -> source commit -> data inputs."""
        from gittrack.registry.service import lineage

        return lineage(self._repo, spec)

    def verify(self, spec: str) -> builtins.list[tuple[str, bool, str]]:
        """Check the signatures of the tags behind ``MODEL@STAGE|VERSION`` with git."""
        from gittrack.registry.service import verify

        return verify(self._repo, spec)

    def get(self, spec: str) -> dict[str, Any]:
        """The version a ``MODEL@VERSION|STAGE|latest`` spec names, as a JSON-ready view."""
        from gittrack.registry.service import resolve, version_dict

        return version_dict(self._repo, resolve(self._repo, spec))

    def download(self, spec: str, dst: str | os.PathLike | None = None) -> str:
        """Write the model files of ``MODEL@VERSION|STAGE|latest`` under ``dst`` (fetching from the
        DVC remote when needed); returns the model folder."""
        from gittrack.registry.service import resolve

        version = resolve(self._repo, spec)
        return self._client.download_artifacts(version.run_id or version.commit, version.artifact, dst)


class PromotionsClient:
    """Promotions reviewed in pull requests and the policy in registry.yaml: ``gittrack promotions ...``."""

    def __init__(self, client: Client, repo: pygit2.Repository) -> None:
        self._client, self._repo = client, repo

    def request(self, name: str, version: str, stage: str) -> tuple[str, str]:
        """Create branch ``promote/<model>/<stage>/<version>`` asking for it; (branch, Markdown report)."""
        from gittrack.registry.promotions import request

        return request(self._repo, name, version, stage)

    def push_request(self, branch: str, remote: str | None = None) -> str:
        """Push a request branch with its runs, artifact data and tags; returns the remote used."""
        from gittrack.registry.promotions import push_request

        return push_request(self._repo, branch, remote)

    def check(self, base: str | None = None, head: str = "HEAD", remote: str | None = None) -> CheckResult:
        """Check the request at ``head`` against ``base`` (default branch): versions, data, policy."""
        from gittrack.registry.promotions import check

        return check(self._repo, base, head, remote)

    def apply(self, head: str = "HEAD") -> list[str]:
        """Create the stage tags registry.yaml at ``head`` asks for (idempotent); returns them."""
        from gittrack.registry.promotions import apply

        return apply(self._repo, head)

    def push_tags(self, names: list[str], remote: str | None = None) -> list[str]:
        """Push registry tags; returns the ones the remote refused, with the reason."""
        from gittrack.registry.promotions import push_tags

        return push_tags(self._repo, names, remote)

    def status(self, head: str = "HEAD") -> list[str]:
        """Drift between registry.yaml at ``head`` and the registry's tags, both ways."""
        from gittrack.registry.promotions import status

        return status(self._repo, head)

    def open_requests(self) -> list[dict[str, Any]]:
        """Requests not merged into the default branch (``promote/<model>/<stage>/<version>``
        branches, local or remote-tracking), each with its Markdown ``report`` or ``problem``."""
        from gittrack.registry.promotions import open_requests

        return open_requests(self._repo)

    def policy(self, model: str) -> dict[str, Any]:
        """The policy of ``model`` (``*``: the default one) in force, and the work tree's if it differs."""
        from gittrack.registry.policy import show_policy

        return show_policy(self._repo, model)

    def set_policy(
        self, model: str, no_worse: Sequence[str] = (), thresholds: Sequence[str] = (), guard: Sequence[str] = (),
        clear: bool = False, commit: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """Change ``model``'s rules in the work tree's registry.yaml and, with ``commit``, commit
        that file (alone, ``commit`` commits the file as it is). A stage newly guarded that a model
        holds already gets that holder recorded in the file as the desired one. Returns ``written``
        (the file, or None), ``recorded`` (``{"model", "stage", "version"}`` of those holders),
        ``commit`` (the new commit, or None), ``branch`` and ``default_branch``."""
        from gittrack.registry.policy import default_branch, set_policy

        changing = bool(no_worse or thresholds or guard or clear)
        path = Path(self._repo.workdir) / "registry.yaml"
        if not changing and not commit:
            raise UsageError("give rules (--guard, --no-worse, --threshold), --clear or --commit to change the policy")
        recorded: list[tuple[str, str, str]] = []
        if changing:
            _, path, recorded = set_policy(self._repo, model, list(no_worse), list(thresholds), list(guard), clear)
        elif not path.exists():
            raise UsageError("there is no registry.yaml to commit; give rules first (--guard, --no-worse, --threshold)")
        sha = self._client.commit_files(["registry.yaml"], f"Set the promotion policy of {model}") if commit else None
        return {"written": str(path) if changing else None, "commit": sha, "branch": self._repo.head.shorthand,
                "default_branch": default_branch(self._repo),
                "recorded": [{"model": m, "stage": s, "version": v} for m, s, v in recorded]}  # fmt: skip


class RemoteClient:
    """Sharing through git and DVC remotes: ``gittrack push``, ``pull``, ``remote setup``."""

    def __init__(self, client: Client, repo: pygit2.Repository) -> None:
        self._client, self._repo = client, repo

    def push(
        self, remote: str | None = None, runs: list[str] | None = None, experiment: str | None = None,
        artifacts: bool = True, pack: bool | None = None, progress: Progress | None = None,
    ) -> SyncReport:  # fmt: skip
        """Push runs (all, one experiment's or the given ones), run indexes, registry tags and
        artifact data to ``remote`` (default: the upstream, else origin)."""
        from gittrack.sync import push

        return push(self._repo, remote, experiment, runs, artifacts, pack, progress)

    def pull(
        self, remote: str | None = None, experiment: str | None = None, artifacts: bool = False,
        progress: Progress | None = None,
    ) -> SyncReport:  # fmt: skip
        """Fetch runs and registry tags from ``remote``, taking in only valid runs."""
        from gittrack.sync import pull

        return pull(self._repo, remote, experiment, artifacts, progress)

    def setup(self, name: str = "origin", push_runs: bool = True) -> list[str]:
        """Make plain ``git fetch``/``git push`` of remote ``name`` move runs; returns the config lines added."""
        from gittrack.sync import setup_remote

        return setup_remote(self._repo, name, push_runs)
