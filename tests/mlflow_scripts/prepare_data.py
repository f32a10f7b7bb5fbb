"""Data preparation, written for MLflow: split a dataset and keep the pieces as pickles."""

import os
import pickle

import mlflow
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

mlflow.set_tracking_uri("sqlite:///mlflow.db")
mlflow.set_experiment("churn-data")

with mlflow.start_run(run_name="prepare") as run:
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    os.makedirs("data", exist_ok=True)
    for name, value in {"X_train": X_train, "X_test": X_test, "y_train": y_train, "y_test": y_test}.items():
        with open(f"data/{name}.pkl", "wb") as out:
            pickle.dump(value, out)
    mlflow.log_params({"n_samples": 300, "test_size": 0.25})
    mlflow.log_input(mlflow.data.from_numpy(X_train, source="data/X_train.pkl", name="churn-train"), context="training")
    mlflow.log_artifacts("data", artifact_path="data")

print(f"prepared data in run {run.info.run_id} ({run.info.status})")
