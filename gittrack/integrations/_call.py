"""One autologged training call: pick the run, log before and after, never break the call itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gittrack.integrations import _runs
from gittrack.integrations._patch import safely, settings
from gittrack.integrations._runs import Session

Step = Callable[[Session], None]


def call(
    library: str,
    original: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    before: Step | None = None,
    after: Callable[[Session, Any], None] | None = None,
    inner: Callable[[Session, Callable[..., Any], tuple, dict], Any] | None = None,
) -> Any:
    """Run ``original(*args, **kwargs)`` as an autologged call of ``library``.

    Outside any autologged call: a session on the active run (or a new one), ``before(session)``,
    the call, ``after(session, result)``. Inside another one (a pipeline's steps, a search's
    candidates, the ``train`` under a wrapper's ``fit``): ``inner(session, ...)`` when given,
    else the plain call. Logging failures are warned about once; the call's own exceptions
    propagate unchanged, after the run autologging started is ended FAILED.
    """
    config = settings(library)
    session = _runs.current()
    if config is None or _runs.busy_elsewhere():
        return original(*args, **kwargs)
    if session is not None:
        return inner(session, original, args, kwargs) if inner is not None else original(*args, **kwargs)
    tags = {"mlflow.autologging": library, **config.extra_tags}  # MLflow's tag on the runs autologging starts
    target = safely(library, "the run", _runs.open_target, config.exclusive, tags)
    session, token = _runs.enter(library, target)
    if target is not None and before is not None:
        safely(library, "params", before, session)
    try:
        result = original(*args, **kwargs)
    except BaseException as exc:
        safely(library, "the run", _runs.leave, session, token, exc)
        raise
    try:
        if target is not None and after is not None:
            safely(library, "results", after, session, result)
    finally:
        safely(library, "the run", _runs.leave, session, token, None)
    return result
