"""Ray: the Tune callback records a Tune run's trials as runs, and a sweep runs its workers as
Ray tasks (one local Ray with 2 CPUs, started once for both)."""

from __future__ import annotations

from pathlib import Path

import pytest

import gittrack
from tests.conftest import optional

pytestmark = pytest.mark.slow


def trainable(config: dict) -> None:
    from ray import tune

    for step in range(3):
        tune.report({"loss": (config["x"] - 1) ** 2 + 1 / (step + 1), "nested": {"ignored": "text"}})


def objective(params: dict) -> float:
    return (params["x"] - 1) ** 2


@pytest.fixture(scope="module")
def ray_local():
    ray = optional("ray", "Ray: pip install 'ray[tune]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_the_tune_callback_and_the_ray_backend(ray_local, repo: Path, tmp_path: Path) -> None:
    from ray import tune

    from gittrack.integrations.ray import GittrackCallback

    callback = GittrackCallback(experiment="tune", metric="loss", mode="min")
    tuner = tune.Tuner(
        trainable,
        param_space={"x": tune.grid_search([0.0, 1.5])},
        run_config=tune.RunConfig(callbacks=[callback], storage_path=str(tmp_path / "ray"), verbose=0),
    )
    tuner.fit()
    parent = gittrack.get_run(callback.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["gittrack.sweep"] == parent.info.run_id
    children = gittrack.search_runs(["tune"], f"tags.gittrack.sweep = '{parent.info.run_id}'", output_format="list")
    trials = [r for r in children if r.info.run_id != parent.info.run_id]
    assert len(trials) == 2
    for run in trials:
        assert run.info.status == "FINISHED"
        assert run.info.parent_run_id == parent.info.run_id
        x = float(run.data.params["x"])
        assert run.data.metrics["loss"] == pytest.approx((x - 1) ** 2 + 1 / 3)
        history = gittrack.Client().get_metric_history(run.info.run_id, "loss")
        assert [m.step for m in history] == [1, 2, 3]
    assert parent.data.metrics["best_loss"] == pytest.approx(0.25 + 1 / 3)

    result = gittrack.sweep(objective, {"x": {"type": "float", "low": 0, "high": 2}}, trials=4, workers=2,
                            backend="ray", seed=0, experiment="on-ray")  # fmt: skip
    assert result.counts["COMPLETE"] == 4
    runs = gittrack.search_runs(["on-ray"], f"tags.gittrack.sweep = '{result.sweep_id}'", output_format="list")
    assert len(runs) == 5
    assert all(r.info.status == "FINISHED" for r in runs)
