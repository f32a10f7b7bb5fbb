"""The YAML emitter: whatever it writes, a standard safe YAML loader reads back unchanged."""

from __future__ import annotations

import math

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gittrack._store.yamlio import dump_yaml

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=400)
@given(st.dictionaries(text, values, max_size=6))
def test_emitted_yaml_loads_back_identically(data) -> None:
    emitted = dump_yaml(data)
    assert _same(yaml.safe_load(emitted.decode("utf-8")), data)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert _same(yaml.load(emitted, Loader=loader), data)


def test_tricky_scalars_stay_strings() -> None:
    tricky = "yes No on y null ~ 1e-05 0x1F 012 1:20 2026-01-01 trailing: #x @x".split()
    tricky += ["- a", "a: b", " padded ", "", "\u2028", "\x85", "\ufeff", "tab\there", "back\\slash"]
    data = {"v": tricky, "f": [1e-05, 1e16, -0.0, 1.5]}
    back = yaml.safe_load(dump_yaml(data).decode())
    assert back["v"] == tricky
    assert back["f"] == [1e-05, 1e16, -0.0, 1.5]


def test_output_is_readable_block_yaml() -> None:
    out = dump_yaml({"schema": 1, "name": "brave-owl-1", "params": {"lr": "0.1"}, "excluded": [{"path": ".env"}]})
    assert out.decode() == 'schema: 1\nname: brave-owl-1\nparams:\n  lr: "0.1"\nexcluded:\n- path: ".env"\n'
