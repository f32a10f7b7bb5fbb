"""Course material from 2022-2023, written for MLflow 1.x: APIs MLflow 2.0 removed.

Prints one JSON line of what they answered.
"""

import json

import mlflow
import numpy as np
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

mlflow.set_experiment("course-week-2")
for c in (0.1, 1.0):
    with mlflow.start_run(run_name=f"C={c}"):
        mlflow.log_param("C", c)
        model = LogisticRegression(C=c).fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
        mlflow.sklearn.log_model(model, artifact_path="model", registered_model_name="course-model")

client = MlflowClient()
experiments = mlflow.list_experiments()
client_experiments = client.list_experiments(view_type=ViewType.ALL)
experiment = client.get_experiment_by_name("course-week-2")
infos = client.list_run_infos(experiment.experiment_id, order_by=["attributes.start_time ASC"])
fluent_infos = mlflow.list_run_infos(experiment.experiment_id)
models = client.list_registered_models()
print(
    json.dumps(
        {
            "list_experiments": sorted(e.name for e in experiments),
            "client_list_experiments": sorted(e.name for e in client_experiments),
            "list_run_infos": [client.get_run(i.run_id).info.run_name for i in infos],
            "run_info_fields": sorted({i.status for i in fluent_infos}),
            "list_registered_models": [(m.name, sorted(str(v.version) for v in m.latest_versions)) for m in models],
        },
        sort_keys=True,
    )
)
