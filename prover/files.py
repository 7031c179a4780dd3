"""Proving every open theorem of one source file: what `prove FILE` does, as a library call."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from prover.agent import Prover, TheoremResult
from prover.backends import Backend, ParsedFile, get_backend
from prover.backends.coq_project import ProjectOptions, check_dependencies, resolve_project
from prover.config import ProverConfig
from prover.errors import InputError

__all__ = ["FileResult", "read_source", "prove_file", "write_atomically"]


@dataclass
class FileResult:
    """The results for one file, filled in theorem by theorem (so an interrupted run keeps them)."""

    file: str
    backend: str
    parsed: ParsedFile
    results: list[TheoremResult] = field(default_factory=list)
    interrupted: bool = False

    @property
    def all_proved(self) -> bool:
        """True when every open theorem of the file was proved and kernel-checked."""
        return len(self.results) == len(self.parsed.theorems) and all(
            r.status == "proved" and r.kernel_checked for r in self.results
        )

    def completed_text(self, backend: Backend) -> str:
        """The file with every proof found so far written in."""
        proofs = {r.theorem: r.tactics for r in self.results if r.status == "proved" and r.tactics}
        return backend.complete_file(self.parsed, proofs)

    def to_json(self) -> dict[str, Any]:
        """The `--json` document: {"file", "backend", "results": [...]} (see the CLI contract)."""
        return {
            "file": self.file,
            "backend": self.backend,
            "interrupted": self.interrupted,
            "results": [
                {
                    "theorem": r.theorem,
                    "status": r.status if r.status != "error" else "unproved",
                    "proof": r.proof,
                    "kernel_checked": r.kernel_checked,
                    "seconds": round(r.seconds, 3),
                    "expansions": r.expansions,
                    "error": r.error,
                }
                for r in self.results
            ],
        }


def read_source(path: str | os.PathLike[str]) -> str:
    """The text of a source file; a missing, unreadable or non-UTF-8 file is an InputError."""
    source = Path(path)
    if not source.exists():
        raise InputError(f"{path}: no such file")
    if source.is_dir():
        raise InputError(f"{path}: is a directory, not a .v or .lean file")
    try:
        return source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as failure:
        raise InputError(f"{path}: cannot read: {failure}") from failure


def prove_file(
    path: str | os.PathLike[str],
    config: ProverConfig,
    *,
    project: ProjectOptions | None = None,
    on_theorem_start: Callable[[str, int, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
    on_theorem_done: Callable[[TheoremResult], None] | None = None,
    result: FileResult | None = None,
) -> FileResult:
    """Prove the open theorems of `path`, one after another, into `result` (created if None).

    Passing `result` in lets a caller keep the finished theorems when the run is interrupted.
    `project`: the command line's load-path options (Coq); the file's `_CoqProject` or dune
    project is found from its folder unless they say not to. A project whose libraries the file
    cannot load (not compiled, a cycle, another Coq version) is an `InputError` before any search.
    """
    text = read_source(path)
    backend = get_backend(config.backend if config.backend != "auto" else str(path))
    backend.check_toolchain()
    parsed = backend.parse_file(str(path), text)
    if backend.name == "coq":
        _use_coq_project(backend, Path(path), project or ProjectOptions())
    if result is None:
        result = FileResult(file=str(path), backend=backend.name, parsed=parsed)
    else:
        result.backend, result.parsed = backend.name, parsed
    with Prover(config, backend) as prover:
        total = len(parsed.theorems)
        for index, open_theorem in enumerate(parsed.theorems):
            if on_theorem_start is not None:
                on_theorem_start(open_theorem.theorem.name, index, total)
            outcome = prover.prove_theorem(open_theorem.theorem, on_step=on_step)
            result.results.append(outcome)
            if on_theorem_done is not None:
                on_theorem_done(outcome)
    return result


def _use_coq_project(backend: Backend, path: Path, options: ProjectOptions) -> None:
    """Give the Coq backend the file's load paths, after checking the file can load its project's libraries."""
    project = resolve_project(path, options)
    check_dependencies(path, project)
    backend.coq_args = project.coq_args  # type: ignore[attr-defined]


def write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename, so a crash never leaves half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
