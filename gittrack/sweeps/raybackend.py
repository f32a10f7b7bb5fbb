"""``--backend ray``: the sweep's workers as Ray tasks (``ray.init()`` finds the cluster: a local
one, or the one ``RAY_ADDRESS`` names). Every task runs the same worker loop as a process does,
so the study storage and the git repository must be reachable from where the tasks run (one
machine, or a shared file system and an RDB storage)."""

from __future__ import annotations

from collections.abc import Callable

from gittrack.errors import UsageError
from gittrack.sweeps.workers import Job, process_main


def run_on_ray(jobs: list[Job], update: Callable[[], None] | None, poll: float) -> None:
    try:
        import ray
    except ImportError:
        raise UsageError("--backend ray needs Ray: pip install 'ray[tune]'") from None
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    task = ray.remote(num_cpus=1)(process_main)
    pending = [task.remote(job) for job in jobs]
    try:
        while pending:
            done, pending = ray.wait(pending, timeout=poll)
            ray.get(done)  # a worker's error surfaces here
            if update is not None:
                update()
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
