"""The search cache: a local SQLite copy of run summaries, so listing and searching never re-read
every run (not to be confused with the run indexes under ``refs/runs-index/``, packed runs).

Entries are keyed by run commit id: commits never change, so an entry goes stale only when the
run's edits (a note on its commit, ``gittrack.store.annotations``) change: the notes ref's commit
is kept, and when it moved, only the rows of the runs whose note changed are recomputed (from the
recorded name and tags, kept in ``base`` for runs with edits). Each use compares the refs under
``refs/runs/`` and ``refs/runs-deleted/``, and the runs packed in
``refs/runs-index/``, with those the index last saw and reads only the new commits (a packed
run's summary comes from its index, in bulk, not from its commit). The file lives in
``.git/gittrack/index.sqlite`` (WAL mode: readers never wait for a writer), is never shared,
and is rebuilt whenever it is missing, of another schema, or corrupt.
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

from gittrack.errors import GittrackError, IndexUnavailable, MalformedRunError
from gittrack.search.rows import (
    STORED_INFO,
    LikePattern,
    RunColumns,
    RunRow,
    as_number,
    datasets_of,
    like_pattern,
)
from gittrack.store import annotations as run_annotations
from gittrack.store import naming, notes, packs, rules, runfiles, starts
from gittrack.store.liveness import effective_end_time, effective_status
from gittrack.store.record import RunRecord, parse_summary
from gittrack.store.repo import gittrack_dir
from gittrack.store.runstore import DELETED_NAMESPACE, visible_packed

if TYPE_CHECKING:
    import pygit2

log = logging.getLogger("gittrack")

SCHEMA = 14
_DDL = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, commit_id TEXT UNIQUE NOT NULL, run_id TEXT NOT NULL, experiment TEXT NOT NULL,
    run_name TEXT, status TEXT, start_time INTEGER, end_time INTEGER, heartbeat INTEGER,
    checkpoint_interval REAL, host TEXT, pid INTEGER, user TEXT, source_commit TEXT, source_branch TEXT,
    dirty INTEGER, parent_run TEXT, data TEXT NOT NULL, artifacts TEXT, base TEXT);
CREATE TABLE refs (name TEXT PRIMARY KEY, commit_id TEXT NOT NULL, deleted INTEGER NOT NULL);
CREATE TABLE problems (name TEXT PRIMARY KEY, commit_id TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE packs (index_ref TEXT PRIMARY KEY, tip TEXT NOT NULL, runs TEXT NOT NULL, problems TEXT NOT NULL);
CREATE INDEX runs_start ON runs (start_time DESC, run_id DESC);
CREATE INDEX runs_experiment ON runs (experiment, start_time DESC, run_id DESC);
CREATE INDEX refs_commit ON refs (commit_id);
"""
_INFO = (
    "r.commit_id, r.run_id, r.run_name, r.experiment, r.status, r.user, r.source_commit, r.source_branch, "
    "r.parent_run, r.host, r.start_time, r.end_time, r.dirty, r.pid, r.heartbeat, r.checkpoint_interval, r.data, f.name"
)
_FROM = "FROM runs r CROSS JOIN refs f ON f.commit_id = r.commit_id"
# the effective status: a RUNNING run whose writer is gone is KILLED (Python is called for RUNNING runs only)
STATUS_SQL = (
    "CASE r.status WHEN 'RUNNING' THEN gt_status(r.status, r.host, r.pid, r.heartbeat, r.checkpoint_interval) "
    "ELSE r.status END"
)
# the effective end time: a run that ended without recording it (killed) ended at its last heartbeat
END_TIME_SQL = f"CASE WHEN r.end_time IS NOT NULL OR {STATUS_SQL} = 'RUNNING' THEN r.end_time ELSE r.heartbeat END"
# rows.STORED_INFO's columns, in its order, then the data
_FRAME_INFO = (
    f"r.run_id, r.run_name, r.experiment, {STATUS_SQL}, r.start_time, {END_TIME_SQL}, r.user, r.source_commit, "
    "r.dirty = 1, r.parent_run, f.name, r.data"
)


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

    PARALLEL_MIN_RUNS = 20_000
    """From this many runs, a search for a first page is split between two connections."""
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
            conn.executemany("DELETE FROM refs WHERE name = ?", stale)
            conn.executemany("DELETE FROM problems WHERE name = ?", stale)
            known = {commit: (run_id, exp) for commit, run_id, exp in conn.execute(
                "SELECT commit_id, run_id, experiment FROM runs")}  # fmt: skip
            read: dict[str, RunRecord] = {}
            batch = _Batch()
            self._edits = run_annotations.reader(self.repo)
            refs, problems = [], []
            for name in changed:
                target, deleted = current[name]
                try:
                    experiment, run_id = naming.parse_run_ref(_active_name(name))
                    identity = known.get(target)
                    if identity is None:
                        record = read[target] = self._read(target, batch)
                        identity = known[target] = (record.id, record.experiment)
                    rules.check_identity(identity, experiment, run_id)
                except GittrackError as exc:
                    problems.append((name, target, str(exc)))
                    continue
                refs.append((name, target, deleted))
            if not seen:
                self.fresh = [(row_from_record(read[target], name, target), deleted) for name, target, deleted in refs]
            batch.write(conn)
            conn.executemany("INSERT INTO refs VALUES (?, ?, ?)", refs)
            conn.executemany("INSERT INTO problems VALUES (?, ?, ?)", problems)
            conn.execute("DELETE FROM runs WHERE commit_id NOT IN (SELECT commit_id FROM refs)")

    def _refresh_edits(self, conn: sqlite3.Connection, old_tip: str | None, new_tip: str | None) -> None:
        """Recompute the name and tags of the runs whose note changed between two notes commits."""
        import pygit2

        changed = run_annotations.changed_since(self.repo, old_tip, new_tip)
        if changed is None:  # the old notes are gone: look at every note and every edited run
            changed = set(notes.all_notes(self.repo))
            changed.update(c for (c,) in conn.execute("SELECT commit_id FROM runs WHERE base IS NOT NULL"))
        if not changed:
            return
        wanted = sorted(changed)
        found = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found.extend(conn.execute(
                f"SELECT commit_id, run_name, data, base FROM runs WHERE commit_id IN ({','.join('?' * len(chunk))})",  # noqa: S608
                chunk,
            ).fetchall())  # fmt: skip
        updates = []
        for commit, name, data, base in found:
            parsed = _load_data(data)
            base_name, base_tags = json.loads(base) if base else (name, parsed[2])
            edits = run_annotations.read(self.repo, pygit2.Oid(hex=commit))
            tags, shown = run_annotations.applied(base_tags, base_name, edits)
            kept = _base_json(base_name, base_tags) if edits else None
            updates.append((shown, _with_tags(parsed, tags), kept, commit))
        with _transaction(conn):
            conn.executemany("UPDATE runs SET run_name = ?, data = ?, base = ? WHERE commit_id = ?", updates)

    def _read(self, target: str, batch: _Batch) -> RunRecord:
        """Read one run commit (from its index if packed) into ``batch``; returns its record, with
        the edits of its note applied."""
        import pygit2

        try:
            oid = pygit2.Oid(hex=target)
        except ValueError:
            raise MalformedRunError("is not a direct reference to a commit") from None
        raw = self._packed.get(target)
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
        experiments: list[str] | None, view: str, limit: int | None, offset: int = 0,
    ) -> list[tuple[Any, ...]]:  # fmt: skip
        """``columns`` of the runs matching a compiled filter, in order, from the ``offset``-th on;
        ``view``: active, deleted or all."""
        clauses: list[str] = []
        args: list[Any] = []
        if experiments is not None:  # first, and by its index: the filter then reads only these runs
            clauses.append(f"r.experiment IN ({','.join('?' * len(experiments))})")
            args.extend(experiments)
        clauses.append(where)
        args.extend(params)
        if view != "all":
            clauses.append("f.deleted = ?")
            args.append(int(view == "deleted"))
        condition = " AND ".join(clauses)
        if limit is not None and offset + limit <= self.PARALLEL_MAX_LIMIT and experiments is None:
            ids = self._first_ids_by_halves(condition, args, order, order_params, offset + limit)
            if ids is not None:
                condition, args = f"r.id IN ({','.join('?' * len(ids))}) AND {condition}", [*ids, *args]
        sql = f"SELECT {columns} {_FROM} WHERE {condition} ORDER BY {order}"
        args.extend(order_params)
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args.extend([-1 if limit is None else limit, offset])
        with self._db() as conn:
            return conn.execute(sql, args).fetchall()

    def _first_ids_by_halves(
        self, condition: str, args: list[Any], order: str, order_params: list[Any], limit: int
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
        half = f"SELECT r.id {_FROM} WHERE {condition} AND r.id {{}} ? ORDER BY {order} LIMIT ?"

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
        info = self._query(_INFO, where, params, order, order_params, experiments, view, limit, offset)
        rows = []
        data = _load_data("[" + ",".join(row[16] for row in info) + "]")  # one parse, not one per run
        for (commit, run_id, name, exp, status, user, src, branch, parent, host, start, end, dirty, pid,
             heartbeat, interval, _, ref), (params_, metrics_, tags_, ds) in zip(info, data, strict=True):  # fmt: skip
            if None in metrics_.values():  # NaN is stored as null
                metrics_ = {key: math.nan if value is None else value for key, value in metrics_.items()}
            if status == "RUNNING":
                status = _status(status, host, pid, heartbeat, interval)
            end = effective_end_time(status, end, heartbeat)
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
        info = self._query(_FRAME_INFO, where, params, order, order_params, experiments, view, limit)
        if not info:
            return RunColumns({name: [] for name in STORED_INFO}, [], [], [])
        *values, data = zip(*info, strict=True)
        parsed = _load_data("[" + ",".join(data) + "]")
        return RunColumns(
            dict(zip(STORED_INFO, values, strict=True)), [d[0] for d in parsed], [d[1] for d in parsed],
            [d[2] for d in parsed],
        )  # fmt: skip

    def artifact_objects(self, names: Iterable[str] | None = None) -> list[tuple[str, int | None, int | None]]:
        """(md5, size, nfiles) of every DVC object (artifacts, DVC-tracked inputs) of the runs whose refs
        are ``names`` (None: all runs)."""
        with self._db() as conn:
            query = "SELECT f.name, r.artifacts FROM runs r JOIN refs f ON f.commit_id = r.commit_id"
            rows = conn.execute(query + " WHERE r.artifacts IS NOT NULL").fetchall()
        wanted = None if names is None else set(names)
        found: list[tuple[str, int | None, int | None]] = []
        for name, text in rows:
            if wanted is None or name in wanted:
                found.extend(tuple(item) for item in json.loads(text))
        return found


class _Batch:
    """Rows of newly read runs, written with one ``executemany``."""

    def __init__(self) -> None:
        self.runs: list[tuple[Any, ...]] = []

    def add(self, commit: str, record: RunRecord, base: str | None = None) -> None:
        source = record.source
        self.runs.append((
            commit, record.id, record.experiment, record.name, record.status, record.start_time,
            record.end_time, record.heartbeat, record.checkpoint_interval, record.host, record.pid,
            record.user.get("name", ""), _text(source.get("commit")), _text(source.get("branch")),
            int(bool(source.get("dirty"))), record.parent_run, data_json(record), _artifact_json(record), base,
        ))  # fmt: skip

    def write(self, conn: sqlite3.Connection) -> None:
        columns = (
            "commit_id, run_id, experiment, run_name, status, start_time, end_time, heartbeat, checkpoint_interval, "
            "host, pid, user, source_commit, source_branch, dirty, parent_run, data, artifacts, base"
        )
        conn.executemany(f"INSERT INTO runs ({columns}) VALUES ({','.join('?' * 19)})", self.runs)  # noqa: S608


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
