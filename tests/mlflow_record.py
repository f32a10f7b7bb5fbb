"""Run an MLflow script, then write what its store holds, read through the MLflow client, as JSON.

``python mlflow_record.py SCRIPT OUT.json mlflow`` runs SCRIPT with real MLflow (its tracking URI
from the environment) and reads the store with ``mlflow.MlflowClient``; ``... gittrack`` runs a
script whose imports were rewritten to ``gittrack.mlflow`` and reads it with gittrack.mlflow's
client. Each run is written with its params, metrics, tags, artifact paths (folders end in ``/``),
logged models and dataset inputs, so tests compare the two stores as a script would see them.
"""

from __future__ import annotations

import json
import runpy
import sys
import warnings


def _walk(client, run_id: str, path: str | None = None) -> list[str]:
    found = []
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found.append(item.path + "/")
            found.extend(_walk(client, run_id, item.path))
        else:
            found.append(item.path)
    return found


def _models(client, run) -> list[str]:
    found = client.search_logged_models(experiment_ids=[run.info.experiment_id],
                                        filter_string=f"source_run_id = '{run.info.run_id}'")  # fmt: skip
    return sorted(model.name for model in found)


def record(client) -> list[dict]:
    runs = []
    for experiment in client.search_experiments():
        for found in client.search_runs([experiment.experiment_id]):
            run = client.get_run(found.info.run_id)
            artifacts = _walk(client, run.info.run_id)
            inputs = [
                {"name": i.dataset.name, "digest": i.dataset.digest, "source_type": i.dataset.source_type,
                 "source": i.dataset.source, "schema": i.dataset.schema, "profile": i.dataset.profile,
                 "tags": {t.key: t.value for t in i.tags}}
                for i in run.inputs.dataset_inputs
            ]  # fmt: skip
            runs.append({
                "run_id": run.info.run_id, "status": run.info.status, "params": run.data.params,
                "metrics": run.data.metrics, "tags": run.data.tags, "artifacts": artifacts,
                "models": _models(client, run), "inputs": inputs,
            })  # fmt: skip
    return runs


if __name__ == "__main__":
    script, out, kind = sys.argv[1:4]
    warnings.filterwarnings("ignore")
    sys.argv = [script]
    runpy.run_path(script, run_name="__main__")
    if kind == "mlflow":
        import mlflow

        client = mlflow.MlflowClient()
    else:
        import gittrack.mlflow as mlflow

        client = mlflow.MlflowClient()
    with open(out, "w") as handle:
        json.dump(record(client), handle, indent=1, default=str)
