"""``mlflow.models`` for gittrack: signatures (``infer_signature``, ``ModelSignature``)."""

from gittrack.mlflow.models.model import ModelInfo
from gittrack.mlflow.models.signature import ModelSignature, infer_signature

__all__ = ["ModelInfo", "ModelSignature", "infer_signature"]
