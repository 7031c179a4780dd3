"""Witnesses and bounded case analysis, found by evaluating the goal's arithmetic in Python.

- `exists n, P n`: evaluate P on small candidates (naturals from 0, integers by absolute value,
  reals as small fractions) and propose `exists 42` for the first ones that make P true.
- A natural or integer variable that the hypotheses bound (`n < 20`, `n * n < 100`, `2 <= n`):
  the values the single-variable hypotheses allow are computed, and when they lie in a short
  interval lo..hi the case split is proposed as `assert (n = lo \\/ ... \\/ n = hi) by nia`, each
  case substituted and closed by computation (`lia`, `nia`, `vm_compute`).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

from prover.policies.generators.base import GoalView, Proposal, domain_of
from prover.policies.generators.terms import Domain, Term, Unreadable, evaluate, variables

__all__ = ["WitnessGenerator", "find_witnesses", "bounded_values"]

_EVALUATION_LIMIT = 6000  # candidate evaluations per goal: milliseconds, not seconds
_MAX_CASES = 40
_SCAN = 400  # bounded-variable scan: 0..400 (nat) or -400..400 (Z)


def _domain_of_type(kind: str | None, fallback: Domain | None) -> Domain | None:
    if kind is None:
        return fallback
    kind = kind.strip()
    return {"nat": "nat", "Z": "Z", "R": "R"}.get(kind)  # type: ignore[return-value]


def _candidates(domain: Domain):
    if domain == "nat":
        yield from (Fraction(i) for i in range(0, 3000))
    elif domain == "Z":
        yield Fraction(0)
        for i in range(1, 1500):
            yield Fraction(i)
            yield Fraction(-i)
    else:
        # Simplest fractions first: by height max(|p|, q), so a few dozen candidates cover 3/4 and -1/2.
        seen = set()
        for height in range(0, 200):
            for q in range(1, min(height, 12) + 1 if height else 2):
                for p in ((height,) if q < height else range(0, height + 1)):
                    for value in (Fraction(p, q), Fraction(-p, q)):
                        if value not in seen:
                            seen.add(value)
                            yield value


def find_witnesses(binders: list[tuple[str, Domain]], body: Term, *, limit: int = 2) -> list[tuple[Fraction, ...]]:
    """Up to `limit` tuples of values for `binders` that make `body` true, small ones first."""
    found: list[tuple[Fraction, ...]] = []
    evaluations = 0
    names = [name for name, _ in binders]
    if len(binders) == 1:
        pools = [_candidates(binders[0][1])]
        product = ((value,) for value in pools[0])
    else:
        width = {2: 60, 3: 16}.get(len(binders), 6)
        lists = [list(itertools.islice(_candidates(domain), width)) for _, domain in binders]
        product = itertools.product(*lists)
    domain = binders[0][1] if all(d == binders[0][1] for _, d in binders) else "R"
    for values in product:
        evaluations += 1
        if evaluations > _EVALUATION_LIMIT:
            break
        try:
            if evaluate(body, dict(zip(names, values)), domain) is True:
                found.append(values)
                if len(found) >= limit:
                    break
        except Unreadable:
            if evaluations == 1:
                return []  # the body is not computable (a function we cannot evaluate)
            continue
    return found


def _coq_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator) if value >= 0 else f"({value.numerator})"
    return f"({value.numerator} / {value.denominator})"


def bounded_values(name: str, facts: list[Term], domain: Domain) -> list[int] | None:
    """The values of `name` that every single-variable fact allows, when they fit a short interval."""
    relevant = [fact for fact in facts if variables(fact) == {name}]
    if not relevant:
        return None
    scan = range(0, _SCAN + 1) if domain == "nat" else range(-_SCAN, _SCAN + 1)
    allowed = []
    for value in scan:
        try:
            if all(evaluate(fact, {name: Fraction(value)}, domain) is True for fact in relevant):
                allowed.append(value)
        except Unreadable:
            return None
    if not allowed or allowed[-1] == scan[-1] or (domain == "Z" and allowed[0] == scan[0]):
        return None  # empty (lia's job) or not bounded within the scan
    return allowed


class WitnessGenerator:
    """`exists` witnesses and interval case splits, by evaluation."""

    name = "witness"

    def propose(self, goal: GoalView) -> list[Proposal]:
        out: list[Proposal] = []
        domain = domain_of(goal)
        conclusion = goal.term(goal.conclusion)
        if conclusion is not None and conclusion[0] == "exists":
            binders = [(name, _domain_of_type(kind, domain)) for name, kind in conclusion[1]]
            if all(d is not None for _, d in binders) and variables(conclusion[2]) <= {n for n, _ in binders}:
                for rank, values in enumerate(find_witnesses(binders, conclusion[2])):  # type: ignore[arg-type]
                    witness = ", ".join(_coq_number(v) for v in values)
                    out.append(Proposal(0.2 - 0.5 * rank, f"exists {witness}"))
        if domain in ("nat", "Z"):
            facts = [term for term in (goal.term(kind) for _, kind in goal.facts()) if term is not None]
            for name in goal.variables_of(domain):
                allowed = bounded_values(name, facts, domain)
                if allowed is None or len(allowed) < 2 or allowed[-1] - allowed[0] + 1 > _MAX_CASES:
                    continue
                interval = range(allowed[0], allowed[-1] + 1)
                cases = " \\/ ".join(f"{name} = {_coq_number(Fraction(v))}" for v in interval)
                split = f"assert (Hcase : {cases}) by nia; repeat destruct Hcase as [Hcase | Hcase]; subst {name}"
                out.append(Proposal(-0.8, f"{split}; lia"))
                out.append(Proposal(-1.0, f"{split}; nia"))
                out.append(Proposal(-1.1, f"{split}; simpl in *; lia"))
                out.append(Proposal(-1.3, f"{split}; vm_compute; reflexivity"))
                out.append(Proposal(-1.6, split))
        return out
