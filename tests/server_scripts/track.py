"""A course-style MLflow script: experiments, runs, params, metrics by step, nested runs, tags and
a search. It sets no tracking URI: MLFLOW_TRACKING_URI says where the server is."""

import mlflow
from mlflow.tracking import MlflowClient

mlflow.set_experiment("course-tracking")
mlflow.set_experiment_tag("course", "mlops-zoomcamp")

with mlflow.start_run(run_name="baseline", tags={"team": "churn"}, description="a first model") as parent:
    mlflow.log_params({"model": "logreg", "C": 0.5})
    for epoch in range(20):
        mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    mlflow.log_metrics({"accuracy": 0.81, "f1": 0.78})
    for c in (0.1, 1.0):
        with mlflow.start_run(run_name=f"c-{c}", nested=True):
            mlflow.log_param("C", c)
            mlflow.log_metric("accuracy", 0.7 + c / 10)
    mlflow.set_tag("stage", "baseline")

with mlflow.start_run(run_name="failing"):
    mlflow.log_param("model", "broken")
    mlflow.end_run(status="FAILED")

client = MlflowClient()
experiment = client.get_experiment_by_name("course-tracking")
best = client.search_runs(
    [experiment.experiment_id], "metrics.accuracy > 0.75 and params.C = '1.0'", order_by=["metrics.accuracy DESC"]
)
history = client.get_metric_history(parent.info.run_id, "loss")
frame = mlflow.search_runs(experiment_names=["course-tracking"], order_by=["start_time ASC"])
print("parent", parent.info.run_id)
print("best", best[0].info.run_id, best[0].data.metrics["accuracy"])
print("history", len(history), history[-1].step, history[-1].value)
print("runs", len(frame), sorted(frame["status"]))
