"""The Lean tactic portfolio: deterministic, goal-aware, well-formed priors."""

from __future__ import annotations

import json

from lean_fakes import recorded

from prover.policies.lean_portfolio import LeanPortfolioPolicy, parse_goal
from search.types import Policy, State


def _tactics(goal: str, n: int = 40) -> list[str]:
    return [c.tactic for c in LeanPortfolioPolicy().propose(State(goals=(goal,)), n)]


def test_it_is_a_policy_and_is_deterministic() -> None:
    """Same state, same candidates in the same order; the object satisfies search.types.Policy."""
    policy = LeanPortfolioPolicy()
    assert isinstance(policy, Policy)
    state = State(goals=("x : ℕ\nh : 2 * (2 * (2 * (2 * x))) = 48\n⊢ x = 3",))
    assert policy.propose(state, 20) == LeanPortfolioPolicy().propose(state, 20)
    assert policy.propose_batch([state, state], 5) == [policy.propose(state, 5)] * 2


def test_candidates_are_distinct_best_first_with_log_probabilities() -> None:
    """At most n distinct tactics, log-probs <= 0 and non-increasing; no goals gives nothing."""
    candidates = LeanPortfolioPolicy().propose(State(goals=("a b : ℝ\nhab : a < b\n⊢ a ≤ b",)), 12)
    assert len(candidates) == 12 == len({c.tactic for c in candidates})
    probs = [c.log_prob for c in candidates]
    assert all(p <= 0 for p in probs) and probs == sorted(probs, reverse=True)
    assert all(c.source == "portfolio" for c in candidates)
    assert LeanPortfolioPolicy().propose(State(goals=()), 5) == []


def test_the_core_closers_are_all_offered() -> None:
    """norm_num, linarith, nlinarith, positivity, simp, simp_all, omega, decide, ring_nf, field_simp, aesop, tauto are all proposed."""
    offered = set(_tactics("x y : ℝ\nh₀ : 0 < x\nh₁ : x / y = 2\n⊢ 0 < x ^ 2 + y", 200))
    for tactic in ("norm_num", "linarith", "nlinarith", "positivity", "simp", "simp_all", "omega", "decide", "ring_nf", "field_simp", "aesop", "tauto"):
        assert tactic in offered, tactic
    assert any(t.startswith("norm_num [h₀, h₁") and t.endswith("at *") for t in offered)


def test_structure_of_the_goal_decides_intro_constructor_and_cases() -> None:
    """∀ introduces its named binder, ∧ splits, ∃/∧/∨ hypotheses are destructured by name."""
    assert "intro n" in _tactics("⊢ ∀ (n : ℕ), n % 2 = 0 ∨ n % 2 = 1", 3)
    assert _tactics("a : ℝ\n⊢ 0 ≤ a ^ 2 ∧ a ^ 2 ≥ 0", 2)[0] == "constructor"
    hypotheses = _tactics("h : ∃ k, n = 2 * k\nh₂ : p ∧ q\nh₃ : a ∨ b\n⊢ False", 200)
    assert "obtain ⟨x, hx⟩ := h" in hypotheses
    assert "obtain ⟨h₂_left, h₂_right⟩ := h₂" in hypotheses
    assert "rcases h₃ with h₃ | h₃" in hypotheses


def test_goal_shape_reorders_the_closers() -> None:
    """Naturals with % favour omega over field_simp; a division favours field_simp; an exact hypothesis comes first."""
    naturals = _tactics("n : ℕ\nh : n % 5 = 3\n⊢ 2 * n % 5 = 1", 200)
    assert naturals.index("omega") < naturals.index("field_simp")
    division = _tactics("x : ℝ\nhx : x ≠ 0\n⊢ x / x = 1", 200)
    assert division.index("field_simp") < division.index("omega")
    assert _tactics("p : Prop\nhp : 1 < 2\n⊢ 1 < 2", 1) == ["exact hp"]


def test_nlinarith_gets_product_hints_from_hypotheses_and_variables() -> None:
    """Positive hypotheses give `mul_pos` products; ordered variables give squares of differences."""
    tactics = _tactics("a b : ℝ\nha : 0 < a\nhb : 0 < b\nhab : a + b = 1\n⊢ a * b ≤ 1 / 4", 200)
    assert any(t.startswith("nlinarith [") and "mul_pos ha hb" in t for t in tactics)
    assert any(t.startswith("nlinarith [") and "sq_nonneg (a - b)" in t for t in tactics)


def test_bounded_natural_variables_get_interval_cases() -> None:
    """`x < 10` on a natural x suggests `interval_cases x`."""
    assert "interval_cases x" in _tactics("x : ℕ\nh₀ : x < 10\nh₁ : 3 ∣ x\n⊢ x ≤ 9", 200)


def test_goal_parsing_handles_cases_grouped_names_and_wrapped_lines() -> None:
    """`case` tags are dropped, `x y : ℝ` gives two hypotheses, an indented continuation joins its line."""
    goal = parse_goal("case succ\nx y : ℝ\nh : x +\n    y = 2\n⊢ x = 2 - y")
    assert goal.hypotheses == (("x", "ℝ"), ("y", "ℝ"), ("h", "x + y = 2"))
    assert goal.target == "x = 2 - y"


def test_every_minif2f_valid_goal_gets_a_full_candidate_list() -> None:
    """The 244 miniF2F valid initial goals (as Lean prints them) each get a dozen or more candidates."""
    rows = [json.loads(line) for line in recorded("..", "..", "data", "minif2f-lean4", "minif2f_deepseek_lean4.9_valid.jsonl").read_text().splitlines()]
    policy = LeanPortfolioPolicy()
    for row in rows:
        candidates = policy.propose(State(goals=(row["goal"],)), 32)
        assert len(candidates) >= 12, row["name"]
