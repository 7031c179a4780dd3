"""Divisibility and modular arithmetic.

- Closed goals: computation (`reflexivity`, `vm_compute`), and for natural numbers too large to
  compute in unary, the move to binary integers (`Nat2Z.inj` and the `Nat2Z.inj_*` rewrites, then
  `vm_compute`).
- With variables: the division equations of every `a mod k` (`Nat.div_mod`, `Nat.mod_upper_bound`
  in nat; `Z.to_euclidean_division_equations` in Z) handed to `nia`/`lia`; the stdlib's modular
  rewrites (`Nat.mul_mod`, `Nat.add_mod`, `Nat.pow_mod`, `Z.mul_mod`, `Z.add_mod`); and the case
  split on the remainder of a variable (`x mod k` ranges over 0..k-1) for small k.
- Divisibility goals (`(k | e)`, `Nat.divide`): turned into remainder goals (`Z.mod_divide`,
  `Nat.mod_divide`) or given the witness `e / k` (`exists (e / k)`) when the quotient is a polynomial.
"""

from __future__ import annotations

import re

from prover.policies.generators.base import GoalView, Proposal, domain_of
from prover.policies.generators.terms import Term, subterms, to_coq, variables

__all__ = ["ModularGenerator"]

_MAX_REMAINDER_CASES = 12


def _mod_terms(term: Term) -> list[tuple[Term, Term]]:
    """The (dividend, divisor) pairs of every `a mod k` in `term` (divisor a literal)."""
    pairs = []
    for sub in subterms(term):
        if sub[0] == "bin" and sub[1] == "mod" and sub[3][0] == "num":
            pairs.append((sub[2], sub[3]))
        elif sub[0] == "app" and sub[1] in ("Nat.modulo", "Z.modulo", "Nat.mod", "Z.mod") and len(sub[2]) == 2 and sub[2][1][0] == "num":
            pairs.append((sub[2][0], sub[2][1]))
    return pairs


class ModularGenerator:
    """Computation, division equations, modular rewrites and remainder case splits."""

    name = "modular"

    def propose(self, goal: GoalView) -> list[Proposal]:
        text = " ".join([kind for _, kind in goal.hypotheses] + [goal.conclusion])
        if not re.search(r"\bmod\b|modulo|divide|\(\s*\d+\s*\|", text):
            return []
        domain = domain_of(goal) or "nat"
        if domain == "R":
            return []
        out: list[Proposal] = []
        conclusion = goal.term(goal.conclusion)
        closed = conclusion is not None and not variables(conclusion)
        if closed:
            out.append(Proposal(-0.4, "reflexivity"))
            if domain == "nat":
                out.append(Proposal(
                    -0.5,
                    "apply Nat2Z.inj; rewrite ?Nat2Z.inj_mod, ?Nat2Z.inj_pow, ?Nat2Z.inj_add, ?Nat2Z.inj_mul, ?Nat2Z.inj_sub; vm_compute; reflexivity",
                ))
                out.append(Proposal(-0.9, "rewrite Nat.pow_mod by lia; vm_compute; reflexivity"))
            return out
        terms = [term for term in [conclusion, *(goal.term(kind) for _, kind in goal.facts())] if term is not None]
        pairs: list[tuple[str, str]] = []
        for term in terms:
            for dividend, divisor in _mod_terms(term):
                pair = (to_coq(dividend), divisor[1])
                if pair not in pairs and divisor[1] != "0":
                    pairs.append(pair)
        if domain == "nat":
            if pairs:
                poses = "; ".join(
                    f"pose proof (Nat.div_mod {a} {k} ltac:(lia)); pose proof (Nat.mod_upper_bound {a} {k} ltac:(lia))"
                    for a, k in pairs[:4]
                )
                out.append(Proposal(-0.5, f"{poses}; nia"))
                out.append(Proposal(-1.0, f"{poses}; lia"))
            for lemma in ("Nat.mul_mod", "Nat.add_mod", "Nat.pow_mod"):
                out.append(Proposal(-1.5, f"rewrite {lemma} by lia"))
            out.append(Proposal(-1.2, "rewrite Nat.mul_mod by lia; rewrite ?Nat.mod_mod by lia; simpl; lia"))
        else:
            out.append(Proposal(-0.5, "Z.to_euclidean_division_equations; nia"))
            out.append(Proposal(-0.8, "Z.to_euclidean_division_equations; lia"))
            for lemma in ("Z.mul_mod", "Z.add_mod", "Zpower_mod"):
                out.append(Proposal(-1.5, f"rewrite {lemma} by lia"))
        # Divisibility goals become remainder goals.
        if conclusion is not None and conclusion[0] == "app" and conclusion[1] in ("Z.divide", "Nat.divide"):
            lemma = "Z.mod_divide" if domain == "Z" else "Nat.mod_divide"
            out.append(Proposal(-0.7, f"apply {lemma}; [lia |]"))
        # Case split on a variable's remainder: x mod k is one of 0..k-1.
        variables_in_goal = set(goal.variables_of(domain))
        for dividend, k in pairs[:3]:
            if dividend not in variables_in_goal or not k.isdigit() or int(k) > _MAX_REMAINDER_CASES:
                continue
            cases = " \\/ ".join(f"{dividend} mod {k} = {r}" for r in range(int(k)))
            bound = (
                f"pose proof (Nat.mod_upper_bound {dividend} {k} ltac:(lia)); lia"
                if domain == "nat"
                else f"pose proof (Z.mod_pos_bound {dividend} {k} ltac:(lia)); lia"
            )
            split = f"assert (Hr : {cases}) by ({bound}); repeat destruct Hr as [Hr | Hr]"
            closer = "Z.to_euclidean_division_equations; nia" if domain == "Z" else "nia"
            out.append(Proposal(-1.0, f"{split}; {closer}"))
            out.append(Proposal(-1.6, split))
        return out
