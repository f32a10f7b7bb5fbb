"""log_model's and save_model's arguments and MLflow 3's logged models, written for MLflow.

Prints one JSON line of answers read back through MLflow's API, to compare with another tool's.
"""

import json
import os
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import yaml
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

work = Path(tempfile.mkdtemp())
(work / "labels.txt").write_text("no\nyes\n")
(work / "helpers").mkdir()
(work / "helpers" / "features.py").write_text("def double(x):\n    return 2 * x\n")
X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
y = np.array([0, 0, 1, 1])
model = LogisticRegression().fit(X, y)
client = MlflowClient()
answers = {}


def refused(call):
    try:
        call()
    except Exception as exc:  # the answer is which error
        return type(exc).__name__ if isinstance(exc, TypeError | ValueError) else "MlflowException"
    return "accepted"


MLFLOW_FILES = {"MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt", "input_example.json",
                "serving_input_example.json", "extra_files", "code"}  # fmt: skip

mlflow.set_experiment("parity-log-model")
with mlflow.start_run() as run:
    mlflow.log_param("C", 1.0)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        extra_files=[str(work / "labels.txt")],
        code_paths=[str(work / "helpers")],
        pip_requirements=["scikit-learn", "numpy"],
        metadata={"owner": "ada"},
        input_example=X[:2],
        registered_model_name="churn",
        params={"C": "1.0"},
        tags={"stage": "dev"},
        model_type="classifier",
        pyfunc_predict_fn="predict_proba",
    )
    # MLflow registers at once: the version is there inside the run
    answers["registered_in_run"] = [(str(v.version), v.current_stage) for v in client.get_latest_versions("churn")]
    answers["last_logged_model"] = mlflow.last_logged_model().model_id == info.model_id
    mlflow.log_metric("accuracy", 0.75, model_id=info.model_id)

answers["model_info"] = {
    "model_uri_is_the_model_id": info.model_uri == f"models:/{info.model_id}",
    "model_id_prefix": info.model_id[:2],
    "run_id": info.run_id == run.info.run_id,
    "name": info.name,
    "registered_model_version": str(info.registered_model_version),
    "metadata": info.metadata,
    "signature_inputs": info.signature.inputs is not None,
    "signature_outputs": info.signature.outputs is not None,
    "example_type": info.saved_input_example_info["type"],
}

# the model's files: MLflow's layout, the extra files and the code inside it
local = Path(mlflow.artifacts.download_artifacts(info.model_uri))
mlmodel = yaml.safe_load((local / "MLmodel").read_text())
answers["files"] = sorted(set(os.listdir(local)) & MLFLOW_FILES)
answers["extra_file"] = (local / "extra_files" / "labels.txt").read_text()
answers["code_file"] = (local / "code" / "helpers" / "features.py").is_file()
answers["requirements"] = [r for r in (local / "requirements.txt").read_text().split() if not r.startswith("mlflow")]
answers["mlmodel"] = {
    "extra_files": mlmodel["flavors"]["sklearn"]["extra_files"],
    "code": [mlmodel["flavors"]["sklearn"]["code"], mlmodel["flavors"]["python_function"]["code"]],
    "predict_fn": mlmodel["flavors"]["python_function"]["predict_fn"],
    "metadata": mlmodel["metadata"],
    "model_id": mlmodel["model_id"] == info.model_id,
    "run_id": mlmodel["run_id"] == run.info.run_id,
}
answers["input_example"] = json.loads((local / "input_example.json").read_text())

# loading: by logged model id, by registered version, by run; PyFuncModel.metadata is the MLmodel
loaded = mlflow.pyfunc.load_model(info.model_uri)
answers["pyfunc_predict_proba"] = np.round(loaded.predict(X), 6).tolist()
answers["pyfunc_metadata"] = {
    "run_id": loaded.metadata.run_id == run.info.run_id,
    "model_id": loaded.metadata.model_id == info.model_id,
    "metadata": loaded.metadata.metadata,
}
answers["sklearn_by_version"] = mlflow.sklearn.load_model("models:/churn/1").predict(X).tolist()
answers["sklearn_by_run"] = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model").predict(X).tolist()

# the logged model, as MLflow 3 answers it
logged = mlflow.get_logged_model(info.model_id)
answers["logged_model"] = {
    "name": logged.name,
    "params": logged.params,
    "model_type": logged.model_type,
    "source_run_id": logged.source_run_id == run.info.run_id,
    "status": str(getattr(logged.status, "value", logged.status)),
    "tag": logged.tags.get("stage"),
    "metric": {m.key: m.value for m in logged.metrics}.get("accuracy"),
    "model_uri": logged.model_uri == info.model_uri,
}
found = mlflow.search_logged_models(filter_string="params.C = '1.0'", output_format="list")
answers["search_logged_models"] = [m.model_id == info.model_id for m in found]
answers["search_logged_models_frame"] = list(mlflow.search_logged_models()["name"])
answers["run_outputs"] = [o.model_id == info.model_id for o in client.get_run(run.info.run_id).outputs.model_outputs]

# registering the logged model by its id; the version is an object
version = mlflow.register_model(f"models:/{info.model_id}", "churn-copy")
again = client.get_model_version("churn-copy", version.version)
answers["register_by_model_id"] = {
    "type": type(again).__name__,
    "version": str(again.version),
    "run_id": again.run_id == run.info.run_id,
    "model_id": again.model_id == info.model_id,
    "source": again.source == info.model_uri,
    "status": again.status,
}

# save_model and load_model of a folder
saved = work / "saved"
mlflow.sklearn.save_model(model, str(saved), extra_files=[str(work / "labels.txt")], metadata={"owner": "bo"})
answers["saved_files"] = sorted(set(os.listdir(saved)) & MLFLOW_FILES)
answers["saved_predict"] = mlflow.sklearn.load_model(str(saved)).predict(X).tolist()
answers["saved_pyfunc_metadata"] = mlflow.pyfunc.load_model(str(saved)).metadata.metadata
answers["save_into_existing"] = refused(lambda: mlflow.sklearn.save_model(model, str(saved)))

# arguments that cannot be honoured are refused, never dropped
mlflow.set_experiment("parity-refusals")
with mlflow.start_run():
    answers["unknown_argument"] = refused(lambda: mlflow.sklearn.log_model(model, name="other", bogus=1))
    answers["extra_files_not_a_list"] = refused(lambda: mlflow.sklearn.log_model(model, name="x", extra_files="a"))
    answers["both_requirements"] = refused(
        lambda: mlflow.sklearn.log_model(model, name="y", pip_requirements=["a"], extra_pip_requirements=["b"])
    )
    answers["both_names"] = refused(lambda: mlflow.sklearn.log_model(model, name="z", artifact_path="z"))
answers["create_dataset"] = refused(lambda: client.create_dataset("evaluation"))  # MLflow: SQL stores only
print(json.dumps(answers, sort_keys=True))
