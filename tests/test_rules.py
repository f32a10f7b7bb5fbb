"""The rules module, case by case (a table per rule), and every parser of remote data fuzzed."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from pathlib import Path

import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gittrack._data import dvcstore
from gittrack._registry import desired
from gittrack._registry.state import read_tag
from gittrack._registry.tags import parse_tag
from gittrack._search.filter import parse_filter
from gittrack._search.order import parse_order_by
from gittrack._store import metricfile, packs, rules
from gittrack._store.ids import new_run_id
from gittrack._store.limits import MAX_FUTURE_SECONDS, MAX_TIMESTAMP_MS
from gittrack._store.record import (
    FINISHED,
    RUNNING,
    MetricSummary,
    RunRecord,
    dump_summary,
    parse_record,
    parse_summary,
)
from gittrack.errors import GittrackError, InvalidValueError, MalformedRunError

BLOB, LINK = pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_LINK
WHO = pygit2.Signature("T", "t@example.com", 1_700_000_000, 0)


@pytest.fixture
def bare(tmp_path: Path) -> pygit2.Repository:
    return pygit2.init_repository(str(tmp_path / "r.git"), bare=True)


def tree_of(repo: pygit2.Repository, files: dict[str, tuple[bytes, int]]) -> pygit2.Oid:
    from gittrack._store.trees import apply_changes

    return apply_changes(repo, None, {p: (repo.create_blob(d), m) for p, (d, m) in files.items()})


def record(**changes) -> RunRecord:
    base = RunRecord(id=new_run_id(), name="n", experiment="exp", status=RUNNING, start_time=1, heartbeat=5,
                     host="h", user={"name": "a"}, params={"lr": "0.1"},
                     metrics={"auc": MetricSummary(0.5, 1, 2, 2)})  # fmt: skip
    return dataclasses.replace(base, **changes)


def commit_with(repo: pygit2.Repository, rec: RunRecord, parents: list | None = None) -> pygit2.Oid:
    tree = tree_of(repo, {".gittrack/run/summary.json": (dump_summary(rec), BLOB), "train.py": (b"x\n", BLOB)})
    return repo.create_commit(None, WHO, WHO, "run", tree, parents or [])


# -- what DVC may write ---------------------------------------------------------------------------
POINTER = "outs:\n- md5: {md5}\n  hash: md5\n  path: {path}\n"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
STAGE = "stages:\n  s:\n    cmd: x\n    wdir: {wdir}\n    outs: [o]\n"
LOCK = f"schema: '2.0'\nstages:\n  s:\n    cmd: x\n    outs:\n    - path: o\n      hash: md5\n      md5: {MD5}\n"


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"data.csv.dvc": POINTER.format(md5=MD5, path="data.csv")}, None),
        ({"sub/d.dvc": POINTER.format(md5=MD5, path="d")}, None),
        ({".gittrack/run/artifacts/m.dvc": POINTER.format(md5=MD5, path="m")}, None),
        ({"conf": ("/home/victim", LINK), "conf.dvc": POINTER.format(md5=MD5, path="conf/.bashrc")}, "symlink 'conf'"),
        ({"a/lnk": ("/tmp", LINK), "a/x.dvc": POINTER.format(md5=MD5, path="lnk/y")}, "symlink 'a/lnk'"),
        ({"lnk": ("/tmp", LINK), "lnk.dvc": POINTER.format(md5=MD5, path="lnk")}, "symlink 'lnk'"),
        ({"x.dvc": POINTER.format(md5=MD5, path="a/../../etc/passwd")}, "outside the work tree"),
        ({"x.dvc": POINTER.format(md5=MD5, path="/etc/passwd")}, "absolute path"),
        ({"x.dvc": POINTER.format(md5=MD5, path=".git/hooks/pre-commit")}, "into .git/"),
        ({"x.dvc": POINTER.format(md5=MD5, path=".dvc/config")}, "into .dvc/"),
        ({"x.dvc": f"outs:\n- md5: {MD5}\n  path: .\n"}, "plain relative name"),
        ({"x.dvc": "outs:\n- md5: x\n  path: d\n"}, "not a DVC md5"),
        ({"x.dvc": "outs: 3\n"}, "no outs list"),
        ({"x.dvc": "a: &a [1]\nb: *a\n"}, "aliases"),
        ({".dvc/config": "[cache]\n    dir = /home/victim\n"}, "where DVC keeps its cache"),
        ({".dvc/config": '[cache]\n    "dir" = /home/victim\n'}, "where DVC keeps its cache"),
        ({".dvc/config": "[cache]\n    local = c\n['remote \"c\"']\n    url = /x\n"}, "where DVC keeps its cache"),
        ({".dvc/config": "[core]\n    site_cache_dir = /x\n"}, "site_cache_dir"),
        ({".dvc/config.local": "[core]\n"}, "config.local"),
        ({".dvc/cache": ("/x", LINK)}, "symlink"),
        ({".dvc/tmp": ("/x", LINK)}, "symlink"),
        ({".dvc/tmp/lock": "x"}, "folder '.dvc/tmp'"),
        ({".dvc/config": "[core]\n    remote = r\n['remote \"r\"']\n    url = /x\n"}, None),
        ({"dvc.yaml": "stages:\n  s:\n    cmd: x\n    outs: [out.bin]\n"}, None),
        ({"dvc.yaml": STAGE.format(wdir="../.."), "dvc.lock": LOCK}, "outside the work tree"),
        ({"lnk": ("/tmp", LINK), "dvc.yaml": STAGE.format(wdir="lnk"), "dvc.lock": LOCK}, "symlink"),
        ({"dvc.yaml": STAGE.format(wdir="."), "dvc.lock": LOCK.replace("path: o", "path: ../x")}, "outside the work"),
        ({"dvc.yaml": STAGE.format(wdir="."), "dvc.lock": LOCK}, None),
        # templates resolve as DVC resolves them: the literal '${w}' is not what gets written
        (
            {
                "conf": ("/home/victim/.ssh", LINK),
                "dvc.yaml": "vars:\n- w: conf\n" + STAGE.format(wdir="${w}"),
                "dvc.lock": LOCK,
            },
            "symlink 'conf'",
        ),
        (
            {
                "conf": ("/home/victim/.ssh", LINK),
                "params.yaml": "w: conf\n",
                "dvc.yaml": STAGE.format(wdir="${w}"),
                "dvc.lock": LOCK,
            },
            "symlink 'conf'",
        ),
        (
            {
                "conf": ("/home/victim/.ssh", LINK),
                "dvc.lock": LOCK.replace("  s:", "  s@conf:"),
                "dvc.yaml": "stages:\n  s:\n    foreach: [conf]\n    do:\n      cmd: x\n      wdir: ${item}\n"
                "      outs: [o]\n",
            },
            "symlink 'conf'",
        ),
        ({"dvc.yaml": "vars:\n- missing.yaml\n" + STAGE.format(wdir="${w}"), "dvc.lock": LOCK}, "cannot be resolved"),
        (
            {
                "dvc.yaml": "stages:\n  s:\n    matrix:\n      a: ["
                + ",".join(map(str, range(200)))
                + "]\n      b: ["
                + ",".join(map(str, range(200)))
                + "]\n    cmd: x\n",
                "dvc.lock": LOCK,
            },
            "more than",
        ),
    ],
)
def test_where_dvc_may_write(bare, files, problem) -> None:
    tree = tree_of(bare, {p: ((v[0].encode(), v[1]) if isinstance(v, tuple) else (v.encode(), BLOB))
                          for p, v in files.items()})  # fmt: skip
    found = rules.tree_problem(bare, tree)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


# -- run identity and replacement --------------------------------------------------------------------
def test_identity() -> None:
    rec = record()
    assert rules.check_named(rec, "exp", rec.id) is rec
    for experiment, run_id in (("other", rec.id), ("exp", new_run_id())):
        with pytest.raises(MalformedRunError, match="not the run its name says"):
            rules.check_named(rec, experiment, run_id)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ({}, {"heartbeat": 9, "metrics": {"auc": MetricSummary(0.6, 2, 3, 3)}}, None),
        ({}, {"status": FINISHED, "heartbeat": 9}, None),
        ({"status": FINISHED}, {}, "finished on the remote"),
        ({}, {"id": "other"}, "another one"),
        ({}, {"host": "elsewhere"}, "only its own writer"),
        ({}, {"user": {"name": "mallory"}}, "only its own writer"),
        ({}, {"start_time": 0}, "rewrites the start"),
        ({}, {"params": {"lr": "0.9"}}, "changes param 'lr'"),
        ({}, {"params": {}}, "changes param 'lr'"),
        ({}, {"metrics": {"auc": MetricSummary(0.6, 2, 3, 1)}}, "drops points of metric 'auc'"),
        ({}, {"metrics": {}}, "drops points"),
        ({}, {"heartbeat": 1}, "older than"),
    ],
)
def test_when_a_run_ref_may_move(bare, old, new, problem) -> None:
    before = record(**old)
    after = dataclasses.replace(before, **new)
    if "id" in new:
        after = dataclasses.replace(after, id=new_run_id())
    a, b = commit_with(bare, before), commit_with(bare, after)
    assert (rules.may_replace(bare, a, b) is None) == (problem is None)
    if problem is not None:
        assert problem in rules.may_replace(bare, a, b)


def test_a_new_source_commit_is_a_rewrite(bare) -> None:
    rec = record()
    base = commit_with(bare, record(id=new_run_id()))
    a, b = commit_with(bare, rec), commit_with(bare, dataclasses.replace(rec, heartbeat=9), [base])
    assert "source commit" in rules.may_replace(bare, a, b)


def test_packed_lines(bare) -> None:
    rec = record(status=FINISHED)
    commit = commit_with(bare, rec)
    good = packs.PackedRun(rec.id, str(commit), dump_summary(rec))
    assert rules.packed_problem(bare, "exp", good) is None
    forged = dataclasses.replace(good, summary=good.summary.replace(b"0.5", b"0.9"))
    assert "differs" in rules.packed_problem(bare, "exp", forged)
    assert "records run" in rules.packed_problem(bare, "exp", dataclasses.replace(good, run_id=new_run_id()))
    assert "records run" in rules.packed_problem(bare, "other", good)
    running = record()
    pending = commit_with(bare, running)
    assert "RUNNING" in rules.packed_problem(bare, "exp", packs.PackedRun(running.id, str(pending),
                                                                          dump_summary(running)))  # fmt: skip
    assert rules.packed_problem(bare, "exp", dataclasses.replace(good, commit="0" * 40)) is not None


@pytest.mark.parametrize(
    ("when", "previous", "problem"),
    [(1000, 900, None), (1000, None, None), (1000 + MAX_FUTURE_SECONDS + 1, None, "ahead"),
     (1000, 1000, None), (900, 1000, "before the model's previous event")],
)  # fmt: skip
def test_tag_dates(when, previous, problem) -> None:
    found = rules.tag_date_problem(when, 1000, previous)
    assert (found is None) == (problem is None)
    if problem:
        assert problem in found


@pytest.mark.parametrize("step", [2**63, -(2**63) - 1, 2**70])
def test_steps_fit_64_bits(step) -> None:
    with pytest.raises(InvalidValueError, match="64-bit"):
        rules.check_step(step)


@pytest.mark.parametrize("timestamp", [-1, 10**20, MAX_TIMESTAMP_MS + 1])
def test_timestamps_are_epoch_ms_to_9999(timestamp) -> None:
    with pytest.raises(InvalidValueError, match="between 1970 and 9999"):
        rules.check_timestamp(timestamp)


# -- fuzzing every parser of remote data ------------------------------------------------------------
FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=25,
)
FIELDS = ["schema", "id", "name", "experiment", "status", "start_time", "end_time", "heartbeat", "user", "host",
          "pid", "checkpoint_interval", "parent_run", "source", "command", "environment", "snapshot", "params",
          "param_types", "tags", "metrics", "inputs", "artifacts", "error", "logs"]  # fmt: skip


def _only_ours(call, *args) -> None:
    started = time.monotonic()
    with contextlib.suppress(GittrackError):
        call(*args)
    assert time.monotonic() - started < 2


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_raw_bytes(data) -> None:
    for call in (parse_record, parse_summary, lambda d: metricfile.decode_points(d, "x"), packs.parse_line,
                 lambda d: dvcstore.read_pointer(d, "x.dvc"), lambda d: desired.parse(d)):  # fmt: skip
        _only_ours(call, data)


@FUZZ
@given(st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, json_values)))
def test_fuzz_structured_records(doc) -> None:
    good = json.loads(dump_summary(record()))
    merged = {**good, **doc}
    for data in (json.dumps(merged).encode(), json.dumps(doc).encode()):
        for parser in (parse_summary, parse_record):
            try:
                rec = parser(data)
            except GittrackError:
                continue
            json.dumps(dataclasses.asdict(rec), default=str)  # whatever passes is plain data


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_filters_tags_and_orders(text) -> None:
    _only_ours(parse_filter, text)
    _only_ours(parse_order_by, [text])
    parse_tag(text)  # None or a tag, never an exception


def test_fuzz_tag_objects(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path / "t.git"), bare=True)

    @FUZZ
    @given(st.binary(max_size=500), st.binary(max_size=200))
    def check(head, message) -> None:
        oid = repo.odb.write(pygit2.enums.ObjectType.TAG, head + b"\n\n" + message)
        assert isinstance(read_tag(repo, oid), str | tuple)

    check()


def test_deep_filters_and_many_terms_are_refused() -> None:
    from gittrack._search.filter import FilterSyntaxError

    with pytest.raises(FilterSyntaxError, match="nested more than"):
        parse_filter("(" * 400 + "metrics.a > 1" + ")" * 400)
    with pytest.raises(FilterSyntaxError, match="more than 200 comparisons"):
        parse_filter(" OR ".join(f"metrics.a = {i}" for i in range(1000)))
