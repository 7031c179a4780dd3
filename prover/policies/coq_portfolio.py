"""A symbolic Coq tactic portfolio: decision procedures, finishing tactics and a few structural steps,
ordered by what the first goal looks like. The zero-model baseline and the fallback policy.

No model and no randomness: the same state always gets the same candidates in the same order.
Priors are hand-set log-probabilities (a base per tactic, raised when the goal's domain suits it:
reals -> lra/nra/field first, nat/Z -> lia/nia first), then normalised over the state's candidates.
Proposal generators (`prover.policies.generators`: nonlinear hints, computer algebra, witnesses,
modular arithmetic, induction and structure) add their tactics to the same list with scores on the
same scale; `generators=()` turns them off (the ablation arm "portfolio as before").
It relies on the environment's preamble (`From Coq Require Import Lia Lra Psatz.` and, when
CoqHammer is installed, `From Hammer Require Import Tactics.` for sauto/hauto/qauto).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Sequence

from search.types import Candidate, State, Theorem

log = logging.getLogger(__name__)

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


# Finishing tactics per kind of goal, best first. The order comes from trying each of them (3 s
# Timeout) after `intros` on a third of miniF2F's Coq valid split (tests/coq/measure_closers.py):
# on real-number goals nra, field_simplify; lra and psatz R 3 close the most, and
# complement each other; on nat/Z goals lia, nia and intuition lia; logic-heavy goals fall to
# intuition and CoqHammer's sauto/hauto. lra (a subset of nra, but quicker) stays second.
_CLOSERS: dict[str, tuple[str, ...]] = {
    "real": ("nra", "lra", "field_simplify; lra", "psatz R 3", "intuition nra", "subst; lra", "field", "psatz R 2"),
    "integer": ("lia", "nia", "intuition lia", "subst; lia", "psatz Z 2", "ring"),
    "logic": ("intuition", "auto", "tauto", "firstorder", "congruence", "easy"),
    "hammer": ("sauto", "hauto", "qauto"),
}
_RANK_STEP = 0.3  # score lost per place in a closer list
# How many of the goal kind's closers rank in the top tier; on a goal that still has binders they
# are also offered as `intros; <closer>`, so one-step proofs are found without expanding `intros`.
_TOP_CLOSERS = 4


class CoqPortfolioPolicy:
    """Proposes Coq tactics for the first goal of a state, best first, deterministically.

    hammer: propose CoqHammer's sauto/hauto/qauto (they need the environment's Hammer import);
        None means "when CoqHammer is installed".
    atp_hammer: also propose `hammer` itself (premise selection and external provers; the
        environment loads its plugin and puts the reconstructed tactic in the proof). Off by
        default: one call costs up to the step timeout.
    generators: names of the proposal generators to run (`prover.policies.generators.GENERATORS`);
        None means `DEFAULT_GENERATORS`, () none.
    """

    source = "portfolio"

    def __init__(
        self, *, hammer: bool | None = None, atp_hammer: bool = False, generators: Sequence[str] | None = None
    ) -> None:
        from prover.policies.generators import DEFAULT_GENERATORS, FileContext, build_generators

        if hammer is None:
            from prover.backends.coq import hammer_available

            hammer = hammer_available()
        self.hammer = hammer
        self.atp_hammer = hammer and atp_hammer
        self.generator_names = tuple(DEFAULT_GENERATORS if generators is None else generators)
        self.generators = build_generators(self.generator_names)
        self.file_context = FileContext()
        if {"nlarith", "cas"} & set(self.generator_names):
            import sympy  # noqa: F401 - imported once here (about 2 s), not inside the first search's budget

    def observe_theorem(self, theorem: Theorem) -> None:
        """Read the theorem's file header: its definitions and proved lemmas feed the generators."""
        from prover.policies.generators import context_from_header

        self.file_context = context_from_header(theorem.header) if self.generators else self.file_context

    def propose(self, state: State, n: int) -> list[Candidate]:
        """Up to `n` distinct tactics for `state`'s first goal, with log-probabilities normalised over all."""
        if not state.goals or n <= 0:
            return []
        first = state.goals[0]
        if first.startswith("(shelved) "):
            scored = [(0.0, "Unshelve.")]  # only existential variables are left: bring them back
        else:
            scored = self._scored(parse_coq_goal(first), unfocused=first.startswith("(unfocused) "))
        sources: dict[str, str] = {}
        if self.generators and not first.startswith(("(shelved) ", "(unfocused) ")):
            generated = self._generated(first)
            for _, tactic, name in generated:
                sources.setdefault(tactic, f"{self.source}/{name}")
            scored = scored + [(score, tactic) for score, tactic, _ in generated]
        best: dict[str, tuple[float, int]] = {}
        for index, (score, tactic) in enumerate(scored):
            if tactic not in best or score > best[tactic][0]:
                best[tactic] = (score, best.get(tactic, (score, index))[1])
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[1][1]))
        normaliser = math.log(sum(math.exp(score) for score, _ in best.values()))
        return [
            Candidate(tactic=tactic, log_prob=min(score - normaliser, 0.0), source=sources.get(tactic, self.source))
            for tactic, (score, _) in ranked[:n]
        ]

    def _generated(self, goal_text: str) -> list[tuple[float, str, str]]:
        """Every generator's proposals for the goal as (score, tactic, generator name)."""
        from prover.policies.generators import GoalView

        goal = parse_coq_goal(goal_text)
        view = GoalView(goal.hypotheses, goal.conclusion, self.file_context)
        out: list[tuple[float, str, str]] = []
        for generator in self.generators:
            try:
                proposals = generator.propose(view)
            except Exception as failure:  # noqa: BLE001 - sympy's exception zoo; a generator that fails proposes nothing
                log.debug("generator %s proposed nothing: %r", generator.name, failure)
                continue
            out.extend((proposal.score, proposal.tactic, generator.name) for proposal in proposals)
        return out

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        """`propose` for each state (no model: nothing to batch)."""
        return [self.propose(state, n) for state in states]

    def _scored(self, goal: CoqGoal, *, unfocused: bool) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = []
        if unfocused:
            # The focused block is done: the next step must be a bullet or a brace.
            return [(-0.1, "-"), (-0.5, "+"), (-0.8, "*"), (-1.0, "}")]

        text = goal.text
        conclusion = goal.conclusion
        real = bool(_REAL_MARKERS.search(text))
        integer = bool(_INT_MARKERS.search(text) or _NAT_MARKERS.search(text))
        arithmetic = real or integer or bool(re.search(r"\d", text))
        introducible = bool(re.match(r"(forall\b|~)", conclusion)) or " -> " in conclusion
        top_conj = " /\\ " in conclusion and not introducible
        top_disj = " \\/ " in conclusion and not introducible
        top_iff = " <-> " in conclusion and not introducible
        exists = conclusion.startswith("exists")
        equation = bool(re.search(r"(?<![<>])=(?!>)", conclusion)) and not introducible
        division = "/" in text

        primary = "real" if real else "integer" if arithmetic else "logic"
        # Tiers, so that the first ~8 candidates (a typical best-first width) mix the best closers
        # of the goal's kind with structural steps: 0 .. -0.9 the primary closers' top four;
        # -1.0 .. -1.5 CoqHammer's sauto and structural steps; below -1.5 everything else.
        closers: list[tuple[float, str]] = []
        for rank, tactic in enumerate(_CLOSERS[primary]):
            score = -_RANK_STEP * rank if rank < _TOP_CLOSERS else -1.6 - _RANK_STEP * (rank - _TOP_CLOSERS)
            if tactic.startswith("field"):
                score += 0.6 if division else -0.8
            closers.append((score, tactic))
        for family in ("integer", "logic", "real"):
            if family == primary or (family == "real" and not arithmetic):
                continue
            if family == "integer" and not arithmetic:
                continue
            offset = {"integer": -2.4, "logic": -2.0 if arithmetic else -1.0, "real": -4.0}[family]
            closers.extend((offset - _RANK_STEP * rank, tactic) for rank, tactic in enumerate(_CLOSERS[family]))
        if self.hammer:
            hammer = _CLOSERS["hammer"]
            closers.append((-1.0 if arithmetic else -0.3, hammer[0]))
            closers.extend((-2.2 - _RANK_STEP * rank, tactic) for rank, tactic in enumerate(hammer[1:]))
        if self.atp_hammer:
            closers.append((-1.4, "hammer"))
        if arithmetic:
            closers.append((-0.5 if _closed(conclusion) else -2.6, "vm_compute; reflexivity"))
        closers.append((-1.2 if equation else -3.0, "reflexivity"))

        if introducible:
            # Binders first: `intros`, and the best closers of the goal's kind after it.
            out.append((0.3, "intros"))
            for rank, closer in enumerate(_CLOSERS[primary][:_TOP_CLOSERS]):
                out.append((0.1 - _RANK_STEP * rank, f"intros; {closer}"))
            if self.hammer:
                out.append((-1.1, f"intros; {_CLOSERS['hammer'][0]}"))
            out.extend((score - 1.5, tactic) for score, tactic in closers)  # some see through binders
        else:
            out.extend(closers)

        # Structure of the conclusion.
        closer = "lra" if real else "lia"
        if top_conj or top_iff:
            out.append((-0.2, "split"))
            out.append((-1.2, f"split; {'nra' if real else 'lia' if arithmetic else 'intuition'}"))
        if top_disj:
            out.append((-1.1, "left"))
            out.append((-1.1, "right"))
            out.append((-1.8, f"left; {closer}"))
            out.append((-1.8, f"right; {closer}"))
        if exists:
            out.append((-1.3, "eexists"))

        # Case analysis and rewriting on names found in the goal.
        facts = goal.facts()
        if any(kind.split(" = ")[0].strip() == name for name, kind in facts):
            out.append((-1.2, "subst"))
        for name, kind in facts:
            if kind.startswith("exists"):
                out.append((-1.1, f"destruct {name} as [? ?]"))
            elif " /\\ " in kind and " -> " not in kind:
                out.append((-1.2, f"destruct {name} as [? ?]"))
            elif " \\/ " in kind and " -> " not in kind:
                out.append((-1.3, f"destruct {name} as [? | ?]"))
            connective = any(c in kind for c in (" /\\ ", " \\/ ", " -> ", " <-> "))
            if re.search(r"(?<![<>])=(?!>)", kind) and not connective and not kind.startswith("forall"):
                out.append((-1.6, f"rewrite {name}"))
            elif kind.startswith("forall") and "=" in kind:
                out.append((-1.8, f"rewrite {name}"))
        for name in goal.names_of_type("nat"):
            out.append((-2.0, f"induction {name}"))
            out.append((-2.6, f"destruct {name}"))
        for name in goal.names_of_type("bool"):
            out.append((-2.0, f"destruct {name}"))
        if division and real:
            out.append((-2.4, "unfold Rdiv"))
        out.append((-2.8, "simpl"))
        return out


def _closed(conclusion: str) -> bool:
    """A conclusion without variables (a computation such as `Nat.gcd 180 168 = 12`)."""
    words = set(re.findall(_IDENT, conclusion))
    functions = {"Nat", "Z", "gcd", "modulo", "div", "pow", "fact", "mod", "S", "O", "true", "false"}
    return bool(re.search(r"\d", conclusion)) and all(w in functions or "." in w for w in words)
