"""Value functions stay in [0, 1] and order states as documented."""

from __future__ import annotations

import math

import pytest
from search_test_fakes import SubtractionPolicy

from search.types import State, ValueFunction
from search.values import ConstantValue, HeuristicValue, MinOverGoalsValue, PolicyScoreValue


def test_every_value_function_meets_the_protocol() -> None:
    for value in (ConstantValue(), HeuristicValue(), PolicyScoreValue(SubtractionPolicy({1: 1.0})),
                  MinOverGoalsValue(HeuristicValue())):
        assert isinstance(value, ValueFunction)


def test_heuristic_prefers_fewer_and_smaller_goals_and_stays_in_unit_interval() -> None:
    value = HeuristicValue().value
    one_small = value(State(("x = 1",)))
    one_large = value(State(("x = 1 + " + "y * " * 200,)))
    two_small = value(State(("x = 1", "y = 2")))
    assert value(State(())) == 1.0
    assert 1.0 > one_small > two_small > 0.0
    assert one_small > one_large > 0.0
    assert 0.0 < value(State(tuple("g" * 5000 for _ in range(50)))) <= 1.0


def test_constant_value_is_constant_and_checked() -> None:
    assert ConstantValue(0.3).value(State(("a",))) == ConstantValue(0.3).value(State(("b", "c"))) == 0.3
    with pytest.raises(ValueError):
        ConstantValue(1.5)


def test_policy_score_is_the_best_candidates_probability_and_is_cached() -> None:
    policy = SubtractionPolicy({1: 0.7, 2: 0.3})
    value = PolicyScoreValue(policy, cache_size=1)
    assert value.value(State(("5",))) == pytest.approx(0.7)
    assert value.value(State(("5",))) == pytest.approx(0.7)
    assert len(policy.requests) == 1
    value.value(State(("6",)))
    value.value(State(("5",)))  # evicted by the bounded cache: asked again
    assert len(policy.requests) == 3
    assert PolicyScoreValue(SubtractionPolicy({})).value(State(("5",))) == 0.0
    assert math.isclose(PolicyScoreValue(policy).value(State(())), 1.0)


def test_min_over_goals_values_a_state_by_its_hardest_goal() -> None:
    value = MinOverGoalsValue(HeuristicValue())
    easy, hard = "x = 1", "x = " + "y + " * 300
    assert value.value(State((easy, hard))) == HeuristicValue().value(State((hard,)))
    assert value.value(State((easy, hard))) > HeuristicValue().value(State((easy, hard)))  # no per-goal penalty
    assert value.value(State(())) == 1.0
