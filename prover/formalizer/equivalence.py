"""Is a formalized statement equivalent to a reference one? Ask the prover for each implication.

Both statements are turned into closed propositions (binders become `forall`/`∀`), and two
theorems are posed: candidate -> reference and reference -> candidate. Each is searched with the
prover's usual policy and budget, and only a kernel-checked proof counts. Anything else is
reported as "equivalence not shown": a failed search is no evidence of inequivalence.

In Coq each proposition is defined inside its own module, so that one statement's
`Open Scope R_scope` cannot change how the other's numerals and operators are read; the theorem
unfolds both definitions with `cbv delta` when it is stated, so the search sees plain propositions.
Lean statements share Mathlib's notation and are put side by side under the merged header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from search.types import Theorem

from prover.backends.base import Backend
from prover.errors import InputError
from prover.formalizer.checking import Statement
from prover.formalizer.templates import Target

__all__ = [
    "EquivalenceResult",
    "proposition",
    "implication_source",
    "statement_of_theorem",
    "check_equivalence",
]

Direction = Literal["forward", "backward"]

_OPENERS = {"(": ")", "[": "]", "{": "}", "⦃": "⦄"}
_COQ_REQUIRE = re.compile(r"^\s*(?:From\s+\S+\s+)?Require\b")
_SENTENCE_END = re.compile(r"\.(?=\s|$)")


@dataclass(frozen=True)
class EquivalenceResult:
    """What the prover showed.

    verdict: "equivalent" (both implications proved), "candidate implies reference",
        "reference implies candidate", or "equivalence not shown".
    forward / backward: each implication's status ("proved", "unproved", "invalid", "error").
    detail: errors worth reading (e.g. an implication that does not elaborate).
    """

    verdict: str
    forward: str
    backward: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "forward": self.forward, "backward": self.backward, "detail": self.detail or None}


def _split_binders(statement: str, target: Target) -> tuple[str, str]:
    """(binders, type) of `Theorem name BINDERS : TYPE.` / `theorem name BINDERS : TYPE`."""
    text = statement.strip()
    if target == "coq":
        text = re.sub(r"\.\s*$", "", text)
    match = re.match(r"\s*\S+\s+\S+", text)  # keyword and name
    if match is None:
        raise ValueError(f"not a declaration: {statement[:80]!r}")
    rest = text[match.end():]
    depth: list[str] = []
    for index, char in enumerate(rest):
        if char in _OPENERS:
            depth.append(_OPENERS[char])
        elif depth and char == depth[-1]:
            depth.pop()
        elif not depth and char == ":" and rest[index + 1 : index + 2] != "=":
            return rest[:index].strip(), rest[index + 1 :].strip()
    raise ValueError(f"no `:` before the statement's type in {statement[:80]!r}")


def proposition(statement: str, target: Target) -> str:
    """The statement as one closed proposition: `forall BINDERS, TYPE` (Coq) or `∀ BINDERS, TYPE` (Lean)."""
    binders, body = _split_binders(statement, target)
    if not binders:
        return body
    quantifier = "forall" if target == "coq" else "∀"
    return f"{quantifier} {binders}, {body}"


def statement_of_theorem(theorem: Theorem) -> Statement:
    """A parsed theorem as a `Statement` (Lean's trailing `:=` dropped)."""
    text = re.sub(r":=\s*(by)?\s*$", "", theorem.statement.strip()).rstrip()
    return Statement(name=theorem.name, header=theorem.header, statement=text)


def _coq_sentences(header: str) -> list[str]:
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(header):
        sentence = header[start : match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = header[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def implication_source(
    premise: Statement, conclusion: Statement, target: Target, *, name: str = "equivalence_check"
) -> str:
    """A file stating `premise -> conclusion` (both as closed propositions), its proof left open."""
    if target == "coq":
        requires: list[str] = []
        modules: list[str] = []
        for module, statement in (("Premise", premise), ("Conclusion", conclusion)):
            local: list[str] = []
            for sentence in _coq_sentences(statement.header):
                if _COQ_REQUIRE.match(sentence):
                    if sentence not in requires:
                        requires.append(sentence)
                else:
                    local.append(sentence)
            lines = [
                f"Module {module}Statement.",
                *local,
                f"Definition statement : Prop := {proposition(statement.statement, 'coq')}.",
                f"End {module}Statement.",
            ]
            modules.append("\n".join(lines))
        goal = (
            "ltac:(let t := eval cbv delta [PremiseStatement.statement ConclusionStatement.statement] in "
            "(PremiseStatement.statement -> ConclusionStatement.statement) in exact t)"
        )
        return "\n".join(requires) + "\n\n" + "\n\n".join(modules) + f"\n\nTheorem {name} : {goal}.\nProof.\nAdmitted.\n"
    lines: list[str] = []
    for statement in (premise, conclusion):
        for line in statement.header.splitlines():
            if line.strip() and line not in lines:
                lines.append(line)
    imports = [line for line in lines if line.startswith("import ")]
    others = [line for line in lines if not line.startswith("import ")]
    header = "\n".join(imports + [""] + others)
    goal = f"({proposition(premise.statement, 'lean')}) → ({proposition(conclusion.statement, 'lean')})"
    return f"{header}\n\ntheorem {name} : {goal} := by\n  sorry\n"


def check_equivalence(
    candidate: Statement, reference: Statement, target: Target, backend: Backend, prover: Any
) -> EquivalenceResult:
    """Try to prove candidate -> reference and reference -> candidate with `prover` (a `prover.agent.Prover`)."""
    statuses: dict[Direction, str] = {}
    details: list[str] = []
    extension = ".v" if target == "coq" else ".lean"
    for direction, (premise, conclusion) in (
        ("forward", (candidate, reference)),
        ("backward", (reference, candidate)),
    ):
        try:
            source = implication_source(premise, conclusion, target, name=f"equivalence_{direction}")
        except ValueError as unreadable:
            statuses[direction] = "invalid"
            details.append(f"{direction}: {unreadable}")
            continue
        try:
            parsed = backend.parse_file(f"equivalence_{direction}{extension}", source)
        except InputError as invalid:
            statuses[direction] = "invalid"
            details.append(f"{direction}: {invalid}")
            continue
        result = prover.prove_theorem(parsed.theorems[-1].theorem)
        proved = result.status == "proved" and result.kernel_checked
        statuses[direction] = "proved" if proved else result.status
        if result.error:
            details.append(f"{direction}: {result.error}")
    forward, backward = statuses["forward"] == "proved", statuses["backward"] == "proved"
    if forward and backward:
        verdict = "equivalent"
    elif forward:
        verdict = "candidate implies reference"
    elif backward:
        verdict = "reference implies candidate"
    else:
        verdict = "equivalence not shown"
    return EquivalenceResult(verdict, statuses["forward"], statuses["backward"], "; ".join(details))
