"""``mlflow.exceptions`` for gittrack: ``MlflowException`` is a ``GittrackError``, and every
gittrack error that leaves ``gittrack.mlflow`` is also an ``MlflowException``, so code catches
either with either name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from gittrack.errors import (
    AmbiguousRunError,
    ConflictError,
    GittrackError,
    ImmutableRunError,
    NotARepositoryError,
    NotFoundError,
    UsageError,
)

INTERNAL_ERROR = "INTERNAL_ERROR"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
INVALID_STATE = "INVALID_STATE"
BAD_REQUEST = "BAD_REQUEST"
FEATURE_DISABLED = "FEATURE_DISABLED"
_HTTP = {
    INTERNAL_ERROR: 500,
    INVALID_PARAMETER_VALUE: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    RESOURCE_ALREADY_EXISTS: 400,
    INVALID_STATE: 400,
    BAD_REQUEST: 400,
}


class MlflowException(GittrackError):
    """MLflow's exception: ``message``, ``error_code`` (a name such as ``RESOURCE_DOES_NOT_EXIST``)."""

    def __init__(self, message: Any, error_code: str = INTERNAL_ERROR, **kwargs: Any) -> None:
        self.message = str(message)
        self.error_code = error_code if isinstance(error_code, str) else INTERNAL_ERROR
        self.json_kwargs = kwargs
        super().__init__(self.message)

    def get_http_status_code(self) -> int:
        """The HTTP status MLflow's server would answer with."""
        return _HTTP.get(self.error_code, 500)

    def serialize_as_json(self) -> str:
        """``{"error_code": ..., "message": ...}`` as MLflow's server sends it."""
        import json

        return json.dumps({"error_code": self.error_code, "message": self.message, **self.json_kwargs})

    @classmethod
    def invalid_parameter_value(cls, message: str, **kwargs: Any) -> MlflowException:
        """An ``INVALID_PARAMETER_VALUE`` error."""
        return cls(message, error_code=INVALID_PARAMETER_VALUE, **kwargs)


class RestException(MlflowException):
    """MLflow's error from a tracking server; gittrack has no server, so it is never raised."""


class MlflowTracingException(MlflowException):
    """MLflow's tracing error; gittrack does not trace."""


_CODES = (
    (NotFoundError, RESOURCE_DOES_NOT_EXIST),
    (ConflictError, RESOURCE_ALREADY_EXISTS),
    (ImmutableRunError, INVALID_STATE),
    (UsageError, INVALID_PARAMETER_VALUE),
    (AmbiguousRunError, INVALID_PARAMETER_VALUE),
    (NotARepositoryError, INVALID_STATE),
)


@functools.cache
def _bridge_class(cls: type[GittrackError]) -> type[MlflowException]:
    """A class that is both ``cls`` and ``MlflowException``: ``except NotFoundError`` and ``except
    MlflowException`` both catch it."""
    return type(cls.__name__, (MlflowException, cls), {"__module__": cls.__module__})


def bridged(exc: GittrackError) -> MlflowException:
    """``exc`` as an ``MlflowException`` that is still of its own gittrack class."""
    if isinstance(exc, MlflowException):
        return exc
    code = next((code for cls, code in _CODES if isinstance(exc, cls)), INTERNAL_ERROR)
    try:
        # mypy takes the class for an instance of GittrackError, which is unhashable; a class is hashable
        new = _bridge_class(type(exc))(str(exc), error_code=code)  # type: ignore[arg-type]
    except TypeError:  # a class with an unusual layout: fall back to the plain MlflowException
        new = MlflowException(str(exc), error_code=code)
    return new


F = TypeVar("F", bound=Callable[..., Any])


def translate(function: F) -> F:
    """Decorator: gittrack errors raised inside ``function`` leave it as MlflowExceptions too."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except MlflowException:
            raise
        except GittrackError as exc:
            raise bridged(exc) from None

    return wrapper  # type: ignore[return-value]
