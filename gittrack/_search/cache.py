"""The search cache: a local SQLite copy of run summaries, so listing and searching never re-read
every run (not to be confused with the run indexes under ``refs/runs-index/``, packed runs).

Entries are keyed by run commit id: commits never change, so an entry goes stale only when the
run's edits (a note on its commit, ``gittrack._store.annotations``) change: the notes ref's commit
is kept, and when it moved, only the rows of the runs whose note changed are recomputed (from the
recorded name and tags, kept in ``base`` for runs with edits). Each use compares the refs under
``refs/runs/`` and ``refs/runs-deleted/``, and the runs packed in
``refs/runs-index/``, with those the index last saw and reads only the new commits (a packed
run's summary comes from its index, in bulk, not from its commit). The file lives in
``.git/gittrack/index.sqlite`` (WAL mode: readers never wait for a writer), is never shared,
and is rebuilt whenever it is missing, of another schema, or corrupt.

Filters and orderings never parse JSON row by row: each param, metric or tag key a query names
gets a typed column of ``runs`` (``k1``, ``k2``... listed in ``columns``), filled once from the
rows' JSON when a query first needs it and then kept up to date with every run read; numeric
comparisons of params and tags get a second column of the value read as a number. Datasets are
a table of their own. ``runs`` holds only what searches compare, so a filter scans narrow rows;
the JSON shown (``run_data``) is read only for the rows a query returns.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from gittrack._search.rows import (
    METRIC,
    PARAM,
    STORED_INFO,
    TAG,
    LikePattern,
    RunColumns,
    RunRow,
    as_number,
    datasets_of,
    like_pattern,
)
from gittrack._store import annotations as run_annotations
from gittrack._store import naming, notes, packs, rules, runfiles, starts
from gittrack._store.liveness import effective_end_time, effective_status
from gittrack._store.record import RunRecord, parse_summary
from gittrack._store.repo import gittrack_dir
from gittrack._store.runstore import DELETED_NAMESPACE, visible_packed
from gittrack.errors import GittrackError, IndexUnavailable, InvalidNameError, MalformedRunError

if TYPE_CHECKING:
    import pygit2

log = logging.getLogger("gittrack")

SCHEMA = 15
_DDL = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, commit_id TEXT UNIQUE NOT NULL, run_id TEXT NOT NULL, experiment TEXT NOT NULL,
    run_name TEXT, status TEXT, start_time INTEGER, end_time INTEGER, heartbeat INTEGER,
    checkpoint_interval REAL, host TEXT, pid INTEGER, user TEXT, source_commit TEXT, source_branch TEXT,
    dirty INTEGER, parent_run TEXT, listed INTEGER NOT NULL);
CREATE TABLE run_data (id INTEGER PRIMARY KEY, data TEXT NOT NULL, artifacts TEXT, base TEXT);
CREATE TABLE datasets (run INTEGER NOT NULL, name TEXT, digest TEXT, context TEXT);
CREATE TABLE columns (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, number TEXT,
    PRIMARY KEY (kind, key));
CREATE TABLE refs (name TEXT PRIMARY KEY, commit_id TEXT NOT NULL, deleted INTEGER NOT NULL);
CREATE TABLE problems (name TEXT PRIMARY KEY, commit_id TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE packs (index_ref TEXT PRIMARY KEY, tip TEXT NOT NULL, runs TEXT NOT NULL, problems TEXT NOT NULL);
CREATE INDEX runs_start ON runs (start_time DESC, run_id DESC);
CREATE INDEX runs_experiment ON runs (experiment, start_time DESC, run_id DESC);
CREATE INDEX datasets_run ON datasets (run);
CREATE INDEX runs_unlisted ON runs (id) WHERE listed = 0;
CREATE INDEX refs_commit ON refs (commit_id);
"""
# ``runs.listed``: 1 if the run has a ref under refs/runs/ (or is packed), 2 if under refs/runs-deleted/, 3 both
ACTIVE, DELETED = 1, 2
_VIEWS = {"active": ACTIVE, "deleted": DELETED}
_INFO = (
    "r.commit_id, r.run_id, r.run_name, r.experiment, r.status, r.user, r.source_commit, r.source_branch, "
    "r.parent_run, r.host, r.start_time, r.end_time, r.dirty, r.pid, r.heartbeat, r.checkpoint_interval"
)
# the effective status: a RUNNING run whose writer is gone is KILLED (Python is called for RUNNING runs only)
STATUS_SQL = (
    "CASE r.status WHEN 'RUNNING' THEN gt_status(r.status, r.host, r.pid, r.heartbeat, r.checkpoint_interval) "
    "ELSE r.status END"
)
# the effective end time: a run that ended without recording it (killed) ended at its last heartbeat
END_TIME_SQL = f"CASE WHEN r.end_time IS NOT NULL OR {STATUS_SQL} = 'RUNNING' THEN r.end_time ELSE r.heartbeat END"
# rows.STORED_INFO's columns but the ref, in its order
_FRAME_INFO = (
    f"r.run_id, r.run_name, r.experiment, {STATUS_SQL}, r.start_time, {END_TIME_SQL}, r.user, r.source_commit, "
    "r.dirty = 1, r.parent_run"
)
_SLOTS = {PARAM: 0, METRIC: 1, TAG: 2}  # where each kind of key is in ``run_data.data``
MAX_COLUMNS = 1000
"""Keys given a column of their own at most; a query naming others reads them from the JSON."""
# a metric's typed value from the JSON: NaN is JSON null there (and 'nan' in the column); a missing key is no JSON
_METRIC_JSON = "CASE json_type({data}, ?) WHEN 'null' THEN 'nan' ELSE json_extract({data}, ?) END"
MAX_LIKE_VALUES = 5_000
"""A LIKE over a column of at most this many distinct values is matched once per value."""


@functools.lru_cache(maxsize=256)
def _like_pattern(pattern: str, case_insensitive: int) -> LikePattern:
    return like_pattern(pattern, bool(case_insensitive))


def _like(pattern: str, value: Any, case_insensitive: int) -> int | None:
    if value is None or pattern is None:
        return None
    return int(_like_pattern(pattern, case_insensitive).matches(str(value)))


def _status(status: str, host: str, pid: int, heartbeat: int, interval: float) -> str:
    record = RunRecord(id="", name="", experiment="", status=status, host=host, pid=pid)
    record.heartbeat, record.checkpoint_interval = heartbeat, interval
    return effective_status(record)


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction, rolled back if anything fails inside it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SearchCache:
    """The search cache of one repository (``.git/gittrack/index.sqlite``)."""

    PARALLEL_MIN_RUNS = 200_000
    """From this many runs, a search for a first page is split between two connections."""
    FRESH_MAX_RUNS = 50_000
    """Up to this many runs, an index built from nothing keeps their rows to answer its first search."""
    PARALLEL_MAX_LIMIT = 2_000
    """Up to this many runs asked for (the ids found are bound as parameters of the last query)."""

    def __init__(self, repo: pygit2.Repository, path: Path | None = None) -> None:
        self.repo = repo
        self.path = path or gittrack_dir(repo) / "index.sqlite"
        self._conn: sqlite3.Connection | None = None
        self._packed: dict[str, bytes] = {}  # commit -> summary.json bytes of packed runs
        self._edits = run_annotations.reader(repo)  # commit -> its edits (notes looked up once a sync)
        self.fresh: list[tuple[RunRow, int]] | None = None
        """After a sync that built the index from nothing: every run's row and deleted flag, so the
        first search can answer from memory instead of reading back what was just written."""

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
        conn.create_function("gt_num", 1, as_number, deterministic=True)
        return conn

    def _reset(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        try:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        except OSError as exc:
            raise IndexUnavailable(f"the run index {self.path} cannot be replaced ({exc.strerror})") from None

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
                corrupt = not isinstance(exc, sqlite3.OperationalError) or "malformed" in str(exc)
                if attempt == 1 or not corrupt:  # a query SQLite refuses is no reason to drop the file
                    raise IndexUnavailable(f"the run index {self.path} cannot be used ({exc})") from None
                log.warning("gittrack: the run index was unreadable (%s); rebuilding it", exc)
                self._reset()

    def close(self) -> None:
        """Close the connection (the file stays)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- keeping it in step with the refs --------------------------------------------------
    def _current_refs(self, conn: sqlite3.Connection) -> dict[str, tuple[str, int]]:
        """Every run: ref name (a packed run's would-be name) -> (commit, 1 if deleted else 0)."""
        starts.publish(self.repo)
        out = {}
        for ref in self.repo.references.iterator():
            name = ref.name
            if name.startswith(naming.RUNS_NAMESPACE):
                deleted = 0
            elif name.startswith(DELETED_NAMESPACE):
                deleted = 1
            else:
                continue
            out[name] = (str(ref.target), deleted)
        hidden = {_active_name(name) for name in out}
        for packed_ref, run in visible_packed(self._indexes(conn), hidden):
            out[packed_ref.name] = (run.commit, 0)
            if run.summary:
                self._packed[run.commit] = run.summary
        return out

    def _indexes(self, conn: sqlite3.Connection) -> list[packs.Index]:
        """The run indexes: read from git when their tip moved, else from what the last read kept
        (``<run-id> <commit>`` lines; no summaries: those runs are in the search index already)."""
        tips = packs.tips(self.repo)
        cached = {name: (tip, runs, problems) for name, tip, runs, problems in conn.execute("SELECT * FROM packs")}
        found, read = [], []
        for name, tip in sorted(tips.items()):
            seen = cached.get(name)
            if seen is not None and seen[0] == str(tip):
                pairs = (line.split(" ") for line in seen[1].splitlines())
                runs = {run_id: packs.PackedRun(run_id, commit, b"") for run_id, commit in pairs}
                experiment = packs.experiment_of(name) if runs else ""
                found.append(packs.Index(experiment, seen[0], runs, json.loads(seen[2])))
            else:
                index = packs.read_named(self.repo, name, tip)
                found.append(index)
                read.append((name, index))
        refreshed = {name for name, _ in read}
        gone = [(name,) for name in cached if name not in tips or name in refreshed]
        if gone or read:
            with _transaction(conn):
                conn.executemany("DELETE FROM packs WHERE index_ref = ?", gone)
                conn.executemany(
                    "INSERT INTO packs VALUES (?, ?, ?, ?)",
                    [
                        (name, index.tip, "\n".join(f"{r.run_id} {r.commit}" for r in index.runs.values()),
                         json.dumps(index.problems))
                        for name, index in read
                    ],
                )  # fmt: skip
        return found

    def _fingerprint(self) -> str | None:
        """A cheap summary of the ref storage (packed-refs and loose run refs): when it has not
        changed since the last sync, neither have the refs, and listing them can be skipped.
        None when refs are not stored as files (another ref backend): then always compare."""
        path = Path(self.repo.path)
        common = path / "commondir"
        if common.is_file():
            path = (path / common.read_text().strip()).resolve()
        if (path / "reftable").exists():
            return None
        parts = []
        packed = path / "packed-refs"
        if packed.exists():
            info = packed.stat()
            parts.append(f"packed {info.st_ino} {info.st_size} {info.st_mtime_ns}")
        for namespace in (naming.RUNS_NAMESPACE, DELETED_NAMESPACE, packs.INDEX_NAMESPACE):
            for folder, _, files in os.walk(path / namespace):
                for name in files:
                    try:
                        info = os.stat(os.path.join(folder, name))
                    except FileNotFoundError:  # a writer's lock file, gone since the listing
                        parts.append(f"{folder}/{name} gone")
                        continue
                    parts.append(f"{folder}/{name} {info.st_ino} {info.st_size} {info.st_mtime_ns}")
        return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()

    def sync(self) -> list[str]:
        """Bring the index up to date with the run refs; returns one line per unreadable run."""
        fingerprint = self._fingerprint()
        notes_tip = run_annotations.tip(self.repo) or ""
        with self._db() as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('refs', 'notes')"))
            stored = meta.get("refs")
            if fingerprint is None or stored is None or stored != fingerprint:
                current = self._current_refs(conn)
                seen = dict(
                    conn.execute("SELECT name, commit_id FROM refs UNION ALL SELECT name, commit_id FROM problems")
                )
                if seen.keys() != current.keys() or any(seen[n] != target for n, (target, _) in current.items()):
                    self._apply(conn, current)
                if fingerprint is not None:
                    conn.execute("INSERT OR REPLACE INTO meta VALUES ('refs', ?)", (fingerprint,))
            if meta.get("notes", "") != notes_tip:
                if self.fresh is None:  # rows read just now have their edits already
                    self._refresh_edits(conn, meta.get("notes") or None, notes_tip or None)
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('notes', ?)", (notes_tip,))
            problems = [f"{name}: {message}" for name, message in conn.execute("SELECT name, message FROM problems")]
            for (stored,) in conn.execute("SELECT problems FROM packs"):
                problems.extend(json.loads(stored))
            return problems

    def _apply(self, conn: sqlite3.Connection, current: dict[str, tuple[str, int]]) -> None:
        with _transaction(conn):
            seen = dict(conn.execute("SELECT name, commit_id FROM refs UNION ALL SELECT name, commit_id FROM problems"))
            changed = [name for name, (target, _) in current.items() if seen.get(name) != target]
            stale = [(name,) for name in seen if name not in current or name in changed]
            touched = {seen[name] for (name,) in stale}  # commits that lost a ref
            conn.executemany("DELETE FROM refs WHERE name = ?", stale)
            conn.executemany("DELETE FROM problems WHERE name = ?", stale)
            known = {commit: (run_id, exp) for commit, run_id, exp in conn.execute(
                "SELECT commit_id, run_id, experiment FROM runs")}  # fmt: skip
            listed: dict[str, int] = {}  # the refs each commit is given (those refused are corrected after)
            for name in changed:
                target, deleted = current[name]
                listed[target] = listed.get(target, 0) | (DELETED if deleted else ACTIVE)
            fresh = not seen and len(changed) <= self.FRESH_MAX_RUNS
            read: dict[str, RunRecord | None] = {}  # commits read now (their records, to answer from memory)
            batch = _Batch()
            self._edits = run_annotations.reader(self.repo)
            refs, problems, first = [], [], None
            for name in changed:
                target, deleted = current[name]
                try:
                    experiment, run_id = naming.parse_run_ref(_active_name(name))
                    identity = known.get(target)
                    if identity is None:
                        record = self._read(target, batch)
                        read[target] = record if fresh else None
                        identity = known[target] = (record.id, record.experiment)
                    rules.check_identity(identity, experiment, run_id)
                except GittrackError as exc:
                    problems.append((name, target, str(exc)))
                    touched.add(target)
                    continue
                refs.append((name, target, deleted))
                if len(batch.runs) >= _Batch.SIZE:  # written as it goes: a large index is never all in memory
                    written = batch.write(conn, listed)
                    first = written if first is None else first
            written = batch.write(conn, listed)
            first = written if first is None else first
            if fresh:
                self.fresh = [
                    (row_from_record(kept, name, target), deleted)
                    for name, target, deleted in refs
                    if (kept := read.get(target)) is not None  # each was read now: the index was empty
                ]
            conn.executemany("INSERT INTO refs VALUES (?, ?, ?)", refs)
            conn.executemany("INSERT INTO problems VALUES (?, ?, ?)", problems)
            touched.update(target for target in listed if target not in read)  # known runs given another ref
            conn.executemany(
                "UPDATE runs SET listed = (SELECT coalesce(sum(DISTINCT 1 + f.deleted), 0) FROM refs f "
                "WHERE f.commit_id = runs.commit_id) WHERE commit_id = ?",
                [(commit,) for commit in touched],
            )
            gone = [(run,) for (run,) in conn.execute("SELECT id FROM runs WHERE listed = 0")]
            for table, column in (("runs", "id"), ("run_data", "id"), ("datasets", "run")):
                conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", gone)  # noqa: S608 - our names
            if first is not None:
                self._fill_columns(conn, "runs.id >= ?", [first])

    # -- typed columns ---------------------------------------------------------------------
    def _fill_columns(
        self, conn: sqlite3.Connection, where: str, params: list[Any], only: Iterable[str] | None = None
    ) -> None:
        """(Re)compute the typed columns (``only`` those named) of the rows ``where`` selects from their JSON."""
        found = conn.execute("SELECT kind, key, value, number FROM columns").fetchall()
        chosen = None if only is None else set(only)
        sets, args = [], []
        for kind, key, value, number in found:
            path = _json_path(kind, key)
            if chosen is None or value in chosen:
                if kind == METRIC:  # NaN is JSON null there; a missing key is no JSON at all
                    sets.append(f"{value} = {_METRIC_JSON.format(data='d.data')}")
                    args += [path, path]
                else:
                    sets.append(f"{value} = json_extract(d.data, ?)")
                    args.append(path)
            if number is not None and (chosen is None or number in chosen):
                sets.append(f"{number} = gt_num(json_extract(d.data, ?))")
                args.append(path)
        if not sets:
            return
        conn.execute(
            f"UPDATE runs SET {', '.join(sets)} FROM run_data d WHERE d.id = runs.id AND {where}",  # noqa: S608
            [*args, *params],
        )

    def columns(self, wanted: Iterable[tuple[str, str, bool]]) -> KeyColumns:
        """The typed columns of ``(kind, key, numeric)`` keys (params, metrics, tags), made now for
        those that have none yet (one pass over the rows' JSON; then kept up to date); past
        ``MAX_COLUMNS`` keys, an expression reading the JSON instead."""
        wanted = {(kind, key, numeric) for kind, key, numeric in wanted if _json_path(kind, key) is not None}
        with self._db() as conn:
            have = {(kind, key): (value, number) for kind, key, value, number in conn.execute("SELECT * FROM columns")}
            missing = [w for w in wanted if (w[0], w[1]) not in have or (w[2] and have[(w[0], w[1])][1] is None)]
            if missing and len(have) + len(missing) <= MAX_COLUMNS:
                with _transaction(conn):  # another process may have made them meanwhile: look again inside
                    have = {(k, key): (v, n) for k, key, v, n in conn.execute("SELECT * FROM columns")}
                    count = int(conn.execute("SELECT count(*) FROM columns").fetchone()[0])
                    made = []
                    for kind, key, numeric in sorted(missing):
                        value, number = have.get((kind, key), (None, None))
                        if value is None:
                            count += 1
                            value = f"k{count}"
                            conn.execute(f"ALTER TABLE runs ADD COLUMN {value}")
                            conn.execute("INSERT INTO columns VALUES (?, ?, ?, NULL)", (kind, key, value))
                            made.append(value)
                        if numeric and number is None:
                            number = f"n{value[1:]}"
                            conn.execute(f"ALTER TABLE runs ADD COLUMN {number}")
                            made.append(number)
                            conn.execute(
                                "UPDATE columns SET number = ? WHERE kind = ? AND key = ?", (number, kind, key)
                            )
                        have[(kind, key)] = (value, number)
                    if made:
                        self._fill_columns(conn, "1", [], made)
                        for column in made:  # filters use them, and LIKE reads the distinct values from them
                            conn.execute(f"CREATE INDEX runs_{column} ON runs ({column})")
                        conn.execute("ANALYZE runs")  # how selective each is: else SQLite takes an index even
                        # for a condition half the runs meet, and reads them one by one instead of in a scan
            return KeyColumns(self, have)

    def distinct(self, expression: str, params: list[Any], most: int) -> list[Any] | None:
        """The distinct non-null values of an expression over every run, None if there are more than ``most``."""
        with self._db() as conn:
            found = conn.execute(
                f"SELECT DISTINCT {expression} FROM runs r WHERE ({expression}) IS NOT NULL LIMIT ?",  # noqa: S608
                [*params, *params, most + 1],
            ).fetchall()
        return None if len(found) > most else [value for (value,) in found]

    def _refresh_edits(self, conn: sqlite3.Connection, old_tip: str | None, new_tip: str | None) -> None:
        """Recompute the name and tags of the runs whose note changed between two notes commits."""
        import pygit2

        changed = run_annotations.changed_since(self.repo, old_tip, new_tip)
        if changed is None:  # the old notes are gone: look at every note and every edited run
            changed = set(notes.all_notes(self.repo))
            changed.update(c for (c,) in conn.execute(
                "SELECT r.commit_id FROM runs r JOIN run_data d ON d.id = r.id WHERE d.base IS NOT NULL"))  # fmt: skip
        if not changed:
            return
        wanted = sorted(changed)
        found = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.extend(conn.execute(
                "SELECT r.id, r.commit_id, r.run_name, d.data, d.base FROM runs r JOIN run_data d ON d.id = r.id "  # noqa: S608 - placeholders only
                f"WHERE r.commit_id IN ({marks})",
                chunk,
            ).fetchall())  # fmt: skip
        names, data = [], []
        for run, commit, name, text, base in found:
            parsed = _load_data(text)
            base_name, base_tags = json.loads(base) if base else (name, parsed[2])
            edits = run_annotations.read(self.repo, pygit2.Oid(hex=commit))
            tags, shown = run_annotations.applied(base_tags, base_name, edits)
            kept = _base_json(base_name, base_tags) if edits else None
            names.append((shown, run))
            data.append((_with_tags(parsed, tags), kept, run))
        with _transaction(conn):
            conn.executemany("UPDATE runs SET run_name = ? WHERE id = ?", names)
            conn.executemany("UPDATE run_data SET data = ?, base = ? WHERE id = ?", data)
            for start in range(0, len(found), 500):
                chunk = [row[0] for row in found[start : start + 500]]
                self._fill_columns(conn, f"runs.id IN ({','.join('?' * len(chunk))})", chunk)

    def _read(self, target: str, batch: _Batch) -> RunRecord:
        """Read one run commit (from its index if packed) into ``batch``; returns its record, with
        the edits of its note applied."""
        import pygit2

        try:
            oid = pygit2.Oid(hex=target)
        except ValueError:
            raise MalformedRunError("is not a direct reference to a commit") from None
        raw = self._packed.pop(target, None)  # read once: a large index's summaries go as they are read
        if raw is not None:
            record = parse_summary(raw, f"packed run {target[:12]}")
        else:
            record = runfiles.read_summary(self.repo, oid)
        edits = self._edits(oid)
        if not edits:
            batch.add(target, record)
            return record
        shown = run_annotations.apply(record, edits)
        batch.add(target, shown, _base_json(record.name, record.tags))
        return shown

    # -- reading --------------------------------------------------------------------------
    def _query(
        self, columns: str, where: str, params: list[Any], order: str, order_params: list[Any],
        experiments: list[str] | None, view: str, limit: int | None, offset: int = 0, data: bool = False,
    ) -> list[tuple[Any, ...]]:  # fmt: skip
        """``columns`` of the runs matching a compiled filter, in order, from the ``offset``-th on;
        ``view``: active, deleted or all (``v.bit``: which of a run's rows, ACTIVE or DELETED);
        ``data``: the columns read ``run_data d`` too (for the rows returned only)."""
        clauses: list[str] = []
        args: list[Any] = []
        if experiments is not None:  # first, and by its index: the filter then reads only these runs
            clauses.append(f"r.experiment IN ({','.join('?' * len(experiments))})")
            args.extend(experiments)
        clauses.append(where)
        args.extend(params)
        if view == "all":  # a run with both refs (a deletion cut short) is two rows, as its two refs
            source = "runs r JOIN (SELECT 1 AS bit UNION ALL SELECT 2 AS bit) v ON r.listed & v.bit"
            order = f"{order}, v.bit"
        else:
            source = "runs r"
            clauses.append(f"r.listed & {_VIEWS[view]}")
            columns = columns.replace("v.bit", str(_VIEWS[view]))
        condition = " AND ".join(clauses)
        if limit is not None and offset + limit <= self.PARALLEL_MAX_LIMIT:  # first the ids, then the rows
            ids = self._first_ids(source, condition, args, order, order_params, offset + limit, experiments)
            condition, args = f"r.id IN ({','.join('?' * len(ids))}) AND {condition}", [*ids, *args]
        if data:
            source += " JOIN run_data d ON d.id = r.id"
        sql = f"SELECT {columns} FROM {source} WHERE {condition} ORDER BY {order}"  # noqa: S608 - values are bound
        args.extend(order_params)
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args.extend([-1 if limit is None else limit, offset])
        with self._db() as conn:
            return conn.execute(sql, args).fetchall()

    def _first_ids(
        self, source: str, condition: str, args: list[Any], order: str, order_params: list[Any], limit: int,
        experiments: list[str] | None,
    ) -> list[int]:  # fmt: skip
        """The ids of the first ``limit`` matching runs (a superset: they are ordered again with
        their rows), searched by halves of a large index when no experiment narrows it."""
        if experiments is None:
            ids = self._first_ids_by_halves(source, condition, args, order, order_params, limit)
            if ids is not None:
                return ids
        distinct = "DISTINCT " if source != "runs r" else ""  # a run may be two rows of the view "all"
        sql = f"SELECT {distinct}r.id FROM {source} WHERE {condition} ORDER BY {order} LIMIT ?"  # noqa: S608
        with self._db() as conn:
            return [row[0] for row in conn.execute(sql, [*args, *order_params, limit])]

    def _first_ids_by_halves(
        self, source: str, condition: str, args: list[Any], order: str, order_params: list[Any], limit: int
    ) -> list[int] | None:
        """The ids of the first ``limit`` matching runs of each half of a large index, searched by
        two connections at once (SQLite lets go of the GIL while it works, so two cores share the
        filter's work); the first ``limit`` runs of all are among them. None: a small index, one
        core, or an error the single query will report."""
        if (os.cpu_count() or 1) < 2:
            return None
        from concurrent.futures import ThreadPoolExecutor

        with self._db() as conn:
            (last,) = conn.execute("SELECT max(id) FROM runs").fetchone()
        if last is None or last < self.PARALLEL_MIN_RUNS:
            return None
        half = f"SELECT r.id FROM {source} WHERE {condition} AND r.id {{}} ? ORDER BY {order} LIMIT ?"  # noqa: S608

        def first_ids(side: str) -> list[int]:
            conn = self._connect()
            try:
                return [row[0] for row in conn.execute(half.format(side), [*args, last // 2, *order_params, limit])]
            finally:
                conn.close()

        try:
            with ThreadPoolExecutor(2, thread_name_prefix="gittrack-search") as pool:
                return sorted({run for found in pool.map(first_ids, ("<=", ">")) for run in found})
        except sqlite3.Error:
            return None

    def select(
        self, where: str, params: list[Any], order: str, order_params: list[Any], experiments: list[str] | None,
        view: str, limit: int | None, offset: int = 0,
    ) -> list[RunRow]:  # fmt: skip
        """Rows matching a compiled filter, in order, from the ``offset``-th on; ``view``: active,
        deleted or all."""
        info = self._query(f"{_INFO}, d.data, v.bit", where, params, order, order_params, experiments, view, limit,
                           offset, data=True)  # fmt: skip
        rows = []
        data = _load_data("[" + ",".join(row[16] for row in info) + "]")  # one parse, not one per run
        prefixes: dict[tuple[str, int], str] = {}
        for (commit, run_id, name, exp, status, user, src, branch, parent, host, start, end, dirty, pid,
             heartbeat, interval, _, bit), (params_, metrics_, tags_, ds) in zip(info, data, strict=True):  # fmt: skip
            if None in metrics_.values():  # NaN is stored as null
                metrics_ = {key: math.nan if value is None else value for key, value in metrics_.items()}
            if status == "RUNNING":
                status = _status(status, host, pid, heartbeat, interval)
            end = effective_end_time(status, end, heartbeat)
            ref = _ref_name(exp, run_id, bit, prefixes)
            rows.append(RunRow(commit, ref, run_id, name, exp, status, user, src, branch, parent, host, start, end,
                               bool(dirty), params_, metrics_, tags_, tuple(map(tuple, ds))))  # fmt: skip
        return rows

    def experiments_among(self, names: list[str]) -> set[str]:
        """Those of ``names`` that have runs here (active or deleted): a lookup in the experiment index."""
        with self._db() as conn:
            marks = ",".join("?" * len(names))
            found = conn.execute(f"SELECT DISTINCT experiment FROM runs WHERE experiment IN ({marks})", names)  # noqa: S608
            return {name for (name,) in found}

    def count(self, where: str, params: list[Any], experiments: list[str] | None, view: str) -> int:
        """How many runs a compiled filter matches, without reading them."""
        return int(self._query("count(*)", where, params, "NULL", [], experiments, view, None)[0][0])

    def select_columns(
        self, where: str, params: list[Any], order: str, order_params: list[Any], experiments: list[str] | None,
        view: str, limit: int | None,
    ) -> RunColumns:  # fmt: skip
        """What :meth:`select` finds, column by column, for a DataFrame: no object per run."""
        info = self._query(f"{_FRAME_INFO}, v.bit, d.data", where, params, order, order_params, experiments, view,
                           limit, data=True)  # fmt: skip
        if not info:
            return RunColumns({name: [] for name in STORED_INFO}, [], [], [])
        *values, bits, data = zip(*info, strict=True)
        prefixes: dict[tuple[str, int], str] = {}
        refs = [_ref_name(exp, run, bit, prefixes) for exp, run, bit in zip(values[2], values[0], bits, strict=True)]
        parsed = _load_data("[" + ",".join(data) + "]")
        return RunColumns(
            dict(zip(STORED_INFO, [*values, refs], strict=True)), [d[0] for d in parsed], [d[1] for d in parsed],
            [d[2] for d in parsed],
        )  # fmt: skip

    def artifact_objects(self, names: Iterable[str] | None = None) -> list[tuple[str, int | None, int | None]]:
        """(md5, size, nfiles) of every DVC object (artifacts, DVC-tracked inputs) of the runs whose refs
        are ``names`` (None: all runs)."""
        with self._db() as conn:
            rows = conn.execute(
                "SELECT r.experiment, r.run_id, r.listed, d.artifacts FROM runs r JOIN run_data d ON d.id = r.id "
                "WHERE d.artifacts IS NOT NULL"
            ).fetchall()
        wanted = None if names is None else set(names)
        found: list[tuple[str, int | None, int | None]] = []
        prefixes: dict[tuple[str, int], str] = {}
        for experiment, run_id, listed, text in rows:
            refs = [_ref_name(experiment, run_id, bit, prefixes) for bit in (ACTIVE, DELETED) if listed & bit]
            if wanted is None or not wanted.isdisjoint(refs):
                found.extend(tuple(item) for item in json.loads(text))
        return found


class KeyColumns:
    """Where a query reads each param, metric and tag key: its typed column (``r.k1``; metrics
    hold numbers, ``'nan'`` for NaN; params and tags text; ``r.n1`` the text read as a number),
    or, for keys past ``MAX_COLUMNS``, an expression reading the JSON of the run."""

    def __init__(self, cache: SearchCache, have: dict[tuple[str, str], tuple[str, str | None]]) -> None:
        self._cache = cache
        self._have = have

    def value(self, kind: str, key: str) -> tuple[str, list[Any]]:
        """The SQL of the key's value (NULL when the run lacks it) and its parameters."""
        found = self._have.get((kind, key))
        if found is not None:
            return f"r.{found[0]}", []
        path = _json_path(kind, key)
        if kind == METRIC:
            return f"(SELECT {_METRIC_JSON.format(data='data')} FROM run_data WHERE id = r.id)", [path, path]  # noqa: S608
        return "(SELECT json_extract(data, ?) FROM run_data WHERE id = r.id)", [path]

    def number(self, kind: str, key: str) -> tuple[str, list[Any]]:
        """The SQL of a param's or tag's value read as a number (NULL: absent or not a number)."""
        found = self._have.get((kind, key))
        if found is not None and found[1] is not None:
            return f"r.{found[1]}", []
        column, params = self.value(kind, key)
        return f"gt_num({column})", params

    def like(self, column: str, params: list[Any], pattern: str, case_insensitive: bool) -> tuple[str, list[Any]]:
        """``column LIKE pattern`` (ILIKE): by its distinct values when they are few (each matched
        once, in Python, by the same matcher as the path without the index), else run by run."""
        values = self._cache.distinct(column, params, MAX_LIKE_VALUES)
        if values is None:
            test = f"gt_like(?, {column}, {int(case_insensitive)})", [pattern, *params]
            bounds = None if case_insensitive else _prefix_bounds(pattern)
            if bounds is None:
                return test
            # every value LIKE 'abc%' starts with 'abc': a comparison leaves Python only those; and
            # when that is the whole pattern, it decides alone
            whole = pattern == bounds[0] + "%"
            check = "" if whole else f" AND {test[0]}"
            return f"({column} >= ? AND {column} < ?{check})", [*params, bounds[0], *params, bounds[1],
                                                                *([] if whole else test[1])]  # fmt: skip
        matcher = _like_pattern(pattern, int(case_insensitive))
        matching = [value for value in values if matcher.matches(str(value))]
        return f"{column} IN (SELECT value FROM json_each(?))", [*params, json.dumps(matching)]  # noqa: S608


def _prefix_bounds(pattern: str) -> tuple[str, str] | None:
    """``(low, high)`` such that every text a case-sensitive LIKE ``pattern`` matches is in
    ``[low, high)`` (code point order, SQLite's for text): its literal start and the text just past
    every text with that start. None when the pattern starts with a wildcard."""
    prefix = pattern[: min((i for i in (pattern.find("%"), pattern.find("_")) if i >= 0), default=len(pattern))]
    while prefix:
        last = ord(prefix[-1]) + 1
        if last == 0xD800:
            last = 0xE000  # past the surrogates, which no text holds
        if last <= 0x10FFFF:
            return prefix, prefix[:-1] + chr(last)
        prefix = prefix[:-1]  # the last code point has no successor: a shorter start bounds it too
    return None


def _json_path(kind: str, key: str) -> str | None:
    """The JSON path of a key in ``run_data.data``; None for a key no run can have (not a valid key)."""
    try:
        naming.validate_key(key)
    except InvalidNameError:
        return None
    return f'$[{_SLOTS[kind]}]."{key}"'


def _ref_name(experiment: str, run_id: str, bit: int, prefixes: dict[tuple[str, int], str]) -> str:
    """The name of a run's ref, ``bit`` saying which (ACTIVE, DELETED): found from its experiment
    and id, as the index takes in only refs named after the run their commit records."""
    prefix = prefixes.get((experiment, bit))
    if prefix is None:
        prefix = naming.experiment_prefix(experiment)
        if bit == DELETED:
            prefix = DELETED_NAMESPACE + prefix[len(naming.RUNS_NAMESPACE) :]
        prefixes[(experiment, bit)] = prefix
    return prefix + run_id


class _Batch:
    """Rows of newly read runs, written with one ``executemany`` per table."""

    SIZE = 10_000
    """Rows kept before they are written."""

    def __init__(self) -> None:
        self.runs: list[tuple[Any, ...]] = []

    def add(self, commit: str, record: RunRecord, base: str | None = None) -> None:
        source = record.source
        self.runs.append((
            commit, record.id, record.experiment, record.name, record.status, record.start_time,
            record.end_time, record.heartbeat, record.checkpoint_interval, record.host, record.pid,
            record.user.get("name", ""), _text(source.get("commit")), _text(source.get("branch")),
            int(bool(source.get("dirty"))), record.parent_run, data_json(record), _artifact_json(record), base,
            datasets_of(record.inputs),
        ))  # fmt: skip

    def write(self, conn: sqlite3.Connection, listed: dict[str, int]) -> int | None:
        """Write the runs that have a ref (``listed``: commit -> ACTIVE | DELETED) and forget
        them; returns the first new row id (None: no run written)."""
        (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM runs").fetchone()
        runs: list[tuple[Any, ...]] = []
        data: list[tuple[Any, ...]] = []
        datasets: list[tuple[Any, ...]] = []
        run = last
        for row in self.runs:
            bits = listed.get(row[0])
            if not bits:
                continue  # a commit no ref may name (refused): nothing to show
            run += 1
            runs.append((run, *row[:16], bits))
            data.append((run, *row[16:19]))
            datasets.extend((run, *item) for item in row[19])
        columns = (
            "id, commit_id, run_id, experiment, run_name, status, start_time, end_time, heartbeat, "
            "checkpoint_interval, host, pid, user, source_commit, source_branch, dirty, parent_run, listed"
        )
        conn.executemany(f"INSERT INTO runs ({columns}) VALUES ({','.join('?' * 18)})", runs)  # noqa: S608
        conn.executemany("INSERT INTO run_data VALUES (?, ?, ?, ?)", data)
        conn.executemany("INSERT INTO datasets VALUES (?, ?, ?, ?)", datasets)
        self.runs = []
        return last + 1 if runs else None


def _number(value: float) -> str:
    """A metric value as a JSON number SQLite and Python both read: NaN is null, infinities overflow."""
    if value != value:
        return "null"
    if value in (math.inf, -math.inf):
        return "1e999" if value > 0 else "-1e999"
    return repr(value)


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _load_data(text: str) -> list[Any]:
    """Parse ``data`` JSON: orjson, unless an infinity (``1e999``, which orjson refuses) is in it."""
    try:
        data: list[Any] = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = json.loads(text)
    return data


def data_json(record: RunRecord) -> str:
    """``[params, metrics, tags, datasets]`` as compact JSON: what searches filter on (``json_extract``)
    and show; datasets are ``[name, digest, context]`` lists (``rows.datasets_of``).

    NaN is null and infinities are ``±1e999`` (JSON has neither; both SQLite and Python read
    ``1e999`` as infinity)."""
    values = {key: m.value for key, m in record.metrics.items()}
    datasets = datasets_of(record.inputs)
    if all(map(math.isfinite, values.values())):
        return orjson.dumps([record.params, values, record.tags, datasets]).decode()
    metrics = ",".join(f"{_ENCODE(key)}:{_number(value)}" for key, value in values.items())
    return f"[{_ENCODE(record.params)},{{{metrics}}},{_ENCODE(record.tags)},{_ENCODE(datasets)}]"


def _with_tags(data: list[Any], tags: dict[str, str]) -> str:
    """``data`` JSON (as :func:`data_json` writes it, parsed) with other tags."""
    params, metrics, _, datasets = data
    values = ",".join(f"{_ENCODE(key)}:{'null' if value is None else _number(value)}" for key, value in metrics.items())
    return f"[{_ENCODE(params)},{{{values}}},{_ENCODE(tags)},{_ENCODE(datasets)}]"


def _base_json(name: str, tags: dict[str, str]) -> str:
    """The recorded name and tags of a run with edits: what its edits are applied over."""
    return _ENCODE([name, tags])


def _artifact_json(record: RunRecord) -> str | None:
    """The DVC objects a run references: ``[[md5, size, nfiles], ...]`` of its artifacts and models,
    and of the inputs a DVC file of its snapshot records (None: none). An input recorded only by
    its hash (``log_input`` of a file DVC does not track) references no stored object."""
    found = [[item.get("md5"), item.get("size"), item.get("nfiles")] for item in referenced_data(record)]
    return json.dumps(found) if found else None


def referenced_data(record: RunRecord) -> list[dict[str, Any]]:
    """The artifacts and DVC-tracked inputs of ``record`` whose objects live in DVC (see :func:`_artifact_json`)."""
    items = [a for a in record.artifacts if isinstance(a, dict)]
    items += [i for i in record.inputs if isinstance(i, dict) and i.get("source") not in (None, "log_input")]
    return [item for item in items if isinstance(item.get("md5"), str)]


def _active_name(name: str) -> str:
    """A ref name under ``refs/runs/`` whatever its namespace, for parsing."""
    if name.startswith(DELETED_NAMESPACE):
        return naming.RUNS_NAMESPACE + name[len(DELETED_NAMESPACE) :]
    return name


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def row_from_record(record: RunRecord, ref: str, commit: str) -> RunRow:
    """The searchable row of a run read straight from its commit (the path without the index)."""
    source = record.source
    status = effective_status(record)
    return RunRow(
        commit, ref, record.id, record.name, record.experiment, status, record.user.get("name", ""),
        _text(source.get("commit")), _text(source.get("branch")), record.parent_run, record.host, record.start_time,
        effective_end_time(status, record.end_time, record.heartbeat), bool(source.get("dirty")), dict(record.params),
        {key: m.value for key, m in record.metrics.items()}, dict(record.tags), datasets_of(record.inputs),
    )  # fmt: skip
