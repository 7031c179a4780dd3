"""The engine paces the cyclic garbage collector while a search runs, and restores it after."""

from __future__ import annotations

import gc

import pytest
from search_test_fakes import EndlessEnvironment, EndlessPolicy

from search.best_first import best_first_search
from search.engine import SEARCH_GC_THRESHOLD0, collector_paced
from search.mcts import mcts_search
from search.types import Budget, Theorem


@pytest.fixture
def default_threshold():
    """Run the test from Python's default thresholds and put back whatever was set before."""
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


@pytest.mark.parametrize("search", [mcts_search, best_first_search])
def test_a_search_raises_the_first_threshold_while_it_runs_and_restores_it(search, default_threshold) -> None:
    env, seen = EndlessEnvironment(), []
    root = env.start(Theorem("t", "0"))
    result = search(env, EndlessPolicy(), root, budget=Budget(max_expansions=5),
                    on_step=lambda _: seen.append(gc.get_threshold()))
    assert result.expansions == 5
    assert seen == [(SEARCH_GC_THRESHOLD0, 10, 10)] * 5
    assert gc.get_threshold() == (700, 10, 10)


def test_a_search_that_raises_still_restores_the_threshold(default_threshold) -> None:
    def failing(_: int) -> None:
        raise RuntimeError("boom")

    env = EndlessEnvironment()
    with pytest.raises(RuntimeError, match="boom"):
        mcts_search(env, EndlessPolicy(), env.start(Theorem("t", "0")), budget=Budget(max_expansions=5),
                    on_step=failing)
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_searches_restore_the_threshold_set_before_the_first(default_threshold) -> None:
    first, second = collector_paced(), collector_paced()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first to start ends first: the other still runs paced
    assert gc.get_threshold()[0] == SEARCH_GC_THRESHOLD0
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_set_by_the_caller_is_kept(default_threshold) -> None:
    gc.set_threshold(SEARCH_GC_THRESHOLD0 * 2, 10, 10)
    with collector_paced():
        assert gc.get_threshold()[0] == SEARCH_GC_THRESHOLD0 * 2
    assert gc.get_threshold()[0] == SEARCH_GC_THRESHOLD0 * 2
