"""What a proof-assistant backend offers the application: file parsing, environments, file writing.

`search.types.Environment` is the per-step interface the search sees; `Backend` is the file-level
interface the CLI and the evaluation runner see. Each backend module (coq.py, lean.py) exposes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from search.types import Environment, Theorem

__all__ = ["OpenTheorem", "UnsupportedProof", "ParsedFile", "Backend", "proof_for"]


@dataclass(frozen=True)
class OpenTheorem:
    """A theorem in a source file whose proof is missing.

    theorem: what the environment needs to start a search (name, statement, header).
    span: (start, end) character offsets, in the original text, of the missing proof to replace
        (e.g. `Proof.\\nAdmitted.` in Coq, `by sorry` / `sorry` in Lean).
    qualified_name: the name results, JSON, saved trees and eval ids use: the short name with its
        enclosing modules / namespaces (`A.t`), so two `t` in different modules never collide.
        Empty means `theorem.name`.
    statement_start: where the statement begins in the text (for `File "x.v", line L` messages);
        -1 when unknown.
    """

    theorem: Theorem
    span: tuple[int, int]
    qualified_name: str = ""
    statement_start: int = -1

    @property
    def name(self) -> str:
        """The theorem's qualified name (see `qualified_name`)."""
        return self.qualified_name or self.theorem.name


@dataclass(frozen=True)
class UnsupportedProof:
    """An open proof the backend finds but cannot search (e.g. a `Program` obligation): reported as
    `unsupported` with `reason`, so a run never claims "all proved" while the file keeps a hole."""

    name: str
    reason: str
    start: int


@dataclass(frozen=True)
class ParsedFile:
    """A source file split into the theorems to prove; `text` is the file as read (line endings as
    `\\n`, no byte-order mark: `prover.files` restores both when writing). `unsupported`: open
    proofs it will not search, each with the reason."""

    path: str
    text: str
    theorems: tuple[OpenTheorem, ...]
    unsupported: tuple[UnsupportedProof, ...] = ()


def proof_for(parsed: ParsedFile, open_theorem: OpenTheorem, proofs: Mapping[str, Sequence[str]]) -> Sequence[str] | None:
    """The proof `proofs` holds for `open_theorem`: by its qualified name, or by its short name when
    no other open theorem of the file has that short name (callers that know only the short one)."""
    if open_theorem.name in proofs:
        return proofs[open_theorem.name]
    short = open_theorem.theorem.name
    if short in proofs and sum(t.theorem.name == short for t in parsed.theorems) == 1:
        return proofs[short]
    return None


class Backend(Protocol):
    """A proof assistant as the application sees it."""

    name: str  # "coq" or "lean"
    extensions: tuple[str, ...]  # file extensions it handles, e.g. (".v",)

    def check_toolchain(self) -> None:
        """Raise `ToolchainMissing` with a one-line fix when the proof assistant is not usable."""
        ...

    def parse_file(self, path: str, text: str) -> ParsedFile:
        """Find the open theorems; raise `InputError` for a file that cannot be understood."""
        ...

    def open_environment(self, *, step_timeout: float) -> Environment:
        """A new environment (its own prover process); the caller closes it with `close()`."""
        ...

    def split_proof(self, script: str) -> list[str]:
        """Split a proof script (several tactics, as a whole-proof model writes it) into single steps."""
        ...

    def render_proof(self, proof: Sequence[str]) -> str:
        """The proof text that replaces an `OpenTheorem.span` (e.g. `Proof.\\n  lia.\\nQed.`)."""
        ...

    def complete_file(self, parsed: ParsedFile, proofs: Mapping[str, Sequence[str]]) -> str:
        """The file with each proved theorem's missing proof replaced; unproved ones left as they were.

        `proofs` is keyed by `OpenTheorem.name` (the qualified name)."""
        ...
