"""hyperopt: ``fmin`` with a nested run per evaluation and the best point on the parent run.

```python
from gittrack.integrations.hyperopt import fmin  # same arguments as hyperopt.fmin

with gittrack.start_run(run_name="tune"):
    best = fmin(objective, space, algo=tpe.suggest, max_evals=20)
```

(or ``gittrack.autolog()``, which makes ``hyperopt.fmin`` do this). Each evaluation is a child
run (``<parent>-eval-<n>``) with the sampled point as params (nested choices as ``outer.inner``),
the metric ``loss`` and the tag ``hyperopt.status``; an objective that raises ends its run
FAILED. Code in the objective that logs to gittrack (or an autologged ``fit``) logs into that
child run. The parent gets the best point as params ``best_<name>`` (actual values, not
``hp.choice`` indices), the metric ``best_loss`` and the tag ``hyperopt.best_run_id``. Without
an active run, a parent run is started and ends when the process exits or the next autologged
training starts a run.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

from gittrack.integrations import _common, _runs
from gittrack.integrations._patch import safely
from gittrack.integrations._runs import Session, Target

LIBRARY = "hyperopt"


def fmin(*args: Any, **kwargs: Any) -> Any:
    """``hyperopt.fmin`` (same arguments, same result) that records every evaluation as a nested run."""
    import hyperopt

    original = getattr(hyperopt.fmin, "__gittrack_original__", hyperopt.fmin)
    return tracked_fmin(original, args, kwargs)


class _Evaluations:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.count = 0
        self.best_loss = math.inf
        self.best_run_id: str | None = None
        self.name = target.client.get_run(target.run_id).info.run_name or "hyperopt"


def tracked_fmin(original: Callable, args: tuple, kwargs: dict, exclusive: bool = False) -> Any:
    bound = safely(LIBRARY, "the search", inspect.signature(original).bind, *args, **kwargs)
    target = safely(LIBRARY, "the search's run", _runs.open_target, exclusive) if bound is not None else None
    if target is None or bound is None:
        return original(*args, **kwargs)
    evaluations = _Evaluations(target)
    bound.arguments["fn"] = functools.partial(_evaluate, bound.arguments["fn"], evaluations)
    try:
        best = original(*bound.args, **bound.kwargs)
    except BaseException as exc:
        safely(LIBRARY, "the search's run", _runs.release, target, exc)
        raise
    safely(LIBRARY, "the best point", _log_best, evaluations, bound.arguments.get("space"), best)
    safely(LIBRARY, "the search's run", _runs.release, target, None)
    return best


def _evaluate(fn: Callable, evaluations: _Evaluations, params: Any) -> Any:
    import gittrack

    number = evaluations.count
    evaluations.count += 1
    flat = _common.flatten(params) if isinstance(params, dict) else {"params": params}
    child = safely(LIBRARY, "the evaluation's run", gittrack.start_run, nested=True,
                   run_name=f"{evaluations.name}-eval-{number}")  # fmt: skip
    if child is None:
        return fn(params)
    session = Session(LIBRARY, Target(child.client, child.run_id, created=True, active=child))
    safely(LIBRARY, "the evaluation's params", _common.log_params, session, flat)
    try:
        result = fn(params)
    except BaseException as exc:
        child.__exit__(type(exc), exc, exc.__traceback__)
        raise
    safely(LIBRARY, "the evaluation's loss", _log_result, session, evaluations, result)
    child.__exit__(None, None, None)
    return result


def _log_result(session: Session, evaluations: _Evaluations, result: Any) -> None:
    assert session.target is not None
    if isinstance(result, dict):
        loss, status = result.get("loss"), result.get("status", "ok")
    else:
        loss, status = result, "ok"
    session.target.set_tags({"hyperopt.status": status})
    if loss is None:
        return
    session.target.log_metrics(_common.finite_metrics({"loss": loss}), step=0)
    if status == "ok" and float(loss) < evaluations.best_loss:
        evaluations.best_loss = float(loss)
        evaluations.best_run_id = session.target.run_id


def _log_best(evaluations: _Evaluations, space: Any, best: Any) -> None:
    import hyperopt

    target = evaluations.target
    session = Session(LIBRARY, target)
    if isinstance(best, dict):
        values = hyperopt.space_eval(space, best) if space is not None else best
        if isinstance(values, dict):
            _common.log_params(session, {f"best_{k}": v for k, v in _common.flatten(values).items()})
    if math.isfinite(evaluations.best_loss):
        target.log_metrics({"best_loss": evaluations.best_loss}, step=0)
    if evaluations.best_run_id:
        target.set_tags({"hyperopt.best_run_id": evaluations.best_run_id})


__all__ = ["fmin"]
