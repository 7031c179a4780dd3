"""Find the theorems of a Coq file whose proof is missing, with the header each one needs.

Open proofs: `Proof. ... Admitted.`, `Admitted.` right after the statement, and a `Proof.` (or a
bare statement) that the file never closes, as in 185 miniF2F files that end in `Proof.`.
The header of a theorem is the file's text before its statement, with every earlier open proof
replaced by `Admitted.`, so later statements may mention earlier open theorems (a proof that
*uses* one is still rejected by the verdict: an Admitted lemma is not an allowed axiom).
Rocq 9 spellings are rewritten for Coq 8.16 in headers (`From Stdlib Require` -> `From Coq Require`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prover.backends.coq_sentences import Sentence, SentenceSyntaxError, split_sentences, strip_comments
from search.types import Theorem

__all__ = [
    "THEOREM_KEYWORDS",
    "OpenProof",
    "find_open_proofs",
    "normalise_for_coq816",
    "declared_axioms",
    "declared_lemmas",
    "open_blocks",
    "open_blocks_with_parameters",
    "declared_modules",
]

THEOREM_KEYWORDS = frozenset(
    {"Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Example"}
)
_PROOF_ENDERS = frozenset({"Qed", "Defined", "Admitted", "Abort", "Save"})
# Commands that cannot occur inside a proof: meeting one means the previous proof was left open.
_TOP_LEVEL = frozenset(
    {
        *THEOREM_KEYWORDS,
        "Definition", "Fixpoint", "CoFixpoint", "Inductive", "CoInductive", "Variant", "Record",
        "Structure", "Class", "Instance", "Axiom", "Axioms", "Parameter", "Parameters", "Conjecture",
        "Conjectures", "Hypothesis", "Hypotheses", "Variable", "Variables", "Section", "End",
        "Module", "Require", "Import", "Export", "From", "Notation", "Infix", "Goal", "Ltac",
        "Open", "Local", "Global", "Arguments", "Coercion", "Let", "Program", "Equations",
    }
)
_AXIOM_KEYWORDS = frozenset(
    {"Axiom", "Axioms", "Parameter", "Parameters", "Conjecture", "Conjectures", "Hypothesis", "Hypotheses",
     "Variable", "Variables"}
)
_ATTRIBUTES = re.compile(r"^(?:#\[[^\]]*\]\s*|(?:Local|Global|Polymorphic|Monomorphic|Private)\s+)*")
_IDENT = r"[A-Za-z_][\w']*"


@dataclass(frozen=True)
class OpenProof:
    """One theorem without a proof: the theorem to start from and the span of text to replace."""

    theorem: Theorem
    span: tuple[int, int]


def _keyword(sentence: Sentence) -> str:
    text = _ATTRIBUTES.sub("", strip_comments(sentence.text).lstrip())
    match = re.match(_IDENT, text)
    return match.group(0) if match else ""


def _theorem_name(sentence: Sentence) -> str | None:
    text = _ATTRIBUTES.sub("", strip_comments(sentence.text).lstrip())
    match = re.match(rf"(\w+)\s+({_IDENT})", text)
    return match.group(2) if match else None


def normalise_for_coq816(text: str) -> str:
    """Rewrite Rocq 9 names that Coq 8.16 spells differently (`From Stdlib Require` -> `From Coq Require`)."""
    text = re.sub(r"\bFrom\s+Stdlib\s+Require\b", "From Coq Require", text)
    return re.sub(r"\bRequire(\s+(?:Import|Export))?\s+Stdlib\.", r"Require\1 Coq.", text)


def find_open_proofs(text: str, *, source: str = "") -> list[OpenProof]:
    """Every theorem-like declaration of `text` whose proof is missing, in file order.

    Raises `SentenceSyntaxError` for text that cannot be split into sentences (unterminated comment
    or string).
    """
    sentences = split_sentences(text, allow_unterminated=True)
    found: list[tuple[str, Sentence, tuple[int, int]]] = []
    i = 0
    while i < len(sentences):
        sentence = sentences[i]
        if _keyword(sentence) not in THEOREM_KEYWORDS or not sentence.terminated:
            i += 1
            continue
        name = _theorem_name(sentence)
        j = i + 1
        proof_start = None
        if j < len(sentences) and _keyword(sentences[j]) == "Proof":
            proof_start = sentences[j].start
            j += 1
        last_end = sentences[j - 1].end if proof_start is not None else sentence.end
        ender = ""
        while j < len(sentences):
            keyword = _keyword(sentences[j])
            if keyword in _PROOF_ENDERS:
                ender = keyword
                break
            if keyword in _TOP_LEVEL:
                break
            last_end = sentences[j].end
            j += 1
        if ender == "Admitted":
            begin = proof_start if proof_start is not None else sentences[j].start
            span = (begin, sentences[j].end)
            j += 1
        elif ender:
            j += 1  # closed (Qed/Defined/Save) or abandoned (Abort): nothing to prove
            i = j
            continue
        else:
            # Never closed: replace the proof so far (or insert after the statement).
            begin = proof_start if proof_start is not None else sentence.end
            span = (begin, last_end)
        if name is not None:
            found.append((name, sentence, span))
        i = j
    opens: list[OpenProof] = []
    for index, (name, statement, span) in enumerate(found):
        header_parts: list[str] = []
        cursor = 0
        for _, _, earlier in found[:index]:
            header_parts.append(text[cursor : earlier[0]])
            header_parts.append("Admitted." if earlier[0] != earlier[1] else "\nAdmitted.")
            cursor = earlier[1]
        header_parts.append(text[cursor : statement.start])
        header = normalise_for_coq816("".join(header_parts))
        theorem = Theorem(name=name, statement=statement.text, header=header, source=source)
        opens.append(OpenProof(theorem, span))
    return opens


def declared_axioms(header: str) -> frozenset[str]:
    """Names the header declares as assumptions (`Axiom`, `Parameter`, `Conjecture`, `Hypothesis`, ...)."""
    names: set[str] = set()
    try:
        sentences = split_sentences(header, allow_unterminated=True)
    except SentenceSyntaxError:
        return frozenset()
    for sentence in sentences:
        keyword = _keyword(sentence)
        if keyword not in _AXIOM_KEYWORDS:
            continue
        body = _ATTRIBUTES.sub("", strip_comments(sentence.text).strip())
        body = body[len(keyword) :].strip()
        if body.startswith("("):
            # `Axiom (a b : T) (c : U).`: names before each group's colon.
            for group in re.finditer(r"\(\s*([^():]*?)\s*:", body):
                names.update(re.findall(_IDENT, group.group(1)))
        else:
            names.update(re.findall(_IDENT, body.split(":", 1)[0]))
    return frozenset(names)


def declared_lemmas(header: str) -> frozenset[str]:
    """Names the header declares with a theorem-like keyword (proved or not)."""
    try:
        sentences = split_sentences(header, allow_unterminated=True)
    except SentenceSyntaxError:
        return frozenset()
    names = {_theorem_name(s) for s in sentences if _keyword(s) in THEOREM_KEYWORDS}
    return frozenset(name for name in names if name is not None)


def open_blocks(header: str) -> list[tuple[str, str]]:
    """Sections and modules the header leaves open, outermost first, as (kind, name).

    kind: "Section", "Module", or "Functor" for a module type or a module with parameters (its
    contents are not constants once it ends, so nothing in it can be named from outside). The
    kernel check must close them (`End name.`) before the file ends; a theorem inside a plain
    module is then named `Module.theorem`.
    """
    return [(kind, name) for kind, name, _ in open_blocks_with_parameters(header)]


_MODULE_HEAD = re.compile(rf"Module\s+(Type\s+)?(?:Import\s+|Export\s+)?({_IDENT})")
_BINDER = re.compile(rf"\(\s*(?:Import\s+|Export\s+)?((?:{_IDENT}\s+)*{_IDENT})\s*:")


def open_blocks_with_parameters(header: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """`open_blocks`, with the parameter names of each functor (`Module Type P (Import X : S)`
    has the parameter X): what `Print Assumptions` inside it may list as assumed."""
    stack: list[tuple[str, str, tuple[str, ...]]] = []
    try:
        sentences = split_sentences(header, allow_unterminated=True)
    except SentenceSyntaxError:
        return stack
    for sentence in sentences:
        keyword = _keyword(sentence)
        text = _ATTRIBUTES.sub("", strip_comments(sentence.text).strip())
        if keyword == "Section":
            match = re.match(rf"Section\s+({_IDENT})", text)
            if match:
                stack.append(("Section", match.group(1), ()))
        elif keyword == "Module" and ":=" not in text:
            match = _MODULE_HEAD.match(text)
            if match:
                rest = text[match.end():]
                # Binders are `(X Y : S)` groups before the module's own `: Signature`, if any.
                parameters = tuple(name for group in _BINDER.findall(_binders_of(rest)) for name in group.split())
                functor = bool(match.group(1)) or bool(parameters)
                stack.append(("Functor" if functor else "Module", match.group(2), parameters))
        elif keyword == "End":
            match = re.match(rf"End\s+({_IDENT})", text)
            if match and stack and stack[-1][1] == match.group(1):
                stack.pop()
    return stack


def _binders_of(rest: str) -> str:
    """The leading parenthesised binder groups of a module declaration's text after its name."""
    depth = 0
    end = 0
    for index, char in enumerate(rest):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                end = index + 1
        elif depth == 0 and not char.isspace():
            break
    return rest[:end]


def declared_modules(header: str) -> frozenset[str]:
    """Names of the modules (and module types) the header declares."""
    try:
        sentences = split_sentences(header, allow_unterminated=True)
    except SentenceSyntaxError:
        return frozenset()
    names: set[str] = set()
    for sentence in sentences:
        if _keyword(sentence) == "Module":
            text = _ATTRIBUTES.sub("", strip_comments(sentence.text).strip())
            match = re.match(rf"Module\s+(?:Type\s+|Import\s+|Export\s+)?({_IDENT})", text)
            if match:
                names.add(match.group(1))
    return frozenset(names)
