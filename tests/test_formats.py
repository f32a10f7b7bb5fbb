"""Round trips of the on-disk formats: run.yaml and metric TSV segments, and refusal of bad input."""

from __future__ import annotations

import math
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gittrack._search.cache import _load_data, data_json
from gittrack._store import metricfile
from gittrack._store.ids import new_run_id
from gittrack._store.limits import INT64_MAX, INT64_MIN, MAX_TIMESTAMP_MS
from gittrack._store.record import MetricSummary, RunRecord, dump_record, parse_record
from gittrack.errors import MalformedRunError

keys = st.from_regex(r"[a-z][a-z0-9_./: -]{0,20}[a-z0-9]", fullmatch=True).filter(
    lambda k: not any(p in (".", "..") for p in k.split("/"))
)
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=50)
values = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=50)
floats = st.floats(allow_nan=True, allow_infinity=True)


def _record(params: dict, tags: dict, metrics: dict, experiment: str = "exp") -> RunRecord:
    return RunRecord(
        id=new_run_id(),
        name="brave-owl-1",
        experiment=experiment,
        start_time=1_700_000_000_123,
        end_time=1_700_000_005_456,
        heartbeat=1_700_000_005_456,
        user={"name": "Ada", "email": "ada@example.com"},
        host="h",
        pid=42,
        params=params,
        param_types=dict.fromkeys(params, "str"),
        tags=tags,
        metrics={k: MetricSummary(v, 3, 1_700_000_000_000, 4) for k, v in metrics.items()},
    )


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@given(
    params=st.dictionaries(keys, texts, max_size=5),
    tags=st.dictionaries(keys, texts, max_size=5),
    metrics=st.dictionaries(keys, floats, max_size=5),
    experiment=st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20),
)
def test_run_yaml_round_trips(params, tags, metrics, experiment) -> None:
    record = _record(params, tags, metrics, experiment)
    back = parse_record(dump_record(record))
    assert back.params == params
    assert back.tags == tags
    assert back.experiment == experiment
    assert back.start_time == record.start_time
    assert back.end_time == record.end_time
    assert set(back.metrics) == set(metrics)
    for key, value in metrics.items():
        assert _same_float(back.metrics[key].value, value)


@given(
    params=st.dictionaries(keys, values, max_size=5),
    tags=st.dictionaries(keys, values, max_size=5),
    experiment=st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20),
    author=st.from_regex(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ '-]{0,18}[A-Za-zÀ-ÿ]", fullmatch=True),  # git trims other ends
)
@settings(max_examples=30)
def test_start_records_round_trip(params, tags, experiment, author) -> None:
    import pygit2

    from gittrack._store.naming import run_ref
    from gittrack._store.starts import dump_start_records, load_start_records

    record = _record(params, tags, {}, experiment)
    record.end_time, record.status = None, "RUNNING"
    ref = run_ref(experiment, record.id)
    tree, run_tree, parent = (pygit2.Oid(hex=f"{n}" * 40) for n in "abc")
    signature = pygit2.Signature(author, "a@example.com", 1_700_000_000, 60)
    data = dump_start_records([(ref, record, tree, run_tree, [parent], signature)]) + b"   "  # padded in place
    [(back_ref, back, back_tree, back_run_tree, parents, back_signature)] = load_start_records(data)
    assert (back_ref, back_tree, back_run_tree, parents) == (ref, tree, run_tree, [parent])
    assert (back.id, back.experiment, back.params, back.tags) == (record.id, experiment, params, tags)
    assert (back_signature.name, back_signature.time, back_signature.offset) == (author, 1_700_000_000, 60)
    assert load_start_records(dump_start_records([])) == []


@pytest.mark.parametrize(
    "text",
    ["", "{}", '{"format": "gittrack-start 2", "runs": []}', '{"format": "gittrack-start 1", "runs": [{}]}',
     '{"format": "gittrack-start 1", "runs": [{"ref": "refs/heads/main"}]}', "[1]", '{"format": "gittrack-st'],
)  # fmt: skip
def test_malformed_start_records_are_refused(text: str) -> None:
    from gittrack._store.starts import load_start_records

    with pytest.raises(MalformedRunError, match="is not a file of start records"):
        load_start_records(text.encode())


@given(
    params=st.dictionaries(keys, values, max_size=5),  # gittrack refuses NUL in values (test_tracking)
    tags=st.dictionaries(keys, values, max_size=5),
    metrics=st.dictionaries(keys, floats, max_size=5),
)
def test_search_index_data_reads_back_in_python_and_sqlite(params, tags, metrics) -> None:
    """The index's data column: Python gets the values back (NaN as None), and SQLite's json_extract
    (what filters use) sees the same numbers and strings, infinities included."""
    text = data_json(_record(params, tags, metrics))
    back_params, back_metrics, back_tags, back_datasets = _load_data(text)
    assert (back_params, back_tags, back_datasets) == (params, tags, [])
    assert back_metrics == {k: None if math.isnan(v) else v for k, v in metrics.items()}
    conn = sqlite3.connect(":memory:")
    for slot, values in ((0, params), (1, metrics), (2, tags)):
        for key, value in values.items():
            (seen,) = conn.execute("SELECT json_extract(?, ?)", (text, f'$[{slot}]."{key}"')).fetchone()
            assert seen == (None if isinstance(value, float) and math.isnan(value) else value)


@given(st.lists(st.tuples(st.integers(INT64_MIN, INT64_MAX), st.integers(0, MAX_TIMESTAMP_MS), floats), max_size=50))
def test_metric_segments_round_trip(points) -> None:
    data = metricfile.encode_points([metricfile.format_point(*p) for p in points])
    back = metricfile.decode_points(data, "test")
    assert len(back) == len(points)
    for (s1, t1, v1), (s2, t2, v2) in zip(points, back, strict=True):
        assert (s1, t1) == (s2, t2)
        assert _same_float(v1, v2)


@pytest.mark.parametrize(
    "point", [(2**63, 0, 1.0), (-(2**63) - 1, 0, 1.0), (0, MAX_TIMESTAMP_MS + 1, 1.0), (0, -1, 1.0)]
)
def test_metric_points_out_of_range_are_refused(point) -> None:
    data = metricfile.encode_points([metricfile.format_point(*point)])
    with pytest.raises(MalformedRunError, match="out of range"):
        metricfile.decode_points(data, "hostile")


def _decoded(segments: list[bytes]) -> tuple[str, list]:
    """What each decoder makes of segments: ``("ok", points)`` or ``("error", message)``."""
    try:
        return "ok", [p for data in segments for p in metricfile.decode_points(data, "m")]
    except MalformedRunError as exc:
        return "error", [str(exc)]


def _columnar(segments: list[bytes]) -> tuple[str, list]:
    try:
        columns = metricfile.decode_columns(segments, "m")
    except MalformedRunError as exc:
        return "error", [str(exc)]
    assert [c.dtype.name for c in columns] == ["int64", "int64", "float64"]
    return "ok", list(zip(columns.step.tolist(), columns.timestamp.tolist(), columns.value.tolist(), strict=True))


def _same(a: tuple[str, list], b: tuple[str, list]) -> bool:
    if a[0] != b[0] or len(a[1]) != len(b[1]):
        return False
    if a[0] == "error":
        return a == b
    return all(p[:2] == q[:2] and _same_float(p[2], q[2]) for p, q in zip(a[1], b[1], strict=True))


points = st.tuples(st.integers(INT64_MIN, INT64_MAX), st.integers(0, MAX_TIMESTAMP_MS), floats)


COLUMNAR = settings(deadline=None)  # the first example imports pandas


@COLUMNAR
@given(st.lists(st.lists(points, max_size=30), max_size=4))
def test_columnar_decoding_gives_the_points_of_the_segments(segments) -> None:
    """The numpy/pandas reader charts use reads well-formed histories exactly as decode_points."""
    data = [metricfile.encode_points([metricfile.format_point(*p) for p in segment]) for segment in segments]
    assert _same(_columnar(data), _decoded(data))


# lines made of the characters where the fast reader and Python's int/float could disagree
fields = st.text(alphabet="0123456789+-.eEnaif_ x", max_size=8)
lines = st.one_of(
    st.tuples(fields, fields, fields).map(lambda f: "\t".join(f)),
    st.lists(fields, max_size=5).map("\t".join),
    points.map(lambda p: metricfile.format_point(*p).decode().rstrip("\n")),
)


@COLUMNAR
@given(st.lists(st.lists(lines, max_size=6).map(lambda ls: "".join(line + "\n" for line in ls)), max_size=3))
def test_columnar_decoding_accepts_and_refuses_what_decode_points_does(bodies) -> None:
    """On any text, including hostile lines, both readers agree: same points or the same error."""
    data = [metricfile.HEADER + body.encode() for body in bodies]
    assert _same(_columnar(data), _decoded(data))


def test_columnar_decoding_of_many_segments_matches() -> None:
    """Segments are parsed a chunk at a time: the result and a bad line's error are the same."""
    segments = [
        metricfile.encode_points(
            [metricfile.format_point(i * 10 + j, 1_700_000_000_000 + j, 1 / (j + 1)) for j in range(10)]
        )
        for i in range(150)
    ]
    assert _same(_columnar(segments), _decoded(segments))
    assert len(_columnar(segments)[1]) == 1500
    segments[100] = metricfile.HEADER + b"x" + segments[100][len(metricfile.HEADER) :]
    assert _columnar(segments) == _decoded(segments) == ("error", ["m line 2 is not 'step<TAB>timestamp_ms<TAB>value'"])
    assert _columnar([]) == ("ok", [])


def _valid_yaml() -> str:
    return dump_record(
        RunRecord(id=new_run_id(), name="n", experiment="e", start_time=1, heartbeat=1, host="h", pid=1)
    ).decode()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda y: "- just\n- a list\n", "not a mapping"),
        (lambda y: y.replace("schema: 1", "schema: 99"), "upgrade gittrack"),
        (lambda y: y.replace("status: RUNNING", "status: WEIRD"), "status"),
        (lambda y: y.replace("pid: 1", "pid: lots"), "pid"),
        (lambda y: y + "\nparams: {'bad*key': x}\n", "param"),
        (lambda y: "!!python/object/apply:os.system ['echo pwned']\n", "not valid YAML"),
        (lambda y: y + "\n  : [unclosed\n", "not valid YAML"),
        (lambda y: y.replace('start_time: "', 'start_time: "garbage'), "ISO 8601"),
    ],
)
def test_malformed_run_yaml_is_refused(mutate, message) -> None:
    with pytest.raises(MalformedRunError, match=message):
        parse_record(mutate(_valid_yaml()).encode())


def test_oversize_yaml_is_refused() -> None:
    with pytest.raises(MalformedRunError, match="limit"):
        parse_record(b"a: " + b"x" * (17 * 1024 * 1024))


@pytest.mark.parametrize(
    "bad", [b"no header\n1\t2\t3\n", b"step\ttimestamp_ms\tvalue\n1\t2\n", b"step\ttimestamp_ms\tvalue\nx\t2\t3\n"]
)
def test_malformed_metric_files_are_refused(bad: bytes) -> None:
    with pytest.raises(MalformedRunError):
        metricfile.decode_points(bad, "metric")
