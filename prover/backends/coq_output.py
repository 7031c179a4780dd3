"""Writing proofs back into a Coq file: the text that was checked, in the user's own layout.

A proof is written from the exact sentences the kernel check compiled (`tactic_sentences` of each
step: comments dropped, each sentence ending in `.`, bullets, braces and `2: {` as they are), so
the completed file compiles exactly when the check did. Around it the user's text is kept: a
`Proof using Hk.` opening stays, comments written inside the open proof stay (above the generated
steps), and the preamble the proofs need goes after the file's leading comment block, so a
license or title comment stays on line 1.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from prover.backends.base import ParsedFile, proof_for
from prover.backends.coq_parse import DEFINITION_KEYWORDS
from prover.backends.coq_sentences import SentenceSyntaxError, split_sentences, strip_comments
from prover.backends.coq_tactics import TacticRefused, tactic_sentences

__all__ = ["checked_step_text", "render_coq_proof", "complete_coq_file", "comments_in", "leading_comments_end"]

_DECLARATION = re.compile(r"^(?:#\[[^\]]*\]\s*|(?:Local|Global|Polymorphic|Monomorphic|Private)\s+)*([^\W\d][\w']*)")


def checked_step_text(step: str) -> str:
    """One step as the kernel check compiles it: its sentences, space-separated (`2: { exact I. }`)."""
    try:
        return " ".join(tactic_sentences(step))
    except TacticRefused:
        # Never for a proof the kernel accepted (its steps passed the same function); kept readable.
        text = " ".join(strip_comments(step).split())
        return text if text.endswith(".") or re.fullmatch(r"[-+*]+|[{}]", text) else text + "."


def render_coq_proof(
    proof: Sequence[str], *, opening: str = "Proof.", closer: str = "Qed.", comments: Sequence[str] = ()
) -> str:
    """`Proof.\\n  tac1.\\n  tac2.\\nQed.`: each step on its own line, as it was checked; `comments`
    (the user's, from the open proof) go first after the opening."""
    lines = [opening]
    lines.extend("  " + comment for comment in comments)
    lines.extend("  " + checked_step_text(step) for step in proof)
    lines.append(closer)
    return "\n".join(lines)


def comments_in(text: str) -> list[str]:
    """The outermost comments of `text`, in order (nested comments and strings inside them kept)."""
    found: list[str] = []
    depth, start, index = 0, 0, 0
    while index < len(text):
        if text.startswith("(*", index):
            if depth == 0:
                start = index
            depth += 1
            index += 2
            continue
        if depth and text.startswith("*)", index):
            depth -= 1
            index += 2
            if depth == 0:
                found.append(text[start:index])
            continue
        if text[index] == '"':
            closing = index + 1
            while True:  # a string (inside a comment too: Coq lexes them there); `""` escapes a quote
                closing = text.find('"', closing)
                if closing < 0 or not text.startswith('""', closing):
                    break
                closing += 2
            index = len(text) if closing < 0 else closing + 1
            continue
        index += 1
    return found


def leading_comments_end(text: str) -> int:
    """The offset just after the comments (and blank space) the file starts with; 0 when it starts
    with code. The preamble is inserted there, so a header comment stays first."""
    position, end = 0, 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if not text.startswith("(*", position):
            return end
        comments = comments_in(text[position:])
        if not comments or not text.startswith(comments[0], position):
            return end  # an unterminated comment: leave the file's start alone
        position += len(comments[0])
        end = position


def _opening_of(original: str) -> str:
    """The user's `Proof ...` sentence (`Proof using Hk.`, whitespace normalised), or `Proof.`."""
    try:
        sentences = split_sentences(original, allow_unterminated=True)
    except SentenceSyntaxError:
        return "Proof."
    if sentences:
        first = " ".join(strip_comments(sentences[0].text).split())
        if re.match(r"Proof\b", first) and first.endswith(".") and not first.startswith("Proof."):
            return first
    return "Proof."


def _closer_for(statement: str) -> str:
    match = _DECLARATION.match(strip_comments(statement).lstrip())
    return "Defined." if match and match.group(1) in DEFINITION_KEYWORDS else "Qed."


def complete_coq_file(
    parsed: ParsedFile, proofs: Mapping[str, Sequence[str]], *, preamble: Sequence[str]
) -> str:
    """The file with each proved theorem's open proof replaced (`proofs` keyed by qualified name);
    `preamble` (imports) is inserted after the leading comments when at least one proof is written."""
    edits: list[tuple[int, int, str]] = []
    for open_theorem in parsed.theorems:
        proof = proof_for(parsed, open_theorem, proofs)
        if proof is None:
            continue
        start, end = open_theorem.span
        original = parsed.text[start:end]
        statement = parsed.text[open_theorem.statement_start :] if open_theorem.statement_start >= 0 else ""
        rendered = render_coq_proof(
            proof,
            opening=_opening_of(original),
            closer=_closer_for(statement or open_theorem.theorem.statement),
            comments=comments_in(original),
        )
        edits.append((start, end, ("\n" + rendered) if start == end else rendered))
    if not edits:
        return parsed.text
    pieces: list[str] = []
    cursor = 0
    if preamble:
        insert_at = leading_comments_end(parsed.text)
        imports = "".join(f"{sentence}\n" for sentence in preamble)
        if insert_at:
            pieces.append(parsed.text[:insert_at] + "\n" + imports.rstrip("\n"))
            cursor = insert_at
        else:
            pieces.append(imports)
    for start, end, replacement in sorted(edits):
        pieces.append(parsed.text[cursor:start])
        pieces.append(replacement)
        cursor = end
    pieces.append(parsed.text[cursor:])
    return "".join(pieces)
