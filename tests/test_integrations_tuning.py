"""Optuna and hyperopt: a nested run per trial under the study's run, with real (tiny) searches."""

from __future__ import annotations

import logging

import hyperopt
import optuna
import pytest
from hyperopt import hp, tpe

import gittrack
from gittrack.integrations.hyperopt import fmin
from gittrack.integrations.optuna import GittrackCallback

optuna.logging.set_verbosity(optuna.logging.WARNING)
logging.getLogger("hyperopt").setLevel(logging.WARNING)


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -4, 4)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    trial.report(x * x, step=0)
    trial.report(x * x / 2, step=1)
    return (x - 1) ** 2 + (0.5 if kind == "b" else 0.0)


def _children(parent_id: str) -> list[gittrack.Run]:
    return sorted((r for r in gittrack.list_runs() if r.info.parent_run_id == parent_id),
                  key=lambda r: int(r.data.tags["optuna.trial_number"]))  # fmt: skip


def _check_study(parent_id: str, study: optuna.Study) -> None:
    children = _children(parent_id)
    assert len(children) == 6
    for child, trial in zip(children, study.trials, strict=True):
        assert child.info.status == "FINISHED"
        assert child.data.params == {"x": str(trial.params["x"]), "kind": trial.params["kind"]}
        assert child.data.metrics["value"] == pytest.approx(trial.value)
        assert child.data.tags["optuna.state"] == "COMPLETE"
        history = gittrack.Client().get_metric_history(child.info.run_id, "intermediate_value")
        assert [(p.step, p.value) for p in history] == [(0, pytest.approx(trial.params["x"] ** 2)),
                                                        (1, pytest.approx(trial.params["x"] ** 2 / 2))]  # fmt: skip
    parent = gittrack.get_run(parent_id)
    assert parent.data.tags["optuna.best_trial"] == str(study.best_trial.number)
    assert parent.data.tags["optuna.best_run_id"] == children[study.best_trial.number].info.run_id
    assert parent.data.metrics["best_value"] == pytest.approx(study.best_value)
    best_history = gittrack.Client().get_metric_history(parent_id, "best_value")
    assert [p.step for p in best_history] == list(range(6))


def test_optuna_callback_records_a_nested_run_per_trial(dvc_project) -> None:
    study = optuna.create_study(study_name="quad", sampler=optuna.samplers.RandomSampler(seed=0))
    with gittrack.start_run(run_name="tune") as parent:
        study.optimize(_objective, n_trials=6, callbacks=[GittrackCallback()])
    _check_study(parent.run_id, study)
    assert gittrack.get_run(parent.run_id).info.status == "FINISHED"


def test_optuna_callback_marks_failed_trials(dvc_project) -> None:
    def failing(trial: optuna.Trial) -> float:
        raise ValueError("bad trial")

    study = optuna.create_study()
    with gittrack.start_run() as parent:
        study.optimize(failing, n_trials=1, callbacks=[GittrackCallback()], catch=(ValueError,))
    [child] = [r for r in gittrack.list_runs() if r.info.parent_run_id == parent.run_id]
    assert child.info.status == "FAILED"
    assert child.data.tags["optuna.state"] == "FAIL"


def test_optuna_autolog_runs_the_study_in_its_own_run(autologging) -> None:
    autologging.optuna()
    study = optuna.create_study(study_name="auto", sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(_objective, n_trials=6)
    parent_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)
    parent = gittrack.get_run(parent_id)
    assert parent.info.run_name == "auto"
    assert parent.info.status == "FINISHED"
    _check_study(parent_id, study)


def _loss(params: dict) -> dict:
    return {"loss": (params["x"] - 1) ** 2 + params["model"]["penalty"], "status": hyperopt.STATUS_OK}


SPACE = {
    "x": hp.uniform("x", -3, 3),
    "model": hp.choice("model", [{"name": "small", "penalty": 0.0}, {"name": "big", "penalty": 1.0}]),
}


def _check_search(parent_id: str, trials: hyperopt.Trials, best: dict) -> None:
    children = [r for r in gittrack.list_runs() if r.info.parent_run_id == parent_id]
    assert len(children) == 5
    losses = sorted(t["result"]["loss"] for t in trials.trials)
    assert sorted(r.data.metrics["loss"] for r in children) == pytest.approx(losses)
    assert {r.data.params["model.name"] for r in children} <= {"small", "big"}
    assert all(r.data.tags["hyperopt.status"] == "ok" for r in children)
    parent = gittrack.get_run(parent_id)
    point = hyperopt.space_eval(SPACE, best)
    assert parent.data.params["best_x"] == str(point["x"])
    assert parent.data.params["best_model.name"] == point["model"]["name"]
    assert parent.data.metrics["best_loss"] == pytest.approx(losses[0])
    best_child = gittrack.get_run(parent.data.tags["hyperopt.best_run_id"])
    assert best_child.data.metrics["loss"] == pytest.approx(losses[0])


def test_hyperopt_fmin_records_a_nested_run_per_evaluation(dvc_project) -> None:
    trials = hyperopt.Trials()
    with gittrack.start_run(run_name="search") as parent:
        best = fmin(_loss, SPACE, algo=tpe.suggest, max_evals=5, trials=trials, rstate=_rstate(),
                    show_progressbar=False)  # fmt: skip
    _check_search(parent.run_id, trials, best)


def test_hyperopt_autolog_wraps_fmin(autologging) -> None:
    autologging.hyperopt()
    trials = hyperopt.Trials()
    best = hyperopt.fmin(_loss, SPACE, algo=tpe.suggest, max_evals=5, trials=trials, rstate=_rstate(),
                         show_progressbar=False)  # fmt: skip
    parent_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)
    _check_search(parent_id, trials, best)


def test_an_objective_that_raises_ends_its_run_failed(dvc_project) -> None:
    def broken(params: dict) -> float:
        raise RuntimeError("objective failed")

    with gittrack.start_run() as parent, pytest.raises(RuntimeError, match="objective failed"):
        fmin(broken, SPACE, algo=tpe.suggest, max_evals=1, show_progressbar=False)
    [child] = [r for r in gittrack.list_runs() if r.info.parent_run_id == parent.run_id]
    assert child.info.status == "FAILED"


def _rstate():
    import numpy as np

    return np.random.default_rng(0)
