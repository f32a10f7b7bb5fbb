"""Identity and objects, written for MLflow: the MLflow version, artifact locations the artifact
calls take, absolute download paths, ActiveRun's attributes, the Default experiment.

Prints one JSON line of answers read back through MLflow's API, to compare with another tool's.
"""

import json
import os
from pathlib import Path
from urllib.parse import urlparse

import mlflow
from mlflow import MlflowClient

client = MlflowClient()
answers = {"major_version": mlflow.__version__.split(".")[0]}
answers["experiments_before"] = sorted(e.name.lower() for e in mlflow.search_experiments())
answers["default_by_name"] = mlflow.get_experiment_by_name("Default") is not None

mlflow.set_experiment("parity-identity")
with mlflow.start_run() as run:
    answers["private_info"] = run._info.run_id == run.info.run_id
    mlflow.log_param("lr", 0.1)
    mlflow.log_metric("loss", 0.5)
    mlflow.set_tag("team", "ml")
    mlflow.log_text("hello", "notes/hello.txt")
    mlflow.log_dict({"a": 1}, "config.json")
    uri = mlflow.get_artifact_uri()
    answers["artifact_uri"] = {
        "scheme": urlparse(uri).scheme,
        "is_run_artifact_uri": uri == run.info.artifact_uri,
        "with_path": mlflow.get_artifact_uri("notes/hello.txt") == uri + "/notes/hello.txt",
    }

# a run's artifact location is what the artifact calls take
answers["load_text"] = mlflow.artifacts.load_text(uri + "/notes/hello.txt")
answers["load_dict"] = mlflow.artifacts.load_dict(uri + "/config.json")
answers["list_artifacts"] = [(f.path, f.is_dir) for f in mlflow.artifacts.list_artifacts(uri)]
local = mlflow.artifacts.download_artifacts(uri)
answers["download"] = {
    "absolute": os.path.isabs(local),
    "at_the_location": os.path.samefile(local, urlparse(uri).path),
    "files": sorted(os.listdir(local)),
    "text": Path(local, "notes", "hello.txt").read_text(),
}
by_run = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes")
answers["download_by_run_id"] = [os.path.isabs(by_run), sorted(os.listdir(by_run))]
os.makedirs("downloads", exist_ok=True)
relative = client.download_artifacts(run.info.run_id, "config.json", "downloads")
answers["client_download_absolute"] = [os.path.isabs(relative), Path(relative).name]

with mlflow.start_run() as again:
    mlflow.log_artifact(os.path.join(local, "notes", "hello.txt"), "copied")
answers["logged_from_download"] = [f.path for f in client.list_artifacts(again.info.run_id, "copied")]

found = client.get_run(run.info.run_id)
answers["run"] = {
    "params": found.data.params,
    "metrics": found.data.metrics,
    "tags": {k: v for k, v in found.data.tags.items() if not k.startswith("mlflow.")},
    "status": found.info.status,
}
answers["experiments_after"] = sorted(e.name.lower() for e in mlflow.search_experiments())
print(json.dumps(answers, sort_keys=True))
