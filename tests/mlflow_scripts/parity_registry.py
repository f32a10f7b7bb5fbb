"""The registry's stages, written for MLflow: a version is in one stage at a time.

Prints one JSON line of answers read back through MLflow's client, to compare with another tool's.
"""

import json

import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

X = np.array([[0.0], [1.0], [2.0], [3.0]])
y = np.array([0, 0, 1, 1])
client = MlflowClient()
answers = {}


def stages():
    """Every version's stage, the latest per stage (all, None, Staging, Production) and the model's."""
    versions = client.search_model_versions("name = 'churn'")
    return {
        "current": sorted((str(v.version), v.current_stage) for v in versions),
        "latest": sorted((v.current_stage, str(v.version)) for v in client.get_latest_versions("churn")),
        "none": [str(v.version) for v in client.get_latest_versions("churn", ["None"])],
        "staging": [str(v.version) for v in client.get_latest_versions("churn", ["Staging"])],
        "production": [str(v.version) for v in client.get_latest_versions("churn", ["Production"])],
        "registered": sorted(
            (v.current_stage, str(v.version)) for v in client.get_registered_model("churn").latest_versions
        ),
    }


mlflow.set_experiment("parity-registry")
for c in (0.1, 1.0, 10.0):
    with mlflow.start_run():
        mlflow.log_param("C", c)
        mlflow.sklearn.log_model(
            LogisticRegression(C=c).fit(X, y), name="model", registered_model_name="churn", pip_requirements=["numpy"]
        )

client.transition_model_version_stage("churn", "1", "Staging")
answers["1 staging"] = stages()
moved = client.transition_model_version_stage("churn", "1", "Production", archive_existing_versions=True)
answers["1 production"] = {"returned": moved.current_stage, **stages()}
client.transition_model_version_stage("churn", "2", "Production", archive_existing_versions=True)
answers["2 production, 1 archived"] = stages()
client.transition_model_version_stage("churn", "3", "Staging")
client.transition_model_version_stage("churn", "3", "Production")
answers["2 and 3 production"] = stages()
client.transition_model_version_stage("churn", "3", "None")
answers["3 none"] = stages()
client.set_registered_model_alias("churn", "champion", "2")
client.transition_model_version_stage("churn", "2", "Archived")
answers["2 archived keeps its alias"] = {
    "alias": str(client.get_model_version_by_alias("churn", "champion").version),
    "aliases": client.get_model_version("churn", "2").aliases,
    **stages(),
}

version = client.get_model_version("churn", "1")
answers["get_model_version"] = {
    "type": type(version).__name__,
    "fields": [version.name, str(version.version), version.current_stage, version.status],
    "run": client.get_run(version.run_id).data.params,
}
print(json.dumps(answers, sort_keys=True))
