"""The search space parser: clear errors for every mistake, a round trip for every valid space,
and sampled values inside their ranges (property-based)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gittrack.sweeps.space import (
    SpaceError,
    check_command,
    dump_space,
    fill_command,
    load_space,
    parse_space,
    suggest,
)

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,20}", fullmatch=True)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def float_specs(draw):
    low = draw(finite)
    if draw(st.booleans()):  # a stepped range: a whole number of steps
        step = draw(st.sampled_from([0.001, 0.01, 0.25, 0.5, 1.0, 10.0]))
        low = round(low, 3)
        return {"type": "float", "low": low, "high": low + draw(st.integers(0, 100)) * step, "step": step}
    high = draw(st.floats(min_value=low, max_value=low + 1e6, allow_nan=False))
    spec = {"type": "float", "low": low, "high": high}
    if draw(st.booleans()) and low > 0:
        spec["log"] = True
    return spec


@st.composite
def int_specs(draw):
    low = draw(st.integers(-1000, 1000))
    step = draw(st.integers(1, 10))
    high = low + step * draw(st.integers(0, 100))
    spec = {"type": "int", "low": low, "high": high}
    if draw(st.booleans()) and low > 0:
        spec["log"] = True
    elif step > 1:
        spec["step"] = step
    return spec


scalars = st.one_of(st.text(max_size=10), st.integers(), finite, st.booleans(), st.none())
categorical_specs = st.builds(
    lambda c: {"type": "categorical", "choices": c},
    st.lists(scalars, min_size=1, max_size=6, unique_by=lambda v: (type(v), v)),
)
specs = st.one_of(float_specs(), int_specs(), categorical_specs)
spaces = st.dictionaries(names, specs, min_size=1, max_size=5)


@given(spaces)
def test_a_valid_space_round_trips(space) -> None:
    params = parse_space(space)
    assert [p.name for p in params] == list(space)
    assert parse_space(dump_space(params)) == params


junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
near_miss = st.dictionaries(
    names,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["float", "int", "categorical", "uniform", 3])},
        optional={"low": junk, "high": junk, "log": junk, "step": junk, "choices": junk, "extra": junk},
    ),
    min_size=1,
    max_size=3,
)


@given(st.one_of(junk, near_miss))
@settings(max_examples=300)
def test_any_input_parses_or_raises_a_space_error(data) -> None:
    try:
        params = parse_space(data)
    except SpaceError as exc:
        message = str(exc)
    else:
        assert parse_space(dump_space(params)) == params
        return
    assert message
    assert "\n" not in message


@pytest.mark.filterwarnings("ignore:The distribution is specified by")  # float steps at large magnitudes
@given(spaces, st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_sampled_values_lie_in_the_space(space, seed) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params = parse_space(space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    values = suggest(study.ask(), params)
    for p in params:
        assert p.contains(values[p.name]), (p, values[p.name])


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ([1, 2], "must be a mapping of param names"),
        ({"lr": {"type": "float", "low": 0.1}}, "lr: high is missing"),
        ({"lr": {"type": "float", "low": 0.1, "high": 0.01}}, "low (0.1) must not be above high (0.01)"),
        ({"lr": {"type": "float", "low": 0, "high": 1, "log": True}}, "a log scale needs low > 0"),
        ({"lr": {"type": "floot", "low": 0, "high": 1}}, "type must be one of float, int, categorical"),
        ({"lr": {"type": "float", "low": 0, "high": 1, "lg": True}}, "unknown key(s) lg"),
        ({"d": {"type": "int", "low": 1.5, "high": 3}}, "low must be a whole number"),
        ({"m": {"type": "categorical", "choices": []}}, "choices must be a non-empty list"),
        ({"m": {"type": "categorical", "choices": ["a", "a"]}}, "choice 'a' is listed twice"),
        ({"1x": {"type": "int", "low": 1, "high": 2}}, "must start with a letter"),
        ({"d": {"type": "int", "low": 1, "high": 8, "step": 2}}, "high - low (7) must be a whole number of steps (2)"),
    ],
)
def test_mistakes_are_named(space, message) -> None:
    with pytest.raises(SpaceError) as caught:
        parse_space(space)
    assert message in str(caught.value)


def test_yaml_numbers_without_a_dot_are_numbers(tmp_path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("lr: {type: float, low: 1e-4, high: 1e-1, log: true}\ndepth: {type: int, low: 2, high: 8}\n"
                    "model: {type: categorical, choices: [a, b]}\n")  # fmt: skip
    lr, depth, model = load_space(path)
    assert (lr.low, lr.high, lr.log) == (1e-4, 0.1, True)
    assert (depth.low, depth.high) == (2, 8)
    assert model.choices == ("a", "b")
    path.write_text("lr: {type: float, low: [1\n")
    with pytest.raises(SpaceError, match="not valid YAML at line"):
        load_space(path)


def test_the_command_gets_the_values() -> None:
    params = parse_space({"lr": {"type": "float", "low": 0.1, "high": 1}, "model": {"type": "categorical",
                                                                                    "choices": ["a"]}})  # fmt: skip
    command = ["python", "train.py", "--lr={lr}", "{model}", '{"json": 1}']
    check_command(command, params)
    assert fill_command(command, {"lr": 0.5, "model": "a"}) == ["python", "train.py", "--lr=0.5", "a", '{"json": 1}']
    with pytest.raises(SpaceError, match=r"refers to \{depth\}, which is not a param"):
        check_command(["train.py", "{depth}"], params)


def test_a_grid_needs_steps_for_floats() -> None:
    (p,) = parse_space({"x": {"type": "float", "low": 0, "high": 1, "step": 0.25}})
    assert p.grid() == [0.0, 0.25, 0.5, 0.75, 1.0]
    (q,) = parse_space({"x": {"type": "float", "low": 0, "high": 1}})
    with pytest.raises(SpaceError, match="a grid search needs 'step'"):
        q.grid()
    assert all(math.isfinite(v) for v in p.grid())
