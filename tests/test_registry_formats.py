"""Round trips of the registry's formats: GTO tag names and registry.yaml (hypothesis)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gittrack._registry import tags
from gittrack._registry.desired import Desired, Policy, parse, parse_no_worse, parse_threshold
from gittrack.errors import InvalidValueError
from tests.conftest import BIN, git

names = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9_-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
versions = st.builds(lambda a, b, c: f"v{a}.{b}.{c}", *(st.integers(0, 300),) * 3)
counters = st.integers(1, 10_000)


@given(names, versions, names, counters)
def test_tag_names_round_trip(model: str, version: str, stage: str, counter: int) -> None:
    for kind, expected in (
        (tags.REGISTER, tags.TagName(tags.REGISTER, model, version=version)),
        (tags.DEREGISTER, tags.TagName(tags.DEREGISTER, model, version=version)),
        (tags.ASSIGN, tags.TagName(tags.ASSIGN, model, stage=stage, counter=counter)),
        (tags.UNASSIGN, tags.TagName(tags.UNASSIGN, model, stage=stage, counter=counter)),
        (tags.DEPRECATE, tags.TagName(tags.DEPRECATE, model)),
    ):
        name = tags.format_tag(kind, model, version, stage, expected.counter)
        assert tags.parse_tag(name) == expected
        assert pygit2.reference_is_valid_name(f"refs/tags/{name}")


@given(st.lists(versions, min_size=2, max_size=6, unique=True))
def test_semver_order_matches_numeric_order(found: list[str]) -> None:
    numeric = sorted(found, key=lambda v: tuple(int(x) for x in v[1:].split(".")))
    assert sorted(found, key=tags.semver_key) == numeric
    assert tags.semver_key("v1.0.0-rc.1") < tags.semver_key("v1.0.0")


@given(
    st.dictionaries(names, st.dictionaries(names, versions, max_size=3), max_size=4),
    st.lists(names, max_size=3),
    st.floats(0, 1, allow_nan=False),
)
def test_registry_yaml_round_trips(models, guard, tolerance) -> None:
    desired = Desired(
        {m: s for m, s in models.items() if s},
        {
            "*": Policy(
                sorted(set(guard)),
                [{"metric": "rmse", "direction": "min", "tolerance": tolerance}],
                [{"metric": "auc", "op": ">=", "value": 0.8}],
            )
        },
    )
    back = parse(desired.to_bytes())
    assert back.models == desired.models
    assert back.policy("anything").guard == sorted(set(guard))
    assert back.policy("x").no_worse == desired.policies["*"].no_worse


@pytest.mark.parametrize("bad", ["rmse", "rmse:up", "rmse:min:x", "rmse:min:inf"])
def test_bad_no_worse_rules(bad: str) -> None:
    with pytest.raises(InvalidValueError):
        parse_no_worse(bad)


@pytest.mark.parametrize("bad", ["auc", "auc:=>:1", "auc:>=:nan", "auc:>="])
def test_bad_thresholds(bad: str) -> None:
    with pytest.raises(InvalidValueError):
        parse_threshold(bad)


@pytest.mark.parametrize(
    ("word", "symbol"), [("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("eq", "=="), ("GE", ">=")]
)
def test_thresholds_in_words_need_no_shell_quoting(word: str, symbol: str) -> None:
    assert parse_threshold(f"auc:{word}:0.8") == parse_threshold(f"auc:{symbol}:0.8")
    assert parse_threshold(f"auc:{word}:0.8") == {"metric": "auc", "op": symbol, "value": 0.8}


def test_the_documented_policy_commands_survive_the_shell(repo: Path) -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "promotions.md").read_text()
    block = page.split("### `gittrack promotions policy`", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    examples = [c for c in block.replace("\\\n", " ").splitlines() if "--threshold" in c and "auc" in c]
    assert len(examples) == 2
    for example in examples:
        done = subprocess.run(["sh", "-c", example], cwd=repo, capture_output=True, text=True,
                              env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"})  # fmt: skip
        assert done.returncode == 0, done.stderr
    # no stray file (no shell redirect), and the second, "the same" rule is the first one: kept once
    assert git(repo, "status", "--porcelain", "--untracked-files=all").split() == []
    rules = parse((repo / "registry.yaml").read_bytes()).policy("churn").thresholds
    assert rules == [{"metric": "auc", "op": ">=", "value": 0.8}]
