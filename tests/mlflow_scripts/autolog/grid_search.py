"""MLflow's sklearn autolog example: a grid search, a parent run and a child run per candidate."""

import mlflow
from mlflow import MlflowClient
from sklearn import datasets, svm
from sklearn.model_selection import GridSearchCV

mlflow.sklearn.autolog()

iris = datasets.load_iris()
parameters = {"kernel": ("linear", "rbf"), "C": [1, 5, 10]}  # 6 candidates: the best 5 get a child run
search = GridSearchCV(svm.SVC(), parameters)
with mlflow.start_run() as run:
    search.fit(iris.data, iris.target)

data = MlflowClient().get_run(run.info.run_id).data
print({k: v for k, v in data.tags.items() if not k.startswith("mlflow.")})
children = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'")
print(children[["params.kernel", "params.C", "metrics.mean_test_score"]])
