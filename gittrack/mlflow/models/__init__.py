"""``mlflow.models`` for gittrack: ``Model`` (an ``MLmodel`` file), ``ModelInfo``, signatures."""

from gittrack.mlflow.models.model import Model, ModelInfo, get_model_info
from gittrack.mlflow.models.signature import ModelSignature, infer_signature

__all__ = ["Model", "ModelInfo", "ModelSignature", "get_model_info", "infer_signature"]
