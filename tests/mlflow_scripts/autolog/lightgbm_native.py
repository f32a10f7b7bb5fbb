"""MLflow's LightGBM example: lightgbm.train on iris, the training set as its validation set."""

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
from sklearn import datasets
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

iris = datasets.load_iris()
X_train, X_test, y_train, y_test = train_test_split(iris.data, iris.target, test_size=0.2, random_state=42)

mlflow.lightgbm.autolog()

train_set = lgb.Dataset(X_train, label=y_train)
with mlflow.start_run():
    params = {"objective": "multiclass", "num_class": 3, "learning_rate": 0.1, "metric": "multi_logloss",
              "colsample_bytree": 1.0, "subsample": 1.0, "seed": 42, "verbose": -1}  # fmt: skip
    model = lgb.train(params, train_set, num_boost_round=10, valid_sets=[train_set], valid_names=["train"])
    y_proba = model.predict(X_test)
    mlflow.log_metrics({"log_loss": log_loss(y_test, y_proba), "accuracy": accuracy_score(y_test, y_proba.argmax(1))})
