"""A hyperparameter search with optuna, each trial a nested MLflow run."""

import pickle

import mlflow
import optuna
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score


def load(name):
    with open(f"data/{name}.pkl", "rb") as handle:
        return pickle.load(handle)


X_train, X_test, y_train, y_test = (load(n) for n in ("X_train", "X_test", "y_train", "y_test"))
mlflow.set_experiment("churn-tuning")
optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial):
    C = trial.suggest_float("C", 1e-3, 10.0, log=True)
    with mlflow.start_run(nested=True, run_name=f"trial-{trial.number}"):
        model = LogisticRegression(C=C, max_iter=500).fit(X_train, y_train)
        accuracy = accuracy_score(y_test, model.predict(X_test))
        mlflow.log_param("C", C)
        mlflow.log_metric("accuracy", accuracy)
        mlflow.sklearn.log_model(model, "model", input_example=X_train[:3])
    return accuracy


with mlflow.start_run(run_name="optuna-search") as parent:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=4)
    mlflow.log_params({f"best_{k}": v for k, v in study.best_params.items()})
    mlflow.log_metric("best_accuracy", study.best_value)

# MLflow does not refresh the ActiveRun a with-block returned: read the ended run back
print("search", parent.info.run_id, mlflow.get_run(parent.info.run_id).data.metrics["best_accuracy"])
