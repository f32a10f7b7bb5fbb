"""search_runs: MLflow's grammar and semantics, the DataFrame shape, the index and its fallback."""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gittrack
from gittrack._search.cache import SearchCache
from gittrack._search.filter import FilterSyntaxError, parse_filter
from gittrack._search.service import count_runs, find_rows, search_runs


@pytest.fixture
def runs(repo: Path) -> dict[str, str]:
    """Four finished runs with overlapping keys; returns name -> run id."""
    client = gittrack.Client()
    specs = {
        "rf-deep": ({"model": "rf", "depth": "10"}, {"rmse": 0.4, "val loss": 1.0}, {"team": "ml"}, "taxi"),
        "rf-shallow": ({"model": "rf", "depth": "3"}, {"rmse": 0.7}, {"team": "ops"}, "taxi"),
        "lin": ({"model": "linear"}, {"rmse": 0.9, "r2": 0.5}, {}, "taxi"),
        "nan-run": ({"model": "RF"}, {"rmse": math.nan}, {"team": "ml"}, "other"),
    }
    ids = {}
    for name, (params, metrics, tags, experiment) in specs.items():
        run_id = client.create_run(experiment=experiment, run_name=name, params=params, tags=tags).info.run_id
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        client.set_terminated(run_id)
        ids[name] = run_id
    return ids


def names(frame: pd.DataFrame) -> list[str]:
    return list(frame["run_name"])


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("", ["nan-run", "lin", "rf-shallow", "rf-deep"]),
        ("metrics.rmse < 0.8", ["rf-shallow", "rf-deep"]),
        ("metrics.rmse < 0.8 and params.model = 'rf'", ["rf-shallow", "rf-deep"]),
        ("params.model != 'rf'", ["nan-run", "lin"]),
        ("metrics.r2 != 1", ["lin"]),  # a run lacking the key never matches, even with !=
        ("metrics.rmse != 0", ["nan-run", "lin", "rf-shallow", "rf-deep"]),  # NaN matches != only, as in MLflow
        ("metrics.rmse = 0 OR metrics.rmse < 0 OR metrics.rmse >= 0", ["lin", "rf-shallow", "rf-deep"]),
        ("metrics.rmse NOT IN (0.4)", ["nan-run", "lin", "rf-shallow"]),
        ("tags.mlflow.runName = 'lin'", ["lin"]),
        ("status = 'FINISHED' AND run_name IN ('lin', 'rf-deep')", ["lin", "rf-deep"]),
        ("`metric`.rmse >= 0.5 AND `Run name` LIKE 'rf%'", ["rf-shallow"]),
        ("Created > 0 AND attributes.artifact_uri LIKE 'runs:/%'", ["nan-run", "lin", "rf-shallow", "rf-deep"]),
        ("params.model LIKE 'r%'", ["rf-shallow", "rf-deep"]),
        ("params.model ILIKE 'r_'", ["nan-run", "rf-shallow", "rf-deep"]),
        ("params.model IN ('rf', 'linear')", ["lin", "rf-shallow", "rf-deep"]),
        ("params.model NOT IN ('rf')", ["nan-run", "lin"]),
        ("tags.team IS NULL", ["lin"]),
        ("tags.team IS NOT NULL AND tags.team = 'ml'", ["nan-run", "rf-deep"]),
        ("metrics.`val loss` <= 1", ["rf-deep"]),
        ('metrics."val loss" = 1.0', ["rf-deep"]),
        ("params.depth > 5", ["rf-deep"]),  # numbers compare as numbers...
        ("params.depth > '2'", ["rf-shallow"]),  # ...strings as strings ('10' < '2')
        ("metrics.rmse > 0.8 OR tags.team = 'ops'", ["lin", "rf-shallow"]),
        ("NOT (params.model = 'rf') AND metrics.rmse >= 0", ["lin"]),
        ("attributes.run_name = 'lin'", ["lin"]),
        ("attributes.status = 'FINISHED' and attributes.experiment = 'other'", ["nan-run"]),
        ("attributes.end_time IS NULL", []),
        ("attributes.start_time > '2000-01-01'", ["nan-run", "lin", "rf-shallow", "rf-deep"]),
        ("attributes.dirty = false", ["nan-run", "lin", "rf-shallow", "rf-deep"]),
        ("metrics.rmse IN (0.4, 0.9)", ["lin", "rf-deep"]),
    ],
)
def test_filters_follow_mlflow_semantics(runs, filter_string: str, expected: list[str]) -> None:
    assert names(gittrack.search_runs(filter_string=filter_string)) == expected
    scanned = find_rows(pygit2.Repository("."), filter_string=filter_string, use_index=False).rows
    assert [r.run_name for r in scanned] == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["metrics.rmse ASC"], ["rf-deep", "rf-shallow", "lin", "nan-run"]),  # NaN and missing last
        (["metrics.rmse DESC"], ["lin", "rf-shallow", "rf-deep", "nan-run"]),
        (["params.depth"], ["rf-deep", "rf-shallow", "nan-run", "lin"]),  # strings: '10' < '3'
        (["tags.team DESC", "metrics.rmse"], ["rf-shallow", "rf-deep", "nan-run", "lin"]),
        (["start_time ASC"], ["rf-deep", "rf-shallow", "lin", "nan-run"]),
        (["attributes.run_name"], ["lin", "nan-run", "rf-deep", "rf-shallow"]),
    ],
)
def test_order_by(runs, order_by, expected) -> None:
    assert names(gittrack.search_runs(order_by=order_by)) == expected


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("metrics.auc DSC", "order_by 'metrics.auc DSC': expected ASC or DESC at position 12, found 'DSC'"),
        ("metrics.val loss", "expected ASC or DESC at position 12, found 'loss'"),
        ("metrics.rmse ASC DESC", "expected the end of the clause at position 17, found 'DESC'"),
        ("metrics.`val loss DESC", "unterminated quote at position 8"),
        ("metricz.rmse", "unknown column 'metricz.rmse' at position 0"),
        ("rmse DESC", "unknown column 'rmse' at position 0"),
        ("", "expected a column such as metrics.rmse"),
    ],
)
def test_order_by_errors_name_the_position(runs, bad: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        gittrack.search_runs(order_by=[bad])
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_order_by_key_no_run_has_sorts_as_missing(runs) -> None:
    newest_first = ["nan-run", "lin", "rf-shallow", "rf-deep"]
    assert names(gittrack.search_runs(order_by=["metrics.acu DESC"])) == newest_first
    assert names(gittrack.search_runs(order_by=["metrics.`val loss` DESC", "params.nope"])) == [
        "rf-deep", "nan-run", "lin", "rf-shallow"
    ]  # fmt: skip
    scanned = find_rows(pygit2.Repository("."), order_by=["metrics.acu DESC"], use_index=False).rows
    assert [r.run_name for r in scanned] == newest_first


def test_frame_columns_types_and_limits(runs) -> None:
    frame = gittrack.search_runs(experiment_names=["taxi"], max_results=2)
    assert names(frame) == ["lin", "rf-shallow"]
    assert list(frame.columns) == [
        "run_id", "run_name", "experiment", "status", "start_time", "end_time", "duration", "user",
        "source_commit", "dirty", "parent_run_id", "ref",
        "params.depth", "params.model", "metrics.r2", "metrics.rmse", "tags.team",
    ]  # fmt: skip
    assert str(frame["start_time"].dt.tz) == "UTC"
    assert frame["duration"].dtype.kind == "m"
    assert frame["metrics.rmse"].dtype == "float64"
    assert frame.loc[0, "params.depth"] is None
    assert frame.loc[1, "tags.team"] == "ops"
    assert frame.loc[0, "ref"] == f"refs/runs/taxi/{runs['lin']}"
    runs_list = gittrack.search_runs(filter_string="params.model = 'rf'", output_format="list")
    assert [r.info.run_name for r in runs_list] == ["rf-shallow", "rf-deep"]
    assert runs_list[0].data.metrics == {"rmse": 0.7}
    empty = gittrack.search_runs(filter_string="metrics.rmse > 100")
    assert empty.empty
    assert list(empty.columns)[:4] == ["run_id", "run_name", "experiment", "status"]


def test_frames_are_the_same_from_the_index_fresh_or_warm_and_without_it(runs, repo: Path) -> None:
    client = gittrack.Client()
    running = client.create_run(experiment="taxi", run_name="live", params={"model": "rf"}).info.run_id
    client.log_metric(running, "rmse", math.inf)
    client.flush(running)
    repository = pygit2.Repository(str(repo))
    for view, query in (("active", ""), ("all", "params.model = 'rf'"), ("deleted", "")):
        scanned = search_runs(repository, filter_string=query, run_view=view, use_index=False)
        shutil.rmtree(repo / ".git" / "gittrack", ignore_errors=True)
        fresh = search_runs(repository, filter_string=query, run_view=view)  # builds the index: rows in memory
        warm = search_runs(repository, filter_string=query, run_view=view)  # columns straight from SQLite
        pd.testing.assert_frame_equal(fresh, scanned)
        pd.testing.assert_frame_equal(warm, scanned)
        if view == "active":
            assert scanned.loc[0, "status"] == "RUNNING"
            assert scanned.loc[0, "metrics.rmse"] == math.inf
            assert math.isnan(scanned.set_index("run_name").loc["nan-run", "metrics.rmse"])
            client.delete_runs([runs["lin"]])


def test_deleted_runs_view(runs) -> None:
    client = gittrack.Client()
    client.delete_runs([runs["lin"]])
    assert "lin" not in names(client.search_runs())
    assert names(client.search_runs(run_view="deleted")) == ["lin"]
    assert len(client.search_runs(run_view="all")) == 4
    assert [client.count_runs(run_view=view) for view in ("active", "deleted", "all")] == [3, 1, 4]
    assert client.count_runs(["taxi"], "params.model = 'rf'", run_view="all") == len(
        client.search_runs(["taxi"], "params.model = 'rf'", run_view="all")
    )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("metrics.rmse <", "expected a number or a quoted string at position 14, found 'end of filter'"),
        ("foo.bar = 1", "unknown column 'foo.bar' at position 0"),
        ("metrics.x = 'abc'", "compares with numbers"),
        ("params.model = 'rf", "unterminated quote at position 15"),
        ("params.model IN ()", "IN lists are not empty"),
        ("attributes.colour = 'red'", "unknown attribute 'colour'"),
        ("metrics.rmse < 1 AND", "expected a column"),
        ("(metrics.rmse < 1", "expected ')'"),
        ("metrics.rmse LIKE '1%'", "works on strings"),
        ("params.a = 1 params.b = 2", "expected AND, OR or the end of the filter at position 13"),
        ("attributes.start_time > 'yesterday'", "not epoch milliseconds or an ISO 8601 time"),
    ],
)
def test_filter_errors_name_the_position(bad: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(bad)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_arguments(runs) -> None:
    with pytest.raises(gittrack.UsageError, match="run_view"):
        gittrack.search_runs(run_view="archived")
    with pytest.raises(gittrack.UsageError, match="max_results"):
        gittrack.search_runs(max_results=0)
    with pytest.raises(gittrack.UsageError, match="order_by"):
        gittrack.search_runs(order_by=[" DESC"])
    with pytest.raises(gittrack.UsageError, match="offset"):
        gittrack.Client().find_rows(offset=-1)


def test_corrupt_index_is_rebuilt(runs, repo: Path, caplog) -> None:
    gittrack.search_runs()
    index = repo / ".git" / "gittrack" / "index.sqlite"
    assert index.exists()
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    index.write_bytes(b"this is not a database" * 100)
    assert names(gittrack.search_runs(filter_string="params.model = 'rf'")) == ["rf-shallow", "rf-deep"]
    assert "rebuilding" in caplog.text
    sqlite3.connect(index).execute("SELECT count(*) FROM runs").fetchone()


def test_index_notices_new_moved_and_deleted_refs(runs, repo: Path) -> None:
    assert len(gittrack.search_runs()) == 4
    client = gittrack.Client()
    new = client.create_run(run_name="new")
    assert "new" in names(gittrack.search_runs())  # RUNNING runs are listed too
    client.log_metric(new.info.run_id, "rmse", 0.1)
    client.set_terminated(new.info.run_id)
    assert names(gittrack.search_runs(filter_string="metrics.rmse < 0.2")) == ["new"]
    client.delete_runs([new.info.run_id])
    assert "new" not in names(gittrack.search_runs())


def test_an_unusable_index_falls_back_to_scanning(runs, repo: Path, caplog) -> None:
    folder = repo / ".git" / "gittrack"
    for path in folder.glob("index.sqlite*"):
        path.unlink()
    (folder / "index.sqlite").mkdir()  # something SQLite cannot open and gittrack cannot replace
    (folder / "index.sqlite" / "keep").write_text("x")
    assert names(gittrack.search_runs(filter_string="metrics.rmse < 0.5")) == ["rf-deep"]
    assert "reading every run instead" in caplog.text


def test_malformed_runs_are_skipped_by_search(runs, repo: Path, caplog) -> None:
    raw = pygit2.Repository(str(repo))
    raw.references.create("refs/runs/taxi/01aaaaaaaaaaaaaaaaaaaaaaaa", raw.head.target)
    assert len(gittrack.search_runs()) == 4
    assert "skipped refs/runs/taxi/01aaaaaaaaaaaaaaaaaaaaaaaa" in caplog.text


# -- the index path and the scan path agree, for random runs and random filters ---------------

KEYS = ["a", "b", "val loss"]
_values = st.sampled_from(["x", "y", "10", "9", "2.5", "rf", "RF"])
_numbers = st.sampled_from([0.0, 0.5, 1.0, 2.5, 10.0, -1.0, math.nan, math.inf, -math.inf, 1e300])
_run = st.fixed_dictionaries(
    {
        "params": st.dictionaries(st.sampled_from(KEYS), _values, max_size=3),
        "metrics": st.dictionaries(st.sampled_from(KEYS), _numbers, max_size=3),
        "tags": st.dictionaries(st.sampled_from(KEYS), _values, max_size=2),
        "experiment": st.sampled_from(["e1", "e2"]),
        "status": st.sampled_from(["FINISHED", "FAILED"]),
    }
)


@st.composite
def _comparison(draw) -> str:
    kind = draw(st.sampled_from(["metrics", "params", "tags", "attributes"]))
    if kind == "attributes":
        return draw(
            st.sampled_from(
                [
                    "attributes.status = 'FAILED'",
                    "attributes.experiment != 'e1'",
                    "attributes.run_name LIKE 'r%1'",
                    "attributes.parent_run_id = 'x'",
                ]
            )
        )
    key = draw(st.sampled_from(KEYS))
    column = f"{kind}.`{key}`"
    if kind == "metrics":
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        return f"{column} {op} {draw(st.sampled_from(['0', '0.5', '1', '2.5', '-1']))}"
    form = draw(st.sampled_from(["cmp", "num", "like", "in", "null"]))
    if form == "cmp":
        return f"{column} {draw(st.sampled_from(['=', '!=', '<', '>=']))} '{draw(_values)}'"
    if form == "num":
        return f"{column} {draw(st.sampled_from(['=', '<', '>']))} {draw(st.sampled_from(['2.5', '9', '10']))}"
    if form == "like":
        return f"{column} {draw(st.sampled_from(['LIKE', 'ILIKE']))} '{draw(st.sampled_from(['r%', '_', '%0', 'R_']))}'"
    if form == "in":
        return f"{column} {draw(st.sampled_from(['IN', 'NOT IN']))} ('x', '10')"
    return f"{column} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"


_filters = st.recursive(
    _comparison(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" AND ", " OR "]), inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
        inner.map(lambda f: f"NOT {f}"),
    ),
    max_leaves=5,
)
_orders = st.lists(
    st.sampled_from(["metrics.a", "metrics.b DESC", "params.a", "params.`val loss` DESC", "tags.b", "run_name DESC"]),
    max_size=2,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    runs=st.lists(_run, min_size=1, max_size=8),
    filters=st.lists(_filters, min_size=3, max_size=3),
    order=_orders,
    packed=st.sampled_from([None, ["e1"]]),
)
def test_index_and_scan_paths_agree(tmp_path_factory, runs, filters, order, packed) -> None:
    root = tmp_path_factory.mktemp("parity")
    pygit2.init_repository(str(root))
    client = gittrack.Client(root)
    for i, spec in enumerate(runs):
        run_id = client.create_run(spec["experiment"], f"r{i}", spec["params"], spec["tags"]).info.run_id
        for key, value in spec["metrics"].items():
            client.log_metric(run_id, key, value, step=0)
        client.set_terminated(run_id, spec["status"])
    if packed:
        client.pack_runs(packed)
    repo = pygit2.Repository(str(root))
    for text in filters:
        indexed = find_rows(repo, filter_string=text, order_by=order).rows
        scanned = find_rows(repo, filter_string=text, order_by=order, use_index=False).rows
        assert [r.run_id for r in indexed] == [r.run_id for r in scanned], text
        assert count_runs(repo, filter_string=text) == len(scanned), text
        for use_index in (True, False):  # a page further down: the same runs as slicing the whole list
            page = find_rows(repo, filter_string=text, order_by=order, max_results=2, offset=1, use_index=use_index)
            assert [r.run_id for r in page.rows] == [r.run_id for r in scanned[1:3]], text
        for a, b in zip(indexed, scanned, strict=True):
            assert a.params == b.params
            assert a.tags == b.tags
            assert a.metrics.keys() == b.metrics.keys()


def test_dataset_filters_match_any_dataset_of_the_run(repo: Path) -> None:
    client = gittrack.Client()
    specs = {"a": [("train", "d1", "training"), ("val", "d2", "eval")], "b": [("Train", "d3", "training")], "c": []}
    for name, datasets in specs.items():
        run_id = client.create_run(run_name=name).info.run_id
        for dataset, digest, context in datasets:
            client.log_dataset(run_id, dataset, digest, context)
        client.set_terminated(run_id)
    cases = {
        "dataset.name = 'train'": ["a"],
        "datasets.name ILIKE 'train'": ["b", "a"],
        "dataset.context = 'eval'": ["a"],
        "dataset.digest IN ('d3', 'd9')": ["b"],
        "dataset.name LIKE 'v%' OR dataset.digest = 'd3'": ["b", "a"],
        "dataset.name != 'train'": ["b", "a"],  # a has another dataset than train
        "dataset.name IS NULL": ["c"],
    }
    for filter_string, expected in cases.items():
        assert names(gittrack.search_runs(filter_string=filter_string)) == expected, filter_string
        scanned = find_rows(pygit2.Repository("."), filter_string=filter_string, use_index=False).rows
        assert [r.run_name for r in scanned] == expected, filter_string


def test_a_first_page_searched_by_halves_is_the_same(runs, repo: Path, monkeypatch) -> None:
    """A large index splits a first-page search between two connections: same rows, same order."""
    client = gittrack.Client()
    for i in range(12):
        run_id = client.create_run("taxi", f"extra-{i}", {"model": ("rf", "lin")[i % 2]}).info.run_id
        client.log_metric(run_id, "rmse", [0.3, math.nan, 0.1, math.inf][i % 4])
        client.set_terminated(run_id)
    client.delete_runs([runs["lin"]])
    repository = pygit2.Repository(str(repo))
    whole_newest = [r.run_id for r in find_rows(repository, None, "", None, 5).rows]
    cases = [("", None), ("params.model = 'rf'", ["metrics.rmse"]), ("metrics.rmse < 1", ["metrics.rmse DESC"]),
             ("", ["params.model", "run_name DESC"]), ("tags.`mlflow.runName` LIKE 'extra-%'", None)]  # fmt: skip
    for view in ("active", "all"):
        for text, order in cases:
            whole = [r.run_id for r in find_rows(repository, None, text, order, 5, view).rows]
            monkeypatch.setattr(SearchCache, "PARALLEL_MIN_RUNS", 1)
            halves = [r.run_id for r in find_rows(repository, None, text, order, 5, view).rows]
            monkeypatch.setattr(SearchCache, "PARALLEL_MIN_RUNS", 10**9)
            assert halves == whole, (text, order, view)
            monkeypatch.setattr(SearchCache, "PARALLEL_MIN_RUNS", 1)
            page = [r.run_id for r in find_rows(repository, None, text, order, 2, view, offset=3).rows]
            monkeypatch.setattr(SearchCache, "PARALLEL_MIN_RUNS", 10**9)
            assert page == [r.run_id for r in find_rows(repository, None, text, order, None, view).rows][3:5]
            assert len(whole) == min(5, len(find_rows(repository, None, text, order, None, view).rows))
    monkeypatch.setattr(SearchCache, "PARALLEL_MIN_RUNS", 1)
    monkeypatch.setattr(SearchCache, "PARALLEL_MAX_LIMIT", 2)  # a deep page: one query, as before
    assert [r.run_id for r in find_rows(repository, None, "", None, 5).rows] == whole_newest


def test_an_index_built_in_batches_answers_as_the_scan_does(runs, repo: Path, monkeypatch) -> None:
    """A large index is written a batch at a time and keeps no rows for its first search; its
    typed columns follow runs added, edited and deleted after they were made."""
    from gittrack._search import cache

    monkeypatch.setattr(SearchCache, "FRESH_MAX_RUNS", 0)
    monkeypatch.setattr(cache._Batch, "SIZE", 2)
    client = gittrack.Client()
    repository = pygit2.Repository(str(repo))
    filters = ["params.model = 'rf'", "metrics.rmse < 0.5", "tags.team LIKE 'o%'", "NOT metrics.rmse > 0.3",
               "params.depth > 2", "metrics.rmse IS NULL", "run_name LIKE 'rf-%w'", "params.model LIKE 'R_'",
               "NOT run_name LIKE 'rf%'", "run_name ILIKE 'RF-%'", "params.model LIKE '%f'"]  # fmt: skip

    def check() -> None:
        for text in filters:
            indexed = [r.run_id for r in find_rows(repository, filter_string=text, order_by=["metrics.rmse"]).rows]
            scanned = find_rows(repository, filter_string=text, order_by=["metrics.rmse"], use_index=False).rows
            assert indexed == [r.run_id for r in scanned], text

    check()
    monkeypatch.setattr(cache, "MAX_LIKE_VALUES", 0)  # LIKE run by run (as over many distinct values)
    check()
    added = client.create_run("taxi", "added", {"model": "rf", "depth": 7}, {"team": "ops"}).info.run_id
    client.log_metric(added, "rmse", math.nan)
    client.set_terminated(added)
    check()
    client.set_tag(runs["lin"], "team", "ops")  # an edit of an ended run: its tag column follows
    client.delete_runs([added])
    check()


def test_a_misspelt_experiment_or_an_mlflow_number_is_refused_not_answered_with_no_runs(runs, repo: Path) -> None:
    import gittrack.mlflow as mlflow
    from gittrack.mlflow.tracking import MlflowClient

    client = gittrack.Client()
    with pytest.raises(gittrack.NotFoundError, match=r"^no experiment named 'taix'; did you mean 'taxi'\?$"):
        client.search_runs("taix")
    with pytest.raises(gittrack.NotFoundError, match="did you mean 'taxi'"):
        client.search_runs(["other", "taix"])  # one good name does not hide a typo
    with pytest.raises(gittrack.NotFoundError, match="did you mean 'taxi'"):
        client.count_runs(["taix"])
    with pytest.raises(gittrack.NotFoundError, match="did you mean 'taxi'"):
        gittrack.list_runs("taix")
    with pytest.raises(gittrack.NotFoundError, match="did you mean 'taxi'"):
        search_runs(pygit2.Repository(str(repo)), "taix", use_index=False)
    numbered = "no experiment has the id '1': experiments are named here and an experiment's id is its name"
    for call in (
        lambda: MlflowClient().search_runs(experiment_ids="1"),
        lambda: mlflow.search_runs(experiment_ids=["1"]),
        lambda: mlflow.search_runs(experiment_ids=["1"], output_format="list"),
    ):
        with pytest.raises(gittrack.NotFoundError) as caught:
            call()
        assert str(caught.value).startswith(numbered)
        assert "use one of 'default', 'other', 'taxi'" in str(caught.value)
        assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"  # and an MlflowException
    # what exists is still answered: names, MLflow's "0" for default, an experiment with no runs yet
    assert len(MlflowClient().search_runs(experiment_ids="taxi")) == 3
    assert len(mlflow.search_runs(experiment_ids=["0"])) == 0
    assert len(mlflow.search_runs(experiment_ids=["taxi", "other"])) == 4
    client.create_experiment("fresh")
    assert client.search_runs("fresh").empty
    assert gittrack.list_runs("fresh") == []
    client.delete_runs([runs["nan-run"]])
    assert names(client.search_runs("other", run_view="deleted")) == ["nan-run"]  # only deleted runs: exists


def test_runs_list_and_the_ui_refuse_a_misspelt_experiment(runs, repo: Path, gittrack_cmd) -> None:
    import subprocess

    from starlette.testclient import TestClient

    from gittrack.ui.app import create_app

    typo = subprocess.run([*gittrack_cmd, "runs", "list", "-e", "taix"], capture_output=True, text=True, check=False)
    assert typo.returncode == 1
    assert typo.stderr == "error: no experiment named 'taix'; did you mean 'taxi'?\n"
    assert typo.stdout == ""
    number = subprocess.run([*gittrack_cmd, "runs", "list", "-e", "2"], capture_output=True, text=True, check=False)
    assert number.returncode == 1
    assert "no experiment has the id '2': experiments are named here" in number.stderr
    assert "Traceback" not in number.stderr
    listed = subprocess.run([*gittrack_cmd, "runs", "list", "-e", "taxi"], capture_output=True, text=True, check=True)
    assert "rf-deep" in listed.stdout
    with TestClient(create_app(repo), base_url="http://127.0.0.1:5151") as http:
        response = http.get("/api/runs", params={"experiment": "taix"})
        assert response.status_code == 404
        assert response.json()["error"] == "no experiment named 'taix'; did you mean 'taxi'?"
        assert http.get("/api/runs/count", params={"experiment": "taxi"}).json() == {"count": 3}
