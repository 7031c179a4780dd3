"""Induction and structure: the steps that proofs about lists, trees and recursive functions need.

Induction on any variable of an inductive-looking type (the goal's hypotheses or the binders of a
`forall` conclusion: `nat`, `list A`, `positive`, the user's own `tree`), alone and chained with
the usual follow-ups (`simpl`, then `congruence`/`lia`/`nia`/`auto`/`f_equal`, which use the
induction hypotheses in the context); `destruct` on booleans, options, sums and on the scrutinee
of a `match`/`if` in the conclusion; `inversion` on hypotheses of inductive predicates; `unfold`
of the file's own definitions; `rewrite`/`apply` with the lemmas proved earlier in the file.
"""

from __future__ import annotations

import re

from prover.policies.generators.base import GoalView, Proposal
from prover.policies.generators.terms import Unreadable, _Parser, _tokens

__all__ = ["InductionGenerator", "forall_binders"]

# Types that are not inductive (or whose induction principle is not what a user wants).
_NOT_INDUCTIVE = {"R", "Z", "Q", "C", "Prop", "Type", "Set", "SProp"}
_CASE_TYPES = re.compile(r"^(bool|option\b.*|sumbool\b.*|sum\b.*|.*\s\+\s.*|\{.*\}\s*\+\s*\{.*\}|comparison|unit)$")
# Follow-ups after `induction x; intros; simpl`, best first; each uses the induction hypotheses.
_FOLLOW_UPS = ("congruence", "lia", "auto", "f_equal; auto", "nia", "ring")
_ARITH_RELATIONS = {"=", "<>", "<", "<=", ">", ">=", "In", "Nat.divide", "Z.divide", "divide"}
_TYPE_FORMERS = {"list", "option", "prod", "sum", "vector", "Vector.t", "seq", "nat", "bool", "sig", "sigT", "Fin.t", "array"}
_MAX_LEMMAS = 12  # the most recent ones: nearby lemmas are the relevant ones


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
        for lemma in goal.file.equations[-_MAX_LEMMAS:]:
            out.append(Proposal(-1.2, f"rewrite {lemma}"))
            out.append(Proposal(-1.8, f"rewrite <- {lemma}"))
            out.append(Proposal(-1.6, f"rewrite {lemma}; auto"))
        for lemma in goal.file.lemmas[-_MAX_LEMMAS:]:
            out.append(Proposal(-1.7, f"apply {lemma}"))
        return out
