"""One of several client processes logging at once: RUNS runs of POINTS metric points each, every
point its own request, or a run's points in one log_batch (python many_runs.py WORKER RUNS POINTS [batch])."""

import sys

import mlflow
from mlflow.entities import Metric

worker, runs, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
batch = sys.argv[4:] == ["batch"]
mlflow.set_experiment("load")
for i in range(runs):
    with mlflow.start_run(run_name=f"w{worker}-r{i}") as run:
        mlflow.log_param("worker", worker)
        if batch:
            values = [Metric("loss", 1.0 / (step + 1), 0, step) for step in range(points)]
            mlflow.MlflowClient().log_batch(run.info.run_id, metrics=values)
        else:
            for step in range(points):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
print("done", worker)
