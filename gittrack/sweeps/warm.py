"""What every sweep worker needs, imported once by the fork server the workers are forked from
(``workers.PRELOAD``), so that a worker starts in milliseconds instead of importing it all."""

from __future__ import annotations

import optuna  # noqa: F401

import gittrack
from gittrack.sweeps import space, study, trials  # noqa: F401

_API = (gittrack.Client, gittrack.start_run, gittrack.log_metric)  # the API's modules load on first use
