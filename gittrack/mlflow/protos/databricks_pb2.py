"""``mlflow.protos.databricks_pb2`` for gittrack: MLflow's error codes, as names.

``MlflowException.error_code`` is the name (``"RESOURCE_DOES_NOT_EXIST"``), as in MLflow, and
``ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)`` gives it, so ``e.error_code ==
ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)`` works."""

from __future__ import annotations

INTERNAL_ERROR = 1
BAD_REQUEST = 1006
INVALID_STATE = 1003
INVALID_PARAMETER_VALUE = 1001
RESOURCE_ALREADY_EXISTS = 3001
RESOURCE_DOES_NOT_EXIST = 3002
FEATURE_DISABLED = 1005
_NAMES = {v: k for k, v in dict(globals()).items() if k.isupper() and isinstance(v, int)}


class ErrorCode:
    """``ErrorCode.Name(number)`` and ``ErrorCode.Value(name)``."""

    @staticmethod
    def Name(number: int) -> str:
        """The code's name."""
        return _NAMES[number]

    @staticmethod
    def Value(name: str) -> int:
        """The code's number."""
        return {v: k for k, v in _NAMES.items()}[name]
