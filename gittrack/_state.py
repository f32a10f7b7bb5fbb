"""Everything this process remembers between calls, in one object: ``STATE``.

The fluent API's stack of active runs and the experiment it selected, the MLflow layer's
tracking and registry repositories, autologging's patches, settings and the runs it keeps
open, and the per-process caches keyed by repository. Modules read and change it through
``STATE``; ``gittrack.reset_state()`` ends what is open and puts a fresh one in its place.

The object holds API objects (active runs, clients) but imports none: this module sits in the
core layer so that the store's caches can live here too. Locks are not state: they guard it
and stay with the modules that take them.

The only other module-level state is the list of pure caches in docs/architecture.md
("What stays module-level").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FluentState:
    """``gittrack.start_run`` and friends."""

    stack: list[Any] = field(default_factory=list)  # the active runs (fluent.ActiveRun), the current one last
    experiment: str | None = None  # set_experiment's choice for runs started without one
    clients: dict[str, Any] = field(default_factory=dict)  # work tree root -> the Client the fluent API writes through
    warned_ignored: bool = False  # under 'gittrack run': the ignored start_run arguments were reported


@dataclass
class MlflowState:
    """``gittrack.mlflow``: the selected repositories and what MLflow's fluent API remembers."""

    repo: str | None = None  # the tracking URI's repository root; None: the current folder's
    registry_repo: str | None = None
    tracking_uri: str | None = None
    registry_uri: str | None = None
    warned_uri: bool = False  # a non-local URI was reported as not used
    env_read: bool = False  # MLFLOW_TRACKING_URI and MLFLOW_REGISTRY_URI were read
    last_run_id: str | None = None  # mlflow.last_active_run
    experiment_set: bool = False  # mlflow.set_experiment was called
    last_logged_model: str | None = None  # mlflow.last_logged_model's id


@dataclass
class AutologState:
    """``gittrack.autolog``: what is patched, how, and the runs it started."""

    settings: dict[str, Any] = field(default_factory=dict)  # library -> its Settings while on
    patches: dict[str, list[tuple[Any, str, Any, bool]]] = field(default_factory=dict)  # library -> originals
    warned: set[tuple[str, str]] = field(default_factory=set)  # (library, step) whose failure was reported
    callbacks: dict[str, list[Any]] = field(default_factory=dict)  # module -> post-import callbacks
    prefix_callbacks: dict[str, list[Any]] = field(default_factory=dict)  # package -> callbacks for its modules
    open_runs: list[Any] = field(default_factory=list)  # runs autologging started and has not ended
    last_run_id: str | None = None  # the run the latest autologged call logged into
    sessions_running: int = 0  # autologged calls in progress, in every thread


@dataclass
class Caches:
    """What this process read once and keeps, per repository (git dir) or per interpreter."""

    # git dir -> run id -> its RunRef as the last scan of every ref found it: resolving a full id
    # again is then one ref lookup, not a scan (a second with 100,000 runs). Each entry is checked
    # against the refs before it is used, so a run moved, deleted or repointed is looked up anew.
    known_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requirements: dict[str, bytes] = field(default_factory=dict)  # packages key -> requirements.txt


@dataclass
class ProcessState:
    """The process's state; see the module doc."""

    fluent: FluentState = field(default_factory=FluentState)
    mlflow: MlflowState = field(default_factory=MlflowState)
    autolog: AutologState = field(default_factory=AutologState)
    caches: Caches = field(default_factory=Caches)

    def clear(self) -> None:
        """Forget everything, in place (modules keep their reference to ``STATE``). Ending what is
        open first is the caller's job: ``gittrack.reset_state``."""
        fresh = ProcessState()
        self.fluent, self.mlflow, self.autolog, self.caches = fresh.fluent, fresh.mlflow, fresh.autolog, fresh.caches


STATE = ProcessState()
