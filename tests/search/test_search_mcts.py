"""MCTS on fakes whose proofs are known: PUCT, widening, terminals, transpositions, virtual loss, budgets."""

from __future__ import annotations

import json
import math

import pytest
from search_test_fakes import (
    DEAD_MAZE_TABLE,
    MAZE_TABLE,
    MAZE_WEIGHTS,
    EndlessEnvironment,
    EndlessPolicy,
    FakeClock,
    LastInFirstOutExecutor,
    RecordingExecutor,
    ShuffledPolicy,
    SubtractionPolicy,
    SubtractionPuzzle,
    TableEnvironment,
    TablePolicy,
)

from search.mcts import ActionStats, MctsSettings, Puct, mcts_search
from search.tree import AttemptOutcome, NodeStatus, ProofGraph
from search.types import Budget, SearchStatus, Theorem
from search.values import ConstantValue

CHECKED = MctsSettings(check_invariants=True)


def run(env, policy, statement: str, budget: Budget = Budget(max_expansions=300), **kwargs):
    kwargs.setdefault("settings", CHECKED)
    theorem = Theorem("t", statement)
    return theorem, mcts_search(env, policy, env.start(theorem), budget=budget, **kwargs)


def test_puct_rule_matches_the_alphazero_formula() -> None:
    action = ActionStats(prior=0.25, visits=3.0, mean_value=0.4, log_prob=math.log(0.25))
    assert Puct(c_puct=2.0, c_base=None)(action, 16.0) == pytest.approx(0.4 + 2.0 * 0.25 * 4.0 / 4.0)
    with_base = 1.25 + math.log((16.0 + 19652.0 + 1.0) / 19652.0)
    assert Puct()(action, 16.0) == pytest.approx(0.4 + with_base * 0.25 * 4.0 / 4.0)


@pytest.mark.parametrize("target, moves, shortest", [
    ("7", {5: 0.5, 2: 0.3, 1: 0.2}, 2),
    ("23", {1: 0.1, 3: 0.2, 4: 0.2, 7: 0.25, 9: 0.25}, 3),
    ("4 6", {2: 0.5, 3: 0.3, 1: 0.2}, 4),  # two goals, each closed by its own steps
])
def test_finds_a_verified_proof_of_the_subtraction_puzzle(target: str, moves: dict[int, float], shortest: int) -> None:
    env = SubtractionPuzzle()
    theorem, result = run(env, SubtractionPolicy(moves), target)
    assert result.status is SearchStatus.PROVED
    assert env.verify(theorem, result.proof).accepted
    assert len(result.proof) >= shortest  # MCTS promises a proof, not the shortest one
    assert len(result.graph.extract_proof()) <= len(result.proof)
    assert result.graph.status(result.graph.root) is NodeStatus.PROVED


def test_maze_proof_avoids_dead_ends_and_refuses_the_cycle() -> None:
    env = TableEnvironment(MAZE_TABLE)
    theorem, result = run(env, TablePolicy(MAZE_WEIGHTS), "root")
    assert result.status is SearchStatus.PROVED
    assert env.verify(theorem, result.proof).accepted
    # the likelier route b, q reaches C first and proves it; the unlikely direct c need not be tried
    assert result.proof in {("c", "r"), ("b", "q", "r")}
    assert sorted(result.graph.parents("C")) in (["B"], ["B", "root"], ["root"])


def test_finds_the_only_proof_of_the_maze_without_its_shortcut() -> None:
    table = {**MAZE_TABLE, "root": {"a": "A", "b": "B"}}  # only b, q, r proves
    env = TableEnvironment(table)
    theorem, result = run(env, TablePolicy(MAZE_WEIGHTS), "root")
    assert result.proof == ("b", "q", "r")
    assert env.verify(theorem, result.proof).accepted


def test_unprovable_maze_is_exhausted_and_every_state_failed() -> None:
    env = TableEnvironment(DEAD_MAZE_TABLE)
    _, result = run(env, TablePolicy(MAZE_WEIGHTS), "root")
    assert result.status is SearchStatus.EXHAUSTED and result.proof is None
    graph = result.graph
    assert all(graph.status(key) is NodeStatus.FAILED for key in graph.keys())
    assert graph.attempt("A2", "back").outcome is AttemptOutcome.CYCLE
    # each (state, tactic) was sent once: failed subtrees draw no further visits
    assert len(env.steps) == len(set(env.steps)) == result.expansions


def test_a_failed_subtree_draws_no_more_visits() -> None:
    # root --dead--> X, whose one tactic fails; root --live--> Y, an endless tree below.
    table = {"root": {"dead": "X", "live": "Y"}, "X": {"boom": None}}
    weights = {"root": {"dead": 0.9, "live": 0.1}, "X": {"boom": 1.0}}
    visits = []
    for expansions in (10, 40):
        env = TableEnvironment(table, endless_beyond_table=True)
        _, result = run(env, TablePolicy(weights, endless_beyond_table=True), "root",
                        budget=Budget(max_expansions=expansions))
        assert result.graph.status("X") is NodeStatus.FAILED
        visits.append(result.graph.attempt("root", "dead").visits)
    assert visits[0] == visits[1] == 2  # the step that made X and the one that failed under it


def test_same_seed_same_tree_and_root_noise_uses_the_seed() -> None:
    settings = MctsSettings(root_dirichlet_fraction=0.25)

    def tree(seed: int) -> str:
        env = EndlessEnvironment()
        _, result = run(env, EndlessPolicy(), "", budget=Budget(max_expansions=60), seed=seed, settings=settings)
        return json.dumps(result.graph.to_json(), sort_keys=True)

    assert tree(3) == tree(3)
    assert len({tree(seed) for seed in range(4)}) > 1


@pytest.mark.parametrize("seed", range(5))
def test_candidate_order_from_the_policy_changes_nothing(seed: int) -> None:
    moves = {1: 0.1, 3: 0.2, 4: 0.2, 7: 0.25, 9: 0.25}
    _, plain = run(SubtractionPuzzle(), SubtractionPolicy(moves), "23", settings=MctsSettings())
    _, shuffled = run(SubtractionPuzzle(), ShuffledPolicy(SubtractionPolicy(moves), seed), "23", settings=MctsSettings())
    assert plain.status is SearchStatus.PROVED
    assert shuffled.proof == plain.proof
    assert json.dumps(shuffled.graph.to_json()) == json.dumps(plain.graph.to_json())


def test_progressive_widening_asks_for_more_candidates_as_visits_grow() -> None:
    settings = MctsSettings(initial_candidates=2, widening_constant=1.0, widening_exponent=0.5, check_invariants=True)
    policy = EndlessPolicy(width=30)
    _, result = run(EndlessEnvironment(), policy, "", budget=Budget(max_expansions=50), settings=settings)
    root = result.graph.root
    root_visits = sum(a.visits for a in result.graph.attempts(root))
    assert root_visits == 50
    # the last walk widened the root with 49 visits behind it: ceil(sqrt(49)) = 7 candidates
    assert len(result.graph.attempts(root)) == settings.allowed_candidates(49) == 7
    asked_at_root = [n for key, n in policy.requests if key == root]
    assert asked_at_root == [2, 3, 4, 5, 6, 7]


def test_a_policy_that_runs_dry_exhausts_the_node() -> None:
    # only two moves: asking for more returns fewer than asked, so the root is exhausted, then fails
    env = SubtractionPuzzle()
    _, result = run(env, SubtractionPolicy({2: 0.6, 4: 0.4}), "5", settings=MctsSettings(initial_candidates=1,
                                                                                       check_invariants=True))
    assert result.status is SearchStatus.EXHAUSTED
    assert result.graph.is_exhausted(result.graph.root)


def test_virtual_loss_spreads_walks_in_flight_over_distinct_subtrees() -> None:
    # root --a--> A, root --b--> B, equally likely and equally valued; A and B offer four tactics each.
    table = {"root": {"a": "A", "b": "B"},
             "A": {f"a{i}": f"A{i}" for i in range(4)}, "B": {f"b{i}": f"B{i}" for i in range(4)}}
    weights = {"root": {"a": 0.5, "b": 0.5}, "A": {f"a{i}": 0.25 for i in range(4)},
               "B": {f"b{i}": 0.25 for i in range(4)}}
    first = TableEnvironment(table)
    _, warm = run(first, TablePolicy(weights), "root", budget=Budget(max_expansions=2),
                  value=ConstantValue(0.5))  # A and B now exist, unvisited below

    def first_submissions(virtual_loss: float) -> list[tuple[str, str]]:
        env = TableEnvironment(table)
        executor = RecordingExecutor(env)
        graph = ProofGraph.from_json(warm.graph.to_json())
        settings = MctsSettings(expansions_in_flight=4, virtual_loss=virtual_loss, check_invariants=True)
        mcts_search(env, TablePolicy(weights), graph.state("root"), budget=Budget(max_expansions=4),
                    value=ConstantValue(0.5), settings=settings, executor=executor, graph=graph)
        return [(job.state.key, job.tactic) for job, collected in executor.submissions if collected == 0]

    spread = first_submissions(virtual_loss=1.0)
    assert len(spread) == len(set(spread)) == 4
    assert sorted(state for state, _ in spread) == ["A", "A", "B", "B"]
    crowded = first_submissions(virtual_loss=0.0)
    assert len(crowded) == len(set(crowded)) == 4
    assert {state for state, _ in crowded} == {"A"}


def test_results_arriving_out_of_order_are_backed_up_to_their_own_walks() -> None:
    env = SubtractionPuzzle()
    settings = MctsSettings(expansions_in_flight=3, check_invariants=True)
    theorem, result = run(env, SubtractionPolicy({5: 0.5, 2: 0.3, 1: 0.2}), "19", settings=settings,
                          executor=LastInFirstOutExecutor(env))
    assert result.status is SearchStatus.PROVED
    assert env.verify(theorem, result.proof).accepted
    root_visits = sum(a.visits for a in result.graph.attempts(result.graph.root))
    assert root_visits == result.expansions  # every collected result was backed up once


def test_expansion_budget_is_exact_with_walks_in_flight() -> None:
    env = EndlessEnvironment()
    seen: list[int] = []
    _, result = run(env, EndlessPolicy(), "", budget=Budget(max_expansions=41), on_step=seen.append,
                    settings=MctsSettings(expansions_in_flight=4, check_invariants=True))
    assert result.status is SearchStatus.OUT_OF_BUDGET
    assert result.expansions == len(env.steps) == 41
    assert seen == list(range(1, 42))


def test_seconds_budget_stops_on_the_injected_clock() -> None:
    clock = FakeClock()
    env = EndlessEnvironment(clock=clock, step_seconds=1.0)
    _, result = run(env, EndlessPolicy(), "", budget=Budget(max_seconds=5.5), settings=MctsSettings(clock=clock))
    assert result.status is SearchStatus.OUT_OF_BUDGET
    assert result.expansions == 6
    assert result.seconds == result.env_seconds == 6.0


def test_a_saved_tree_resumes_and_finishes_the_proof() -> None:
    moves = {1: 0.1, 3: 0.2, 4: 0.2, 7: 0.25, 9: 0.25}
    _, partial = run(SubtractionPuzzle(), SubtractionPolicy(moves), "23", budget=Budget(max_expansions=5))
    assert partial.status is SearchStatus.OUT_OF_BUDGET
    saved = json.loads(json.dumps(partial.graph.to_json()))
    env = SubtractionPuzzle()
    graph = ProofGraph.from_json(saved)
    theorem = Theorem("t", "23")
    resumed = mcts_search(env, SubtractionPolicy(moves), env.start(theorem), budget=Budget(max_expansions=300),
                          settings=CHECKED, graph=graph)
    assert resumed.status is SearchStatus.PROVED
    assert env.verify(theorem, resumed.proof).accepted
    assert not set(env.steps) & {(k, a.tactic) for k in partial.graph.keys() for a in partial.graph.attempts(k)
                                 if a.outcome is not AttemptOutcome.UNTRIED}  # nothing redone


def test_selection_rule_is_a_parameter() -> None:
    calls: list[float] = []

    def prior_only(action: ActionStats, parent_visits: float) -> float:
        calls.append(parent_visits)
        return action.prior

    env = SubtractionPuzzle()
    _, result = run(env, SubtractionPolicy({5: 0.5, 2: 0.3, 1: 0.2}), "7",
                    settings=MctsSettings(selection=prior_only, check_invariants=True))
    assert calls and result.proof == ("sub 5", "sub 2")  # greedy by prior: 7 -5-> 2 -2-> proved


def test_candidates_with_zero_probability_get_uniform_priors() -> None:
    env = SubtractionPuzzle()
    theorem, result = run(env, SubtractionPolicy({2: 0.0, 3: 0.0}), "5")
    assert result.status is SearchStatus.PROVED
    assert env.verify(theorem, result.proof).accepted


def test_resuming_a_proved_tree_returns_its_proof_without_a_step() -> None:
    _, done = run(SubtractionPuzzle(), SubtractionPolicy({5: 0.5, 2: 0.5}), "7")
    env = SubtractionPuzzle()
    graph = ProofGraph.from_json(done.graph.to_json())
    again = mcts_search(env, SubtractionPolicy({5: 0.5, 2: 0.5}), env.start(Theorem("t", "7")),
                        budget=Budget(max_expansions=10), graph=graph)
    assert again.status is SearchStatus.PROVED and again.proof == done.proof
    assert env.steps == []


def test_an_infrastructure_error_propagates_and_cancels_the_jobs_in_flight() -> None:
    class Crashing(RecordingExecutor):
        cancelled = False

        def collect(self):
            raise RuntimeError("prover process died")

        def cancel(self) -> None:
            self.cancelled = True
            super().cancel()

    env = EndlessEnvironment()
    executor = Crashing(env)
    with pytest.raises(RuntimeError, match="prover process died"):
        mcts_search(env, EndlessPolicy(), env.start(Theorem("e", "")), budget=Budget(max_expansions=10),
                    settings=MctsSettings(expansions_in_flight=3), executor=executor)
    assert executor.cancelled and len(executor.submissions) == 3
