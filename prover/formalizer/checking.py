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

__all__ = [
    "Statement",
    "Elaboration",
    "split_statement",
    "check_header",
    "lean_proof_start",
    "SAFE_HEADER_COMMANDS",
    "elaborate",
    "comment",
    "DEFAULT_COQ_HEADER",
]

# Used when the model's Coq code has no `Require` at all: the libraries competition problems need.
DEFAULT_COQ_HEADER = "From Coq Require Import Arith ZArith Reals Lia Lra."

_COQ_DECLARATION = re.compile(
    r"(?m)^[ \t]*(?:Theorem|Lemma|Example|Corollary|Proposition|Fact|Remark)\s+([A-Za-z_][\w']*)"
)
_COQ_SENTENCE_END = re.compile(r"\.(?=\s|$)")
_COQ_COMMENT = re.compile(r"\(\*.*?\*\)", re.DOTALL)

_LEAN_DECLARATION = re.compile(r"(?m)^[ \t]*(?:@\[[^\]]*\]\s*)?(?:theorem|lemma)\s+([^\s({\[:]+)")
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


def split_statement(code: str, target: Target, name: str | None = None) -> Statement:
    """The theorem called `name` in `code` (the last one when `name` is None) with its header.

    `InputError` when there is no such theorem, or when the header holds a command outside the
    safe list (`check_header`): a model-written header could otherwise make any statement provable
    (an axiom, an admitted lemma) or change what the statement means (a notation for `+`). The proof
    the model may have written is dropped (a formalizer's job ends at the statement).
    """
    return _split_coq(code, name) if target == "coq" else _split_lean(code, name)


def _chosen(declarations: list[re.Match[str]], name: str | None, language: str) -> re.Match[str]:
    if not declarations:
        raise InputError(f"no {language} theorem declaration found in the reply")
    if name is None:
        return declarations[-1]
    named = [match for match in declarations if match.group(1) == name]
    if not named:
        found = ", ".join(dict.fromkeys(match.group(1) for match in declarations))
        raise InputError(f"no theorem named {name} in the reply (it declares {found}); name the theorem {name}")
    return named[-1]


def _split_coq(code: str, name: str | None = None) -> Statement:
    text = _COQ_COMMENT.sub(" ", code)
    last = _chosen(list(_COQ_DECLARATION.finditer(text)), name, "Coq `Theorem NAME : ... .`")
    end = _COQ_SENTENCE_END.search(text, last.end())
    if end is None:
        raise InputError(f"the statement of {last.group(1)} does not end with a period")
    header = text[: last.start()].strip()
    statement = text[last.start() : end.end()].strip()
    check_header(header, "coq")
    if "Require" not in header:
        header = f"{DEFAULT_COQ_HEADER}\n{header}".strip()
    return Statement(name=last.group(1), header=header, statement=statement)


def _split_lean(code: str, name: str | None = None) -> Statement:
    text = _LEAN_COMMENT.sub(" ", code)
    last = _chosen(list(_LEAN_DECLARATION.finditer(text)), name, "Lean `theorem NAME ... :`")
    body = text[last.start() :]
    proof = lean_proof_start(body)
    statement = (body[:proof] if proof >= 0 else body).rstrip()
    header = text[: last.start()].strip()
    check_header(header, "lean")
    if "import" not in header:
        header = f"import Mathlib\n{header}".strip()
    return Statement(name=last.group(1), header=header, statement=statement)


_BRACKETS = {"(": ")", "[": "]", "{": "}", "⦃": "⦄", "⟨": "⟩"}
_LEAN_BINDING = re.compile(r"(?<![\w.'])(let|have|set|show|obtain)(?![\w'])")


def lean_proof_start(declaration: str) -> int:
    """Index of the `:=` that starts a Lean declaration's proof, or -1.

    Bracket-aware (a `:=` inside a binder or parentheses is not it) and `let`-aware (`let m := n % 3`
    in the statement's type binds a variable): the first `:=` outside brackets that no pending
    `let`/`have` claims.
    """
    depth: list[str] = []
    pending = 0
    index = 0
    while index < len(declaration):
        char = declaration[index]
        if char in _BRACKETS:
            depth.append(_BRACKETS[char])
        elif depth and char == depth[-1]:
            depth.pop()
        elif not depth:
            binding = _LEAN_BINDING.match(declaration, index)
            if binding is not None:
                pending += 1
                index = binding.end()
                continue
            if declaration.startswith(":=", index):
                if pending == 0:
                    return index
                pending -= 1
                index += 2
                continue
        index += 1
    return -1


# The header commands a model-written statement may use, per backend (everything else is refused).
# Coq: imports, scopes, and plain definitions whose body is given with `:=` (no tactic block that
# could end in `Admitted`). Lean: imports, `open`, plain `def`/`abbrev`, and `set_option` except
# the options that switch off checking or flood the output.
SAFE_HEADER_COMMANDS: dict[Target, str] = {
    "coq": "Require / From ... Require / Import / Export; (Local) Open Scope; Definition / Fixpoint NAME ... := BODY",
    "lean": (
        "import; open; (noncomputable) def / abbrev NAME ... := BODY; set_option (not debug.*, trace.*, "
        "maxHeartbeats 0); (noncomputable) section / namespace / end"
    ),
}
_COQ_SAFE = re.compile(
    r"(?:From\s+[\w.]+\s+)?Require(?:\s+(?:Import|Export))?\s+[\w.\s]+\.$"
    r"|(?:Import|Export)\s+[\w.\s]+\.$"
    r"|(?:(?:Local|Global)\s+)?(?:Open|Close)\s+Scope\s+[\w]+\.$"
    r"|(?:Local\s+)?(?:Definition|Fixpoint)\s+[\w']+\b[^.]*?:=.*\.$",
    re.DOTALL,
)
_COQ_UNSAFE_WORDS = re.compile(r"\b(Admitted|admit|Axiom|Parameter|Hypothesis|Variable|Conjecture|Abort|Obligations?)\b")
_LEAN_SAFE = re.compile(
    r"import\s+[\w.]+\s*$"
    r"|open\s+(?:scoped\s+)?[\w.\s]+$"
    r"|(?:@\[[\w\s,]*\]\s*)?(?:noncomputable\s+)?(?:def|abbrev)\s+\S+.*:=.*"
    r"|set_option\s+[\w.]+\s+\S+(?:\s+in)?\s*$"
    r"|(?:noncomputable\s+)?section(?:\s+[\w.]+)?\s*$|namespace\s+[\w.]+\s*$|end(?:\s+[\w.]+)?\s*$",
    re.DOTALL,
)
_LEAN_UNSAFE_WORDS = re.compile(r"(?<![\w.])(sorry|admit|axiom|native_decide|implemented_by|extern|unsafe|macro|elab|notation|syntax)(?![\w])")
_LEAN_UNSAFE_OPTION = re.compile(r"set_option\s+(?:(?:debug|trace)\.\S*\s|maxHeartbeats\s+0\b)")


def check_header(header: str, target: Target) -> None:
    """Refuse (`InputError`) a header command outside `SAFE_HEADER_COMMANDS[target]`, naming it."""
    allowed = SAFE_HEADER_COMMANDS[target]
    for command in _header_commands(header, target):
        flat = " ".join(command.split())
        if target == "coq":
            safe = _COQ_SAFE.match(flat) is not None and _COQ_UNSAFE_WORDS.search(flat) is None
        else:
            safe = (
                _LEAN_SAFE.match(flat) is not None
                and _LEAN_UNSAFE_WORDS.search(flat) is None
                and _LEAN_UNSAFE_OPTION.match(flat + " ") is None
            )
        if not safe:
            shown = flat if len(flat) <= 80 else flat[:77] + "..."
            raise InputError(
                f"the header command `{shown}` is not allowed in a formalized statement "
                f"(allowed: {allowed}); state any assumption as a premise of the theorem"
            )


def _header_commands(header: str, target: Target) -> list[str]:
    """The header's commands: Coq sentences (ending in `.`), Lean commands (a line at column 0 starts one)."""
    if target == "coq":
        commands, start = [], 0
        for match in _COQ_SENTENCE_END.finditer(header):
            commands.append(header[start : match.end()].strip())
            start = match.end()
        commands.append(header[start:].strip())
        return [command for command in commands if command]
    commands: list[str] = []
    for line in header.splitlines():
        if not line.strip():
            continue
        if line[0].isspace() and commands:
            commands[-1] += "\n" + line
        else:
            commands.append(line)
    return commands


def elaborate(code: str, target: Target, backend: Backend, env: Environment, name: str | None = None) -> Elaboration:
    """Split `code` (taking the theorem called `name`), build the file, parse it with `backend` and start the theorem in `env`.

    InputError (no statement, bad header, does not parse, does not elaborate) becomes the returned
    `error`; infrastructure failures (crash, hang) propagate for the caller to restart the prover.
    """
    try:
        statement = split_statement(code, target, name)
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
