"""A sweep's study in Optuna's own storage: where it lives, its settings, its trial counts.

One machine: a journal file ``.git/gittrack/sweeps/<sweep>.journal`` (Optuna's ``JournalStorage``,
safe for several processes). Many machines: any Optuna RDB URL (``postgresql://...``). The
study is named ``gittrack-<sweep id>`` and its user attributes hold what every worker needs (the
parent run, experiment, metric, direction, space, sampler, pruner, seed, total trials, command),
so a machine that joins needs only the storage and the sweep id. Which run a trial is, git
says: each trial's run has the tags ``gittrack.sweep`` and ``gittrack.trial`` (the study holds
no run ids, which spares every trial a write to the storage).

Counting: ``--trials N`` is the sweep's total. A worker asks Optuna for a trial, then runs it only
if fewer than N counted trials have lower numbers (trial numbers are handed out in one order by
the storage, so all workers on all machines agree); a surplus trial is told FAIL and marked, and
so is a trial that a killed sweep left RUNNING when ``--resume`` starts: neither counts.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gittrack.errors import NotFoundError, UsageError
from gittrack.sweeps.space import Param, dump_space, grid_space, parse_space

PREFIX = "gittrack-"
SETTINGS = "gittrack.settings"
STOPPED = "gittrack.stopped"
SKIPPED = "gittrack.skipped"  # a trial that does not count: "surplus" or "interrupted"
SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "hyperband", "none")
DIRECTIONS = ("minimize", "maximize")


@dataclass
class Settings:
    """What every worker of a sweep needs, kept in the study (``gittrack.settings``)."""

    sweep_id: str
    experiment: str
    metric: str
    direction: str
    space: dict[str, Any]
    trials: int
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int | None = None
    command: list[str] = field(default_factory=list)
    backend: str = "process"

    @property
    def params(self) -> list[Param]:
        return parse_space(self.space, source="the sweep's space")

    @property
    def study_name(self) -> str:
        return PREFIX + self.sweep_id

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> Settings:
        raw = attrs.get(SETTINGS)
        if not isinstance(raw, str):
            raise NotFoundError("that Optuna study was not made by gittrack sweep (no gittrack.settings)")
        return cls(**json.loads(raw))


def check_choices(sampler: str, pruner: str, direction: str, trials: int, params: list[Param]) -> None:
    """Refuse unknown names and impossible totals before anything is created."""
    if sampler not in SAMPLERS:
        raise UsageError(f"sampler {sampler!r} is not one of {', '.join(SAMPLERS)}")
    if pruner not in PRUNERS:
        raise UsageError(f"pruner {pruner!r} is not one of {', '.join(PRUNERS)}")
    if direction not in DIRECTIONS:
        raise UsageError(f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    if trials < 1:
        raise UsageError(f"--trials must be at least 1 (got {trials})")
    if sampler == "grid":
        grid_space(params)  # a float without a step is refused here
    if sampler == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise UsageError("the cmaes sampler needs the cmaes package: pip install cmaes") from None


def sweeps_dir(repo_path: str) -> Path:
    """``.git/gittrack/sweeps``: the journals and the storage each local sweep uses (never shared)."""
    import pygit2

    path = Path(pygit2.Repository(repo_path).path) / "gittrack" / "sweeps"
    path.mkdir(parents=True, exist_ok=True)
    return path


def journal_url(repo_path: str, sweep_id: str) -> str:
    return "journal:" + str(sweeps_dir(repo_path) / f"{sweep_id}.journal")


def open_storage(url: str) -> Any:
    """An Optuna storage for ``url``: ``journal:<path>`` (a journal file) or any RDB URL."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # gittrack reports what happens itself

    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    if "://" not in url:
        raise UsageError(f"storage {url!r} is not a database URL such as postgresql://user@host/db or sqlite:///f.db")
    try:
        return optuna.storages.RDBStorage(_driver(url), engine_kwargs={"pool_pre_ping": True})
    except ImportError as exc:
        raise UsageError(f"storage {redact(url)}: a driver is missing ({exc}); for PostgreSQL pip install "
                         "psycopg2-binary") from None  # fmt: skip
    except Exception as exc:  # noqa: BLE001  (SQLAlchemy's errors vary by driver)
        raise UsageError(f"cannot open the storage {redact(url)}: {str(exc).splitlines()[0][:200]}") from None


def _driver(url: str) -> str:
    """``postgresql://`` through psycopg2 when it is the driver installed (SQLAlchemy 2.1 picks
    psycopg 3 for a URL that names none)."""
    import importlib.util

    plain = url.startswith(("postgresql://", "postgres://"))
    if plain and importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def remember(repo_path: str, sweep_id: str, url: str) -> None:
    """Note which storage a sweep uses (not when its URL holds a password: give --storage again)."""
    if url.startswith("journal:") or not re.search(r"//[^/@]*:[^@]*@", url):
        (sweeps_dir(repo_path) / f"{sweep_id}.storage").write_text(url + "\n", encoding="utf-8")


def known_sweeps(repo_path: str) -> dict[str, str]:
    """Sweep id -> storage URL of the sweeps this repository ran or joined."""
    folder = sweeps_dir(repo_path)
    out = {}
    for path in sorted(folder.glob("*.storage")):
        out[path.stem] = path.read_text(encoding="utf-8").strip()
    return out


def locate(repo_path: str, sweep: str, storage: str | None = None) -> tuple[str, str]:
    """(sweep id, storage URL) for a sweep id or unique prefix, looked up in ``storage`` or among
    the sweeps this repository knows."""
    if not sweep or not re.fullmatch(r"[0-9a-z]{1,40}", sweep):
        raise UsageError(f"sweep {sweep[:60]!r} is not a sweep id (letters and digits, as 'gittrack sweep' printed)")
    if storage is not None:
        import optuna

        names = [n.removeprefix(PREFIX) for n in optuna.study.get_all_study_names(open_storage(storage))
                 if n.startswith(PREFIX + sweep)]  # fmt: skip
        candidates = dict.fromkeys(names, storage)
    else:
        candidates = {k: v for k, v in known_sweeps(repo_path).items() if k.startswith(sweep)}
    if not candidates:
        where = "in that storage" if storage else "in this repository (give --storage URL for one run elsewhere)"
        raise NotFoundError(f"no sweep {sweep!r} {where}")
    if len(candidates) > 1:
        raise UsageError(
            f"sweep {sweep!r} is ambiguous: matches {', '.join(sorted(candidates))[:200]}; give more characters"
        )
    return next(iter(candidates.items()))


def create_study(url: str, settings: Settings) -> Any:
    import optuna

    study = optuna.create_study(storage=open_storage(url), study_name=settings.study_name,
                                direction=direction(settings))  # fmt: skip
    study.set_user_attr(SETTINGS, settings.to_json())
    return study


def direction(settings: Settings) -> Any:
    """Optuna's direction object for the sweep's direction."""
    from optuna.study import StudyDirection

    return StudyDirection.MINIMIZE if settings.direction == "minimize" else StudyDirection.MAXIMIZE


def load_study(url: str, sweep_id: str) -> tuple[Any, Settings]:
    """The sweep's study (Optuna's default sampler and pruner: a worker sets the sweep's) and settings."""
    import optuna

    try:
        study = optuna.load_study(study_name=PREFIX + sweep_id, storage=open_storage(url))
    except KeyError:
        raise NotFoundError(f"sweep {sweep_id} has no study in {redact(url)}") from None
    return study, Settings.from_attrs(study.user_attrs)


def make_sampler(settings: Settings, worker_seed: int | None) -> Any:
    import optuna

    name = settings.sampler
    if name == "random":
        return optuna.samplers.RandomSampler(seed=worker_seed)
    if name == "grid":

        class Grid(optuna.samplers.GridSampler):
            def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
                """Nothing: the sweep's total (the grid's size at most) ends it, not ``study.stop()``,
                which Optuna allows only inside ``optimize``."""

        return Grid(grid_space(settings.params), seed=worker_seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=worker_seed)
    return optuna.samplers.TPESampler(seed=worker_seed)


def make_pruner(settings: Settings) -> Any:
    import optuna

    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def worker_seed(seed: int | None, worker: int, session: int) -> int | None:
    """Each worker samples with its own seed (the same seed in every worker would repeat trials)."""
    return None if seed is None else (seed * 1_000_003 + session * 1009 + worker) % (2**32)


INTERRUPTED = "gittrack.interrupted"


def _interrupted(study: Any) -> set[int]:
    return set(study.user_attrs.get(INTERRUPTED) or [])


def counts(trial: Any, interrupted: set[int]) -> bool:
    """Whether a trial counts towards the total (every trial but surplus and interrupted ones)."""
    return SKIPPED not in trial.user_attrs and trial.number not in interrupted


def rank(study: Any, number: int) -> int:
    """How many counted trials have a number below ``number``."""
    skip = _interrupted(study)
    return sum(1 for t in study.get_trials(deepcopy=False) if t.number < number and counts(t, skip))


def counted_trials(study: Any) -> list[Any]:
    """The trials that count, in number order."""
    skip = _interrupted(study)
    return [t for t in study.get_trials(deepcopy=False) if counts(t, skip)]


def status(study: Any) -> dict[str, int]:
    """Counted trials by state (COMPLETE, PRUNED, FAIL, RUNNING...), plus SKIPPED."""
    skip = _interrupted(study)
    out: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        state = trial.state.name if counts(trial, skip) else "SKIPPED"
        out[state] = out.get(state, 0) + 1
    return out


def best_trial(study: Any) -> Any | None:
    """The best completed trial (the earliest of equals), or None."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    if not done:
        return None
    sign = 1 if study.direction.name == "MINIMIZE" else -1
    return min(done, key=lambda t: (sign * t.value, t.number))


def interrupt_running(study: Any) -> int:
    """Mark the trials a killed sweep left RUNNING as interrupted (told FAIL, not counted); how many."""
    from optuna.trial import TrialState

    left = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))]
    if left:
        study.set_user_attr(INTERRUPTED, sorted(_interrupted(study) | set(left)))
        for number in left:
            study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    return len(left)


def is_stopped(study: Any) -> bool:
    return bool(study.user_attrs.get(STOPPED))


def set_stopped(study: Any, stopped: bool) -> None:
    study.set_user_attr(STOPPED, stopped)


def space_of(settings: Settings) -> dict[str, Any]:
    return dump_space(settings.params)


def env_seed() -> int | None:
    raw = os.environ.get("GITTRACK_SWEEP_SEED")
    return int(raw) if raw else None
