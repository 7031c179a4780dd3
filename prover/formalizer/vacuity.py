"""Vacuity checks: statements that elaborate but formalize nothing, found by asking the proof assistant.

A statement can be accepted by the proof assistant and still say nothing: its hypotheses contradict
each other (then anything follows), it assumes its own conclusion, or its conclusion is `True`.
Each check starts the statement in the environment, introduces the hypotheses, and tries one quick
tactic; success is evidence the statement is vacuous, and such candidates are ranked last.

  true_conclusion          after `intros`, `exact I` (Coq) / `exact True.intro` (Lean) closes the goal: the
                           conclusion is `True`.
  contradictory_hypotheses after `intros`, `exfalso` and quick arithmetic/propositional automation
                           (lia, lra, nia, nra, tauto, congruence; Lean: omega, linarith, nlinarith,
                           tauto, simp_all) prove `False`: the premises cannot all hold. Skipped when
                           the goal after `intros` is already `False` (a negated conclusion such as
                           "3 is not a sum of two cubes" is *meant* to be refuted from its premise).
  conclusion_is_hypothesis `assumption` closes the goal: the statement assumes what it claims.

A fourth, weaker flag is recorded but does not make a statement vacuous:

  closed_by_automation     a quick tactic closes the goal outright (reflexivity, lia, tauto, ...).
                           Many faithful competition statements are like this (`(17 * 18) mod 4 = 2`
                           is closed by computation), so it is a warning that breaks ties between
                           equally faithful candidates, not a reason to prefer an unfaithful one.

All checks are sound in one direction only: a flag is a proof (by the proof assistant) that the
statement is degenerate; no flag means the quick tactics found nothing, not that it is meaningful.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from search.types import Environment, Progress, Proved, State, Theorem

from prover.errors import InputError
from prover.formalizer.templates import Target

__all__ = ["VacuityReport", "VacuityTactics", "TACTICS", "check_vacuity", "VACUOUS_FLAGS"]

log = logging.getLogger(__name__)

VACUOUS_FLAGS = ("true_conclusion", "contradictory_hypotheses", "conclusion_is_hypothesis")


@dataclass(frozen=True)
class VacuityTactics:
    """The tactics one backend uses for the checks (see the module docstring).

    imports: appended to the statement's header for the checks only, so every tactic named exists
    (Coq rejects a whole `t1 || t2` when one name is unknown); they add tactics, not meaning.
    """

    imports: str
    introduce: str
    true_goal: str
    contradiction: str
    assumption: str
    automation: tuple[str, ...]
    false_goal_markers: tuple[str, ...]


TACTICS: dict[Target, VacuityTactics] = {
    "coq": VacuityTactics(
        imports="From Coq Require Import Lia Lra Psatz.",
        introduce="intros",
        true_goal="exact I",
        contradiction="exfalso; (lia || lra || nia || nra || tauto || congruence)",
        assumption="assumption",
        automation=("reflexivity", "tauto", "lia", "lra", "(simpl; reflexivity)", "(compute; reflexivity)"),
        false_goal_markers=("False",),
    ),
    "lean": VacuityTactics(
        imports="",
        introduce="intros",
        true_goal="exact True.intro",
        contradiction="exfalso; first | omega | linarith | nlinarith | tauto | simp_all",
        assumption="assumption",
        automation=("rfl", "decide", "norm_num", "simp", "omega", "linarith", "tauto"),
        false_goal_markers=("False",),
    ),
}


@dataclass(frozen=True)
class VacuityReport:
    """What the checks found for one statement.

    flags: the names of the checks that succeeded (see the module docstring), in the order run.
    evidence: for each flag, the tactic that succeeded.
    vacuous: True when a flag in `VACUOUS_FLAGS` is set: the statement formalizes nothing.
    trivial: True when quick automation closes it (a warning only).
    incomplete: why some checks could not run (e.g. the prover failed), or "".
    """

    flags: tuple[str, ...] = ()
    evidence: tuple[tuple[str, str], ...] = ()
    incomplete: str = ""

    @property
    def vacuous(self) -> bool:
        return any(flag in VACUOUS_FLAGS for flag in self.flags)

    @property
    def trivial(self) -> bool:
        return "closed_by_automation" in self.flags

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "vacuous": self.vacuous,
            "trivial": self.trivial,
            "flags": list(self.flags),
            "evidence": {flag: tactic for flag, tactic in self.evidence},
            "incomplete": self.incomplete or None,
        }

    def describe(self) -> str:
        """One line for reports."""
        if not self.flags:
            return "no vacuity found" + (f" (checks incomplete: {self.incomplete})" if self.incomplete else "")
        parts = [f"{flag} (by `{tactic}`)" for flag, tactic in self.evidence]
        if self.vacuous:
            return "VACUOUS: " + ", ".join(parts)
        return "not vacuous; easy: " + ", ".join(parts)


def _closes(env: Environment, state: State, tactic: str) -> bool:
    outcome = env.step(state, tactic)
    return isinstance(outcome, Proved)


def check_vacuity(env: Environment, theorem: Theorem, target: Target) -> VacuityReport:
    """Run the checks on an elaborating `theorem`; each is one tactic step in `env` (see module docstring).

    Infrastructure failures (the prover crashed or hung) propagate; the caller restarts the prover.
    """
    tactics = TACTICS[target]
    if tactics.imports and tactics.imports not in theorem.header:
        theorem = replace(theorem, header=f"{theorem.header.rstrip()}\n{tactics.imports}".strip())
    try:
        root = env.start(theorem)
    except InputError as invalid:  # it elaborated a moment ago; report rather than guess
        return VacuityReport(incomplete=f"statement no longer starts: {invalid}")
    introduced = env.step(root, tactics.introduce)
    if isinstance(introduced, Proved):  # `intros` alone proved it: as empty as a statement gets
        return VacuityReport(("true_conclusion",), (("true_conclusion", tactics.introduce),))
    state = introduced.state if isinstance(introduced, Progress) else root
    flags: list[tuple[str, str]] = []
    if _closes(env, state, tactics.true_goal):
        flags.append(("true_conclusion", tactics.true_goal))
    conclusion = _conclusion(state.goals[0]) if state.goals else ""
    if conclusion not in tactics.false_goal_markers and _closes(env, state, tactics.contradiction):
        flags.append(("contradictory_hypotheses", tactics.contradiction))
    if _closes(env, state, tactics.assumption):
        flags.append(("conclusion_is_hypothesis", tactics.assumption))
    if not flags:
        for tactic in tactics.automation:
            if _closes(env, state, tactic):
                flags.append(("closed_by_automation", tactic))
                break
    return VacuityReport(tuple(flag for flag, _ in flags), tuple(flags))


def _conclusion(goal: str) -> str:
    """The conclusion of a pretty-printed goal: after Coq's `=====` rule or Lean's `⊢` (whitespace-normalised)."""
    lines = goal.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        stripped = lines[index].strip()
        if stripped.startswith("===="):
            return " ".join(" ".join(lines[index + 1 :]).split())
    if "⊢" in goal:
        return " ".join(goal.rsplit("⊢", 1)[1].split())
    return " ".join(goal.split())

