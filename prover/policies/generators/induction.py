"""Induction and structure: the steps that proofs about lists, trees and recursive functions need.

Induction on any variable of an inductive-looking type (the goal's hypotheses or the binders of a
`forall` conclusion: `nat`, `list A`, `positive`, the user's own `tree`), alone and chained with
the usual follow-ups (`simpl`, then `congruence`/`lia`/`nia`/`auto`/`f_equal`, which use the
induction hypotheses in the context); `destruct` on booleans, options, sums and on the scrutinee
of a `match`/`if` in the conclusion; `inversion` on hypotheses of inductive predicates; `unfold`
of the file's own definitions; `rewrite`/`apply` with the lemmas proved earlier in the file.

Sums over the reals (`sum_f_R0 f n = closed form`): induction whose step peels the last term
(`tech5`), uses the induction hypothesis, turns `INR (S n)` into `INR n + 1` and closes by `field`
(denominators nonzero by `pos_INR`). A lower bound `1 <= n` is absorbed first (`n = S m`,
`S m - 1 = m`), so the induction runs on a statement without the hypothesis: a strengthened one.

Divisibility over n (`Nat.divide k (a * B ^ n + b)`): induction with the witness computed by
algebra: from `a * B^n + b = k * c`, `a * B^(n+1) + b = k * (B * c + b * (1 - B) / k)`; the base
case's witness is `(a + b) / k`. A bound `0 < n` is dropped when the statement holds at 0 too.
"""

from __future__ import annotations

import re

from prover.policies.generators.base import GoalView, Proposal
from prover.policies.generators.terms import Term, Unreadable, _Parser, _tokens, subterms

__all__ = ["InductionGenerator", "forall_binders"]

# Types that are not inductive (or whose induction principle is not what a user wants).
_NOT_INDUCTIVE = {"R", "Z", "Q", "C", "Prop", "Type", "Set", "SProp"}
_CASE_TYPES = re.compile(r"^(bool|option\b.*|sumbool\b.*|sum\b.*|.*\s\+\s.*|\{.*\}\s*\+\s*\{.*\}|comparison|unit)$")
# Follow-ups after `induction x; intros; simpl`, best first; each uses the induction hypotheses.
_FOLLOW_UPS = ("congruence", "lia", "auto", "f_equal; auto", "nia", "ring")
_ARITH_RELATIONS = {"=", "<>", "<", "<=", ">", ">=", "In", "Nat.divide", "Z.divide", "divide"}
_TYPE_FORMERS = {"list", "option", "prod", "sum", "vector", "Vector.t", "seq", "nat", "bool", "sig", "sigT", "Fin.t", "array"}
_MAX_LEMMAS = 12  # the most recent ones: nearby lemmas are the relevant ones


def real_sum_induction(variable: str) -> str:
    """Induction on `variable` for a `sum_f_R0` identity: base by computation, step by tech5 + IH + field."""
    return (
        f"induction {variable} as [|{variable} IH]; [simpl; (field || lra) | rewrite tech5, IH; "
        "repeat (rewrite S_INR || rewrite plus_INR || rewrite mult_INR); simpl; field; "
        f"pose proof (pos_INR {variable}); repeat split; lra]"
    )


def _power_form(expression: Term, variable: str) -> tuple[int, int, int] | None:
    """(a, B, b) when `expression` is `a * B ^ variable + b` with integer a, b and literal base B > 1."""
    import sympy

    from prover.policies.generators.terms import to_sympy

    powers = {
        sub[2][1] for sub in subterms(expression)
        if sub[0] == "bin" and sub[1] == "^" and sub[2][0] == "num" and sub[3] == ("var", variable)
    }
    if len(powers) != 1:
        return None
    base = int(powers.pop())
    try:
        polynomial = to_sympy(expression, "Z")  # nat subtraction read as Z: the witness algebra is the same
        atom = sympy.Symbol("X_power")
        linear = sympy.expand(polynomial.subs(sympy.Integer(base) ** sympy.Symbol(variable), atom))
        if linear.free_symbols - {atom}:
            return None
        a, b = sympy.Poly(linear, atom).all_coeffs() if sympy.Poly(linear, atom).degree() == 1 else (None, None)
    except Exception:  # noqa: BLE001 - not of the form
        return None
    if a is None or not (a.is_Integer and b.is_Integer) or base < 2:
        return None
    return int(a), base, int(b)


def divisibility_induction(variable: str, divisor: int, form: tuple[int, int, int]) -> str | None:
    """Induction for `divisor | a * B^variable + b` in nat with the computed witnesses, or None when they are not integers."""
    a, base, b = form
    if (a + b) % divisor or (b * (1 - base)) % divisor or a + b < 0:
        return None
    start = (a + b) // divisor
    shift = b * (1 - base) // divisor
    witness = f"{base} * c" + (f" + {shift}" if shift > 0 else f" - {-shift}" if shift < 0 else "")
    return (
        f"induction {variable} as [|{variable} IH]; [exists {start}; simpl; lia | destruct IH as [c Hc]; "
        f"exists ({witness}); rewrite Nat.pow_succ_r'; pose proof (Nat.pow_nonzero {base} {variable} ltac:(lia)); nia]"
    )


def absorb_lower_bound(variable: str, hypothesis: str) -> str:
    """`1 <= n` (or `0 < n`, `n <> 0`): write n = S m and drop the bound, so that induction needs no premise."""
    return f"destruct {variable} as [|{variable}]; [lia |]; rewrite ?Nat.sub_succ, ?Nat.sub_0_r in *; clear {hypothesis}"


def forall_binders(conclusion: str) -> list[tuple[str, str | None]]:
    """The binders of a conclusion `forall x y : T, ...` (names with type text), [] when there are none."""
    if not conclusion.startswith("forall "):
        return []
    depth = 0
    for index, char in enumerate(conclusion):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            try:
                parser = _Parser(_tokens(conclusion[len("forall "):index]))
                return parser.binders()
            except Unreadable:
                return []
    return []


def _inductive(kind: str | None) -> bool:
    if not kind:
        return False
    kind = kind.strip()
    if kind in _NOT_INDUCTIVE or "->" in kind or kind.startswith(("forall", "{", "exists")):
        return False
    if re.search(r"[=<>~/\\]", kind):
        return False  # a proposition
    head = kind.split()[0].strip("()")
    return bool(re.fullmatch(r"[^\W\d][\w'.]*", head)) and head not in _NOT_INDUCTIVE


class InductionGenerator:
    """Induction, case analysis, inversion, unfolding and rewriting with the file's lemmas."""

    name = "induction"

    def propose(self, goal: GoalView) -> list[Proposal]:
        out: list[Proposal] = []
        text = " ".join([kind for _, kind in goal.hypotheses] + [goal.conclusion])
        arithmetic_goal = bool(re.search(r"\bR\b|\bZ\b|%R|%Z|\bsqrt\b|\bRabs\b", text))
        candidates: list[tuple[str, str]] = [(name, kind) for name, kind in goal.hypotheses]
        bound = forall_binders(goal.conclusion)
        candidates += [(name, kind or "") for name, kind in bound]
        bound_names = {name for name, _ in bound}
        for name, kind in candidates:
            if not _inductive(kind) or kind.strip() == "bool":
                continue
            structural = not arithmetic_goal and kind.strip() != "nat"
            # Induction pays off when the variable is an argument of a function in the conclusion.
            used = bool(re.search(rf"\w\s+(?:\([^()]*)?\b{re.escape(name)}\b", goal.conclusion))
            base = -0.6 if structural else (-1.3 if used else -2.0)
            out.append(Proposal(base, f"induction {name}"))
            for rank, follow in enumerate(_FOLLOW_UPS):
                tactic = f"induction {name}; intros; simpl; {follow}"
                if follow in ("nia", "ring") and kind.strip() != "nat":
                    continue
                out.append(Proposal(base + 0.3 - 0.15 * rank, tactic))
            if name not in bound_names:
                out.append(Proposal(base - 0.8, f"destruct {name}; simpl; auto"))
        for name, kind in candidates:
            if kind and not re.search(r"[=<>~]|->", kind) and _CASE_TYPES.match(kind.strip()):
                out.append(Proposal(-1.0, f"destruct {name}; simpl; auto"))
                out.append(Proposal(-1.4, f"destruct {name}"))
        for scrutinee in re.findall(r"\b(?:match|if)\s+(\([^()]*\)|[\w'.]+(?:\s+[\w'.]+)*?)\s+(?:with|then)\b", goal.conclusion):
            out.append(Proposal(-1.0, f"destruct {scrutinee} eqn:?"))
            out.append(Proposal(-1.3, f"destruct {scrutinee}; simpl; auto"))
        sorts = {name for name, kind in goal.hypotheses if kind.strip() in ("Type", "Set", "Prop")}
        context_names = {name for name, _ in goal.hypotheses}
        for name, kind in goal.hypotheses:
            words = kind.strip().split()
            head = words[0] if words else ""
            # An inductive predicate applied to the context's terms (`H : ev n`), not a type (`list A`).
            arguments = {word.strip("()") for word in words[1:]}
            if (
                re.fullmatch(r"[^\W\d][\w'.]*", head)
                and head not in _ARITH_RELATIONS
                and head not in _TYPE_FORMERS
                and arguments & (context_names - sorts)
                and not re.search(r"[=<>~]|/\\|\\/|->|\bforall\b|\bexists\b", kind)
            ):
                out.append(Proposal(-1.4, f"inversion {name}; subst; auto"))
                out.append(Proposal(-1.9, f"inversion {name}"))
        for definition in goal.file.definitions:
            if re.search(rf"\b{re.escape(definition)}\b", text):
                out.append(Proposal(-1.1, f"unfold {definition}"))
                out.append(Proposal(-1.5, f"unfold {definition} in *"))
        out.extend(self._sums(goal))
        out.extend(self._divisibility(goal))
        for lemma in goal.file.equations[-_MAX_LEMMAS:]:
            out.append(Proposal(-1.2, f"rewrite {lemma}"))
            out.append(Proposal(-1.8, f"rewrite <- {lemma}"))
            out.append(Proposal(-1.6, f"rewrite {lemma}; auto"))
        for lemma in goal.file.lemmas[-_MAX_LEMMAS:]:
            out.append(Proposal(-1.7, f"apply {lemma}"))
        return out

    def _sums(self, goal: GoalView) -> list[Proposal]:
        """Induction for `sum_f_R0` identities in a natural variable of the sum's bound, the bound's premise absorbed."""
        if "sum_f_R0" not in goal.conclusion:
            return []
        out: list[Proposal] = []
        for name in goal.variables_of("nat"):
            if not re.search(rf"\b{re.escape(name)}\b", goal.conclusion):
                continue
            bounds = [
                hypothesis for hypothesis, kind in goal.hypotheses
                if re.fullmatch(rf"\(?(?:1 <= {name}|0 < {name}|{name} >= 1|{name} > 0|{name} <> 0)\)?(?:%nat)?", kind.strip())
            ]
            out.append(Proposal(-0.6, real_sum_induction(name)))
            for hypothesis in bounds[:1]:
                out.append(Proposal(-0.5, f"{absorb_lower_bound(name, hypothesis)}; {real_sum_induction(name)}"))
                out.append(Proposal(-1.3, absorb_lower_bound(name, hypothesis)))
        return out

    def _divisibility(self, goal: GoalView) -> list[Proposal]:
        """Induction with witness algebra for `k | a * B^n + b` over a natural n (its `0 < n` bound dropped first)."""
        term = goal.term(goal.conclusion)
        if term is None or term[0] != "app" or term[1] not in ("Nat.divide", "divide") or len(term[2]) != 2:
            return []
        divisor, multiple = term[2]
        if divisor[0] != "num":
            return []
        out: list[Proposal] = []
        for name in goal.variables_of("nat"):
            form = _power_form(multiple, name)
            tactic = divisibility_induction(name, int(divisor[1]), form) if form else None
            if tactic is None:
                continue
            bounds = [hypothesis for hypothesis, kind in goal.hypotheses if re.search(rf"\b{re.escape(name)}\b", kind) and hypothesis != name]
            clear = f"clear {' '.join(bounds)}; " if bounds else ""
            out.append(Proposal(-0.4, f"{clear}{tactic}"))
        return out
