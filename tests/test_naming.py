"""Experiment-name encoding and key validation."""

from __future__ import annotations

import pygit2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gittrack._store import naming
from gittrack.errors import InvalidNameError

names = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=60)


@given(names)
def test_experiment_names_round_trip_into_valid_refs(name: str) -> None:
    encoded = naming.encode_component(name)
    assert naming.decode_component(encoded) == name
    assert pygit2.reference_is_valid_name(f"refs/runs/{encoded}/01abc")
    # no upper-case letters outside escapes: 'Taxi' and 'taxi' never share a folder on macOS
    unescaped = "".join(part[2:] for part in ("%00" + encoded).split("%"))
    assert unescaped == unescaped.lower()


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("taxi", "taxi"),
        ("Taxi", "%54axi"),
        ("a b/c", "a%20b%2Fc"),
        (".hidden", "%2Ehidden"),
        ("a..b", "a.%2Eb"),
        ("model.lock", "model%2Elock"),
        ("end.", "end%2E"),
        ("数据", "%E6%95%B0%E6%8D%AE"),
        ("v1.2", "v1.2"),
    ],
)
def test_known_encodings(name: str, encoded: str) -> None:
    assert naming.encode_component(name) == encoded


@pytest.mark.parametrize("bad", ["%zz", "A", "a%2", "%61", "a..b", ""])
def test_non_canonical_components_are_refused(bad: str) -> None:
    with pytest.raises(InvalidNameError):
        naming.decode_component(bad)


@pytest.mark.parametrize("bad", ["", "line\nbreak", "tab\there", "x" * 300])
def test_invalid_experiment_names(bad: str) -> None:
    with pytest.raises(InvalidNameError):
        naming.validate_experiment(bad)


@pytest.mark.parametrize("good", ["rmse", "val loss", "train/acc", "a:b", "a-b_c.d", "精度"])
def test_valid_keys(good: str) -> None:
    assert naming.validate_key(good) == good


@pytest.mark.parametrize("bad", ["", "x" * 251, "a*b", "/abs", "a/../b", "a/./b", "semi;colon", "new\nline"])
def test_invalid_keys(bad: str) -> None:
    with pytest.raises(InvalidNameError):
        naming.validate_key(bad)


@given(st.text(alphabet=st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=250))
def test_metric_file_names_are_single_valid_components(key: str) -> None:
    filename = naming.metric_filename(key)
    assert "/" not in filename
    assert len(filename.encode()) <= 255
    assert filename.endswith(".tsv")


def test_run_ref_round_trip() -> None:
    ref = naming.run_ref("Taxi dur", "01m8ececerzkvva60vwm099xd6")
    assert naming.parse_run_ref(ref) == ("Taxi dur", "01m8ececerzkvva60vwm099xd6")
    with pytest.raises(InvalidNameError):
        naming.parse_run_ref("refs/runs/taxi/not-an-id")
    with pytest.raises(InvalidNameError):
        naming.parse_run_ref("refs/runs/taxi/extra/01m8ececerzkvva60vwm099xd6")
