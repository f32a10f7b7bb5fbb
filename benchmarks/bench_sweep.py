"""Sweep benchmarks: what gittrack adds to an Optuna study, workers' scaling, the sweep page.

    python benchmarks/bench_sweep.py [--trials 200] [--ui-trials 1000]

1. Per-trial overhead on one worker: the same study (random sampler, journal file storage, an
   objective that returns at once) run by plain Optuna (``study.optimize``) and by
   ``gittrack.sweep`` (every trial a run: a commit, params, tags, the parent's best-so-far).
   Target: at most 10 ms per trial.
2. 4 worker processes x 200 trials of a 0.1 s objective (``time.sleep``) against the ideal
   time (200 x 0.1 s / 4), start-up of the workers included. Target: under 1.3x.
3. The page of a 1,000-trial sweep: ``/sweeps/<id>`` and its data ``/api/sweeps/<id>`` on a
   fresh server (first answer) and again; param importance separately. Target: under 1 s.
Each part runs in a fresh temporary repository. Prints a table (not a timed test).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def instant(params: dict) -> float:
    return (params["x"] - 1) ** 2 + params["y"]


def tenth(params: dict) -> float:
    time.sleep(0.1)
    return (params["x"] - 1) ** 2 + params["y"]


SPACE = {"x": {"type": "float", "low": -5.0, "high": 5.0}, "y": {"type": "int", "low": 0, "high": 10}}


def fresh_repo(root: Path) -> Path:
    repo = root / "project"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print('train')\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "i"],
                   cwd=repo, check=True)  # fmt: skip
    os.chdir(repo)
    return repo


def plain_optuna(path: Path, trials: int) -> float:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial):
        return instant({"x": trial.suggest_float("x", -5, 5), "y": trial.suggest_int("y", 0, 10)})

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - start


def _plain_worker(path: str, name: str, trials: int, seed: int) -> None:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(JournalFileBackend(path))
    study = optuna.load_study(study_name=name, storage=storage, sampler=optuna.samplers.RandomSampler(seed=seed))

    def objective(trial):
        return tenth({"x": trial.suggest_float("x", -5, 5), "y": trial.suggest_int("y", 0, 10)})

    study.optimize(objective, n_trials=trials)


def plain_optuna_processes(path: Path, trials: int, workers: int) -> float:
    """The same 0.1 s objective in ``workers`` spawned processes sharing one journal, no gittrack."""
    import multiprocessing

    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    name = optuna.create_study(storage=storage).study_name
    context = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    procs = [
        context.Process(target=_plain_worker, args=(str(path), name, trials // workers, i)) for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    return time.perf_counter() - start


def with_gittrack(trials: int, workers: int = 1, objective=instant) -> tuple[float, str]:
    import gittrack

    start = time.perf_counter()
    result = gittrack.sweep(objective, SPACE, trials=trials, workers=workers, sampler="random", seed=0)
    took = time.perf_counter() - start
    assert result.finished == trials, result
    return took, result.sweep_id


def ui_times(repo: Path, sweep_id: str) -> tuple[float, float, float, float]:
    from starlette.testclient import TestClient

    from gittrack.ui.app import create_app

    with TestClient(create_app(repo), base_url="http://127.0.0.1:5151") as http:
        start = time.perf_counter()
        page = http.get(f"/sweeps/{sweep_id}")
        data = http.get(f"/api/sweeps/{sweep_id}")
        first = time.perf_counter() - start
        assert page.status_code == 200
        assert len(data.json()["rows"]) > 0
        start = time.perf_counter()
        http.get(f"/sweeps/{sweep_id}")
        http.get(f"/api/sweeps/{sweep_id}")
        again = time.perf_counter() - start
        start = time.perf_counter()
        importance = http.get(f"/api/sweeps/{sweep_id}/importance").json()["importance"]
        imp = time.perf_counter() - start
        start = time.perf_counter()
        http.get(f"/api/sweeps/{sweep_id}/importance")
        imp_again = time.perf_counter() - start
        assert set(importance) == set(SPACE)
    return first, again, imp, imp_again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="trials of parts 1 and 2")
    parser.add_argument("--ui-trials", type=int, default=1000, help="trials of the sweep whose page is timed")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="gittrack-bench-sweep-") as tmp:
        plains, ourses = [], []
        for attempt in range(2):  # interleaved, best of two: the disk's fsync time varies
            fresh_repo(Path(tmp) / f"one-{attempt}")
            plains.append(plain_optuna(Path(tmp) / f"plain-{attempt}.journal", args.trials))
            ourses.append(with_gittrack(args.trials)[0])
        plain, ours = min(plains), min(ourses)
        per_trial = (ours - plain) / args.trials * 1000
        rows.append((f"plain Optuna, {args.trials} trials, 1 process (s)", None, plain))
        rows.append((f"gittrack sweep, {args.trials} trials, 1 worker (s)", None, ours))
        rows.append(("gittrack's cost per trial (ms)", 10.0, per_trial))

        fresh_repo(Path(tmp) / "four")
        four, _ = with_gittrack(args.trials, workers=4, objective=tenth)
        plain_four = plain_optuna_processes(Path(tmp) / "plain4.journal", args.trials, 4)
        ideal = args.trials * 0.1 / 4
        rows.append((f"4 workers x {args.trials} trials of 0.1 s, gittrack sweep (s)", None, four))
        rows.append((f"  ratio to the ideal {ideal:.1f} s", 1.3, four / ideal))
        rows.append((f"4 processes x {args.trials} trials of 0.1 s, plain Optuna (s)", None, plain_four))
        rows.append((f"  ratio to the ideal {ideal:.1f} s", None, plain_four / ideal))

        repo = fresh_repo(Path(tmp) / "ui")
        build, sweep_id = with_gittrack(args.ui_trials)
        rows.append((f"making a {args.ui_trials}-trial sweep, 1 worker (s)", None, build))
        first, again, imp, imp_again = ui_times(repo, sweep_id)
        rows.append((f"sweep page + data, {args.ui_trials} trials, fresh server (s)", 1.0, first))
        rows.append(("  again (study kept by the server) (s)", 1.0, again))
        rows.append(("  param importance (PED-ANOVA), first / again (s)", None, imp))
        rows.append(("  param importance again (s)", None, imp_again))
    print(f"{'measure':58} {'target':>8} {'value':>10}")
    for label, target, value in rows:
        shown = f"{target:8.2f}" if target is not None else f"{'-':>8}"
        print(f"{label:58} {shown} {value:10.3f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
