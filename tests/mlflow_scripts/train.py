"""Training a scikit-learn model, written for MLflow."""

import pickle

import mlflow
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score


def load(name):
    with open(f"data/{name}.pkl", "rb") as handle:
        return pickle.load(handle)


X_train, X_test, y_train, y_test = (load(n) for n in ("X_train", "X_test", "y_train", "y_test"))
mlflow.set_tracking_uri("file:./mlruns")
mlflow.set_experiment("churn-training")
mlflow.sklearn.autolog(log_models=False)  # params and training metrics of every fit; the model is logged below

with mlflow.start_run(run_name="random-forest", tags={"team": "churn"}, description="baseline forest") as run:
    params = {"n_estimators": 20, "max_depth": 4, "random_state": 0}
    mlflow.log_params(params)
    model = RandomForestClassifier(**params).fit(X_train, y_train)
    predictions = model.predict(X_test)
    mlflow.log_metric("accuracy", accuracy_score(y_test, predictions))
    mlflow.log_metric("f1", f1_score(y_test, predictions))
    for step, depth in enumerate([2, 3, 4]):
        mlflow.log_metric("depth_curve", depth / 10, step=step)
    signature = infer_signature(X_train, predictions)
    mlflow.sklearn.log_model(
        model, artifact_path="model", signature=signature, registered_model_name="churn-classifier"
    )

print(run.info.run_id, run.info.status, run.data.metrics["accuracy"])
