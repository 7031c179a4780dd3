"""`prove eval-formalizer`: formalize miniF2F's informal statements and compare with the reference statements.

For each problem with an informal statement: run the formalizer; record whether a statement
elaborated (the elaboration rate) and, when a reference statement exists (miniF2F's own formal
statement: the Coq file of the same name for `--target coq`, the Lean 4 row for `--target lean`),
whether the prover can show the best candidate and the reference equivalent (`equivalence.py`:
variables aligned by type and order, each direction proved through its premise; "trivial" when a
direction holds without it, "different shape" when the variables cannot be aligned).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from prover.backends.base import Backend
from prover.errors import InputError
from prover.formalizer.checking import Statement
from prover.formalizer.drafting import Formalizer
from prover.formalizer.equivalence import check_equivalence, shape_of, statement_of_theorem
from prover.formalizer.templates import Target
from prover.jsonl import read_jsonl

__all__ = ["InformalProblem", "FormalizerEvalRow", "load_informal_problems", "evaluate_formalizer", "summarize"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InformalProblem:
    """One problem: its name, the informal statement, and miniF2F's Lean 4 header and statement (may be empty)."""

    name: str
    informal: str
    lean_header: str = ""
    lean_statement: str = ""


@dataclass(frozen=True)
class FormalizerEvalRow:
    """The result for one problem (one JSONL line).

    elaborated: a statement elaborated; samples_elaborated: how many of the N samples did.
    faithfulness / vacuous: of the best statement. equivalence: "equivalent", "trivial",
    "candidate implies reference", "reference implies candidate", "different shape",
    "equivalence not shown", "no reference", or "no statement". statement: the best statement's
    file text. error: why nothing elaborated. disproved: the best statement is false (its negation
    kernel-checked).
    """

    name: str
    elaborated: bool
    samples: int
    samples_elaborated: int
    faithfulness: float | None
    vacuous: bool | None
    equivalence: str
    equivalence_detail: str | None
    statement: str | None
    error: str | None
    seconds: float
    disproved: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load_informal_problems(path: str | Path) -> list[InformalProblem]:
    """The rows of a miniF2F JSONL file (`name`, `informal_statement`, `header`, `formal_statement`) that have an informal statement."""
    source = Path(path)
    if not source.is_file():
        raise InputError(f"{path}: no such file (expected miniF2F's minif2f_valid.jsonl with informal statements)")
    problems = []
    for row in read_jsonl(source):
        informal = row.get("informal_statement")
        if not informal:
            continue
        problems.append(
            InformalProblem(
                name=str(row["name"]),
                informal=informal,
                lean_header=row.get("header") or "",
                lean_statement=row.get("formal_statement") or "",
            )
        )
    return sorted(problems, key=lambda problem: problem.name)


def _reference(problem: InformalProblem, target: Target, backend: Backend, coq_references: Path | None) -> Statement | None:
    """miniF2F's own statement of `problem` in `target`, parsed by the backend; None when absent or unreadable."""
    if target == "coq":
        if coq_references is None:
            return None
        path = coq_references / f"{problem.name}.v"
        if not path.is_file():
            return None
        text = path.read_text(encoding="utf-8")
    else:
        if not problem.lean_statement:
            return None
        path = Path(f"{problem.name}.lean")
        text = problem.lean_header + problem.lean_statement
    try:
        parsed = backend.parse_file(str(path), text)
    except InputError as unreadable:
        log.info("%s: reference statement unreadable: %s", problem.name, unreadable)
        return None
    return statement_of_theorem(parsed.theorems[-1].theorem) if parsed.theorems else None


def _with_variable_names(informal: str, reference: Statement | None, target: Target) -> str:
    """The problem text asking for the reference's variable names, so the binders can be aligned by name too."""
    if reference is None:
        return informal
    try:
        variables = shape_of(reference.statement, target).variables
    except ValueError:
        return informal
    if not variables:
        return informal
    names = ", ".join(f"{name} : {kind}" for name, kind in variables)
    return f"{informal.rstrip()}\n\n(Name the variables as follows: {names}.)"


def evaluate_formalizer(
    problems: Iterable[InformalProblem],
    formalizer: Formalizer,
    backend: Backend,
    *,
    prover: Any | None,
    coq_references: Path | None = None,
    on_row: Callable[[FormalizerEvalRow], None] | None = None,
) -> Iterator[FormalizerEvalRow]:
    """Formalize each problem and, with a `prover` and a reference, try to show the two statements equivalent."""
    import time

    target = formalizer.settings.target
    for problem in problems:
        started = time.monotonic()
        reference = _reference(problem, target, backend, coq_references)
        result = formalizer.formalize(_with_variable_names(problem.informal, reference, target))
        best = result.best
        equivalence, detail = "no statement", None
        if best is not None and best.statement is not None:
            if reference is None:
                equivalence = "no reference"
            elif prover is None:
                equivalence = "equivalence not shown"
                detail = "no prover given"
            else:
                shown = check_equivalence(best.statement, reference, target, backend, prover)
                equivalence, detail = shown.verdict, shown.detail or None
        row = FormalizerEvalRow(
            name=problem.name,
            elaborated=best is not None,
            samples=len(result.candidates),
            samples_elaborated=result.elaborated,
            faithfulness=best.score if best is not None else None,
            vacuous=best.vacuity.vacuous if best is not None and best.vacuity is not None else None,
            equivalence=equivalence,
            equivalence_detail=detail,
            statement=best.source(target) if best is not None else None,
            error=None if best is not None else result.failure_summary(),
            seconds=round(time.monotonic() - started, 3),
            disproved=best is not None and best.disproof is not None,
        )
        if on_row is not None:
            on_row(row)
        yield row


def summarize(rows: list[FormalizerEvalRow]) -> dict[str, Any]:
    """Elaboration rate and equivalence counts over `rows`."""
    total = len(rows)
    elaborated = sum(row.elaborated for row in rows)
    with_reference = [row for row in rows if row.elaborated and row.equivalence not in ("no reference", "no statement")]
    return {
        "problems": total,
        "elaborated": elaborated,
        "elaboration_rate": elaborated / total if total else 0.0,
        "with_reference": len(with_reference),
        "equivalent": sum(row.equivalence == "equivalent" for row in with_reference),
        "one_direction": sum(row.equivalence.endswith("implies reference") or row.equivalence.endswith("implies candidate") for row in with_reference),
        "not_shown": sum(row.equivalence == "equivalence not shown" for row in with_reference),
        "trivial": sum(row.equivalence == "trivial" for row in with_reference),
        "different_shape": sum(row.equivalence == "different shape" for row in with_reference),
        "disproved_best": sum(row.disproved for row in rows),
        "vacuous_best": sum(bool(row.vacuous) for row in rows),
    }
