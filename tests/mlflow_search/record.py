"""Record MLflow's answers to spec.py's searches into answers.json (checked in; read by
tests/test_mlflow_search.py). Run with an MLflow environment, in an empty folder:

    benchmarks/.mlflow-venv/bin/python tests/mlflow_search/record.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
import spec  # noqa: E402


def build() -> None:
    mlflow.set_experiment("search")
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    for run in spec.runs():
        with mlflow.start_run(run_name=run["name"]):
            mlflow.log_params(run["params"])
            for key, value in run["metrics"].items():
                mlflow.log_metric(key, value)
            mlflow.set_tags(run["tags"])
            for name, digest, context in run["datasets"]:
                mlflow.log_input(mlflow.data.from_pandas(frame, name=name, digest=digest), context=context)
            status = run["status"]
        if status != "FINISHED":
            mlflow.MlflowClient().set_terminated(mlflow.last_active_run().info.run_id, status)


def names(filter_string: str = "", order_by: list[str] | None = None):
    try:
        found = mlflow.search_runs(
            experiment_names=["search"], filter_string=filter_string, order_by=order_by, output_format="list"
        )
    except Exception as exc:
        return {"error": str(exc).splitlines()[0][:200]}
    return [r.info.run_name for r in found]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        mlflow.set_tracking_uri("sqlite:///" + os.path.join(tmp, "mlflow.db"))
        build()
        answers = {
            "mlflow": mlflow.__version__,
            "filters": {f: names(f) for f in [*spec.FILTERS, *spec.random_filters()]},
            "orders": {json.dumps(o): names("", o) for o in spec.ORDERS},
        }
    (HERE / "answers.json").write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")
    errors = sum(1 for v in answers["filters"].values() if isinstance(v, dict))
    print(
        f"recorded {len(answers['filters'])} filters ({errors} refused by MLflow) and {len(answers['orders'])} orders"
    )


if __name__ == "__main__":
    main()
