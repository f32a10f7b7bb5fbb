"""gittrack.mlflow next to MLflow: import time, an MLflow-style run, and real MLflow loading the
models gittrack.mlflow logged.

    python benchmarks/bench_mlflow.py [--skip-mlflow] [--skip-models] [--mlflow-venv DIR]

Prints a table of figures (not a timed test). MLflow runs in its own virtual environment
(default: benchmarks/.mlflow-venv, created on first use); checking the models installs the
flavors' libraries (xgboost-cpu, lightgbm, torch 2.13.0) there too, once.

Measured:
- ``import gittrack`` and ``import gittrack.mlflow`` next to ``import mlflow``, each in a new
  process (best of 7); the target for ``import gittrack.mlflow`` is a tenth of MLflow's;
- the same MLflow script (start_run, 10 params, 5 metrics, 3 tags, end) with ``import
  gittrack.mlflow as mlflow`` and with ``import mlflow`` (SQLite backend), per run;
- models (sklearn, xgboost, lightgbm, pytorch, a pyfunc PythonModel with an artifact) logged
  with gittrack.mlflow, downloaded, and loaded by real MLflow (``mlflow.pyfunc.load_model`` of
  the folder): its predictions must equal gittrack's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tracking import import_ms, make_repo
from common import DEFAULT_MLFLOW_VENV, ensure_mlflow, print_table

ROOT = Path(__file__).resolve().parent.parent

RUNS = r"""
import json, os, sys, time
began = time.perf_counter()
if sys.argv[1] == "gittrack":
    import gittrack.mlflow as mlflow
else:
    import mlflow
mlflow.set_tracking_uri("sqlite:///" + os.path.abspath("mlflow.db"))
mlflow.set_experiment("bench")

def whole_run():
    with mlflow.start_run():
        mlflow.log_params({f"p{j}": j for j in range(10)})
        for k in range(5):
            mlflow.log_metric(f"m{k}", 0.5 * k)
        mlflow.set_tags({"a": 1, "b": 2, "c": 3})

whole_run()
first = (time.perf_counter() - began) * 1000
began = time.perf_counter()
for _ in range(20):
    whole_run()
print(json.dumps({"first_run_ms": first, "run_ms": (time.perf_counter() - began) / 20 * 1000}))
"""

LOG_MODELS = r"""
import json, sys
from pathlib import Path
import numpy as np, pandas as pd
import gittrack.mlflow as mlflow
import lightgbm, torch, xgboost
from sklearn.linear_model import LogisticRegression

class AddN(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.n = float(Path(context.artifacts["n"]).read_text())
    def predict(self, context, model_input, params=None):
        return model_input["a"] + self.n

x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
y = (x[:, 0] > 0).astype(int)
frame = pd.DataFrame(x, columns=list("abcd"))
Path("n.txt").write_text("3")
models = {
    "sklearn": (mlflow.sklearn, LogisticRegression().fit(frame, y)),
    "xgboost": (mlflow.xgboost, xgboost.XGBClassifier(n_estimators=3).fit(frame, y)),
    "lightgbm": (mlflow.lightgbm, lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(frame, y)),
    "pytorch": (mlflow.pytorch, torch.nn.Sequential(torch.nn.Linear(4, 1))),
}
out = {}
with mlflow.start_run() as run:
    for name, (module, model) in models.items():
        module.log_model(model, name=name, input_example=frame.head(2))
    mlflow.pyfunc.log_model(name="pyfunc", python_model=AddN(), artifacts={"n": "n.txt"})
for name in [*models, "pyfunc"]:
    uri = f"runs:/{run.info.run_id}/{name}"
    predicted = mlflow.pyfunc.load_model(uri).predict(frame)
    folder = mlflow.MlflowClient().download_artifacts(run.info.run_id, name, f"models")
    out[name] = {"folder": folder, "predictions": np.asarray(predicted, dtype=float).ravel().tolist()}
frame.to_json("frame.json", orient="split")
print(json.dumps(out))
"""

LOAD_IN_MLFLOW = r"""
import json, sys
import numpy as np, pandas as pd
import mlflow
logged = json.loads(open("logged.json").read())
frame = pd.read_json("frame.json", orient="split").astype(np.float32)
result = {}
for name, item in logged.items():
    try:
        model = mlflow.pyfunc.load_model(item["folder"])
        predicted = np.asarray(model.predict(frame), dtype=float).ravel()
        result[name] = bool(np.allclose(predicted, item["predictions"], rtol=1e-5))
    except Exception as exc:
        result[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:150]}"
print(json.dumps(result))
"""


def per_run(python: str, tool: str, root: Path) -> dict[str, float]:
    folder = root / f"runs-{tool}"
    make_repo(folder, files=100)
    env = {**os.environ, "PYTHONPATH": str(ROOT)} if tool == "gittrack" else dict(os.environ)
    done = subprocess.run([python, "-c", RUNS, tool], cwd=folder, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{tool} run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_models(mlflow_python: str, root: Path) -> dict[str, object]:
    """Log models with gittrack.mlflow; load each folder with real MLflow; compare predictions."""
    missing = subprocess.run([mlflow_python, "-c", "import xgboost, lightgbm, torch"], capture_output=True)
    if missing.returncode != 0:
        print("installing xgboost-cpu, lightgbm and torch into the MLflow environment (once)...", file=sys.stderr)
        subprocess.run([mlflow_python, "-m", "pip", "install", "--quiet", "xgboost-cpu", "lightgbm", "torch==2.13.0"],
                       check=True)  # fmt: skip
    folder = root / "models"
    make_repo(folder, files=10)
    done = subprocess.run([sys.executable, "-c", LOG_MODELS], cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"logging the models failed:\n{done.stderr[-3000:]}")
    (folder / "logged.json").write_text(done.stdout.strip().splitlines()[-1])
    # a PythonModel subclasses gittrack.mlflow.pyfunc.PythonModel: MLflow's environment needs gittrack importable
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    loaded = subprocess.run([mlflow_python, "-c", LOAD_IN_MLFLOW], cwd=folder, capture_output=True, text=True, env=env)
    if loaded.returncode != 0:
        raise SystemExit(f"MLflow could not run:\n{loaded.stderr[-3000:]}")
    return json.loads(loaded.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-mlflow", action="store_true", help="measure gittrack alone")
    parser.add_argument("--skip-models", action="store_true", help="do not check models with real MLflow")
    parser.add_argument("--mlflow-venv", type=Path, default=DEFAULT_MLFLOW_VENV)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gittrack-bench-") as tmp:
        root = Path(tmp)
        mlflow_python = None if args.skip_mlflow else ensure_mlflow(args.mlflow_venv)
        theirs_import = import_ms(mlflow_python, "mlflow", root) if mlflow_python else None
        ours = per_run(sys.executable, "gittrack", root)
        theirs = per_run(mlflow_python, "mlflow", root) if mlflow_python else {}
        rows = [
            ("import gittrack (new process), ms", 100.0, import_ms(sys.executable, "gittrack", root), None),
            ("import gittrack.mlflow vs import mlflow, ms", None, import_ms(sys.executable, "gittrack.mlflow", root),
             theirs_import),
            ("MLflow script: import + first run, ms", None, ours["first_run_ms"], theirs.get("first_run_ms")),
            ("MLflow script: one whole run, ms", None, ours["run_ms"], theirs.get("run_ms")),
        ]  # fmt: skip
        print_table(rows)
        if mlflow_python and not args.skip_models:
            print("\nreal MLflow loading models logged by gittrack.mlflow (predictions equal):")
            for name, ok in check_models(mlflow_python, root).items():
                print(f"  {name:10} {'ok' if ok is True else ok}")


if __name__ == "__main__":
    main()
