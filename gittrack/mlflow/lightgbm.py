"""``mlflow.lightgbm`` for gittrack: LightGBM models (a Booster as text, sklearn wrappers pickled)
as gittrack models with an MLflow ``MLmodel``."""

from __future__ import annotations

from gittrack.mlflow import _flavor

FLAVOR_NAME = "lightgbm"

log_model = _flavor.model_logger("lightgbm", "lgb_model")
load_model = _flavor.native_loader()
autolog = _flavor.autologger("lightgbm")
