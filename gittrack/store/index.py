"""A local SQLite index of run summaries, so listing and searching never re-read every run.

Entries are keyed by run commit id: commits never change, so an entry never goes stale. Each
use compares the refs under ``refs/runs/`` and ``refs/runs-deleted/`` with the refs the index
last saw and reads only the new commits. The file lives in ``.git/gittrack/index.sqlite`` (WAL
mode: readers never wait for a writer), is never shared, and is rebuilt whenever it is
missing, of another schema, or corrupt.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack.errors import GittrackError, MalformedRunError
from gittrack.store import runfiles
from gittrack.store.liveness import effective_status
from gittrack.store.record import RunRecord, dump_summary, parse_summary
from gittrack.store.repo import gittrack_dir
from gittrack.store.rows import RunRow, as_number, like_regex
from gittrack.store.runstore import DELETED_NAMESPACE, RunRef, RunStore

if TYPE_CHECKING:
    import pygit2

log = logging.getLogger("gittrack")

SCHEMA = 1
_DDL = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, commit_id TEXT UNIQUE NOT NULL, run_id TEXT NOT NULL, experiment TEXT NOT NULL,
    run_name TEXT, status TEXT, start_time INTEGER, end_time INTEGER, heartbeat INTEGER,
    checkpoint_interval REAL, host TEXT, pid INTEGER, user TEXT, source_commit TEXT, source_branch TEXT,
    dirty INTEGER, parent_run TEXT, record TEXT NOT NULL);
CREATE TABLE params (run INTEGER NOT NULL, key TEXT NOT NULL, value TEXT, num REAL, PRIMARY KEY (run, key));
CREATE TABLE metrics (run INTEGER NOT NULL, key TEXT NOT NULL, value REAL, PRIMARY KEY (run, key));
CREATE TABLE tags (run INTEGER NOT NULL, key TEXT NOT NULL, value TEXT, num REAL, PRIMARY KEY (run, key));
CREATE TABLE refs (name TEXT PRIMARY KEY, commit_id TEXT NOT NULL, deleted INTEGER NOT NULL);
CREATE TABLE problems (name TEXT PRIMARY KEY, commit_id TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX runs_start ON runs (start_time DESC, run_id DESC);
CREATE INDEX refs_commit ON refs (commit_id);
"""
_INFO = (
    "r.id, r.commit_id, r.run_id, r.run_name, r.experiment, r.status, r.user, r.source_commit, r.source_branch, "
    "r.parent_run, r.host, r.start_time, r.end_time, r.dirty, r.pid, r.heartbeat, r.checkpoint_interval, f.name"
)


@functools.lru_cache(maxsize=256)
def _like_pattern(pattern: str, case_insensitive: int):
    return like_regex(pattern, bool(case_insensitive))


def _like(pattern: str, value: Any, case_insensitive: int) -> int | None:
    if value is None or pattern is None:
        return None
    return int(_like_pattern(pattern, case_insensitive).fullmatch(str(value)) is not None)


def _status(status: str, host: str, pid: int, heartbeat: int, interval: float) -> str:
    record = RunRecord(id="", name="", experiment="", status=status, host=host, pid=pid)
    record.heartbeat, record.checkpoint_interval = heartbeat, interval
    return effective_status(record)


class IndexUnavailable(GittrackError):
    """The index could not be opened or rebuilt (read-only .git, full disk...)."""


class RunIndex:
    """The run index of one repository."""

    def __init__(self, repo: pygit2.Repository, path: Path | None = None) -> None:
        self.repo = repo
        self.path = path or gittrack_dir(repo) / "index.sqlite"
        self._conn: sqlite3.Connection | None = None

    # -- connection ---------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
                    conn.execute(f'DROP TABLE IF EXISTS "{name}"')
                for statement in _DDL.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA}")
            conn.execute("COMMIT")
        conn.create_function("gt_like", 3, _like, deterministic=True)
        conn.create_function("gt_status", 5, _status)
        return conn

    def _reset(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection to a valid index; a corrupt file is deleted and rebuilt once."""
        for attempt in range(2):
            try:
                if self._conn is None:
                    self._conn = self._connect()
                yield self._conn
                return
            except sqlite3.DatabaseError as exc:
                if attempt == 1 or (isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)):
                    raise IndexUnavailable(f"the run index {self.path} cannot be used ({exc})") from None
                log.warning("gittrack: the run index was unreadable (%s); rebuilding it", exc)
                self._reset()

    def close(self) -> None:
        """Close the connection (the file stays)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- keeping it in step with the refs --------------------------------------------------
    def sync(self) -> list[str]:
        """Bring the index up to date with the run refs; returns one line per unreadable run."""
        store = RunStore(self.repo)
        active, bad_active = store.refs()
        deleted, bad_deleted = store.refs(namespace=DELETED_NAMESPACE)
        current = {r.name: (r, 0) for r in active} | {r.name: (r, 1) for r in deleted}
        with self._db() as conn:
            stored = dict(conn.execute("SELECT name, commit_id FROM refs").fetchall())
            if stored.keys() != current.keys() or any(stored[n] != str(r.commit) for n, (r, _) in current.items()):
                self._apply(conn, current)
            problems = [f"{name}: {message}" for name, message in conn.execute("SELECT name, message FROM problems")]
        return bad_active + bad_deleted + problems

    def _apply(self, conn: sqlite3.Connection, current: dict[str, tuple[RunRef, int]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            stored = dict(conn.execute("SELECT name, commit_id FROM refs").fetchall())
            known = dict(conn.execute("SELECT commit_id, run_id || '/' || experiment FROM runs").fetchall())
            gone = [name for name in stored if name not in current]
            conn.executemany("DELETE FROM refs WHERE name = ?", [(n,) for n in gone])
            conn.executemany("DELETE FROM problems WHERE name = ?", [(n,) for n in gone])
            for name, (ref, deleted) in current.items():
                commit = str(ref.commit)
                if stored.get(name) == commit:
                    continue
                conn.execute("DELETE FROM problems WHERE name = ?", (name,))
                conn.execute("DELETE FROM refs WHERE name = ?", (name,))
                try:
                    identity = known.get(commit) or self._ingest(conn, ref)
                    known[commit] = identity
                    if identity != f"{ref.run_id}/{ref.experiment}":
                        raise MalformedRunError(
                            f"{ref.name} points at a commit recording run {identity}, not the run its name says"
                        )
                except GittrackError as exc:
                    conn.execute("INSERT INTO problems VALUES (?, ?, ?)", (name, commit, str(exc)))
                    continue
                conn.execute("INSERT INTO refs VALUES (?, ?, ?)", (name, commit, deleted))
            orphans = "SELECT id FROM runs WHERE commit_id NOT IN (SELECT commit_id FROM refs)"
            for table in ("params", "metrics", "tags"):
                conn.execute(f"DELETE FROM {table} WHERE run IN ({orphans})")  # noqa: S608 - fixed names
            conn.execute(f"DELETE FROM runs WHERE id IN ({orphans})")  # noqa: S608
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _ingest(self, conn: sqlite3.Connection, ref: RunRef) -> str:
        """Read one run commit into the index; returns ``<run-id>/<experiment>`` it records."""
        record = runfiles.read_summary(self.repo, ref.commit)
        source = record.source
        cursor = conn.execute(
            "INSERT INTO runs VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                str(ref.commit), record.id, record.experiment, record.name, record.status, record.start_time,
                record.end_time, record.heartbeat, record.checkpoint_interval, record.host, record.pid,
                record.user.get("name", ""), _text(source.get("commit")), _text(source.get("branch")),
                int(bool(source.get("dirty"))), record.parent_run, dump_summary(record).decode("utf-8"),
            ),
        )  # fmt: skip
        run = cursor.lastrowid
        conn.executemany("INSERT INTO params VALUES (?, ?, ?, ?)", _kv(run, record.params))
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?, ?)", _kv(run, record.tags))
        conn.executemany(
            "INSERT INTO metrics VALUES (?, ?, ?)",
            [(run, key, None if math.isnan(m.value) else m.value) for key, m in record.metrics.items()],
        )
        return f"{record.id}/{record.experiment}"

    # -- reading --------------------------------------------------------------------------
    def select(
        self,
        where: str,
        params: list[Any],
        order: str,
        order_params: list[Any],
        experiments: list[str] | None,
        view: str,
        limit: int | None,
    ) -> list[RunRow]:
        """Rows matching a compiled filter, in order; ``view``: active, deleted or all."""
        clauses = [where]
        args = list(params)
        if view != "all":
            clauses.append("f.deleted = ?")
            args.append(int(view == "deleted"))
        if experiments is not None:
            clauses.append(f"r.experiment IN ({','.join('?' * len(experiments))})")
            args.extend(experiments)
        sql = (
            f"SELECT {_INFO} FROM runs r JOIN refs f ON f.commit_id = r.commit_id "  # noqa: S608 - compiled, bound
            f"WHERE {' AND '.join(clauses)} ORDER BY {order}"
        )
        args.extend(order_params)
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._db() as conn:
            info = conn.execute(sql, args).fetchall()
            return self._rows(conn, info)

    def _rows(self, conn: sqlite3.Connection, info: list[tuple]) -> list[RunRow]:
        rows: dict[int, RunRow] = {}
        ordered = []
        for (rid, commit, run_id, name, exp, status, user, src, branch, parent, host, start, end, dirty, pid,
             heartbeat, interval, ref) in info:  # fmt: skip
            if status == "RUNNING":
                status = _status(status, host, pid, heartbeat, interval)
            row = RunRow(commit, ref, run_id, name, exp, status, user, src, branch, parent, host, start, end,
                         bool(dirty), {}, {}, {})  # fmt: skip
            rows.setdefault(rid, row)
            ordered.append(row)
        if not rows:
            return []
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS picked (id INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM temp.picked")
        conn.executemany("INSERT OR IGNORE INTO temp.picked VALUES (?)", [(rid,) for rid in rows])
        for table, attr in (("params", "params"), ("metrics", "metrics"), ("tags", "tags")):
            query = f"SELECT run, key, value FROM {table} WHERE run IN (SELECT id FROM temp.picked)"  # noqa: S608
            for rid, key, value in conn.execute(query):
                getattr(rows[rid], attr)[key] = math.nan if value is None and table == "metrics" else value
        return ordered

    def records(self, commits: Iterable[str]) -> dict[str, RunRecord]:
        """The full records of indexed commits (from the stored ``summary.json``)."""
        wanted = list(commits)
        out = {}
        with self._db() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = f"SELECT commit_id, record FROM runs WHERE commit_id IN ({','.join('?' * len(chunk))})"  # noqa: S608
                for commit, text in conn.execute(query, chunk):
                    out[commit] = parse_summary(text.encode("utf-8"), f"index entry {commit[:12]}")
        return out


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _kv(run: int, values: dict[str, str]) -> list[tuple[int, str, str, float | None]]:
    return [(run, key, value, as_number(value)) for key, value in values.items()]


def row_from_record(record: RunRecord, ref: str, commit: str) -> RunRow:
    """The searchable row of a run read straight from its commit (the path without the index)."""
    source = record.source
    return RunRow(
        commit, ref, record.id, record.name, record.experiment, effective_status(record), record.user.get("name", ""),
        _text(source.get("commit")), _text(source.get("branch")), record.parent_run, record.host, record.start_time,
        record.end_time, bool(source.get("dirty")), dict(record.params),
        {key: m.value for key, m in record.metrics.items()}, dict(record.tags),
    )  # fmt: skip
