"""Synthetic runs for benchmarks, written in gittrack's exact on-disk format with git fast-import.

Recording 100,000 runs through the API would take a quarter of an hour; fast-import writes the
same commits (same run.yaml, summary.json and metric files, produced by gittrack's own
serialisers) straight into a pack in a minute or two. ``git gc`` afterwards packs refs and
objects as a clone would have them.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

from gittrack._store import metricfile, naming, packs
from gittrack._store.ids import new_run_id
from gittrack._store.record import FINISHED, MetricSummary, RunRecord, dump_record, dump_summary

MODELS = ("rf", "gbm", "linear", "mlp", "svm")
METRICS = ("rmse", "mae", "r2", "train_loss", "val_loss")
POINTS = 10
_BASE_MS = 1_780_000_000_000


def synthetic_run(i: int, rng: random.Random, experiment: str) -> tuple[RunRecord, dict[str, bytes]]:
    """Run ``i``: 10 params, 5 metrics with 10 points each, 3 tags; and its metric files."""
    start = _BASE_MS + i * 1000
    params = {
        "model": rng.choice(MODELS),
        "lr": str(round(rng.uniform(0.001, 0.3), 4)),
        "depth": str(rng.randint(2, 12)),
        "n_estimators": str(rng.choice((50, 100, 200, 400))),
        "l2": str(round(rng.uniform(0, 1), 3)),
        "batch_size": str(rng.choice((32, 64, 128))),
        "optimizer": rng.choice(("adam", "sgd", "rmsprop")),
        "seed": str(rng.randint(0, 10_000)),
        "features": rng.choice(("base", "base+time", "all")),
        "dropout": str(round(rng.uniform(0, 0.5), 2)),
    }
    files, metrics = {}, {}
    for key in METRICS:
        final = rng.random()
        lines = [metricfile.format_point(s, start + s * 10, final + (POINTS - s) * 0.01) for s in range(POINTS)]
        files[naming.metric_filename(key)] = metricfile.encode_points(lines)
        metrics[key] = MetricSummary(final + 0.01, POINTS - 1, start + (POINTS - 1) * 10, POINTS)
    record = RunRecord(
        id=new_run_id(start),
        name=f"run-{i}",
        experiment=experiment,
        status=FINISHED,
        start_time=start,
        end_time=start + 60_000,
        heartbeat=start + 60_000,
        user={"name": "Bench", "email": "bench@example.com"},
        host="bench-host",
        pid=1000 + i % 30_000,
        source={"commit": None, "branch": "main", "dirty": False, "diffstat": {}},
        command={"argv": ["python", "train.py"], "entry_point": "train.py", "cwd": ".", "launcher": "python"},
        environment={"python": "3.11.7", "implementation": "CPython", "platform": "Linux", "gittrack": "0.1.0"},
        params=params,
        param_types=dict.fromkeys(params, "str"),
        tags={"team": rng.choice(("pricing", "ops", "ml")), "stage": "sweep", "owner": f"user{i % 7}"},
        metrics=metrics,
    )
    return record, files


def _data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


_IDENT = b"Bench <bench@example.com> 1780000000 +0000"


def _preamble() -> bytes:
    """The code every run's snapshot holds (marks 1 and 2) and the branch commit they start from (3)."""
    return b"".join([
        b"blob\nmark :1\n" + _data(b"print('training')\n"),
        b"blob\nmark :2\n" + _data(b"numpy==2.0.0\npandas==2.2.0\n"),
        b"commit refs/heads/main\nmark :3\nauthor %s\ncommitter %s\n" % (_IDENT, _IDENT) + _data(b"code"),
        b"M 100644 :1 train.py\n\n",
    ])  # fmt: skip


def _run_commit(ref: bytes, record: RunRecord, metric_files: dict[str, bytes], mark: int | None = None) -> bytes:
    """The fast-import commands of one run commit on ``ref``."""
    out = [b"commit %s\n" % ref]
    if mark is not None:
        out.append(b"mark :%d\n" % mark)
    out += [b"author %s\ncommitter %s\n" % (_IDENT, _IDENT), _data(b"run " + record.name.encode()), b"from :3\n"]
    for path, payload in (("run.yaml", dump_record(record)), ("summary.json", dump_summary(record))):
        out.append(b"M 100644 inline .gittrack/run/%s\n" % path.encode() + _data(payload))
    out.append(b"M 100644 :2 .gittrack/run/env/requirements.txt\n")
    for name, payload in metric_files.items():
        out.append(b"M 100644 inline .gittrack/run/metrics/%s\n" % name.encode() + _data(payload))
    out.append(b"\n")
    return b"".join(out)


def _stream(count: int, experiments: list[str], seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    yield _preamble()
    for i in range(count):
        experiment = experiments[i % len(experiments)]
        record, metric_files = synthetic_run(i, rng, experiment)
        record.source["commit"] = None
        yield _run_commit(naming.run_ref(experiment, record.id).encode(), record, metric_files)


def build_repo(root: Path, count: int, experiments: list[str] | None = None, seed: int = 7) -> None:
    """A repository at ``root`` holding ``count`` finished runs, packed with ``git gc``."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=root, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for chunk in _stream(count, experiments or ["bench"], seed):
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, check=True)
    subprocess.run(["git", "gc", "-q"], cwd=root, check=True)


def build_packed_repo(root: Path, count: int, experiments: list[str], seed: int = 7) -> None:
    """A repository at ``root`` holding ``count`` finished runs packed in their experiments' index
    refs (``refs/runs-index/``, docs/format.md), as ``gittrack runs pack`` leaves them, without a
    ref per run ever being written: a million runs take about as long as their objects do.

    The objects stay in fast-import's packs (no ``git gc``: at this size it takes longer than the
    build); run commits of one experiment are packed a ``packs.BATCH_RUNS`` batch at a time."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    proc = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(_preamble())
    rng = random.Random(seed)
    scratch = b"refs/gittrack-synth/runs"
    next_mark = 10
    tips: dict[str, int] = {}  # experiment -> mark of its index tip
    pending: dict[str, list[tuple[int, bytes, bytes]]] = {e: [] for e in experiments}  # (mark, id, summary)

    def pack(experiment: str, runs: list[tuple[int, bytes, bytes]]) -> None:
        nonlocal next_mark
        ref = packs.index_ref(experiment).encode()
        if experiment not in tips:
            message = b"gittrack: start the run index of %s" % experiment.encode()
            tips[experiment] = next_mark
            proc.stdin.write(b"commit %s\nmark :%d\nauthor %s\ncommitter %s\n" % (ref, next_mark, _IDENT, _IDENT))
            proc.stdin.write(_data(message) + b"M 100644 inline FORMAT\n" + _data(packs.FORMAT) + b"\n")
            next_mark += 1
        for mark, _, _ in runs:
            proc.stdin.write(b"get-mark :%d\n" % mark)
        proc.stdin.flush()
        commits = [proc.stdout.readline().strip() for _ in runs]
        lines = zip(runs, commits, strict=True)
        batch = b"".join(b"%s %s %s\n" % (run_id, commit, summary) for (_, run_id, summary), commit in lines)
        name = hashlib.sha1(b"blob %d\0" % len(batch) + batch).hexdigest()  # the batch's own blob id
        message = b"gittrack: pack %d runs of %s" % (len(runs), experiment.encode())
        out = [b"commit %s\nmark :%d\nauthor %s\ncommitter %s\n" % (ref, next_mark, _IDENT, _IDENT), _data(message)]
        out.append(b"from :%d\n" % tips[experiment])
        out += [b"merge :%d\n" % mark for mark, _, _ in runs]
        out.append(b"M 100644 inline %s/%s.runs\n" % (packs.BATCH_DIR.encode(), name.encode()) + _data(batch) + b"\n")
        proc.stdin.write(b"".join(out))
        tips[experiment] = next_mark
        next_mark += 1

    for i in range(count):
        experiment = experiments[i % len(experiments)]
        record, metric_files = synthetic_run(i, rng, experiment)
        record.source["commit"] = None
        proc.stdin.write(_run_commit(scratch, record, metric_files, next_mark))
        pending[experiment].append((next_mark, record.id.encode(), dump_summary(record)))
        next_mark += 1
        if len(pending[experiment]) == packs.BATCH_RUNS:
            pack(experiment, pending[experiment])
            pending[experiment] = []
    for experiment, runs in pending.items():
        if runs:
            pack(experiment, runs)
    proc.stdin.write(b"done\n")
    proc.stdin.close()
    proc.stdout.read()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "update-ref", "-d", scratch.decode()], cwd=root, check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, check=True)
