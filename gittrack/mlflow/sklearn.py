"""``mlflow.sklearn`` for gittrack: scikit-learn models as gittrack models with an MLflow ``MLmodel``."""

from __future__ import annotations

from gittrack.mlflow import _flavor

FLAVOR_NAME = "sklearn"

log_model = _flavor.model_logger("sklearn", "sk_model", "cloudpickle")
load_model = _flavor.native_loader()
autolog = _flavor.autologger("sklearn")
