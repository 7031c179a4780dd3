"""A symbolic Lean 4 + Mathlib tactic portfolio: the decision procedures and finishing tactics that
close most competition goals, ordered by what the first goal looks like.

No model is involved: the same state always gets the same candidates in the same order. Priors
are hand-set log-probabilities (a base per tactic, raised when the goal's shape suits it), so a
best-first search tries the likely closers first and MCTS gets a sensible prior.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

from search.types import Candidate, State

__all__ = ["LeanGoal", "parse_goal", "LeanPortfolioPolicy"]

_NUMBER_TYPES = ("ℝ", "ℚ", "ℤ", "ℕ", "ℂ", "Real", "Nat", "Int", "Rat", "Complex")
_ORDERED_TYPES = ("ℝ", "ℚ", "ℤ", "ℕ", "Real", "Nat", "Int", "Rat")
_RELATION = re.compile(r"(?<![<>=≠≤≥])(=|≠|<|≤|>|≥)(?![=>])")


@dataclass(frozen=True)
class LeanGoal:
    """The first goal of a state, split as Lean prints it.

    hypotheses: (name, type) pairs in order; a line `x y : ℝ` gives one pair per name.
    target: the text after `⊢`.
    """

    hypotheses: tuple[tuple[str, str], ...]
    target: str

    def variables(self, types: Sequence[str] = _NUMBER_TYPES) -> list[str]:
        """Names of hypotheses whose type is one of `types` (plain variables, not facts)."""
        return [name for name, kind in self.hypotheses if kind.strip() in types]

    def facts(self) -> list[tuple[str, str]]:
        """Hypotheses that are propositions (relations, connectives), as (name, type)."""
        return [(n, t) for n, t in self.hypotheses if _is_proposition(t)]


def _is_proposition(kind: str) -> bool:
    return bool(_RELATION.search(kind)) or any(s in kind for s in ("∧", "∨", "¬", "→", "↔", "∃", "∀", "Prime", "∣"))


def parse_goal(goal: str) -> LeanGoal:
    """Hypotheses and target of one pretty-printed Lean goal (`case` line ignored, wrapped lines joined)."""
    lines: list[str] = []
    for raw in goal.splitlines():
        if raw.startswith("case "):
            continue
        if raw.startswith((" ", "\t")) and lines:
            lines[-1] += " " + raw.strip()
        else:
            lines.append(raw)
    hypotheses: list[tuple[str, str]] = []
    target = ""
    for index, line in enumerate(lines):
        if line.startswith("⊢"):
            target = " ".join([line[1:].strip()] + [rest.strip() for rest in lines[index + 1 :]])
            break
        names, sep, kind = line.partition(" : ")
        if not sep:
            continue
        for name in names.split():
            hypotheses.append((name, kind.strip()))
    return LeanGoal(hypotheses=tuple(hypotheses), target=target)


# Base log-probabilities: how often each closer works on competition goals, roughly.
_BASE = {
    "norm_num": -1.0,
    "linarith": -1.3,
    "nlinarith": -1.8,
    "positivity": -2.2,
    "simp": -1.6,
    "simp_all": -2.0,
    "omega": -1.9,
    "decide": -2.6,
    "ring_nf": -1.9,
    "ring": -2.0,
    "field_simp": -2.1,
    "aesop": -2.4,
    "tauto": -2.8,
    "norm_num at *": -2.0,
    "simp at *": -2.6,
    "constructor": -2.5,
    "push_neg": -3.2,
    "by_contra h": -3.6,
    "exfalso": -4.0,
    "nlinarith [sq_nonneg (a - b)]": -2.6,
    "intro": -1.5,
    "cases": -2.6,
    "induction": -3.0,
    "interval_cases": -2.4,
    "exact": -0.8,
    "use": -3.0,
    "left": -3.2,
    "right": -3.2,
    "subst": -2.7,
    "rw": -2.6,
    "norm_num [hyps] at *": -2.2,
    "linarith [hyps]": -2.4,
    "nlinarith [products]": -2.3,
    "norm_num [Nat.factorial]": -2.4,
    "norm_num [Finset.sum_range_succ]": -2.5,
    "decide_nat": -2.2,
}


class LeanPortfolioPolicy:
    """Proposes Mathlib tactics for a Lean goal, best first, deterministically (no model, no randomness)."""

    source = "portfolio"

    def propose(self, state: State, n: int) -> list[Candidate]:
        """Up to `n` distinct tactics for `state`'s first goal, with normalised log-probabilities."""
        if not state.goals or n <= 0:
            return []
        scored = self._scored(parse_goal(state.goals[0]))
        seen: set[str] = set()
        unique: list[tuple[float, int, str]] = []
        for index, (score, tactic) in enumerate(scored):
            if tactic in seen:
                continue
            seen.add(tactic)
            unique.append((score, index, tactic))
        unique.sort(key=lambda item: (-item[0], item[1]))
        top = unique[:n]
        # Softmax over all candidates so log-probs are comparable across states.
        normaliser = math.log(sum(math.exp(score) for score, _, _ in unique))
        return [Candidate(tactic=t, log_prob=min(score - normaliser, 0.0), source=self.source) for score, _, t in top]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        """`propose` for each state (no model: nothing to batch)."""
        return [self.propose(state, n) for state in states]

    def _scored(self, goal: LeanGoal) -> list[tuple[float, str]]:
        target = goal.target
        out: list[tuple[float, str]] = []

        def add(key: str, tactic: str, bonus: float = 0.0) -> None:
            out.append((_BASE[key] + bonus, tactic))

        relation = _RELATION.search(target)
        is_equation = relation is not None and relation.group(1) == "=" and "∀" not in target and "∃" not in target
        is_inequality = relation is not None and relation.group(1) in ("<", "≤", ">", "≥", "≠")
        numbers_only = not goal.variables() and not re.search(r"[a-zA-Z_]\w*\s*[+*/^-]|[+*/^-]\s*[a-zA-Z_]", target)
        naturals = any(t in target or t in k for _, k in goal.hypotheses for t in ("ℕ", "ℤ")) or "%" in target
        has_division = "/" in target
        has_power = "^" in target
        facts = goal.facts()
        fact_names = [name for name, _ in facts]

        # Finishers, boosted by the goal's shape.
        for name, kind in goal.hypotheses:
            if kind == target:
                add("exact", f"exact {name}", 1.0)
        add("norm_num", "norm_num", 0.6 if numbers_only else 0.0)
        add("linarith", "linarith", 0.5 if is_inequality or (is_equation and facts) else -0.5)
        add("nlinarith", "nlinarith", 0.3 if is_inequality and has_power else 0.0)
        if re.match(r"0\s*(<|≤)|.*≠\s*0$", target):
            add("positivity", "positivity", 0.8)
        else:
            add("positivity", "positivity", -1.0)
        add("simp", "simp")
        add("simp_all", "simp_all", 0.2 if facts else -0.3)
        add("omega", "omega", 0.9 if naturals and not has_division else -0.4)
        add("decide", "decide", 0.6 if numbers_only and naturals else -0.6)
        add("ring_nf", "ring_nf", 0.5 if is_equation else -0.5)
        add("ring", "ring", 0.6 if is_equation and not facts else -0.6)
        add("field_simp", "field_simp", 0.7 if has_division else -0.8)
        add("aesop", "aesop")
        add("tauto", "tauto", 0.5 if any(c in target for c in ("∧", "∨", "↔", "¬")) else -0.3)
        add("norm_num at *", "norm_num at *", 0.3 if facts else -0.8)
        add("simp at *", "simp at *", -0.3 if not facts else 0.0)
        if "!" in target:
            add("norm_num [Nat.factorial]", "norm_num [Nat.factorial]", 0.6)
        if "∑" in target or "∏" in target:
            add("norm_num [Finset.sum_range_succ]", "norm_num [Finset.sum_range_succ, Finset.prod_range_succ]", 0.5)
            add("decide_nat", "decide", 0.3)
            add("simp", "simp [Finset.sum_range_succ]", 0.2)

        # Hypotheses as arguments: rewrite with, feed to the arithmetic closers.
        if fact_names:
            listed = ", ".join(fact_names[:6])
            add("norm_num [hyps] at *", f"norm_num [{listed}] at *", 0.3)
            add("linarith [hyps]", f"linarith [{listed}]", 0.2 if is_inequality else 0.0)
            add("simp", f"simp [{listed}] at *", -0.4)
            add("simp_all", f"simp_all [{listed}]", -0.4)
        for name, kind in facts:
            match = re.fullmatch(r"([^\s=]+)\s*=\s*(.+)", kind)
            if match and re.fullmatch(r"[a-zA-Z_][\w'₀-₉]*", match.group(1)):
                add("subst", f"subst {name}", 0.2)
                add("rw", f"rw [{name}] at *", -0.2)
                add("rw", f"rw [{name}]")
        out.extend(self._nlinarith_hints(goal, is_inequality or is_equation))

        # Structure: introduce, split, case on hypotheses.
        out.extend(self._structural(goal))
        return out

    def _nlinarith_hints(self, goal: LeanGoal, relevant: bool) -> list[tuple[float, str]]:
        """`nlinarith` with products: squares of differences of variables, products of positive facts."""
        bonus = 0.3 if relevant else -0.6
        out: list[tuple[float, str]] = []
        ordered = goal.variables(_ORDERED_TYPES)
        squares = [f"sq_nonneg ({a} - {b})" for a, b in combinations(ordered[:4], 2)]
        squares += [f"sq_nonneg ({a} + {b})" for a, b in combinations(ordered[:3], 2)]
        positive = [name for name, kind in goal.facts() if re.match(r"0\s*<|.*>\s*0$", kind)]
        products = [f"mul_pos {a} {b}" for a, b in combinations(positive[:4], 2)]
        facts = [name for name, kind in goal.facts() if re.search(r"[<≤>≥]", kind)]
        products += [f"mul_nonneg (sub_nonneg.mpr {a}) (sub_nonneg.mpr {b})" for a, b in combinations(
            [n for n, k in goal.facts() if "≤" in k][:3], 2)]
        if squares:
            out.append((_BASE["nlinarith [sq_nonneg (a - b)]"] + bonus, f"nlinarith [{', '.join(squares[:6])}]"))
        if products or facts:
            hints = products[:4] + facts[:4] + squares[:2]
            out.append((_BASE["nlinarith [products]"] + bonus, f"nlinarith [{', '.join(hints)}]"))
        return out

    def _structural(self, goal: LeanGoal) -> list[tuple[float, str]]:
        target = goal.target
        out: list[tuple[float, str]] = []
        binder = re.match(r"∀\s*(?:\(?([^:,()]+?)\s*:[^,]*\)?|([^,:]+)),", target)
        if binder:
            names = (binder.group(1) or binder.group(2) or "").split()
            names = [n for n in names if re.fullmatch(r"[^\W\d][\w'₀-₉]*", n)]
            out.append((_BASE["intro"] + 0.8, f"intro {' '.join(names)}" if names else "intro"))
        elif "→" in target:
            out.append((_BASE["intro"] + 0.5, "intro h"))
        if target.startswith("¬"):
            out.append((_BASE["intro"] + 0.4, "intro h"))
            out.append((_BASE["push_neg"], "push_neg"))
        if "∧" in target or "↔" in target:
            out.append((_BASE["constructor"] + 2.0, "constructor"))  # closers cannot split a conjunction
        if target.startswith("∃"):
            out.append((_BASE["constructor"], "constructor"))
            numbers = re.findall(r"\b\d+\b", target)
            if numbers:
                out.append((_BASE["use"], f"use {numbers[0]}"))
        if "∨" in target:
            out.append((_BASE["left"], "left"))
            out.append((_BASE["right"], "right"))
        for name, kind in goal.hypotheses:
            if kind.startswith("∃"):
                out.append((_BASE["cases"] + 0.8, f"obtain ⟨x, hx⟩ := {name}"))
            elif "∧" in kind and not kind.startswith(("∀", "¬")):
                out.append((_BASE["cases"] + 0.6, f"obtain ⟨{name}_left, {name}_right⟩ := {name}"))
            elif "∨" in kind and not kind.startswith(("∀", "¬")):
                out.append((_BASE["cases"] + 0.5, f"rcases {name} with {name} | {name}"))
            elif "↔" in kind:
                out.append((_BASE["cases"], f"cases {name}"))
        naturals = goal.variables(("ℕ", "Nat"))
        for name in naturals[:2]:
            out.append((_BASE["induction"], f"induction {name} with\n| zero => simp\n| succ k ih => simp_all"))
            bounded = any(re.search(rf"\b{re.escape(name)}\s*(<|≤)\s*\d+", kind) for _, kind in goal.hypotheses)
            if bounded:
                out.append((_BASE["interval_cases"] + 0.8, f"interval_cases {name}"))
        for name in goal.variables(("ℤ", "Int"))[:2]:
            bounded_below = any(re.search(rf"\d+\s*(<|≤)\s*{re.escape(name)}\b", k) for _, k in goal.hypotheses)
            bounded_above = any(re.search(rf"\b{re.escape(name)}\s*(<|≤)\s*-?\d+", k) for _, k in goal.hypotheses)
            if bounded_below and bounded_above:
                out.append((_BASE["interval_cases"] + 0.6, f"interval_cases {name}"))
        out.append((_BASE["by_contra h"], "by_contra h"))
        out.append((_BASE["exfalso"], "exfalso"))
        return out
