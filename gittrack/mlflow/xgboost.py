"""``mlflow.xgboost`` for gittrack: XGBoost models (Booster or sklearn wrapper, saved as UBJSON)
as gittrack models with an MLflow ``MLmodel``."""

from __future__ import annotations

from gittrack.mlflow import _flavor

FLAVOR_NAME = "xgboost"

log_model = _flavor.model_logger("xgboost", "xgb_model")
load_model = _flavor.native_loader()
autolog = _flavor.autologger("xgboost")
