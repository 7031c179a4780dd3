"""Best-first search on fakes whose proofs are known by hand."""

from __future__ import annotations

import json

import pytest
from search_test_fakes import (
    DEAD_MAZE_TABLE,
    MAZE_SHORTEST_PROOF,
    MAZE_TABLE,
    MAZE_WEIGHTS,
    QED,
    EndlessEnvironment,
    EndlessPolicy,
    FakeClock,
    ShuffledPolicy,
    SubtractionPolicy,
    SubtractionPuzzle,
    TableEnvironment,
    TablePolicy,
)

from search.best_first import BestFirstSettings, best_first_search
from search.tree import AttemptOutcome, NodeStatus, ProofGraph
from search.types import Budget, SearchResult, SearchStatus, Theorem
from search.values import HeuristicValue

CHECKED = BestFirstSettings(check_invariants=True)


def run_puzzle(target: str, moves: dict[int, float], budget: Budget = Budget(max_expansions=1000), **settings):
    env = SubtractionPuzzle()
    theorem = Theorem("t", target)
    result = best_first_search(env, SubtractionPolicy(moves), env.start(theorem), budget=budget,
                               settings=BestFirstSettings(check_invariants=True, **settings))
    return env, theorem, result


def test_finds_the_most_likely_proof_of_the_subtraction_puzzle() -> None:
    # 7: sub 5 -> 2 (log .5), sub 2 -> 5 (log .3), sub 1 -> 6; then 2 is most likely and sub 2 closes it.
    env, theorem, result = run_puzzle("7", {5: 0.5, 2: 0.3, 1: 0.2})
    assert result.status is SearchStatus.PROVED
    assert result.proof == ("sub 5", "sub 2")
    assert result.expansions == 5 == len(env.steps)
    assert env.verify(theorem, result.proof).accepted
    assert result.graph.extract_proof() == result.proof


def test_maze_proof_goes_around_dead_ends_cycles_and_through_a_transposition() -> None:
    env = TableEnvironment(MAZE_TABLE)
    theorem = Theorem("maze", "root")
    result = best_first_search(env, TablePolicy(MAZE_WEIGHTS), env.start(theorem),
                               budget=Budget(max_expansions=100), settings=CHECKED)
    assert result.status is SearchStatus.PROVED
    assert result.proof == MAZE_SHORTEST_PROOF
    assert env.verify(theorem, result.proof).accepted
    graph = result.graph
    assert sorted(graph.parents("C")) == ["B", "root"]  # transposition: one node, two routes
    assert graph.status("A") is NodeStatus.FAILED  # a dead end and a refused cycle below it
    assert graph.attempt("A2", "back").outcome.value == "cycle"


def test_unprovable_maze_is_exhausted_with_a_failed_root() -> None:
    env = TableEnvironment(DEAD_MAZE_TABLE)
    result = best_first_search(env, TablePolicy(MAZE_WEIGHTS), env.start(Theorem("maze", "root")),
                               budget=Budget(max_expansions=100), settings=CHECKED)
    assert result.status is SearchStatus.EXHAUSTED and result.proof is None
    assert result.graph.status("root") is NodeStatus.FAILED
    assert result.expansions == sum(len(tactics) for tactics in DEAD_MAZE_TABLE.values())


def test_an_unreachable_target_is_exhausted() -> None:
    _, _, result = run_puzzle("3", {2: 1.0})  # 3 -> 1 -> fails
    assert result.status is SearchStatus.EXHAUSTED
    assert result.expansions == 2


@pytest.mark.parametrize("seed", range(5))
def test_candidate_order_from_the_policy_changes_nothing(seed: int) -> None:
    def run(policy):
        env = SubtractionPuzzle()
        return best_first_search(env, policy, env.start(Theorem("t", "23")), budget=Budget(max_expansions=500))

    moves = {1: 0.1, 3: 0.2, 4: 0.2, 7: 0.25, 9: 0.25}  # equal probabilities on purpose
    plain = run(SubtractionPolicy(moves))
    shuffled = run(ShuffledPolicy(SubtractionPolicy(moves), seed))
    assert plain.status is SearchStatus.PROVED
    assert shuffled.proof == plain.proof
    assert json.dumps(shuffled.graph.to_json()) == json.dumps(plain.graph.to_json())


def test_expansion_budget_is_exact_and_on_step_counts_each_step() -> None:
    env = EndlessEnvironment()
    seen: list[int] = []
    result = best_first_search(env, EndlessPolicy(), env.start(Theorem("e", "")), budget=Budget(max_expansions=37),
                               settings=CHECKED, on_step=seen.append)
    assert result.status is SearchStatus.OUT_OF_BUDGET
    assert result.expansions == len(env.steps) == 37
    assert seen == list(range(1, 38))


def test_seconds_budget_stops_on_the_injected_clock_and_splits_policy_and_env_time() -> None:
    clock = FakeClock()
    env = EndlessEnvironment(clock=clock, step_seconds=1.0)
    result = best_first_search(env, EndlessPolicy(), env.start(Theorem("e", "")),
                               budget=Budget(max_seconds=5.5), settings=BestFirstSettings(clock=clock))
    assert result.status is SearchStatus.OUT_OF_BUDGET
    assert result.expansions == 6
    assert result.seconds == result.env_seconds == 6.0
    assert result.policy_seconds == 0.0


def test_several_states_per_policy_call_are_sent_as_one_batch() -> None:
    class CountingBatches(EndlessPolicy):
        def __init__(self) -> None:
            super().__init__()
            self.batch_sizes: list[int] = []

        def propose_batch(self, states, n):
            self.batch_sizes.append(len(states))
            return super().propose_batch(states, n)

    env = EndlessEnvironment()
    policy = CountingBatches()
    best_first_search(env, policy, env.start(Theorem("e", "")), budget=Budget(max_expansions=40),
                      settings=BestFirstSettings(candidates_per_state=3, states_per_policy_call=3, check_invariants=True))
    assert policy.batch_sizes[0] == 1 and max(policy.batch_sizes) == 3


def test_a_critic_value_replaces_log_probability_as_priority() -> None:
    # From 11: sub 1 -> 10 is likely, sub 9 -> 2 is not. By log-probability, 10 is expanded first
    # (10 -> 9 -> proved by sub 9); the heuristic value prefers the shorter goal "2" (2 -> 1 -> proved).
    def run(priority):
        env = SubtractionPuzzle()
        settings = BestFirstSettings(priority=priority, check_invariants=True)
        return best_first_search(env, SubtractionPolicy({1: 0.9, 9: 0.1}), env.start(Theorem("t", "11")),
                                 budget=Budget(max_expansions=100), value=HeuristicValue(), settings=settings)

    assert run("log_prob").proof == ("sub 1", "sub 1", "sub 9")  # the value passed in is not used
    by_value = run("value")
    assert by_value.proof == ("sub 9", "sub 1", "sub 1")
    assert by_value.graph.stats("2").evaluation == HeuristicValue().value(by_value.graph.state("2"))


def test_value_priority_without_a_value_function_is_refused() -> None:
    env = SubtractionPuzzle()
    with pytest.raises(ValueError, match="needs a value function"):
        best_first_search(env, SubtractionPolicy({1: 1.0}), env.start(Theorem("t", "2")), budget=Budget(),
                          settings=BestFirstSettings(priority="value"))


@pytest.mark.parametrize("cut", [1, 2, 4, 7])
def test_a_saved_search_resumes_to_the_same_proof_without_redoing_steps(cut: int) -> None:
    moves = {1: 0.1, 3: 0.2, 4: 0.2, 7: 0.25, 9: 0.25}
    whole_env, theorem = SubtractionPuzzle(), Theorem("t", "23")
    whole = best_first_search(whole_env, SubtractionPolicy(moves), whole_env.start(theorem),
                              budget=Budget(max_expansions=500), settings=CHECKED)
    first_env = SubtractionPuzzle()
    partial = best_first_search(first_env, SubtractionPolicy(moves), first_env.start(theorem),
                                budget=Budget(max_expansions=cut), settings=CHECKED)
    assert partial.status is SearchStatus.OUT_OF_BUDGET
    env = SubtractionPuzzle()
    resumed = best_first_search(env, SubtractionPolicy(moves), env.start(theorem), budget=Budget(max_expansions=500),
                                settings=CHECKED, graph=ProofGraph.from_json(json.loads(json.dumps(partial.graph.to_json()))))
    assert resumed.status is SearchStatus.PROVED and resumed.proof == whole.proof
    assert not set(env.steps) & set(first_env.steps)
    assert partial.expansions + resumed.expansions == whole.expansions
    assert all(a.outcome is not AttemptOutcome.UNTRIED for a in resumed.graph.attempts(resumed.graph.root))


def test_overhead_is_the_search_time_outside_policy_prover_and_kernel() -> None:
    clock = FakeClock()

    class SlowPolicy(EndlessPolicy):
        def propose_batch(self, states, n):  # type: ignore[no-untyped-def]
            clock.advance(0.5)  # model time
            return super().propose_batch(states, n)

    env = EndlessEnvironment(clock=clock, step_seconds=1.0)
    result = best_first_search(env, SlowPolicy(), env.start(Theorem("e", "")), budget=Budget(max_expansions=4),
                               settings=BestFirstSettings(clock=clock, candidates_per_state=4))
    assert (result.seconds, result.env_seconds, result.policy_seconds) == (4.5, 4.0, 0.5)
    assert result.overhead_seconds == 0.0 and result.overhead_fraction == 0.0  # the fake clock moves only outside
    measured = SearchResult(SearchStatus.OUT_OF_BUDGET, None, expansions=10, seconds=10.0, policy_seconds=1.0,
                            env_seconds=7.0, verify_seconds=1.5)
    assert measured.overhead_seconds == pytest.approx(0.5) and measured.overhead_fraction == pytest.approx(0.05)


# ---------------------------------------------------------------- one edge at a time (expansion="one")
EDGES = BestFirstSettings(check_invariants=True, expansion="one")
UNLIKELY = {f"u{i}": None for i in range(6)}  # six dead candidates at the root


def _likely_step_table(closing_weight: float) -> tuple[dict, dict]:
    table = {"root": {"likely": "X", **UNLIKELY}, "X": {"close": QED}}
    weights = {"root": {"likely": 0.6, **{tactic: 0.05 for tactic in UNLIKELY}}, "X": {"close": closing_weight}}
    return table, weights


@pytest.mark.parametrize("expansion, closing_weight, expansions", [
    ("one", 0.9, 2),  # X's closer (0.6 * 0.9) is likelier than any root candidate left (0.05)
    ("all", 0.9, 8),  # every root candidate is tried before X
    ("one", 0.01, 8),  # 0.6 * 0.01 < 0.05: the root's candidates do come first
])
def test_one_edge_at_a_time_tries_a_likely_deep_step_before_the_roots_unlikely_candidates(
    expansion: str, closing_weight: float, expansions: int
) -> None:
    table, weights = _likely_step_table(closing_weight)
    env, policy = TableEnvironment(table), TablePolicy(weights)
    result = best_first_search(env, policy, env.start(Theorem("t", "root")), budget=Budget(max_expansions=100),
                               settings=BestFirstSettings(check_invariants=True, expansion=expansion))  # type: ignore[arg-type]
    assert result.status is SearchStatus.PROVED and result.proof == ("likely", "close")
    assert result.expansions == expansions == len(env.steps)
    untried = [t for t in UNLIKELY if result.graph.attempt("root", t).outcome is AttemptOutcome.UNTRIED]
    assert len(untried) == (6 if expansions == 2 else 0)
    assert len(policy.requests) == 2  # the policy is asked once per state either way


def test_one_edge_at_a_time_finds_the_likeliest_proof_of_the_maze() -> None:
    env = TableEnvironment(MAZE_TABLE)
    theorem = Theorem("maze", "root")
    result = best_first_search(env, TablePolicy(MAZE_WEIGHTS), env.start(theorem),
                               budget=Budget(max_expansions=100), settings=EDGES)
    # b, q, r (0.6 * 0.74 * 0.37 = 0.16) is likelier than c, r (0.135 * 0.37 = 0.05), which the
    # whole-state expansion returns because it reaches C through c first.
    assert result.status is SearchStatus.PROVED and result.proof == ("b", "q", "r")
    assert env.verify(theorem, result.proof).accepted
    assert result.graph.attempt("root", "c").outcome is AttemptOutcome.UNTRIED


def test_one_edge_at_a_time_exhausts_the_dead_maze_trying_each_edge_once() -> None:
    env = TableEnvironment(DEAD_MAZE_TABLE)
    result = best_first_search(env, TablePolicy(MAZE_WEIGHTS), env.start(Theorem("maze", "root")),
                               budget=Budget(max_expansions=100), settings=EDGES)
    assert result.status is SearchStatus.EXHAUSTED and result.proof is None
    assert result.graph.status("root") is NodeStatus.FAILED
    assert result.expansions == sum(len(tactics) for tactics in DEAD_MAZE_TABLE.values()) == len(set(env.steps))


@pytest.mark.parametrize("seed", range(3))
def test_one_edge_at_a_time_is_deterministic_whatever_the_policys_order(seed: int) -> None:
    def run(policy):
        env = SubtractionPuzzle()
        return best_first_search(env, policy, env.start(Theorem("t", "23")), budget=Budget(max_expansions=500),
                                 settings=EDGES)

    moves = {1: 0.1, 3: 0.2, 4: 0.2, 7: 0.25, 9: 0.25}
    plain = run(SubtractionPolicy(moves))
    shuffled = run(ShuffledPolicy(SubtractionPolicy(moves), seed))
    assert plain.status is SearchStatus.PROVED
    assert json.dumps(shuffled.graph.to_json()) == json.dumps(plain.graph.to_json())


@pytest.mark.parametrize("cut", [1, 2, 3, 5])
def test_one_edge_at_a_time_resumes_a_saved_search_without_redoing_steps(cut: int) -> None:
    moves = {1: 0.1, 3: 0.2, 4: 0.2, 7: 0.25, 9: 0.25}
    theorem = Theorem("t", "23")
    whole_env, first_env, env = SubtractionPuzzle(), SubtractionPuzzle(), SubtractionPuzzle()
    whole = best_first_search(whole_env, SubtractionPolicy(moves), whole_env.start(theorem),
                              budget=Budget(max_expansions=500), settings=EDGES)
    partial = best_first_search(first_env, SubtractionPolicy(moves), first_env.start(theorem),
                                budget=Budget(max_expansions=cut), settings=EDGES)
    assert partial.status is SearchStatus.OUT_OF_BUDGET
    saved = ProofGraph.from_json(json.loads(json.dumps(partial.graph.to_json())))
    resumed = best_first_search(env, SubtractionPolicy(moves), env.start(theorem), budget=Budget(max_expansions=500),
                                settings=EDGES, graph=saved)
    assert resumed.status is SearchStatus.PROVED and resumed.proof == whole.proof
    assert not set(env.steps) & set(first_env.steps)
    assert partial.expansions + resumed.expansions == whole.expansions


def test_one_edge_at_a_time_keeps_the_expansion_budget_exact() -> None:
    env = EndlessEnvironment()
    result = best_first_search(env, EndlessPolicy(), env.start(Theorem("e", "")), budget=Budget(max_expansions=37),
                               settings=EDGES)
    assert result.status is SearchStatus.OUT_OF_BUDGET and result.expansions == len(env.steps) == 37


def test_one_edge_at_a_time_with_a_critic_prefers_the_valued_state() -> None:
    env = SubtractionPuzzle()
    settings = BestFirstSettings(priority="value", expansion="one", check_invariants=True)
    result = best_first_search(env, SubtractionPolicy({1: 0.9, 9: 0.1}), env.start(Theorem("t", "11")),
                               budget=Budget(max_expansions=100), value=HeuristicValue(), settings=settings)
    assert result.proof == ("sub 9", "sub 1", "sub 1")


def test_an_unknown_expansion_is_refused() -> None:
    with pytest.raises(ValueError, match="expansion"):
        BestFirstSettings(expansion="some")  # type: ignore[arg-type]
