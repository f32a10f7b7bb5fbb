"""Whether a run marked RUNNING is really still running (its process alive, its heartbeat fresh),
and when a run that never recorded its end (killed) ended: at its last heartbeat."""

from __future__ import annotations

import os
import socket

from gittrack._store.record import ENDED, KILLED, RUNNING, RunRecord
from gittrack._store.timefmt import now_ms

STALE_FACTOR = 5
STALE_GRACE_MS = 30_000


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def stale_after_ms(record: RunRecord) -> int:
    """How old a RUNNING run's heartbeat may get before the run counts as KILLED on any host."""
    return int(record.checkpoint_interval * 1000 * STALE_FACTOR) + STALE_GRACE_MS


def effective_status(record: RunRecord, now: int | None = None, host: str | None = None) -> str:
    """The recorded status, except that a RUNNING run whose writer is gone shows as KILLED."""
    if record.status != RUNNING:
        return record.status
    if record.host == (host or socket.gethostname()) and not pid_alive(record.pid):
        return KILLED
    if (now if now is not None else now_ms()) - record.heartbeat > stale_after_ms(record):
        return KILLED
    return RUNNING


def effective_end_time(status: str, end_time: int | None, heartbeat: int) -> int | None:
    """The recorded end time; for a run shown ended (``status`` is the effective one) that never
    recorded it, such as a process killed with SIGKILL, its last heartbeat (its last checkpoint)."""
    if end_time is not None or status not in ENDED:
        return end_time
    return heartbeat
