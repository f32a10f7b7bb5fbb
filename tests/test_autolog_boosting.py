"""XGBoost and LightGBM autologging with real (tiny) trainings: native train and the sklearn wrappers."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import make_classification

import gittrack


@pytest.fixture
def data():
    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    return X[:60], y[:60], X[60:], y[60:]


def _history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(p.step, p.value) for p in gittrack.Client().get_metric_history(run_id, key)]


def _json_artifact(run_id: str, path: str):
    return json.loads(Path(gittrack.download_artifacts(run_id, path)).read_text())


def test_xgboost_train_logs_each_iteration_early_stopping_importance_and_booster(autologging, data) -> None:
    X, y, X_valid, y_valid = data
    train, valid = xgb.DMatrix(X, label=y), xgb.DMatrix(X_valid, label=y_valid)
    autologging.xgboost()
    evals_result: dict = {}
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "eta": 0.5}, train, num_boost_round=30,
                        evals=[(train, "train"), (valid, "valid")], early_stopping_rounds=2, evals_result=evals_result,
                        verbose_eval=False)  # fmt: skip
    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)

    run = gittrack.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["max_depth"] == "2"
    assert run.data.params["eta"] == "0.5"
    assert run.data.params["num_boost_round"] == "30"
    assert run.data.params["early_stopping_rounds"] == "2"
    assert {"maximize", "verbose_eval", "custom_metric"} <= set(run.data.params)  # train's arguments, as MLflow
    rounds = booster.num_boosted_rounds()
    assert rounds < 30  # it stopped early
    for name in ("train", "valid"):
        values = evals_result[name]["logloss"]
        assert _history(run_id, f"{name}-logloss") == [
            *((step, pytest.approx(value)) for step, value in enumerate(values)),
            (rounds, pytest.approx(values[booster.best_iteration])),  # the best iteration's, after the last
        ]
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    assert run.data.metrics["stopped_iteration"] == rounds - 1
    assert "best_score" not in run.data.metrics  # MLflow does not log it
    datasets = {(i["name"], i["context"]) for i in run.details.inputs}
    assert datasets == {("dataset", "train"), ("train", "eval"), ("valid", "eval")}
    assert _json_artifact(run_id, "feature_importance_weight.json") == booster.get_score(importance_type="weight")
    assert "feature_importance_weight.png" in {a["path"] for a in run.details.artifacts}
    loaded = gittrack.load_model(f"runs:/{run_id}/model")
    assert isinstance(loaded, xgb.Booster)
    np.testing.assert_array_equal(loaded.predict(valid), booster.predict(valid))


def test_xgboost_classifier_logs_params_eval_metrics_and_the_fitted_wrapper(autologging, data) -> None:
    X, y, X_valid, y_valid = data
    autologging.xgboost(importance_types=("weight", "gain"))
    model = xgb.XGBClassifier(n_estimators=6, max_depth=2, learning_rate=0.3)
    model.fit(X, y, eval_set=[(X, y), (X_valid, y_valid)], verbose=False)
    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)

    run = gittrack.get_run(run_id)
    assert run.data.params["num_boost_round"] == "6"  # the train() under fit(): MLflow's params
    assert run.data.params["learning_rate"] == "0.3"
    assert "n_estimators" not in run.data.params
    results = model.evals_result()
    assert [s for s, _ in _history(run_id, "validation_1-logloss")] == list(range(6))
    assert [v for _, v in _history(run_id, "validation_1-logloss")] == pytest.approx(results["validation_1"]["logloss"])
    assert not [k for k in run.data.metrics if k.startswith("training_")]  # as MLflow
    assert "best_iteration" not in run.data.metrics  # no early stopping
    datasets = {(i["name"], i["context"]) for i in run.details.inputs}
    assert datasets == {("dataset", "train"), ("validation_0", "eval"), ("validation_1", "eval")}
    assert set(_json_artifact(run_id, "feature_importance_gain.json")) <= {f"f{i}" for i in range(4)}
    loaded = gittrack.load_model(f"runs:/{run_id}/model")
    assert isinstance(loaded, xgb.XGBClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(X_valid), model.predict_proba(X_valid))
    assert len(gittrack.list_runs()) == 1  # the train() under fit() logged into the same run


def test_lightgbm_train_logs_each_iteration_early_stopping_importance_and_booster(autologging, data) -> None:
    X, y, X_valid, y_valid = data
    train = lgb.Dataset(X, label=y)
    valid = lgb.Dataset(X_valid, label=y_valid, reference=train)
    autologging.lightgbm()
    recorded: dict = {}
    params = {"objective": "binary", "num_leaves": 4, "learning_rate": 0.5, "min_data_in_leaf": 5, "verbose": -1}
    booster = lgb.train(params, train, num_boost_round=40, valid_sets=[valid], valid_names=["valid"],
                        callbacks=[lgb.early_stopping(2, verbose=False), lgb.record_evaluation(recorded)])  # fmt: skip
    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)

    run = gittrack.get_run(run_id)
    assert run.data.params["num_leaves"] == "4"
    assert run.data.params["num_boost_round"] == "40"
    values = recorded["valid"]["binary_logloss"]
    assert _history(run_id, "valid-binary_logloss") == [
        *((step, pytest.approx(value)) for step, value in enumerate(values)),
        (len(values), pytest.approx(values[booster.best_iteration - 1])),  # the best iteration's, after the last
    ]
    assert len(values) < 40  # it stopped early
    assert run.data.metrics["best_iteration"] == booster.best_iteration  # LightGBM's count from 1, as MLflow
    assert run.data.metrics["stopped_iteration"] == len(values)  # the iterations run, as MLflow
    assert run.data.metrics["valid-binary_logloss"] == pytest.approx(booster.best_score["valid"]["binary_logloss"])
    assert run.data.params["keep_training_booster"] == "False"
    split = _json_artifact(run_id, "feature_importance_split.json")
    assert split == dict(zip(booster.feature_name(), booster.feature_importance("split").tolist(), strict=True))
    assert "feature_importance_gain.json" in {a["path"] for a in run.details.artifacts}
    loaded = gittrack.load_model(f"runs:/{run_id}/model")
    assert isinstance(loaded, lgb.Booster)
    np.testing.assert_allclose(loaded.predict(X_valid), booster.predict(X_valid))


@pytest.mark.filterwarnings("ignore:The argument .eval_set. is deprecated")
def test_lightgbm_classifier_logs_params_eval_metrics_and_the_fitted_wrapper(autologging, data) -> None:
    X, y, X_valid, y_valid = data
    autologging.lightgbm(log_datasets=False)
    model = lgb.LGBMClassifier(n_estimators=5, num_leaves=4, min_child_samples=5, verbose=-1)
    model.fit(X, y, eval_set=[(X_valid, y_valid)])
    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)

    run = gittrack.get_run(run_id)
    assert run.data.params["num_boost_round"] == "5"  # the train() under fit(): MLflow's params
    assert run.data.params["num_leaves"] == "4"
    assert [s for s, _ in _history(run_id, "valid_0-binary_logloss")] == list(range(5))
    assert set(run.data.metrics) == {"valid_0-binary_logloss"}
    loaded = gittrack.load_model(f"runs:/{run_id}/model")
    assert isinstance(loaded, lgb.LGBMClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(X_valid), model.predict_proba(X_valid))
    assert len(gittrack.list_runs()) == 1
