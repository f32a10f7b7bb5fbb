"""The model registry (``client.registry``) and reviewed promotions (``client.promotions``).

Versions and stages are GTO's annotated tags, descriptions and tags of models and versions are
git notes; both services take plain values (names, specs, run ids) and return JSON-ready views
or the registry's own ``Version``s.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack.errors import UsageError

if TYPE_CHECKING:
    from gittrack._registry.promotions import CheckResult
    from gittrack._registry.state import Version
    from gittrack._services.runs import RunService
    from gittrack._store.repository import Repository


class RegistryService:
    """The model registry of one repository (GTO tags, metadata in notes): ``gittrack models ...``."""

    def __init__(self, runs: RunService) -> None:
        self._runs, self._repo = runs, runs.repo

    def register(
        self, name: str, run_id: str, artifact: str = "model", version: str | None = None, bump: str = "patch",
        message: str | None = None,
    ) -> Version:  # fmt: skip
        """Register run ``run_id``'s logged model ``artifact`` as a new version of model ``name``."""
        from gittrack._registry.service import register

        return register(self._repo.git, run_id, artifact, name, version, bump, message)

    def promote(self, name: str, version: str, stage: str, archive_existing: bool = False) -> list[str]:
        """Put a version in a stage (a rollback is promoting an older one); returns the tags written."""
        from gittrack._registry.service import promote

        return promote(self._repo.git, name, version, stage, archive_existing)

    def demote(self, name: str, version: str, stage: str) -> str:
        """Take a version out of a stage; returns the tag written."""
        from gittrack._registry.service import demote

        return demote(self._repo.git, name, version, stage)

    def deprecate(self, name: str, version: str | None = None) -> str:
        """Deprecate a version, or the whole model; returns the tag written."""
        from gittrack._registry.service import deprecate

        return deprecate(self._repo.git, name, version)

    def list(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Every model (latest version, stage holders) and one line per unusable registry tag."""
        from gittrack._registry.service import list_models

        return list_models(self._repo.git)

    def show(self, name: str) -> dict[str, Any]:
        """One model: every version with its stages, dates, people and run."""
        from gittrack._registry.service import show

        return show(self._repo.git, name)

    def history(self, name: str) -> builtins.list[dict[str, Any]]:
        """Every event of a model, oldest first."""
        from gittrack._registry.service import history

        return history(self._repo.git, name)

    def lineage(self, spec: str) -> dict[str, Any]:
        """``MODEL@VERSION|STAGE|latest``: version -> run -> source commit -> data inputs."""
        from gittrack._registry.service import lineage

        return lineage(self._repo.git, spec)

    def verify(self, spec: str) -> builtins.list[tuple[str, bool, str]]:
        """Check the signatures of the tags behind ``MODEL@STAGE|VERSION`` with git."""
        from gittrack._registry.service import verify

        return verify(self._repo.git, spec)

    def get(self, spec: str) -> dict[str, Any]:
        """The version a ``MODEL@VERSION|STAGE|latest`` spec names, as a JSON-ready view."""
        from gittrack._registry.service import resolve, version_dict

        return version_dict(self._repo.git, resolve(self._repo.git, spec))

    def get_version(self, name: str, version_or_stage: str) -> dict[str, Any]:
        """A version of ``name`` by number (``v1.2.0``), stage (``production``) or ``latest``."""
        return self.get(f"{name}@{version_or_stage}")

    def download(self, spec: str, dst: str | os.PathLike | None = None) -> str:
        """Write the model files of ``MODEL@VERSION|STAGE|latest`` under ``dst`` (fetching from the
        DVC remote when needed); returns the model folder."""
        from gittrack._registry.service import resolve

        version = resolve(self._repo.git, spec)
        return self._runs.download_artifacts(version.run_id or version.commit, version.artifact, dst)

    def register_model(
        self, model_uri: str, name: str, version: str | None = None, bump: str = "patch", message: str | None = None
    ) -> dict:
        """Register ``runs:/<run>/<artifact>`` as a new version of model ``name`` (a GTO tag). A run
        still running may be registered: the tag is on its checkpoint holding the model (written
        now when this process logged it), and stays valid as the run goes on (docs/registry.md)."""
        from gittrack._flavors import parse_uri
        from gittrack._registry.service import version_dict

        run, artifact = parse_uri(model_uri)
        run = self._runs.get_run(run).info.run_id  # a run this client writes: its last logs committed first
        return version_dict(self._repo.git, self.register(name, run, artifact, version, bump, message))

    def search_model_versions(self, name: str | None = None):
        """Every registered version (of one model if given) as a DataFrame."""
        import pandas as pd

        from gittrack._registry.service import list_models, show

        names = [name] if name else [m["model"] for m in list_models(self._repo.git)[0]]
        rows = []
        for model in names:
            for v in show(self._repo.git, model)["versions"]:
                rows.append({"model": model, "version": v["version"], "active": v["active"],
                             "stages": ",".join(v["stages"]), "run_id": v["run_id"], "artifact": v["artifact"],
                             "registered_at": pd.Timestamp(v["registered_at"], unit="s", tz="UTC"),
                             "registered_by": v["registered_by"], "commit": v["commit"]})  # fmt: skip
        columns = [
            "model",
            "version",
            "active",
            "stages",
            "run_id",
            "artifact",
            "registered_at",
            "registered_by",
            "commit",
        ]
        return pd.DataFrame(rows, columns=columns)

    def list_models(self) -> builtins.list[dict[str, Any]]:
        """Every model: ``model``, ``latest``, ``deprecated``, ``stages`` ({stage: version}), ``versions``
        (a count); malformed registry tags are logged as warnings and skipped (``registry.list``)."""
        import logging

        found, problems = self.list()
        for problem in problems:
            logging.getLogger("gittrack").warning("gittrack: %s", problem)
        return found

    def create_registered_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> None:
        """Record a model before its first version, with a description and tags (stored in git)."""
        from gittrack._registry import meta
        from gittrack.errors import UsageError

        if name in meta.models_with_metadata(self._repo.git) or name in {m["model"] for m in self.list()[0]}:
            raise UsageError(f"registered model {name!r} exists already")
        meta.update_model(self._repo.git, name, description if description is not None else ..., dict(tags or {}))

    def get_model_metadata(self, name: str, version: str | None = None):
        """Description and tags of a registered model, or of one of its versions (``v1.2.0``)."""
        from gittrack._registry import meta

        if version is None:
            return meta.model_metadata(self._repo.git, name)
        return meta.version_metadata(self._repo.git, self.get_version(name, version)["tag"])

    def update_model_metadata(
        self, name: str, version: str | None = None, description: Any = ..., tags: Mapping[str, Any] | None = None
    ) -> None:
        """Set the description (None removes it) and tags (a None value removes one) of a registered
        model, or of one of its versions; kept in git notes that push and pull carry."""
        from gittrack._registry import meta

        if version is None:
            meta.update_model(self._repo.git, name, description, dict(tags or {}))
        else:
            tag = self.get_version(name, version)["tag"]
            meta.update_version(self._repo.git, tag, description, dict(tags or {}))

    def list_model_metadata(self) -> dict:
        """Every registered model with a metadata note: name -> ``Metadata``."""
        from gittrack._registry import meta

        return meta.models_with_metadata(self._repo.git)


class PromotionsService:
    """Promotions reviewed in pull requests and the policy in registry.yaml: ``gittrack promotions ...``."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo

    def request(self, name: str, version: str, stage: str) -> tuple[str, str]:
        """Create branch ``promote/<model>/<stage>/<version>`` asking for it; (branch, Markdown report)."""
        from gittrack._registry.promotions import request

        return request(self._repo.git, name, version, stage)

    def push_request(self, branch: str, remote: str | None = None) -> str:
        """Push a request branch with its runs, artifact data and tags; returns the remote used."""
        from gittrack._registry.promotions import push_request

        return push_request(self._repo.git, branch, remote)

    def check(self, base: str | None = None, head: str = "HEAD", remote: str | None = None) -> CheckResult:
        """Check the request at ``head`` against ``base`` (default branch): versions, data, policy."""
        from gittrack._registry.promotions import check

        return check(self._repo.git, base, head, remote)

    def apply(self, head: str = "HEAD") -> list[str]:
        """Create the stage tags registry.yaml at ``head`` asks for (idempotent); returns them."""
        from gittrack._registry.promotions import apply

        return apply(self._repo.git, head)

    def push_tags(self, names: list[str], remote: str | None = None) -> list[str]:
        """Push registry tags; returns the ones the remote refused, with the reason."""
        from gittrack._registry.promotions import push_tags

        return push_tags(self._repo.git, names, remote)

    def status(self, head: str = "HEAD") -> list[str]:
        """Drift between registry.yaml at ``head`` and the registry's tags, both ways."""
        from gittrack._registry.promotions import status

        return status(self._repo.git, head)

    def open_requests(self) -> list[dict[str, Any]]:
        """Requests not merged into the default branch (``promote/<model>/<stage>/<version>``
        branches, local or remote-tracking), each with its Markdown ``report`` or ``problem``."""
        from gittrack._registry.promotions import open_requests

        return open_requests(self._repo.git)

    def policy(self, model: str) -> dict[str, Any]:
        """The policy of ``model`` (``*``: the default one) in force, and the work tree's if it differs."""
        from gittrack._registry.policy import show_policy

        return show_policy(self._repo.git, model)

    def set_policy(
        self, model: str, no_worse: Sequence[str] = (), thresholds: Sequence[str] = (), guard: Sequence[str] = (),
        clear: bool = False, commit: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """Change ``model``'s rules in the work tree's registry.yaml and, with ``commit``, commit
        that file (alone, ``commit`` commits the file as it is). A stage newly guarded that a model
        holds already gets that holder recorded in the file as the desired one. Returns ``written``
        (the file, or None), ``recorded`` (``{"model", "stage", "version"}`` of those holders),
        ``commit`` (the new commit, or None), ``branch`` and ``default_branch``."""
        from gittrack._initialize import commit_files
        from gittrack._registry.policy import default_branch, set_policy

        changing = bool(no_worse or thresholds or guard or clear)
        path = Path(self._repo.workdir) / "registry.yaml"
        if not changing and not commit:
            raise UsageError("give rules (--guard, --no-worse, --threshold), --clear or --commit to change the policy")
        recorded: list[tuple[str, str, str]] = []
        if changing:
            _, path, recorded = set_policy(self._repo.git, model, list(no_worse), list(thresholds), list(guard), clear)
        elif not path.exists():
            raise UsageError("there is no registry.yaml to commit; give rules first (--guard, --no-worse, --threshold)")
        sha = (
            commit_files(self._repo.workdir, ["registry.yaml"], f"Set the promotion policy of {model}")
            if commit
            else None
        )
        return {"written": str(path) if changing else None, "commit": sha, "branch": self._repo.git.head.shorthand,
                "default_branch": default_branch(self._repo.git),
                "recorded": [{"model": m, "stage": s, "version": v} for m, s, v in recorded]}  # fmt: skip
