"""MLflow's XGBoost example with the scikit-learn API: an XGBRegressor with an evaluation set."""

import mlflow
import mlflow.xgboost
import xgboost as xgb
from sklearn.datasets import load_diabetes
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

X, y = load_diabetes(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

mlflow.xgboost.autolog()

with mlflow.start_run() as run:
    regressor = xgb.XGBRegressor(n_estimators=20, reg_lambda=1, gamma=0, max_depth=3)
    regressor.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)
    y_pred = regressor.predict(X_test)
    print("mse", mean_squared_error(y_test, y_pred))
