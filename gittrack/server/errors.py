"""Errors in MLflow's JSON shape: ``{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}``
with the HTTP status MLflow's server answers with, so MLflow's client raises the same
``MlflowException``s (a 5xx would make it retry: only unexpected failures are 500)."""

from __future__ import annotations

from typing import Any

from gittrack.errors import GittrackError

UNAUTHENTICATED = "UNAUTHENTICATED"
PERMISSION_DENIED = "PERMISSION_DENIED"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
NOT_IMPLEMENTED = "NOT_IMPLEMENTED"

STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_STATE": 400,  # MLflow's 500 would make its client retry a request that cannot succeed
    "FEATURE_DISABLED": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    ENDPOINT_NOT_FOUND: 404,
    UNAUTHENTICATED: 401,
    PERMISSION_DENIED: 403,
    NOT_IMPLEMENTED: 501,
    "INTERNAL_ERROR": 500,
}


class ServerError(GittrackError):
    """An error the server answers with: an MLflow error code and a one-line message."""

    def __init__(self, message: str, error_code: str = INVALID_PARAMETER_VALUE) -> None:
        super().__init__(message)
        self.error_code = error_code


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of an error raised while answering a request."""
    from gittrack.mlflow.exceptions import bridged

    if isinstance(exc, ServerError):
        code = exc.error_code
    elif isinstance(exc, GittrackError):
        code = bridged(exc).error_code
    else:
        code = "INTERNAL_ERROR"
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return STATUS.get(code, 400), {"error_code": code, "message": message}
