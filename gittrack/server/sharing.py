"""``--push-to REMOTE``: push runs, tags and DVC objects to a team remote a little after each
burst of writes (debounced), and pull others' runs on an interval, in one background thread."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("gittrack")


class Sharer:
    """Pushes ``debounce`` seconds after the last write, pulls every ``pull_interval`` seconds."""

    def __init__(self, repo: str, remote: str, debounce: float = 2.0, pull_interval: float = 60.0) -> None:
        self.repo, self.remote = repo, remote
        self.debounce, self.pull_interval = debounce, pull_interval
        self._dirty_since: float | None = None
        self._last_write = 0.0
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.pushes = 0
        self.pulls = 0

    def wrote(self) -> None:
        """A request wrote something: push after the next quiet ``debounce`` seconds."""
        with self._cond:
            self._last_write = time.monotonic()
            if self._dirty_since is None:
                self._dirty_since = self._last_write
            self._cond.notify_all()

    def start(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._thread = threading.Thread(target=self._loop, name="gittrack-server-sharing", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._dirty_since is not None:
            self._push()

    def _loop(self) -> None:
        next_pull = time.monotonic() + self.pull_interval
        while True:
            with self._cond:
                now = time.monotonic()
                due_push = self._last_write + self.debounce if self._dirty_since is not None else float("inf")
                wait = min(due_push, next_pull) - now
                if self._stop:
                    return
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                push = self._dirty_since is not None and now >= due_push
                if push:
                    self._dirty_since = None
            if push:
                self._push()
            if time.monotonic() >= next_pull:
                self._pull()
                next_pull = time.monotonic() + self.pull_interval

    def _client(self):
        import gittrack

        return gittrack.Client(self.repo)

    def _push(self) -> None:
        try:
            with self._lock:
                self._client().remote.push(self.remote)
            self.pushes += 1
        except Exception as exc:  # noqa: BLE001 - the next write tries again; the server goes on
            log.warning("gittrack server: push to %s failed: %s", self.remote, exc)
            self.wrote()

    def _pull(self) -> None:
        try:
            with self._lock:
                self._client().remote.pull(self.remote)
            self.pulls += 1
        except Exception as exc:  # noqa: BLE001
            log.warning("gittrack server: pull from %s failed: %s", self.remote, exc)
