"""Divisibility and modular arithmetic.

- Closed goals: computation (`reflexivity`, `vm_compute`), and for natural numbers too large to
  compute in unary, the move to binary integers (`Nat2Z.inj` and the `Nat2Z.inj_*` rewrites, then
  `vm_compute`).
- With variables: the division equations of every `a mod k` (`Nat.div_mod`, `Nat.mod_upper_bound`
  in nat, for each `mod` of the goal and hypotheses by `NAT_EUCLID`; `Z.to_euclidean_division_equations`
  in Z) handed to `nia`/`lia`; the stdlib's modular rewrites (`Nat.mul_mod`, `Nat.add_mod`,
  `Z.mul_mod`, `Z.add_mod`).
- The per-remainder case split: for a variable `x` inside a dividend `e mod k` (small k), write
  `x = k * q + r` with `r` one of 0..k-1, substitute, and close each case with the division
  equations: `e` becomes a polynomial in `q` whose remainder is linear arithmetic (`(3q+1)^2 =
  3(3q^2+2q) + 1`), which is how `a^2 mod 3` is 0 or 1 is proved.
- Divisibility goals (`(k | e)`, `Nat.divide`): turned into remainder goals (`Z.mod_divide`,
  `Nat.mod_divide`) or given the witness `e / k` (`exists (e / k)`) when the quotient is a polynomial.
"""

from __future__ import annotations

import re

from prover.policies.generators.base import GoalView, Proposal, domain_of
from prover.policies.generators.terms import Term, Unreadable, subterms, to_coq, to_sympy, variables

__all__ = ["ModularGenerator"]

_MAX_REMAINDER_CASES = 12

NAT_EUCLID = (
    "repeat match goal with H : context [Nat.modulo _ _] |- _ => revert H end; "
    "repeat match goal with |- context [Nat.modulo ?a ?k] => let Hd := fresh \"Hd\" in let Hm := fresh \"Hm\" in "
    "pose proof (Nat.div_mod a k ltac:(lia)) as Hd; pose proof (Nat.mod_upper_bound a k ltac:(lia)) as Hm; "
    "revert Hd Hm; generalize (Nat.div a k) (Nat.modulo a k); intros end; intros"
)
"""Every `a mod k` (k a non-zero literal) of a nat goal and its hypotheses replaced by a fresh `r` with
`a = k * q + r` and `r < k`: the natural-number counterpart of `Z.to_euclidean_division_equations`
(zify knows no `Nat.modulo` without an import the problem's file may lack)."""

Z_EUCLID = "(Z.to_euclidean_division_equations; nia)"
"""Parenthesised: a step must start like a tactic, and `Z.` reads as a command's name otherwise."""


def remainder_split(variable: str, k: int, domain: str) -> str:
    """Write `variable = k * q + r`, substitute it everywhere, and split on r = 0 .. k-1 (each case substituted)."""
    # Function names and `%Z`, not `/`, `mod` and bare numerals: they must not depend on the open scope.
    module, suffix = ("Nat", "%nat") if domain == "nat" else ("Z", "%Z")
    cases = " \\/ ".join(f"r = {value}{suffix}" for value in range(k))
    bound = "Nat.mod_upper_bound" if domain == "nat" else "Z.mod_pos_bound"
    facts = f"pose proof ({module}.div_mod {variable} {k} ltac:(lia)) as Hx; pose proof ({bound} {variable} {k} ltac:(lia)) as Hb"
    return (
        f"{facts}; remember ({module}.div {variable} {k}) as q eqn:Hq; remember ({module}.modulo {variable} {k}) as r eqn:Hr; "
        "clear Hq Hr; "
        f"subst {variable}; assert (Hc : {cases}) by lia; repeat destruct Hc as [Hc | Hc]; subst r"
    )


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
        if not re.search(r"\bmod\b|modulo|divide|\|", text):
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
            out.append(Proposal(-0.7, f"{NAT_EUCLID}; nia"))
            for lemma in ("Nat.mul_mod", "Nat.add_mod"):  # Nat.pow_mod is not in Coq 8.16's stdlib
                out.append(Proposal(-1.5, f"rewrite {lemma} by lia"))
            out.append(Proposal(-1.2, "rewrite Nat.mul_mod by lia; rewrite ?Nat.mod_mod by lia; simpl; lia"))
        else:
            out.append(Proposal(-0.5, Z_EUCLID))
            out.append(Proposal(-0.8, "(Z.to_euclidean_division_equations; lia)"))
            for lemma in ("Z.mul_mod", "Z.add_mod"):  # Zpower_mod needs Zpow_facts, which files rarely import
                out.append(Proposal(-1.5, f"rewrite {lemma} by lia"))
        # Divisibility goals: the polynomial quotient as the witness, or the remainder goal.
        divisibility = conclusion is not None and conclusion[0] == "app" and conclusion[1] in ("Z.divide", "Nat.divide", "divide")
        to_remainder = ""
        if divisibility and len(conclusion[2]) == 2:
            divisor, multiple = conclusion[2]
            to_remainder = f"apply {'Z' if domain == 'Z' else 'Nat'}.mod_divide; [lia |]"
            out.append(Proposal(-0.7, to_remainder))
            quotient = _polynomial_quotient(multiple, divisor, domain)
            if quotient is not None:
                out.append(Proposal(-0.3, f"exists ({quotient}); ring"))
                out.append(Proposal(-0.9, f"exists ({quotient}); nia"))
            if divisor[0] == "num":
                terms = [*terms, ("bin", "mod", multiple, divisor)]
        # Case split on the remainder of each variable of a dividend: x = k*q + r, r in 0..k-1.
        variables_in_goal = set(goal.variables_of(domain))
        closer = Z_EUCLID if domain == "Z" else f"(cbn [Nat.pow] in *; {NAT_EUCLID}; nia)"
        split_on: list[tuple[str, int]] = []
        for term in terms:
            for dividend, divisor in _mod_terms(term):
                if not divisor[1].isdigit() or not 2 <= int(divisor[1]) <= _MAX_REMAINDER_CASES:
                    continue
                for name in sorted(variables(dividend) & variables_in_goal):
                    if (name, int(divisor[1])) not in split_on:
                        split_on.append((name, int(divisor[1])))
        for rank, (name, k) in enumerate(split_on[:3]):
            split = remainder_split(name, k, domain)
            if to_remainder:  # the remainder goal `e mod k = 0` first, then the split closes it
                out.append(Proposal(-0.6 - 0.2 * rank, f"{to_remainder[:-1]} {split}; {closer}]"))
                continue
            out.append(Proposal(-0.6 - 0.2 * rank, f"{split}; {closer}"))
            out.append(Proposal(-1.6 - 0.2 * rank, split))
        return out


def _polynomial_quotient(multiple: Term, divisor: Term, domain: str) -> str | None:
    """Coq text of `multiple / divisor` when it is a polynomial with integer coefficients (nonnegative in nat)."""
    import sympy

    from prover.policies.generators.cas import sympy_to_coq

    try:
        numerator, denominator = to_sympy(multiple, domain), to_sympy(divisor, domain)
        if numerator.has(sympy.Max, sympy.floor, sympy.Mod, sympy.Function) or denominator.has(sympy.Max, sympy.floor, sympy.Mod, sympy.Function):
            return None
        symbols = sorted(numerator.free_symbols | denominator.free_symbols, key=str)
        if not symbols:
            return None
        quotient, remainder = sympy.div(sympy.Poly(numerator, *symbols), sympy.Poly(denominator, *symbols))
    except Exception:  # noqa: BLE001 - not polynomials (powers with variable exponents, ...)
        return None
    coefficients = quotient.coeffs()
    if not remainder.is_zero or quotient.is_zero or not all(c.is_Integer for c in coefficients):
        return None
    if domain == "nat" and any(c < 0 for c in coefficients):
        return None
    try:
        return sympy_to_coq(quotient.as_expr(), domain)
    except Unreadable:
        return None
