"""Find the best tuning run and put its model in production, written for MLflow."""

import pickle

import mlflow
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

client = MlflowClient()
experiment = client.get_experiment_by_name("churn-tuning")
best = client.search_runs(
    experiment_ids=[experiment.experiment_id],
    filter_string="metrics.accuracy > 0.5 and attributes.status = 'FINISHED'",
    run_view_type=ViewType.ACTIVE_ONLY,
    max_results=1,
    order_by=["metrics.accuracy DESC"],
)[0]
print("best run", best.info.run_id, best.data.metrics["accuracy"], best.data.params["C"])

version = mlflow.register_model(f"runs:/{best.info.run_id}/model", "churn-classifier")
client.update_model_version("churn-classifier", version.version, description="best of the optuna search")
client.set_model_version_tag("churn-classifier", version.version, "validated", "true")
client.transition_model_version_stage("churn-classifier", version.version, "Production", archive_existing_versions=True)
client.transition_model_version_stage("churn-classifier", "1", "Staging")

production = client.get_latest_versions("churn-classifier", stages=["Production"])
assert production[0].version == version.version, production
assert production[0].current_stage == "Production"
assert client.get_model_version("churn-classifier", "1").current_stage == "Staging"

model = mlflow.pyfunc.load_model("models:/churn-classifier/Production")
with open("data/X_test.pkl", "rb") as handle:
    X_test = pickle.load(handle)
print("production is version", version.version, "predictions", list(model.predict(X_test[:5])))
