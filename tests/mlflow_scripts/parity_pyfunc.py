"""MLflow's custom pyfunc example: an XGBoost model trained, saved to a file and served through a
PythonModel that loads it from its artifacts, with the run's params, metrics, tags and artifacts.

Prints one JSON line of answers read back through MLflow's API, to compare with another tool's.
"""

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import xgboost as xgb
from mlflow import MlflowClient
from mlflow.models import infer_signature

rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
y = (X["a"] + X["b"] > 0).astype(int)
work = Path(tempfile.mkdtemp())


class XGBWrapper(mlflow.pyfunc.PythonModel):
    """The example's wrapper: the booster comes from the model's artifacts."""

    def load_context(self, context):
        self.booster = xgb.Booster()
        self.booster.load_model(context.artifacts["xgb_model"])
        self.threshold = context.model_config.get("threshold", 0.5)

    def predict(self, context, model_input, params=None):
        return (self.booster.predict(xgb.DMatrix(model_input)) > self.threshold).astype(int)


mlflow.set_experiment("parity-pyfunc")
with mlflow.start_run(run_name="xgb-wrapper", tags={"team": "risk"}) as run:
    params = {"max_depth": 2, "eta": 0.3, "objective": "binary:logistic"}
    mlflow.log_params(params)
    booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=5)
    for step, loss in enumerate([0.6, 0.4, 0.3]):
        mlflow.log_metric("loss", loss, step=step)
    mlflow.set_tag("framework", "xgboost")
    booster.save_model(str(work / "model.ubj"))
    X.head(5).to_csv(work / "sample.csv", index=False)
    mlflow.log_artifact(str(work / "sample.csv"), "data")
    predictions = (booster.predict(xgb.DMatrix(X)) > 0.5).astype(int)
    mlflow.log_metric("accuracy", float((predictions == y).mean()))
    info = mlflow.pyfunc.log_model(
        name="wrapper",
        python_model=XGBWrapper(),
        artifacts={"xgb_model": str(work / "model.ubj")},
        signature=infer_signature(X, predictions),
        input_example=X.head(2),
        model_config={"threshold": 0.5},
        pip_requirements=["xgboost", "pandas"],
    )

client = MlflowClient()
found = client.get_run(run.info.run_id)
loaded = mlflow.pyfunc.load_model(info.model_uri)
strict = mlflow.pyfunc.load_model(info.model_uri, model_config={"threshold": 0.9})
answers = {
    "params": found.data.params,
    "metrics": found.data.metrics,
    # MLflow 3 also re-logs the points at the model's step, linked to the model: count each once
    "loss_history": sorted({(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")}),
    "model_metrics": sorted(m.key for m in mlflow.get_logged_model(info.model_id).metrics),
    "tags": {k: v for k, v in found.data.tags.items() if not k.startswith("mlflow.")},
    "run_name": found.info.run_name,
    "artifacts": [f.path for f in client.list_artifacts(run.info.run_id, "data")],
    "sample_rows": len(
        pd.read_csv(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="data/sample.csv"))
    ),
    "predictions": loaded.predict(X).tolist(),
    "same_as_the_booster": loaded.predict(X).tolist() == predictions.tolist(),
    "config_at_load": int(strict.predict(X).sum()) <= int(loaded.predict(X).sum()),
    "wrapper": type(loaded.unwrap_python_model()).__name__,
    "signature_columns": [c.name for c in loaded.metadata.get_input_schema().inputs],
    "input_example": loaded.input_example.shape[0],
    "run_id": loaded.metadata.run_id == run.info.run_id,
}
print(json.dumps(answers, sort_keys=True))
