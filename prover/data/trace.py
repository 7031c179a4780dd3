"""`prove trace` as a library call: find the files, trace them, write rows, theorems, splits and a report.

The output directory holds:
  rows.jsonl                       one row per tactic step (`prover.data.rows.TraceRow`)
  theorems.jsonl                   one line per proof met (traced or the reason it was not)
  splits/by_theorem/{train,valid,test}.jsonl, splits/by_file/...   deterministic splits (a hash of
                                   the theorem / of the file's logical module path)
  splits/novel/...                 by file, near-duplicates of valid/test dropped from train
                                   (splits/novel/report.json counts them; prover.data.leakfree)
  splits/<variant>/...             LeanDojo Benchmark 4 input: its own splits, kept as they are
  report.json                      files, theorems and steps traced; failures by reason; speed
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from prover.data.coq_trace import FileTrace, trace_coq_files
from prover.data.leakfree import logical_module_path, write_novel_split
from prover.data.lean_trace import read_leandojo_benchmark
from prover.data.rows import TraceRow, write_rows, write_splits
from prover.errors import InputError

__all__ = ["TraceReport", "find_coq_files", "trace_coq", "convert_leandojo", "select_subset"]


@dataclass
class TraceReport:
    """What a trace produced: counts, failures by reason, speed (written as `report.json`)."""

    files: int = 0
    files_replayed: int = 0
    files_failed: dict[str, int] = field(default_factory=dict)
    theorems_seen: int = 0
    theorems_traced: int = 0
    theorems_skipped: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    sentences: int = 0
    seconds: float = 0.0
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    failed_files: dict[str, str] = field(default_factory=dict)
    replay_errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def steps_per_second(self) -> float:
        """Tactic steps recorded per wall-clock second."""
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict:
        """The report as a JSON object."""
        return {
            "files": self.files,
            "files_replayed": self.files_replayed,
            "files_failed": self.files_failed,
            "theorems_seen": self.theorems_seen,
            "theorems_traced": self.theorems_traced,
            "theorems_skipped": self.theorems_skipped,
            "steps": self.steps,
            "sentences": self.sentences,
            "seconds": round(self.seconds, 2),
            "steps_per_second": round(self.steps_per_second, 2),
            "splits": self.splits,
            "failed_files": self.failed_files,
            "replay_errors": self.replay_errors,
        }


def find_coq_files(paths: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """`(path, source label)` for every `.v` file under `paths`, sorted. The label is the file's
    logical module path (`Coq.Arith.PeanoNat`, from Coq's library roots or the file's
    `_CoqProject`), so a file gets the same label, and the same split, whichever folder was given;
    a file neither covers keeps its path relative to the given folder's parent."""

    found: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(path.rglob("*.v")):
                found.append((file, logical_module_path(file) or str(file.relative_to(path.parent))))
        elif path.is_file():
            found.append((path, logical_module_path(path) or path.name))
        else:
            raise InputError(f"{path}: no such file or folder")
    return found


def select_subset(files: Sequence[tuple[Path, str]], fraction: float) -> list[tuple[Path, str]]:
    """A deterministic subset: the files whose label hashes below `fraction` (same subset every run)."""
    if fraction >= 1.0:
        return list(files)
    return [
        item
        for item in files
        if int.from_bytes(hashlib.sha256(item[1].encode()).digest()[:8], "big") / 2**64 < fraction
    ]


def _count(report: TraceReport, traced: FileTrace) -> None:
    report.files += 1
    report.sentences += traced.sentences
    report.steps += len(traced.rows)
    report.theorems_seen += len(traced.theorems) + traced.untraced_after_failure
    report.theorems_traced += sum(1 for t in traced.theorems if t.status == "traced")
    for reason, count in traced.skipped_by_reason().items():
        report.theorems_skipped[reason] = report.theorems_skipped.get(reason, 0) + count
    if traced.replay_errors:
        report.replay_errors[traced.source] = list(traced.replay_errors)
    if traced.failure is None:
        report.files_replayed += 1
    else:
        reason = traced.failure.split(":", 1)[0]
        report.files_failed[reason] = report.files_failed.get(reason, 0) + 1
        report.failed_files[traced.source] = traced.failure[:300]


def trace_coq(
    files: Sequence[tuple[Path, str]],
    out_dir: str | Path,
    *,
    jobs: int = 1,
    sentence_timeout: float = 60.0,
    hammer: bool | None = None,
    on_file: Callable[[FileTrace], None] | None = None,
) -> TraceReport:
    """Trace `files` into `out_dir` (see the module docstring) and return the report.

    hammer: whether environments import CoqHammer (None: as `CoqBackend` decides), so that traced
        states match the search's exactly.
    """
    if hammer is None:
        from prover.backends.coq import CoqBackend

        hammer = CoqBackend().hammer
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = TraceReport()
    rows: list[TraceRow] = []
    statements: dict[tuple[str, str], str] = {}
    started = time.monotonic()
    # Rows and theorems are written as each file finishes, so a long trace that is stopped keeps them.
    (out / "rows.jsonl").unlink(missing_ok=True)
    with (out / "theorems.jsonl").open("w") as theorems:
        for traced in trace_coq_files(
            files, jobs=jobs, sentence_timeout=sentence_timeout, hammer=hammer, on_file=on_file
        ):
            _count(report, traced)
            rows.extend(traced.rows)
            write_rows(out / "rows.jsonl", traced.rows, append=True)
            for theorem in traced.theorems:
                theorems.write(json.dumps(theorem.to_json(traced.source, traced.path)) + "\n")
                statements[(traced.source, theorem.name)] = theorem.statement
            theorems.flush()
    report.seconds = time.monotonic() - started
    report.splits = write_splits(out, rows)
    report.splits["novel"] = write_novel_split(out, rows, statements)
    (out / "report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return report


def convert_leandojo(paths: Sequence[str | Path], out_dir: str | Path) -> TraceReport:
    """Convert LeanDojo Benchmark 4 JSON files into the same output directory layout.

    When every file is one of the benchmark's own splits (`{random,novel_premises}/{train,val,
    test}.json`), those splits are kept as they are (`splits/<variant>/{train,valid,test}.jsonl`)
    instead of re-splitting by hash: its test theorems must stay test theorems.
    """
    from prover.data.lean_trace import official_split

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows: list[TraceRow] = []
    official: dict[tuple[str, str], list[TraceRow]] | None = {}
    for path in paths:
        found = list(read_leandojo_benchmark(path))
        rows.extend(found)
        where = official_split(path)
        if where is None:
            official = None
        elif official is not None:
            official.setdefault(where, []).extend(found)
    report = TraceReport(files=len({r.source for r in rows}), files_replayed=len({r.source for r in rows}))
    theorems = Counter((r.source, r.theorem) for r in rows)
    report.theorems_seen = report.theorems_traced = len(theorems)
    report.steps = len(rows)
    report.seconds = time.monotonic() - started
    write_rows(out / "rows.jsonl", rows)
    if official:
        report.splits = {}
        for (variant, split), bucket in sorted(official.items()):
            report.splits.setdefault(variant, {})[split] = write_rows(out / "splits" / variant / f"{split}.jsonl", bucket)
    else:
        report.splits = write_splits(out, rows)
    (out / "report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return report
