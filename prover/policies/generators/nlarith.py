"""Hint terms for nonlinear arithmetic, as Lean's `nlinarith [sq_nonneg (a - b), mul_pos ha hb]`.

`nra`/`nia` multiply hypotheses pairwise but do not invent squares. This generator adds the facts
a human would: squares of the atoms, of their differences and sums (`pow2_ge_0 (a - b)` in R,
`Z.square_nonneg (a - b)` in Z), and products of the hypotheses' slacks (`0 <= (y - x) * (b - a)`
from `x <= y` and `a <= b`), then calls `nra`/`psatz R 2`/`nia`. Candidates are ranked by a cheap
heuristic: hint sets whose atoms the conclusion shares come first, and nothing is proposed for a
conclusion of degree below two (linear arithmetic needs no hints).

Square roots and absolute values are atoms to `nra`: each `sqrt e` gets its two facts
(`sqrt_pos e`, `sqrt_sqrt e`: `sqrt e * sqrt e = e` when `0 <= e`), and `Rabs` is eliminated by
the case split on the sign of each argument (`unfold Rabs` and `destruct (Rcase_abs e)`, with the
hypotheses that mention `Rabs` reverted first so that they are split too).
"""

from __future__ import annotations

import itertools

from prover.policies.generators.base import GoalView, Proposal, domain_of
from prover.policies.generators.terms import Term, Unreadable, subterms, to_coq, to_sympy, variables

__all__ = ["NonlinearHintGenerator", "slack_of", "degree_of"]

_MAX_ATOMS = 5
_MAX_ROOTS = 4

RABS_CASES = (
    "repeat match goal with H : context [Rabs _] |- _ => revert H end; unfold Rabs; "
    "repeat match goal with |- context [Rcase_abs ?e] => destruct (Rcase_abs e) end; intros"
)
"""Every `Rabs e` of the goal and the hypotheses replaced by `e` or `- e` with the sign as a hypothesis."""
_ORDER = ("<", "<=", ">", ">=")


def slack_of(term: Term) -> Term | None:
    """The nonnegative difference a relation `lhs < rhs` (or <=, >, >=) asserts: `rhs - lhs`."""
    if term[0] != "rel" or term[1] not in _ORDER:
        return None
    low, high = (term[2], term[3]) if term[1] in ("<", "<=") else (term[3], term[2])
    if low == ("num", "0"):
        return high
    return ("bin", "-", high, low)


def degree_of(term: Term, domain: str) -> int:
    """Total polynomial degree of a relation's two sides (0 when not a polynomial)."""
    import sympy

    try:
        if term[0] == "rel":
            expression = to_sympy(term[3], domain) - to_sympy(term[2], domain)  # type: ignore[arg-type]
        else:
            expression = to_sympy(term, domain)  # type: ignore[arg-type]
        expression = sympy.together(expression)
        numerator, denominator = sympy.fraction(expression)
        symbols = sorted(numerator.free_symbols | denominator.free_symbols, key=str)
        if not symbols:
            return 0
        return max(sympy.Poly(numerator, *symbols).total_degree(), sympy.Poly(denominator, *symbols).total_degree())
    except (Unreadable, sympy.PolynomialError, sympy.GeneratorsNeeded, TypeError, ValueError, AttributeError):
        return 2  # not a polynomial (sqrt, Rabs, ...): hints may still help


class NonlinearHintGenerator:
    """`nra`/`psatz`/`nia` with squares and products of hypotheses as extra facts."""

    name = "nlarith"

    def propose(self, goal: GoalView) -> list[Proposal]:
        domain = domain_of(goal)
        if domain not in ("R", "Z"):
            return []
        conclusion = goal.term(goal.conclusion)
        if conclusion is None or conclusion[0] not in ("rel", "and", "or", "not"):
            return []
        roots_and_signs = self._roots_and_signs(goal, conclusion) if domain == "R" else []
        if conclusion[0] == "or":
            return roots_and_signs
        return roots_and_signs + self._hints(goal, conclusion, domain)

    def _roots_and_signs(self, goal: GoalView, conclusion: Term) -> list[Proposal]:
        """The facts of each `sqrt e` for nra, and the sign case split of each `Rabs e`."""
        terms = [conclusion, *self._fact_terms(goal)]
        radicands: list[str] = []
        absolute = False
        for term in terms:
            for sub in subterms(term):
                if sub[0] == "app" and sub[1] in ("sqrt", "Rsqrt") and len(sub[2]) == 1:
                    text = to_coq(sub[2][0])
                    if text not in radicands:
                        radicands.append(text)
                absolute = absolute or (sub[0] == "app" and sub[1] == "Rabs")
        out: list[Proposal] = []
        if radicands:
            facts = "; ".join(
                f"pose proof (sqrt_pos ({e})); pose proof (sqrt_sqrt ({e}) ltac:(nra))" for e in radicands[:_MAX_ROOTS]
            )
            out.append(Proposal(-0.6, f"{facts}; nra"))
            out.append(Proposal(-1.2, f"subst; {facts}; nra"))
            out.append(Proposal(-1.6, facts))
        if absolute:
            out.append(Proposal(-0.5, f"{RABS_CASES}; nra"))
            out.append(Proposal(-0.8, f"{RABS_CASES}; lra"))
            out.append(Proposal(-1.5, RABS_CASES))
        return out

    def _hints(self, goal: GoalView, conclusion: Term, domain: str) -> list[Proposal]:
        """Squares and products of the hypotheses' slacks, for a goal or hypotheses of degree two or more."""
        if conclusion[0] == "rel" and degree_of(conclusion, domain) < 2 and not any(
            degree_of(term, domain) >= 2 for term in self._fact_terms(goal)
        ):
            return []
        numbers = set(goal.variables_of(domain))
        goal_atoms = variables(conclusion) & numbers
        atoms = sorted(goal_atoms) + sorted(numbers - goal_atoms)
        atoms = atoms[:_MAX_ATOMS]
        square = "pow2_ge_0" if domain == "R" else "Z.square_nonneg"
        closer, closer2 = ("nra", "psatz R 2") if domain == "R" else ("nia", "psatz Z 2")
        product = "Rmult_le_pos" if domain == "R" else "Z.mul_nonneg_nonneg"
        arith = "lra" if domain == "R" else "lia"

        def sq(text: str) -> str:
            return f"pose proof ({square} ({text}))"

        differences = [f"{a} - {b}" for a, b in itertools.combinations(atoms, 2)]
        sums = [f"{a} + {b}" for a, b in itertools.combinations(atoms, 2)]
        slacks = [to_coq(s) for s in (slack_of(t) for t in self._fact_terms(goal)) if s is not None][:5]
        products = [
            f"pose proof ({product} ({x}) ({y}) ltac:({arith}) ltac:({arith}))"
            for x, y in itertools.combinations(slacks, 2)
        ][:6]
        # Slacks times squared differences (`0 <= (a + b) * (a - b)^2`): degree-3 facts whose pairwise
        # products reach the degree-5 certificates that nra cannot build from degree-2 ones.
        def weighted(weight: str, difference: str) -> str:
            squared = f"(({difference})^2)" if domain == "R" else f"(({difference}) * ({difference}))"
            return f"pose proof ({product} ({weight}) {squared} ltac:({arith}) ({square} ({difference})))"

        each = [weighted(w, d) for w in slacks[:3] for d in differences[:3]]
        total = " + ".join(f"({x})" for x in slacks[:3])
        summed = [weighted(total, d) for d in differences[:3]] if len(slacks) >= 2 else []
        hint_sets: list[tuple[float, list[str]]] = []
        if each:
            hint_sets.append((-1.0, each[:9]))
            if summed:
                hint_sets.append((-1.3, summed + [sq(a) for a in atoms]))
        if atoms:
            hint_sets.append((-0.7, [sq(a) for a in atoms]))
        if differences:
            hint_sets.append((-0.6, [sq(d) for d in differences]))
            hint_sets.append((-1.0, [sq(s) for s in sums]))
            hint_sets.append((-1.1, [sq(d) for d in differences] + [sq(a) for a in atoms]))
        if products:
            hint_sets.append((-0.8, products))
            if differences:
                hint_sets.append((-1.2, products + [sq(d) for d in differences]))
        for pair in differences[:4]:
            hint_sets.append((-1.5, [sq(pair)]))
        if len(atoms) >= 2:
            hint_sets.append((-1.4, [sq(" * ".join(atoms[:2]))] + [sq(a) for a in atoms]))
        out: list[Proposal] = []
        for score, hints in hint_sets:
            if not hints or len(hints) > 10:
                continue
            prefix = "; ".join(hints)
            out.append(Proposal(score, f"{prefix}; {closer}"))
            if score > -1.2:
                out.append(Proposal(score - 0.9, f"{prefix}; {closer2}"))
        return out

    def _fact_terms(self, goal: GoalView) -> list[Term]:
        terms = []
        for _, kind in goal.facts():
            term = goal.term(kind)
            if term is not None and term[0] == "rel":
                terms.append(term)
        return terms
