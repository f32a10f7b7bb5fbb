"""MLflow's XGBoost example: xgboost.train on iris, its evaluation set, metrics logged by the script."""

import mlflow
import mlflow.xgboost
import xgboost as xgb
from sklearn import datasets
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

iris = datasets.load_iris()
X_train, X_test, y_train, y_test = train_test_split(iris.data, iris.target, test_size=0.2, random_state=42)

mlflow.xgboost.autolog()

dtrain = xgb.DMatrix(X_train, label=y_train)
dtest = xgb.DMatrix(X_test, label=y_test)
with mlflow.start_run():
    params = {"objective": "multi:softprob", "num_class": 3, "learning_rate": 0.3, "eval_metric": "mlogloss",
              "colsample_bytree": 1.0, "subsample": 1.0, "seed": 42}  # fmt: skip
    model = xgb.train(params, dtrain, evals=[(dtrain, "train")], verbose_eval=False)
    y_proba = model.predict(dtest)
    mlflow.log_metrics({"log_loss": log_loss(y_test, y_proba), "accuracy": accuracy_score(y_test, y_proba.argmax(1))})
