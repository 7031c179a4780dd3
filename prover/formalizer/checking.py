"""Turning a model's formal code into a source file with an open statement, and elaborating it with the backend.

A drafted statement is checked the way `prove FILE` would read it: the code is normalised into a
file whose only open proof is the main theorem's (`Proof. Admitted.` in Coq, `:= by sorry` in
Lean), the backend parses that file, and an environment starts the theorem. An `InputError` from
either step means the statement does not elaborate; its message is what goes back to the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from search.types import Environment, Theorem

from prover.backends.base import Backend
from prover.errors import InputError
from prover.formalizer.templates import Target

__all__ = ["Statement", "Elaboration", "split_statement", "elaborate", "comment", "DEFAULT_COQ_HEADER"]

# Used when the model's Coq code has no `Require` at all: the libraries competition problems need.
DEFAULT_COQ_HEADER = "From Coq Require Import Arith ZArith Reals Lia Lra."

_COQ_DECLARATION = re.compile(
    r"(?m)^[ \t]*(?:Theorem|Lemma|Example|Corollary|Proposition|Fact|Remark)\s+([A-Za-z_][\w']*)"
)
_COQ_SENTENCE_END = re.compile(r"\.(?=\s|$)")
_COQ_COMMENT = re.compile(r"\(\*.*?\*\)", re.DOTALL)
_COQ_ASSUMING = re.compile(r"\b(Axiom|Axioms|Parameter|Parameters|Hypothesis|Hypotheses|Conjecture|Admitted|admit|Variable|Variables)\b")

_LEAN_DECLARATION = re.compile(r"(?m)^[ \t]*(?:@\[[^\]]*\]\s*)?(?:theorem|lemma)\s+([^\s({\[:]+)")
_LEAN_ASSUMING = re.compile(r"\b(axiom|sorry|admit)\b")
_LEAN_COMMENT = re.compile(r"/-.*?-/|--[^\n]*", re.DOTALL)


@dataclass(frozen=True)
class Statement:
    """A formal statement split out of a model's code.

    name: the theorem's name. header: everything it needs before it (imports, opens, definitions).
    statement: the declaration up to, not including, its proof (Coq: ending in `.`; Lean: no `:=`).
    """

    name: str
    header: str
    statement: str

    def source(self, target: Target, note: str | None = None) -> str:
        """The file text with the statement left open (`Admitted` / `sorry`); `note` becomes a comment above it."""
        header = self.header.strip()
        prefix = f"{header}\n\n" if header else ""
        if note:
            prefix += comment(note, target) + "\n"
        if target == "coq":
            return f"{prefix}{self.statement}\nProof.\nAdmitted.\n"
        return f"{prefix}{self.statement} := by\n  sorry\n"


@dataclass(frozen=True)
class Elaboration:
    """The backend's answer for one statement: `theorem` (ready to prove) when it elaborates, else `error`."""

    statement: Statement | None
    theorem: Theorem | None
    error: str | None

    @property
    def ok(self) -> bool:
        """True when the statement elaborated."""
        return self.theorem is not None


def split_statement(code: str, target: Target) -> Statement:
    """The main (last) theorem of `code` with its header; `InputError` when there is none or it assumes things.

    The proof the model may have written is dropped (a formalizer's job ends at the statement).
    Headers that postulate (`Axiom`, `Admitted`, `sorry`, ...) are refused: such a file could make
    any statement provable, so it would not formalize anything.
    """
    return _split_coq(code) if target == "coq" else _split_lean(code)


def _split_coq(code: str) -> Statement:
    text = _COQ_COMMENT.sub(" ", code)
    declarations = list(_COQ_DECLARATION.finditer(text))
    if not declarations:
        raise InputError("no Coq `Theorem NAME : ... .` declaration found in the reply")
    last = declarations[-1]
    end = _COQ_SENTENCE_END.search(text, last.end())
    if end is None:
        raise InputError(f"the statement of {last.group(1)} does not end with a period")
    header = text[: last.start()].strip()
    statement = text[last.start() : end.end()].strip()
    if _COQ_ASSUMING.search(header):
        word = _COQ_ASSUMING.search(header).group(1)  # type: ignore[union-attr]
        raise InputError(f"the header uses `{word}`: a statement may not assume anything; state it as a premise")
    if "Require" not in header:
        header = f"{DEFAULT_COQ_HEADER}\n{header}".strip()
    return Statement(name=last.group(1), header=header, statement=statement)


def _split_lean(code: str) -> Statement:
    text = _LEAN_COMMENT.sub(" ", code)
    declarations = list(_LEAN_DECLARATION.finditer(text))
    if not declarations:
        raise InputError("no Lean `theorem NAME ... :` declaration found in the reply")
    last = declarations[-1]
    body = text[last.start() :]
    proof = re.search(r":=", body)
    statement = (body[: proof.start()] if proof else body).rstrip()
    header = text[: last.start()].strip()
    if _LEAN_ASSUMING.search(header):
        word = _LEAN_ASSUMING.search(header).group(1)  # type: ignore[union-attr]
        raise InputError(f"the header uses `{word}`: a statement may not assume anything; state it as a hypothesis")
    if "import" not in header:
        header = f"import Mathlib\n{header}".strip()
    return Statement(name=last.group(1), header=header, statement=statement)


def elaborate(code: str, target: Target, backend: Backend, env: Environment) -> Elaboration:
    """Split `code`, build the file, parse it with `backend` and start the theorem in `env`.

    InputError (no statement, bad header, does not parse, does not elaborate) becomes the returned
    `error`; infrastructure failures (crash, hang) propagate for the caller to restart the prover.
    """
    try:
        statement = split_statement(code, target)
    except InputError as refused:
        return Elaboration(None, None, str(refused))
    source = statement.source(target)
    extension = ".v" if target == "coq" else ".lean"
    try:
        parsed = backend.parse_file(f"formalized{extension}", source)
        opened = [item for item in parsed.theorems if item.theorem.name == statement.name] or list(parsed.theorems)
        if not opened:
            return Elaboration(statement, None, "the backend found no open theorem in the statement")
        theorem = opened[-1].theorem
        env.start(theorem)
    except InputError as invalid:
        return Elaboration(statement, None, str(invalid))
    return Elaboration(statement, theorem, None)


def comment(text: str, target: Target) -> str:
    """`text` as a comment block of the target language (nested comment markers neutralised)."""
    if target == "coq":
        body = text.replace("(*", "( *").replace("*)", "* )")
        return f"(* {body.strip()} *)"
    body = text.replace("/-", "/ -").replace("-/", "- /")
    return f"/- {body.strip()} -/"
