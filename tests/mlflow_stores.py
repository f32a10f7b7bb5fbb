"""Build small MLflow stores with real MLflow, in a process of their own (MLflow keeps global state).

``python tests/mlflow_stores.py URI [--registry]`` writes, into the store at URI, experiment
``churn``: a parent run with params, tags, a 3-step metric history and artifacts in folders, two
nested children, a FAILED run and a deleted run; with ``--registry`` also three runs logging an
sklearn model registered as three versions of ``churn``, stage transitions and an alias.
It prints the MLflow run ids as JSON: {"parent": ..., "children": [...], "failed": ..., "deleted": ...}.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path


def build(uri: str, registry: bool) -> dict:
    import mlflow
    from mlflow import MlflowClient

    warnings.filterwarnings("ignore")
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("churn")
    ids: dict = {"children": [], "models": []}
    with tempfile.TemporaryDirectory() as tmp:
        plots = Path(tmp) / "plots"
        (plots / "sub").mkdir(parents=True)
        (plots / "loss.txt").write_text("0.5\n")
        (plots / "sub" / "deep.txt").write_text("deep\n")
        (Path(tmp) / "notes.md").write_text("# notes\n")
        with mlflow.start_run(run_name="parent", tags={"team": "risk"}) as parent:
            mlflow.log_params({"lr": 0.1, "layers": "[64, 32]"})
            for step, value in enumerate([1.0, 0.5, float("nan")]):
                mlflow.log_metric("loss", value, step=step, timestamp=1_700_000_000_000 + step)
            mlflow.log_artifacts(str(plots), "plots")
            mlflow.log_artifact(str(Path(tmp) / "notes.md"))
            for fold in range(2):
                with mlflow.start_run(run_name=f"fold-{fold}", nested=True) as child:
                    mlflow.log_param("fold", fold)
                    mlflow.log_metric("acc", 0.8 + fold / 10)
                    ids["children"].append(child.info.run_id)
        ids["parent"] = parent.info.run_id
        try:
            with mlflow.start_run(run_name="broken") as failed:
                mlflow.log_metric("loss", 9.0)
                raise RuntimeError("diverged")
        except RuntimeError:
            pass
        ids["failed"] = failed.info.run_id
        with mlflow.start_run(run_name="mistake") as deleted:
            mlflow.log_param("lr", 99)
        MlflowClient().delete_run(deleted.info.run_id)
        ids["deleted"] = deleted.info.run_id
    if registry:
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
        for c in (0.1, 1.0, 10.0):
            with mlflow.start_run(run_name=f"C={c}") as run:
                mlflow.log_param("C", c)
                mlflow.sklearn.log_model(
                    LogisticRegression(C=c).fit(X, y), name="model", registered_model_name="churn",
                    pip_requirements=["scikit-learn"],
                )  # fmt: skip
                ids["models"].append(run.info.run_id)
        client = MlflowClient()
        client.transition_model_version_stage("churn", "1", "Staging")
        client.transition_model_version_stage("churn", "1", "Production")
        client.transition_model_version_stage("churn", "2", "Staging")
        client.transition_model_version_stage("churn", "1", "Archived")
        client.set_registered_model_alias("churn", "champion", "3")
    return ids


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    print(json.dumps(build(sys.argv[1], "--registry" in sys.argv)))
