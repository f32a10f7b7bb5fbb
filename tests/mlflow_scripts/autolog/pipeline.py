"""MLflow's sklearn autolog example: a pipeline is one run with its steps' params."""

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

mlflow.sklearn.autolog()

X = np.array([[1, 1], [1, 2], [2, 2], [2, 3]])
y = np.dot(X, np.array([1, 2])) + 3
pipe = Pipeline([("scaler", StandardScaler()), ("lr", LinearRegression())])
with mlflow.start_run() as run:
    pipe.fit(X, y)

client = MlflowClient()
print(client.get_run(run.info.run_id).data.params["lr__fit_intercept"])
print([f.path for f in client.list_artifacts(run.info.run_id)])
