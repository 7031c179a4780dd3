"""The Coq tactic portfolio: goal parsing and ordering (no Coq), and proofs of simple miniF2F
statements through a one-step-then-closers loop on real Coq with the kernel's verdict."""

from __future__ import annotations

import math

import pytest

from prover.backends.coq import CoqBackend, CoqEnvironment
from prover.policies.coq_portfolio import CoqPortfolioPolicy, parse_coq_goal
from search.types import Failed, Progress, Proved, State

from coq_testing import shared_file

REAL_GOAL = "x, y : R\nh0 : x + y = 10\nh1 : x - y = 2\n============================\nx = 6"
NAT_GOAL = "a, b : nat\nh₀ : a + b = 20\nH : a = 3 * b /\\ b > 0\n============================\na - b = 10"
INTRO_GOAL = "============================\nforall (d e : R), 2 * d = 17 * e - 8 -> 2 * e = d - 9 -> e = 2"


def tactics(goal: str, n: int = 40, hammer: bool = False) -> list[str]:
    """The portfolio's own ordering (proposal generators off; tests/policies/test_generators.py covers them)."""
    return [c.tactic for c in CoqPortfolioPolicy(hammer=hammer, generators=()).propose(State(goals=(goal,)), n)]


def test_goal_parsing_splits_shared_hypotheses_and_unicode_names() -> None:
    goal = parse_coq_goal(NAT_GOAL)
    assert goal.hypotheses == (
        ("a", "nat"),
        ("b", "nat"),
        ("h₀", "a + b = 20"),
        ("H", "a = 3 * b /\\ b > 0"),
    )
    assert goal.conclusion == "a - b = 10"
    assert goal.names_of_type("nat") == ["a", "b"]


def test_reals_put_real_arithmetic_first_and_naturals_put_lia_first() -> None:
    real = tactics(REAL_GOAL)
    assert real[0] == "nra"
    assert {"lra", "psatz R 3", "field_simplify; lra"} <= set(real[:8])
    assert real.index("lra") < real.index("lia")
    natural = tactics(NAT_GOAL)
    assert natural[:2] == ["lia", "nia"]
    assert not any(t in natural[:8] for t in ("lra", "nra"))


def test_names_from_the_goal_drive_destruct_induction_and_rewrite() -> None:
    candidates = tactics(NAT_GOAL)
    assert "destruct H as [? ?]" in candidates
    assert "induction a" in candidates and "induction b" in candidates
    assert "rewrite h₀" in candidates


def test_goals_with_binders_start_with_intros_and_combinations() -> None:
    candidates = tactics(INTRO_GOAL, n=8)
    assert candidates[0] == "intros"
    assert "intros; nra" in candidates and "intros; field_simplify; lra" in candidates


def test_unfocused_goals_get_bullets_and_shelved_ones_unshelve() -> None:
    assert tactics("(unfocused) " + REAL_GOAL) == ["-", "+", "*", "}"]
    assert tactics("(shelved) ============================\nnat") == ["Unshelve."]


def test_hammer_tactics_only_when_enabled() -> None:
    assert "qauto" not in tactics(REAL_GOAL, hammer=False)
    assert {"qauto", "hauto", "sauto"} <= set(tactics(REAL_GOAL, hammer=True))


def test_candidates_are_distinct_normalised_sorted_and_deterministic() -> None:
    policy = CoqPortfolioPolicy(hammer=True)
    state = State(goals=(NAT_GOAL,))
    first = policy.propose(state, 100)
    assert first == policy.propose(state, 100)
    assert len({c.tactic for c in first}) == len(first)
    log_probs = [c.log_prob for c in first]
    assert log_probs == sorted(log_probs, reverse=True)
    assert all(lp <= 0 for lp in log_probs)
    assert math.isclose(sum(math.exp(lp) for lp in log_probs), 1.0, rel_tol=1e-9)
    assert policy.propose(state, 3) == first[:3]
    assert policy.propose_batch([state, state], 2) == [first[:2], first[:2]]
    assert policy.propose(State(goals=()), 5) == []


@pytest.mark.coq
@pytest.mark.parametrize("name", ["mathd_algebra_123", "mathd_algebra_119"])
def test_portfolio_proves_simple_minif2f_statements(coq_env: CoqEnvironment, name: str) -> None:
    path = shared_file("data", "minif2f-coq", "valid", f"{name}.v")
    backend = CoqBackend(hammer=False)
    theorem = backend.parse_file(str(path), path.read_text()).theorems[0].theorem
    policy = CoqPortfolioPolicy(hammer=False)
    root = coq_env.start(theorem)
    proof = None
    # A two-level loop: each candidate at the root, then each candidate at the states it reaches.
    for first in policy.propose(root, 10):
        outcome = coq_env.step(root, first.tactic)
        if isinstance(outcome, Proved):
            proof = outcome.path
            break
        if isinstance(outcome, Progress):
            for second in policy.propose(outcome.state, 10):
                closing = coq_env.step(outcome.state, second.tactic)
                if isinstance(closing, Proved):
                    proof = closing.path
                    break
        if proof is not None:
            break
        assert isinstance(outcome, (Failed, Progress))
    assert proof is not None
    verdict = coq_env.verify(theorem, proof)
    assert verdict.accepted, verdict.reason
