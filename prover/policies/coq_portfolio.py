"""A symbolic Coq tactic portfolio: decision procedures, finishing tactics and a few structural steps,
ordered by what the first goal looks like. The zero-model baseline and the fallback policy.

No model and no randomness: the same state always gets the same candidates in the same order.
Priors are hand-set log-probabilities (a base per tactic, raised when the goal's domain suits it:
reals -> lra/nra/field first, nat/Z -> lia/nia first), then normalised over the state's candidates.
It relies on the environment's preamble (`From Coq Require Import Lia Lra Psatz.` and, when
CoqHammer is installed, `From Hammer Require Import Tactics.` for sauto/hauto/qauto).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

from search.types import Candidate, State

__all__ = ["CoqGoal", "parse_coq_goal", "CoqPortfolioPolicy"]

_RULE = re.compile(r"^=+$")
_IDENT = r"[^\W\d][\w']*"
_REAL_MARKERS = re.compile(r"%R|\bR\b|\bsqrt\b|\bRabs\b|\bln\b|\bexp\b|\bsin\b|\bcos\b|\btan\b|\bPI\b|\bIZR\b|\bINR\b|\bRpower\b|\bRsqr\b|\d\.\d|\bRmax\b|\bRmin\b")
_INT_MARKERS = re.compile(r"%Z|\bZ\b|\bZ\.|\bZpos\b|\bZ_of_nat\b|\bZ\.of_nat\b")
_NAT_MARKERS = re.compile(r"%nat|\bnat\b|\bNat\.|\bS\b|\bfact\b")


@dataclass(frozen=True)
class CoqGoal:
    """The first goal of a state, as `CoqEnvironment` prints it (hypotheses, a rule of `=`, the conclusion).

    hypotheses: (name, type) pairs in order; `x, y : R` gives one pair per name.
    conclusion: the text after the rule.
    """

    hypotheses: tuple[tuple[str, str], ...]
    conclusion: str

    def names_of_type(self, *types: str) -> list[str]:
        """Hypothesis names whose type is exactly one of `types` (plain variables such as `n : nat`)."""
        return [name for name, kind in self.hypotheses if kind.strip() in types]

    def facts(self) -> list[tuple[str, str]]:
        """Hypotheses whose type is a proposition (anything that is not a bare type like `R` or `nat`)."""
        return [(name, kind) for name, kind in self.hypotheses if not re.fullmatch(r"[\w.]+|[\w.]+ -> [\w.]+", kind.strip())]

    @property
    def text(self) -> str:
        return " ".join([kind for _, kind in self.hypotheses] + [self.conclusion])


def parse_coq_goal(goal: str) -> CoqGoal:
    """Split one goal's text into hypotheses and conclusion (a `(unfocused) `-style prefix is ignored)."""
    goal = re.sub(r"^\((?:unfocused|shelved|given up)\) ", "", goal)
    lines = goal.splitlines()
    rule = next((i for i, line in enumerate(lines) if _RULE.match(line.strip())), None)
    if rule is None:
        return CoqGoal((), " ".join(goal.split()))
    hypotheses: list[tuple[str, str]] = []
    for line in lines[:rule]:
        names, sep, kind = line.partition(" : ")
        if not sep:
            if hypotheses:  # a wrapped type
                name, previous = hypotheses[-1]
                hypotheses[-1] = (name, previous + " " + line.strip())
            continue
        names = names.split(":=")[0]  # `x := v : T` (a let-bound hypothesis)
        for name in (n.strip() for n in names.split(",")):
            if re.fullmatch(_IDENT, name):
                hypotheses.append((name, kind.strip()))
    conclusion = " ".join(" ".join(lines[rule + 1 :]).split())
    return CoqGoal(tuple(hypotheses), conclusion)


# Base log-probabilities: roughly how often each closer works on competition goals.
_BASE: dict[str, float] = {
    "lia": -1.2,
    "nia": -1.8,
    "lra": -1.2,
    "nra": -1.8,
    "psatz R 2": -2.4,
    "psatz R 3": -3.0,
    "psatz Z 2": -2.8,
    "field": -1.9,
    "ring": -2.0,
    "reflexivity": -2.2,
    "vm_compute; reflexivity": -2.6,
    "auto": -2.4,
    "easy": -2.5,
    "trivial": -3.0,
    "intuition": -2.8,
    "tauto": -3.0,
    "firstorder": -3.2,
    "congruence": -3.0,
    "intros": -1.0,
    "split": -1.6,
    "left": -3.0,
    "right": -3.0,
    "subst": -2.6,
    "simpl": -2.9,
    "unfold Rdiv": -3.2,
    "field_simplify": -3.0,
    "destruct": -2.6,
    "induction": -3.2,
    "rewrite": -2.7,
    "qauto": -2.6,
    "hauto": -2.9,
    "sauto": -3.1,
    "combo": -1.6,
}


class CoqPortfolioPolicy:
    """Proposes Coq tactics for the first goal of a state, best first, deterministically.

    hammer: propose CoqHammer's sauto/hauto/qauto (they need the environment's Hammer import);
        None means "when CoqHammer is installed".
    """

    source = "portfolio"

    def __init__(self, *, hammer: bool | None = None) -> None:
        if hammer is None:
            from pathlib import Path

            hammer = Path("/usr/lib/ocaml/coq/user-contrib/Hammer/Tactics").is_dir()
        self.hammer = hammer

    def propose(self, state: State, n: int) -> list[Candidate]:
        """Up to `n` distinct tactics for `state`'s first goal, with log-probabilities normalised over all."""
        if not state.goals or n <= 0:
            return []
        scored = self._scored(parse_coq_goal(state.goals[0]), unfocused=state.goals[0].startswith("("))
        best: dict[str, tuple[float, int]] = {}
        for index, (score, tactic) in enumerate(scored):
            if tactic not in best or score > best[tactic][0]:
                best[tactic] = (score, best.get(tactic, (score, index))[1])
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[1][1]))
        normaliser = math.log(sum(math.exp(score) for score, _ in best.values()))
        return [
            Candidate(tactic=tactic, log_prob=min(score - normaliser, 0.0), source=self.source)
            for tactic, (score, _) in ranked[:n]
        ]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        """`propose` for each state (no model: nothing to batch)."""
        return [self.propose(state, n) for state in states]

    def _scored(self, goal: CoqGoal, *, unfocused: bool) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = []

        def add(key: str, tactic: str | None = None, bonus: float = 0.0) -> None:
            out.append((_BASE[key] + bonus, tactic if tactic is not None else key))

        if unfocused:
            # The focused block is done: the next step must be a bullet or a brace.
            out.extend([(-0.1, "-"), (-0.5, "+"), (-0.8, "*"), (-1.0, "}")])
            return out

        text = goal.text
        conclusion = goal.conclusion
        real = bool(_REAL_MARKERS.search(text))
        integer = bool(_INT_MARKERS.search(text))
        natural = bool(_NAT_MARKERS.search(text)) and not real
        arithmetic = real or integer or natural or bool(re.search(r"\d", text))
        introducible = bool(re.match(r"(forall\b|~)", conclusion)) or " -> " in conclusion
        top_conj = " /\\ " in conclusion and not introducible
        top_disj = " \\/ " in conclusion and not introducible
        top_iff = " <-> " in conclusion and not introducible
        exists = conclusion.startswith("exists")
        equation = bool(re.search(r"(?<![<>])=(?!>)", conclusion)) and not introducible
        nonlinear = bool(re.search(r"\^|\w\s*\*\s*\w", text))

        # Decision procedures for the domain, first.
        if real:
            add("lra", bonus=0.6)
            add("nra", bonus=0.5 + (0.4 if nonlinear else 0.0))
            add("field", bonus=0.5 if equation and "/" in conclusion else (0.1 if equation else -1.0))
            add("ring", bonus=0.2 if equation else -1.2)
            add("psatz R 2", bonus=0.3 if nonlinear else -0.5)
            add("psatz R 3", bonus=0.1 if nonlinear else -0.8)
            add("field_simplify", bonus=0.0 if "/" in conclusion else -1.0)
            add("unfold Rdiv", bonus=0.0 if "/" in text else -2.0)
        if integer or natural or (arithmetic and not real):
            add("lia", bonus=0.6)
            add("nia", bonus=0.4 + (0.4 if nonlinear else 0.0))
            add("ring", bonus=0.1 if equation else -1.2)
            add("psatz Z 2", bonus=0.0 if integer and nonlinear else -0.8)
            add("vm_compute; reflexivity", bonus=0.5 if _closed(conclusion) else -1.0)
            add("simpl", bonus=-0.3)
        if not arithmetic:
            add("lia", bonus=-0.8)
            add("lra", bonus=-1.0)
        add("reflexivity", bonus=0.3 if equation else -1.0)

        # Logic and structure.
        if introducible:
            add("intros", bonus=0.4)
            closers = ["lra", "nra", "field", "psatz R 2"] if real else ["lia", "nia"]
            if not arithmetic:
                closers = ["tauto", "firstorder"]
            for rank, closer in enumerate(closers):
                add("combo", f"intros; {closer}", bonus=0.4 - 0.4 * rank)
            add("combo", "intros; subst; " + ("lra" if real else "lia"), bonus=-0.3)
            if real:
                add("combo", "intros; subst; field", bonus=-0.7)
                add("combo", "intros; split; lra", bonus=-0.5 if "/\\" in conclusion else -2.0)
        if top_conj or top_iff:
            add("split", bonus=0.6)
            closer = "lra" if real else "lia"
            add("combo", f"split; {closer}", bonus=0.2)
            if real:
                add("combo", "split; nra", bonus=-0.3)
        if top_disj:
            add("left")
            add("right")
            closer = "lra" if real else "lia"
            add("combo", f"left; {closer}", bonus=-0.6)
            add("combo", f"right; {closer}", bonus=-0.6)
        if exists:
            add("combo", "eexists", bonus=-1.0)
        add("auto", bonus=0.0 if not arithmetic else -0.5)
        add("easy")
        add("intuition", bonus=0.2 if not arithmetic else -0.4)
        add("tauto", bonus=0.2 if not arithmetic else -1.0)
        add("firstorder", bonus=0.0 if not arithmetic else -1.2)
        add("congruence", bonus=0.0 if equation else -1.0)
        add("trivial", bonus=-0.5)

        # Case analysis and rewriting on names found in the goal.
        facts = goal.facts()
        if any(re.fullmatch(_IDENT, name) and kind.split(" = ")[0].strip() == name for name, kind in facts):
            add("subst", bonus=0.4)
        for name, kind in facts:
            if " /\\ " in kind and " -> " not in kind:
                add("destruct", f"destruct {name} as [? ?]", bonus=0.2)
            elif " \\/ " in kind and " -> " not in kind:
                add("destruct", f"destruct {name} as [? | ?]")
            elif kind.startswith("exists"):
                add("destruct", f"destruct {name} as [? ?]", bonus=0.1)
            if re.search(r"(?<![<>])=(?!>)", kind) and " -> " not in kind and not kind.startswith("forall"):
                add("rewrite", f"rewrite {name}", bonus=-0.2)
            elif kind.startswith("forall") and "=" in kind:
                add("rewrite", f"rewrite {name}", bonus=-0.4)
        for name in goal.names_of_type("nat"):
            add("induction", f"induction {name}")
            add("destruct", f"destruct {name}", bonus=-0.6)
        for name in goal.names_of_type("bool"):
            add("destruct", f"destruct {name}")

        if self.hammer:
            add("qauto", bonus=0.0 if not arithmetic else -0.6)
            add("hauto", bonus=0.0 if not arithmetic else -0.6)
            add("sauto", bonus=0.0 if not arithmetic else -0.6)
        return out


def _closed(conclusion: str) -> bool:
    """A conclusion without variables (a computation such as `Nat.gcd 180 168 = 12`)."""
    words = set(re.findall(_IDENT, conclusion))
    functions = {"Nat", "Z", "gcd", "modulo", "div", "pow", "fact", "mod", "S", "O", "true", "false"}
    return bool(re.search(r"\d", conclusion)) and all(w in functions or "." in w for w in words)
