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
    "scan_open_proofs",
    "CoqTheorem",
    "OpenProofScan",
    "UnsupportedOpen",
    "DEFINITION_KEYWORDS",
    "normalise_for_coq816",
    "declared_axioms",
    "declared_lemmas",
    "open_blocks",
    "open_blocks_with_parameters",
    "declared_modules",
]

THEOREM_KEYWORDS = frozenset(
    {"Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Property", "Example"}
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
_IDENT = r"[^\W\d][\w']*"  # Coq identifiers may be unicode letters (`αβ_comm`)


@dataclass(frozen=True)
class CoqTheorem(Theorem):
    """A Coq theorem with the proof opening its file uses (`Proof using Hk.`; `Proof.` otherwise):
    steps and the kernel check run under it, as the written file will."""

    proof_opening: str = "Proof."


@dataclass(frozen=True)
class OpenProof:
    """One theorem without a proof: the theorem to start from and the span of text to replace.

    qualified_name: the name with its enclosing modules (`A.t`; sections do not qualify), or
        `goal@LINE` for an anonymous `Goal` (searched as a theorem named `neuroprove_goal_LINE`).
    statement_start: the statement's offset in the text.
    """

    theorem: Theorem
    span: tuple[int, int]
    qualified_name: str = ""
    statement_start: int = -1


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
    if "Stdlib" not in text:
        return text  # the usual case, and the regular expressions are slow on long headers
    text = re.sub(r"\bFrom\s+Stdlib\s+Require\b", "From Coq Require", text)
    return re.sub(r"\bRequire(\s+(?:Import|Export))?\s+Stdlib\.", r"Require\1 Coq.", text)


def find_open_proofs(text: str, *, source: str = "") -> list[OpenProof]:
    """Every theorem-like declaration of `text` whose proof is missing, in file order.

    Raises `SentenceSyntaxError` for text that cannot be split into sentences (unterminated comment
    or string).
    """
    return scan_open_proofs(text, source=source).opens


@dataclass(frozen=True)
class UnsupportedOpen:
    """An `Admitted.` the prover will not search (a `Program` obligation, an anonymous instance, ...)."""

    name: str
    reason: str
    start: int


@dataclass(frozen=True)
class OpenProofScan:
    """What `scan_open_proofs` finds: the open proofs to search and the holes it cannot search."""

    opens: list[OpenProof]
    unsupported: list[UnsupportedOpen]


# Declarations that open a proof when they have no body (`Definition x : T. Proof. ... Admitted.`):
# completed with `Defined.` so they stay transparent, as a definition is meant to be.
DEFINITION_KEYWORDS = frozenset({"Definition", "Instance"})
_OBLIGATION_KEYWORDS = frozenset({"Obligation", "Next"})


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def scan_open_proofs(text: str, *, source: str = "") -> OpenProofScan:
    """The open proofs of `text` (theorems, `Goal`s, body-less definitions and instances whose proof is
    `Admitted.` or never closed), each with its module-qualified name, and every other `Admitted.`
    as unsupported with a reason, so no hole in the file goes unreported.

    Raises `SentenceSyntaxError` for text that cannot be split into sentences.
    """
    sentences = split_sentences(text, allow_unterminated=True)
    found: list[tuple[str, str, Sentence, tuple[int, int], str]] = []  # name, qualified, statement, span, statement text
    unsupported: list[UnsupportedOpen] = []
    covered: set[int] = set()  # indices of Admitted sentences accounted for
    modules: list[tuple[str, str]] = []  # open Section/Module blocks, outermost first
    i = 0
    while i < len(sentences):
        sentence = sentences[i]
        keyword = _keyword(sentence)
        if sentence.terminated:
            _track_block(sentence, keyword, modules)
        if keyword in _OBLIGATION_KEYWORDS and re.match(r"(?:Next\s+)?Obligation\b", _plain(sentence)):
            j, ender = _proof_end(sentences, i + 1)
            if ender == "Admitted":
                covered.add(j)
                unsupported.append(
                    UnsupportedOpen(
                        f"obligation@{_line_of(text, sentence.start)}",
                        "a Program obligation: obligations are not searched (prove it by hand)",
                        sentence.start,
                    )
                )
            i = j + 1 if ender else j
            continue
        opening = _opening(sentence, keyword, text)
        if opening is None or not sentence.terminated:
            i += 1
            continue
        kind, name, statement_text = opening
        if kind == "unsupported" and keyword == "Admit":
            unsupported.append(UnsupportedOpen(name, statement_text, sentence.start))
            i += 1
            continue
        j = i + 1
        proof_start = None
        if j < len(sentences) and _keyword(sentences[j]) == "Proof":
            proof_start = sentences[j].start
            j += 1
        elif kind == "definition":
            i += 1  # a body-less definition without `Proof.` is not an open proof we know
            continue
        j, ender = _proof_end(sentences, j)
        last_end = sentences[j - 1].end  # the proof so far (or the statement when there is none)
        if ender == "Admitted":
            covered.add(j)
            begin = proof_start if proof_start is not None else sentences[j].start
            span = (begin, sentences[j].end)
            j += 1
        elif ender:
            i = j + 1  # closed (Qed/Defined/Save) or abandoned (Abort): nothing to prove
            continue
        else:
            # Never closed: replace the proof so far (or insert after the statement).
            begin = proof_start if proof_start is not None else sentence.end
            span = (begin, last_end)
        if kind == "unsupported":
            unsupported.append(UnsupportedOpen(name, statement_text, sentence.start))
        else:
            shown = f"goal@{_line_of(text, sentence.start)}" if keyword == "Goal" else name
            qualified = ".".join([block for kind_, block in modules if kind_ != "Section"] + [shown])
            found.append((name, qualified, sentence, span, statement_text))
        i = j
    unsupported.extend(_other_admits(text, sentences, covered))
    unsupported.sort(key=lambda hole: hole.start)
    return OpenProofScan(_open_proofs(text, found, source), unsupported)


def _other_admits(text: str, sentences: list[Sentence], covered: set[int]) -> list[UnsupportedOpen]:
    """Every `Admitted.` not among the `covered` sentence indices, as unsupported."""
    return [
        UnsupportedOpen(
            f"admitted@{_line_of(text, sentence.start)}",
            "an Admitted proof of a declaration the prover does not search",
            sentence.start,
        )
        for index, sentence in enumerate(sentences)
        if index not in covered and _keyword(sentence) == "Admitted"
    ]


def _open_proofs(
    text: str, found: list[tuple[str, str, Sentence, tuple[int, int], str]], source: str
) -> list[OpenProof]:
    """Each found open proof with its header: the text before its statement, every earlier open
    proof in it closed by `Admitted.` (so the header elaborates without them)."""
    opens: list[OpenProof] = []
    for index, (name, qualified, statement, span, statement_text) in enumerate(found):
        header_parts: list[str] = []
        cursor = 0
        for _, _, _, earlier, _ in found[:index]:
            header_parts.append(text[cursor : earlier[0]])
            header_parts.append("Admitted." if earlier[0] != earlier[1] else "\nAdmitted.")
            cursor = earlier[1]
        header_parts.append(text[cursor : statement.start])
        header = normalise_for_coq816("".join(header_parts))
        theorem = CoqTheorem(
            name=name, statement=statement_text, header=header, source=source,
            proof_opening=_proof_opening(text[span[0] : span[1]]),
        )
        opens.append(OpenProof(theorem, span, qualified_name=qualified, statement_start=statement.start))
    return opens


def _proof_opening(proof: str) -> str:
    """`Proof using ...` (comments dropped, whitespace normalised) when the open proof starts with
    one, else `Proof.`."""
    try:
        sentences = split_sentences(proof, allow_unterminated=True)
    except SentenceSyntaxError:
        return "Proof."
    if sentences and sentences[0].terminated:
        first = " ".join(strip_comments(sentences[0].text).split())
        if re.fullmatch(r"Proof\s+using\b[^.]*\.", first):
            return first
    return "Proof."


def _plain(sentence: Sentence) -> str:
    return _ATTRIBUTES.sub("", strip_comments(sentence.text).strip())


def _proof_end(sentences: list[Sentence], j: int) -> tuple[int, str]:
    """From sentence `j` on, the index of the proof's ender and its keyword ("" when the proof is
    left open: the index is then that of the next top-level command, or the end)."""
    while j < len(sentences):
        keyword = _keyword(sentences[j])
        if keyword in _PROOF_ENDERS:
            return j, keyword
        if keyword in _TOP_LEVEL:
            return j, ""
        j += 1
    return j, ""


def _track_block(sentence: Sentence, keyword: str, blocks: list[tuple[str, str]]) -> None:
    track_block(_plain(sentence), keyword, blocks)


def track_block(text: str, keyword: str, blocks: list[tuple[str, str]]) -> None:
    """Follow `Section`/`Module` ... `End` in a sentence's plain `text`, so declarations get their
    module-qualified names: `blocks` is the stack of open (kind, name) pairs, updated in place."""
    if keyword == "Section":
        match = re.match(rf"Section\s+({_IDENT})", text)
        if match:
            blocks.append(("Section", match.group(1)))
    elif keyword == "Module" and ":=" not in text:
        match = re.match(rf"Module\s+(?:Type\s+)?(?:Import\s+|Export\s+)?({_IDENT})", text)
        if match:
            blocks.append(("Module", match.group(1)))
    elif keyword == "End":
        match = re.match(rf"End\s+({_IDENT})", text)
        if match and blocks and blocks[-1][1] == match.group(1):
            blocks.pop()


def _opening(sentence: Sentence, keyword: str, text: str) -> tuple[str, str, str] | None:
    """(kind, name, statement) when `sentence` may open a proof: kind "theorem", "definition" (a
    body-less Definition/Instance), or "unsupported" (then the third item is the reason)."""
    plain = _plain(sentence)
    if keyword in THEOREM_KEYWORDS:
        name = _theorem_name(sentence)
        return ("theorem", name, sentence.text) if name is not None else None
    if keyword == "Goal":
        # Anonymous: searched and checked as a named theorem with the same type; the file keeps `Goal`.
        line = _line_of(text, sentence.start)
        body = re.sub(r"^Goal\b", "", plain, count=1).strip()
        internal = f"neuroprove_goal_{line}"
        return "theorem", internal, f"Theorem {internal} : {body}"
    if keyword == "Admit" and plain.startswith("Admit Obligations"):
        return "unsupported", f"obligations@{_line_of(text, sentence.start)}", (
            "Admit Obligations: Program obligations are not searched (prove them by hand)"
        )
    if keyword == "Let" and ":=" not in plain:
        # Section-local: gone once the section ends, so the kernel check cannot name it.
        return "unsupported", f"let@{_line_of(text, sentence.start)}", (
            "a section-local Let cannot be checked by name outside its section (make it a Lemma)"
        )
    if keyword in DEFINITION_KEYWORDS and ":=" not in plain:
        name = _theorem_name(sentence)
        if keyword == "Instance" and (name is None or re.match(r"Instance\s*:", plain)):
            return "unsupported", f"instance@{_line_of(text, sentence.start)}", (
                "an anonymous Instance: name it (Instance name : ...) to have it proved"
            )
        if name is None:
            return None
        return "definition", name, sentence.text
    return None


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
