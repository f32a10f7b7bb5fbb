"""Experiments as entities: creating, reading, tagging, describing, deleting and restoring them
(``client.experiments``); their metadata lives in git notes that push and pull carry."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gittrack._experiments import Experiment
    from gittrack._store.repository import Repository


class ExperimentService:
    """The experiments of one repository."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo

    def create(self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None) -> Experiment:
        """Create an experiment with tags and a description (stored in git, shared by push/pull)."""
        from gittrack._experiments import create_experiment

        return create_experiment(self._repo.git, name, dict(tags or {}), description)

    def get(self, name: str) -> Experiment:
        """An ``Experiment`` (name = id, tags, description, lifecycle_stage, run counts)."""
        from gittrack._experiments import get_experiment

        return get_experiment(self._repo.git, name)

    def list(self, view: str = "active") -> builtins.list[Experiment]:
        """Every experiment with runs or metadata: ``active``, ``deleted`` or ``all``."""
        from gittrack._experiments import list_experiments

        return list_experiments(self._repo.git, view)

    def names(self) -> builtins.list[str]:
        """The experiments that have runs (active, deleted or packed), sorted, from ref names alone."""
        return self._repo.experiment_names()

    def set_tags(self, name: str, tags: Mapping[str, Any]) -> None:
        """Set tags of an experiment (a value of None removes the tag)."""
        from gittrack._experiments import set_tags

        set_tags(self._repo.git, name, dict(tags))

    def set_description(self, name: str, description: str | None) -> None:
        """Set (None: remove) an experiment's description."""
        from gittrack._experiments import set_description

        set_description(self._repo.git, name, description)

    def delete(self, name: str) -> int:
        """Delete an experiment and its runs (restorable); returns how many runs were deleted."""
        from gittrack._experiments import delete_experiment

        return delete_experiment(self._repo.git, name)

    def restore(self, name: str) -> int:
        """Restore a deleted experiment and its deleted runs; returns how many runs came back."""
        from gittrack._experiments import restore_experiment

        return restore_experiment(self._repo.git, name)
