"""Lean 4 source text: find the open theorems of a file, split and render tactic proofs.

No Lean is needed: a small scanner blanks out comments and string literals, then declarations
are found at the start of lines and their proofs after the first `:=` outside brackets. This is
enough for competition files (miniF2F, ProofNet); anything it cannot read is left untouched.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Sequence

__all__ = [
    "OpenDeclaration",
    "mask_comments_and_strings",
    "find_open_declarations",
    "unsearched_sorries",
    "declared_name",
    "open_namespaces",
    "qualified_name",
    "full_name_for_lookup",
    "name_example",
    "split_tactics",
    "render_tactics",
    "smuggled_command",
]

# Keywords that start a top-level command: a declaration ends where a line starts with one.
_COMMAND_START = re.compile(
    r"(?:theorem|lemma|example|def|abbrev|instance|structure|class|inductive|axiom|opaque|"
    r"namespace|section|end|open|variable|universe|set_option|attribute|noncomputable|private|"
    r"protected|nonrec|unsafe|partial|macro|macro_rules|syntax|elab|elab_rules|notation|infix|"
    r"infixl|infixr|prefix|postfix|import|mutual|deriving|local|scoped|export)\b|@\[|#|/--|/-!"
)
_DECLARATION = re.compile(
    r"(?P<indent>[ \t]*)(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|nonrec|noncomputable|unsafe)\s+)*"
    r"(?P<keyword>theorem|lemma|example)\b"
)
_NAME_AFTER_KEYWORD = re.compile(r"(?:theorem|lemma)\s+(?P<name>[^\s:({\[⦃]+)")
_OPEN_PROOF = re.compile(r"(?:by\s+)?sorry")
_BRACKETS = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⦃": "⦄"}

# A proof step must not start a new command (that is how a proof could smuggle in declarations).
_SMUGGLING = re.compile(
    r"^\s*(?:theorem|lemma|def|axiom|example|instance|opaque|abbrev|structure|class|inductive|"
    r"macro|macro_rules|syntax|elab|elab_rules|notation|infix|infixl|infixr|prefix|postfix|"
    r"attribute|namespace|section|end|universe|variable|import|mutual|private|protected|"
    r"noncomputable|unsafe|deriving|#|@\[)(?:\b|(?<=[#\[]))",
    re.MULTILINE,
)


@dataclass(frozen=True)
class OpenDeclaration:
    """A theorem/lemma/example whose proof is `sorry`, located in the file's text.

    name: the declared name (`example_L<line>` for an example, which has none).
    keyword: "theorem", "lemma" or "example".
    start: offset where the declaration (with its doc comment and attributes) begins.
    statement: text from `start` through the `:=` that opens the proof.
    proof_span: (start, end) offsets of the missing proof (`sorry`, `by sorry`, `by\\n  sorry`).
    indent: the declaration line's indentation, which the rendered proof is indented from.

    qualified_name: the name inside its enclosing `namespace`s (`Foo.t`; sections do not qualify).
    """

    name: str
    keyword: str
    start: int
    statement: str
    proof_span: tuple[int, int]
    indent: str
    qualified_name: str = ""


def mask_comments_and_strings(text: str) -> str:
    """`text` with comments and string literals replaced by spaces (newlines kept), same length."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            out[i:end] = " " * (end - i)
            i = end
        elif text.startswith("/-", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/-", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("-/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out[i:j] = [c if c == "\n" else " " for c in text[i:j]]
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out[i:j] = [c if c == "\n" else " " for c in text[i:j]]
            i = j
        else:
            i += 1
    return "".join(out)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def _command_end(masked: str, after: int) -> int:
    """Offset where the command containing `after` ends: the next line that starts a command at column 0."""
    for match in re.finditer(r"\n(?=\S)", masked[after:]):
        line_start = after + match.end()
        if _COMMAND_START.match(masked, line_start):
            return line_start
    return len(masked)


def _proof_start(masked: str, start: int, end: int) -> int | None:
    """Offset just after the first `:=` outside brackets in masked[start:end], or None."""
    closing: list[str] = []
    i = start
    while i < end:
        c = masked[i]
        if c in _BRACKETS:
            closing.append(_BRACKETS[c])
        elif closing and c == closing[-1]:
            closing.pop()
        elif not closing and masked.startswith(":=", i):
            return i + 2
        i += 1
    return None


# `set_option ... in`, `open Real in`, `attribute [local simp] f in`, `variable (x) in` ... scope the
# one declaration after them: they belong to its statement, not to the header.
_OPTION_IN = re.compile(
    r"[ \t]*(?:set_option\s+\S+\s+\S+|(?:open|attribute|variable|include|omit)\b[^\n]*?)\s+in[ \t]*\n?$"
)
_SCOPE = re.compile(r"(?P<kind>namespace|section|end)\b[ \t]*(?P<name>[^\s]*)")


def _doc_comment_start(text: str, masked: str, start: int) -> int:
    """Move `start` back over what belongs to the declaration before it: a doc comment, `set_option ... in` lines."""
    while True:
        stripped = text[:start].rstrip()
        if stripped.endswith("-/"):
            doc = stripped.rfind("/--")
            if doc != -1 and "-/" not in stripped[doc + 3 : -2]:
                start = doc
                continue
            return start
        line_start = masked.rfind("\n", 0, len(stripped)) + 1
        if _OPTION_IN.match(masked[line_start : len(stripped)]):
            start = line_start
            continue
        return start


def find_open_declarations(text: str) -> list[OpenDeclaration]:
    """Every theorem/lemma/example of `text` whose whole proof is `sorry` or `by sorry`, in order."""
    masked = mask_comments_and_strings(text)
    found: list[OpenDeclaration] = []
    starts = _line_starts(masked)
    seen_keywords: set[int] = set()  # `@[simp]` on its own line matches with the theorem line below
    scopes: list[tuple[str, str]] = []  # open namespaces and sections, outermost first
    for line_number, line_start in enumerate(starts, start=1):
        scope = _SCOPE.match(masked, line_start)
        if scope is not None:
            _follow_scope(scopes, scope.group("kind"), scope.group("name"))
            continue
        match = _DECLARATION.match(masked, line_start)
        if match is None or match.start("keyword") in seen_keywords:
            continue
        seen_keywords.add(match.start("keyword"))
        end = _command_end(masked, match.end())
        proof_at = _proof_start(masked, match.end(), end)
        if proof_at is None:
            continue
        proof_text = masked[proof_at:end]
        leading = len(proof_text) - len(proof_text.lstrip())
        body = proof_text.strip()
        if _OPEN_PROOF.fullmatch(body) is None:
            continue
        span_start = proof_at + leading
        span = (span_start, span_start + len(body))
        keyword = match.group("keyword")
        if keyword == "example":
            name = f"example_L{text.count(chr(10), 0, match.start('keyword')) + 1}"
        else:
            name_match = _NAME_AFTER_KEYWORD.search(masked, match.start("keyword"), proof_at)
            if name_match is None:
                continue
            name = name_match.group("name")
        start = _doc_comment_start(text, masked, line_start)
        found.append(
            OpenDeclaration(
                name=name,
                keyword=keyword,
                start=start,
                statement=text[start:proof_at],
                proof_span=span,
                indent=match.group("indent"),
                qualified_name=qualified_name(name, _namespaces(scopes)),
            )
        )
    return found


def unsearched_sorries(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, str]]:
    """Every `sorry` (or `admit`) of `text` outside comments, strings and the open proofs' `spans`,
    as (offset, reason): holes the prover does not search (a `sorry` inside a partial proof, a
    `def` body), reported so a run never claims "all proved" while the file keeps one."""
    masked = mask_comments_and_strings(text)
    holes = []
    for match in re.finditer(r"(?<![\w.'])(?:sorry|admit)(?![\w'])", masked):
        if any(start <= match.start() < end for start, end in spans):
            continue
        holes.append((match.start(), f"a `{match.group(0)}` the prover does not search (only a whole proof `sorry` is)"))
    return holes


def _follow_scope(scopes: list[tuple[str, str]], kind: str, name: str) -> None:
    """`namespace A.B` / `section` / `end` as Lean nests them (an `end` closes the innermost)."""
    if kind in ("namespace", "section"):
        scopes.append((kind, name))
    elif scopes:
        scopes.pop()


def _namespaces(scopes: Sequence[tuple[str, str]]) -> list[str]:
    """The namespace components of open scopes, outermost first (sections do not qualify names)."""
    return [part for kind, name in scopes if kind == "namespace" for part in name.split(".") if part]


def open_namespaces(text: str) -> list[str]:
    """The namespace components open at the end of `text` (a file's text before a declaration)."""
    masked = mask_comments_and_strings(text)
    scopes: list[tuple[str, str]] = []
    for line_start in _line_starts(masked):
        scope = _SCOPE.match(masked, line_start)
        if scope is not None:
            _follow_scope(scopes, scope.group("kind"), scope.group("name"))
    return _namespaces(scopes)


def qualified_name(name: str, namespaces: Sequence[str]) -> str:
    """The full name of `name` declared inside `namespaces` (`A.B.name`; `_root_.x` is `x`)."""
    if name.startswith("_root_."):
        return name[len("_root_.") :]
    return ".".join([*namespaces, name])


def full_name_for_lookup(header: str, name: str) -> str:
    """How a command run after `header` names the declaration `name` declared right after it so
    that Lean finds exactly that one: `_root_.` and its full name. From inside `namespace X`, the
    written name may resolve to another declaration, and a `protected` one is not found by it."""
    return "_root_." + qualified_name(name, open_namespaces(header))


def declared_name(statement: str) -> tuple[str, str | None]:
    """(keyword, name) of the declaration a statement opens; the name is None for an `example`."""
    masked = mask_comments_and_strings(statement)
    for line_start in _line_starts(masked):
        match = _DECLARATION.match(masked, line_start)
        if match is None:
            continue
        keyword = match.group("keyword")
        if keyword == "example":
            return keyword, None
        name_match = _NAME_AFTER_KEYWORD.search(masked, match.start("keyword"))
        return keyword, name_match.group("name") if name_match else None
    return "", None


def name_example(command: str, name: str) -> str:
    """`command` with its first `example` keyword turned into `theorem <name>` (same type, same proof)."""
    masked = mask_comments_and_strings(command)
    for line_start in _line_starts(masked):
        match = _DECLARATION.match(masked, line_start)
        if match is not None and match.group("keyword") == "example":
            start, end = match.span("keyword")
            return command[:start] + f"theorem {name}" + command[end:]
    return command


def split_tactics(script: str) -> list[str]:
    """Split a tactic script (a whole-proof model's output) into single steps the REPL can run.

    A leading `:= by`/`by` is dropped; comments are removed; a line at the script's base
    indentation starts a step, deeper lines (and lines starting with `<;>`) continue it; `;`
    outside brackets on one line separates steps.
    """
    # Comments are deleted, not blanked, so a step written after `/- ... -/` keeps its indentation.
    original = script.replace("\t", "  ")
    removed = mask_only_comments(original, fill="\0").replace("\0", "").split("\n")
    # A line's indentation is the one it was written with, even when it began with a comment.
    text = "\n".join(
        (line[: len(line) - len(line.lstrip())] + kept.strip()) if kept.strip() else ""
        for line, kept in zip(original.split("\n"), removed)
    )
    stripped = text.strip()
    stripped = re.sub(r"^:=\s*", "", stripped)
    stripped = re.sub(r"^by(?=\s)", "", stripped)
    lines = [line.rstrip() for line in stripped.splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return []
    first_indent = len(lines[0]) - len(lines[0].lstrip())
    rest = [line for line in lines[1:] if line.strip()]
    base = min([first_indent] + [len(line) - len(line.lstrip()) for line in rest])
    steps: list[list[str]] = []
    for line in lines:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        # `<;>` chains and `| pattern =>` alternatives belong to the step above them.
        starts_step = indent <= base and not line.lstrip().startswith(("<;>", "|"))
        if starts_step or not steps:
            steps.append([line[base:] if indent >= base else line.lstrip()])
        else:
            steps[-1].append(line[base:] if indent >= base else line.lstrip())
    result: list[str] = []
    for step in steps:
        block = textwrap.dedent("\n".join(step)).strip("\n")
        if "\n" in block:
            result.append(block)
        else:
            result.extend(part for part in _split_semicolons(block) if part)
    return result


def mask_only_comments(text: str, fill: str = " ") -> str:
    """`text` with comments (not strings) replaced by `fill` characters, newlines kept."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = min(j + 1, n)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            out[i:end] = fill * (end - i)
            i = end
        elif text.startswith("/-", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/-", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("-/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out[i:j] = [c if c == "\n" else fill for c in text[i:j]]
            i = j
        else:
            i += 1
    return "".join(out)


def _split_semicolons(line: str) -> list[str]:
    masked = mask_comments_and_strings(line)
    parts, depth, last = [], 0, 0
    for i, c in enumerate(masked):
        if c in "([{⟨⦃":
            depth += 1
        elif c in ")]}⟩⦄":
            depth = max(depth - 1, 0)
        elif c == ";" and depth == 0 and not masked[max(i - 2, 0) : i + 1].endswith("<;") and not masked.startswith(";>", i):
            parts.append(line[last:i].strip())
            last = i + 1
    parts.append(line[last:].strip())
    return parts


def render_tactics(tactics: Sequence[str], indent: str = "") -> str:
    """`by` and one tactic per line, each indented two spaces deeper than `indent`."""
    inner = indent + "  "
    lines = ["by"]
    for tactic in tactics:
        for line in tactic.strip("\n").splitlines():
            lines.append(inner + line if line.strip() else "")
    return "\n".join(lines)


def smuggled_command(tactic: str) -> str | None:
    """The command keyword a proof step would start (a new declaration, `#eval`, ...), or None."""
    match = _SMUGGLING.search(mask_comments_and_strings(tactic))
    return match.group(0).strip() if match else None
