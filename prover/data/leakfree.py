"""Leak-free evaluation data: split by logical module path, and near-duplicates across a split.

A file's identity is its logical module path (`Coq.Numbers.Natural.Abstract.NLcm`), the name Coq
itself loads it by, never the path a user typed nor an absolute install path: the same file then
lands in the same split however it was reached. Near-duplicates (identical normalised statements,
identical root goals, identical proof scripts, and twin files by (state, tactic) overlap) leak a
held-out theorem's proof into training as surely as the theorem itself; `novel_split` moves them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

from search.types import Theorem

from prover.backends.coq_sentences import SentenceSyntaxError, split_sentences, strip_comments

__all__ = ["module_path_of", "normalise_statement", "library_statements", "duplicate_statement_report"]

_THEOREM = re.compile(
    r"^\s*(?:(?:Local|Global|Polymorphic|Program)\s+)*(?:Lemma|Theorem|Corollary|Proposition|Fact|Remark)\s+([\w']+)\s*(.*)$",
    re.DOTALL,
)


def module_path_of(path: str | Path, roots: Sequence[tuple[str | Path, str]]) -> str:
    """The logical module path of a `.v` file under one of `roots` ((directory, logical prefix),
    e.g. (coqc -where/theories, "Coq")): `.../theories/Numbers/NLcm.v` -> `Coq.Numbers.NLcm`.
    Symlinks and relative spellings resolve to the same answer; a file outside every root is
    named by its stem under "Top" (Coq's name for a file compiled alone)."""
    resolved = Path(path).resolve()
    for directory, prefix in roots:
        base = Path(directory).resolve()
        try:
            relative = resolved.relative_to(base)
        except ValueError:
            continue
        parts = [p for p in (prefix, *relative.with_suffix("").parts) if p]
        return ".".join(parts)
    return f"Top.{resolved.stem}"


def normalise_statement(sentence: str) -> str | None:
    """A theorem sentence without its keyword, name, comments and layout (`Lemma foo (n : nat) :
    n + 0 = n.` -> `(n : nat) : n + 0 = n`); None for a sentence that states no theorem."""
    match = _THEOREM.match(strip_comments(sentence))
    if match is None:
        return None
    return " ".join(match.group(2).split()).rstrip(".").strip()


def library_statements(root: str | Path, *, prefix: str = "Coq", exclude_modules: Iterable[str] = ()) -> dict[str, str]:
    """Normalised statement -> the first `module::theorem` stating it, over the `.v` files under
    `root` whose module paths are not excluded."""
    excluded = set(exclude_modules)
    found: dict[str, str] = {}
    for path in sorted(Path(root).rglob("*.v")):
        module = module_path_of(path, [(root, prefix)])
        if module in excluded:
            continue
        try:
            sentences = split_sentences(path.read_text(errors="replace"), allow_unterminated=True)
        except SentenceSyntaxError:
            continue
        for sentence in sentences:
            normal = normalise_statement(sentence.text)
            match = _THEOREM.match(strip_comments(sentence.text))
            if normal and match:
                found.setdefault(normal, f"{module}::{match.group(1)}")
    return found


def duplicate_statement_report(
    problems: Sequence[Theorem], root: str | Path, *, exclude_modules: Iterable[str]
) -> dict:
    """How many held-out `problems` state, after normalisation, what a library file outside the
    held-out set already states (a leak for any method that has seen that file), with examples."""
    library = library_statements(root, exclude_modules=exclude_modules)
    twins = []
    for theorem in problems:
        normal = normalise_statement(theorem.statement)
        if normal and normal in library:
            twins.append({"problem": f"{theorem.source}::{theorem.name}", "also_in": library[normal]})
    return {"checked": len(problems), "identical_statement_in_library": len(twins), "examples": twins[:20]}
