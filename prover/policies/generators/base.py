"""What a proposal generator sees and says.

A generator reads the first goal (parsed into hypotheses and conclusion) and what is known about
the theorem's file (its own definitions and the lemmas proved before the theorem), and returns
scored tactics: plain Coq text that compiles in the written file without the generator.
Scores use the portfolio's scale (log-prior-like, 0 best, about -3 for long shots), so a
generator's proposals mix with the portfolio's own before the priors are normalised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from prover.policies.generators.terms import Domain, Term, Unreadable, parse_term

__all__ = ["Proposal", "FileContext", "GoalView", "Generator", "domain_of", "context_from_header"]


@dataclass(frozen=True)
class Proposal:
    """One proposed tactic.

    score: log-prior-like score on the portfolio's scale (0 best; -3 a long shot).
    tactic: the tactic text (one step; may chain with `;`).
    """

    score: float
    tactic: str


@dataclass(frozen=True)
class FileContext:
    """What the theorem's own file offers before the theorem.

    definitions: names the file defines (`Definition`, `Fixpoint`, `Function`), for `unfold`.
    equations: names of lemmas proved (Qed/Defined) earlier in the file whose statement is an
        equation or an iff, for `rewrite` (admitted ones are left out: a proof using them would
        rest on an admitted lemma).
    lemmas: names of every lemma proved earlier in the file, for `apply`.
    """

    definitions: tuple[str, ...] = ()
    equations: tuple[str, ...] = ()
    lemmas: tuple[str, ...] = ()


@dataclass(frozen=True)
class GoalView:
    """The first goal as generators read it.

    hypotheses: (name, type text) pairs in order.
    conclusion: the conclusion's text.
    file: the theorem's file context (empty when unknown).
    """

    hypotheses: tuple[tuple[str, str], ...]
    conclusion: str
    file: FileContext = field(default_factory=FileContext)

    def variables_of(self, *types: str) -> list[str]:
        """Hypothesis names whose type is exactly one of `types` (`n : nat`)."""
        return [name for name, kind in self.hypotheses if kind.strip() in types]

    def facts(self) -> list[tuple[str, str]]:
        """Hypotheses that are propositions rather than variables of a bare type."""
        return [
            (name, kind)
            for name, kind in self.hypotheses
            if not re.fullmatch(r"[\w.']+|[\w.']+ -> [\w.']+|[\w.']+ [\w.']+", kind.strip())
            or re.search(r"[=<>~]", kind)
        ]

    def term(self, text: str) -> Term | None:
        """The parsed term of `text`, or None when it is not readable arithmetic."""
        try:
            return parse_term(text)
        except (Unreadable, RecursionError):
            return None


class Generator(Protocol):
    """Proposes tactics for a goal; proposes nothing for a goal it cannot read."""

    name: str

    def propose(self, goal: GoalView) -> list[Proposal]: ...


_DOMAIN_TYPES: dict[str, Domain] = {"R": "R", "Z": "Z", "nat": "nat", "Q": "R"}


def domain_of(goal: GoalView) -> Domain | None:
    """The number domain of the goal's arithmetic, from its variables' types and scope markers."""
    kinds = {kind.strip() for _, kind in goal.hypotheses}
    text = " ".join([kind for _, kind in goal.hypotheses] + [goal.conclusion])
    if "R" in kinds or re.search(r"%R|\bINR\b|\bIZR\b|\bsqrt\b|\bRabs\b|\bPI\b|\d\.\d", text):
        return "R"
    if "Z" in kinds or re.search(r"%Z|\bZ\.", text):
        return "Z"
    if "nat" in kinds or re.search(r"%nat|\bNat\.", text):
        return "nat"
    if re.search(r"\d", goal.conclusion) and not re.search(r"[A-Za-z]", re.sub(r"\bmod\b", "", goal.conclusion)):
        return "nat"  # a closed numeric statement prints without scope only in nat
    return None


_SENTENCE_HEAD = re.compile(
    r"^\s*(?:#\[[^\]]*\]\s*)?(?:(?:Local|Global|Polymorphic|Program)\s+)*"
    r"(?P<keyword>Definition|Fixpoint|CoFixpoint|Function|Lemma|Theorem|Fact|Remark|Corollary|Proposition|Property|Example)\s+"
    r"(?P<name>[^\W\d][\w']*)(?P<rest>.*)$",
    re.S,
)
_PROOF_END = re.compile(r"^\s*(Qed|Defined|Admitted|Abort)\s*\.?\s*$")


def context_from_header(header: str) -> FileContext:
    """The definitions and proved lemmas a Coq file's header (its text before the theorem) declares."""
    from prover.backends.coq_sentences import SentenceSyntaxError, split_sentences

    try:
        sentences = [s.text for s in split_sentences(header, allow_unterminated=True)]
    except SentenceSyntaxError:  # an unreadable header only means no file context
        return FileContext()
    definitions: list[str] = []
    equations: list[str] = []
    lemmas: list[str] = []
    pending: tuple[str, str] | None = None  # a lemma whose proof has not ended yet: (name, statement)
    for sentence in sentences:
        text = re.sub(r"\(\*.*?\*\)", " ", sentence, flags=re.S)
        head = _SENTENCE_HEAD.match(text)
        if head:
            keyword, name, rest = head["keyword"], head["name"], head["rest"]
            if keyword in ("Definition", "Fixpoint", "CoFixpoint", "Function"):
                definitions.append(name)
                pending = None
            else:
                pending = (name, rest)
            continue
        end = _PROOF_END.match(text)
        if end and pending is not None:
            if end.group(1) in ("Qed", "Defined"):
                name, statement = pending
                lemmas.append(name)
                body = statement.rsplit(",", 1)[-1] if "forall" in statement else statement
                if re.search(r"(?<![<>:])=(?![>?])|<->", body):
                    equations.append(name)
            pending = None
    return FileContext(tuple(dict.fromkeys(definitions)), tuple(dict.fromkeys(equations)), tuple(dict.fromkeys(lemmas)))
