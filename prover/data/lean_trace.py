"""Lean step rows: read the LeanDojo Benchmark 4 JSON format, or trace a repository with lean-dojo.

LeanDojo Benchmark 4 (`leandojo_benchmark_4/{random,novel_premises}/{train,val,test}.json`) is a
JSON list of theorems, each `{"url", "commit", "file_path", "full_name", "start", "end",
"traced_tactics": [{"tactic", "annotated_tactic", "state_before", "state_after"}, ...]}`; its
states are Lean's pretty-printed goals, the text the Lean backend's states carry, so rows convert
one to one. Tracing a repository needs lean-dojo (`pip install lean-dojo`) and a Lean toolchain
(elan/lake); without them `ToolchainMissing` says what to install.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

from prover.data.rows import NO_GOALS, TraceRow
from prover.errors import InputError, ToolchainMissing

__all__ = ["official_split", "read_leandojo_benchmark", "trace_lean_repository", "LEAN_DOJO_VERSION"]

# The lean-dojo release this code is written against (its `trace`/`LeanGitRepo` API).
LEAN_DOJO_VERSION = "4.20.0"


def _state(text: str | None) -> str:
    text = (text or "").strip()
    return NO_GOALS if text in ("", "no goals") else text


def official_split(path: str | Path) -> tuple[str, str] | None:
    """(variant, split) of a LeanDojo Benchmark 4 file (`.../novel_premises/val.json` ->
    ("novel_premises", "valid"); a `test.json` outside `random/` or `novel_premises/` ->
    ("official", "test")), or None for a file not named like one of its splits."""
    file = Path(path)
    split = {"train": "train", "val": "valid", "valid": "valid", "test": "test"}.get(file.stem)
    variant = file.parent.name if file.parent.name in ("random", "novel_premises") else "official"
    return (variant, split) if split else None


def _premises(annotated: object) -> tuple[str, ...]:
    """The fully qualified premises of an `annotated_tactic` ([text, [{"full_name", ...}, ...]])."""
    if isinstance(annotated, (list, tuple)) and len(annotated) == 2 and isinstance(annotated[1], list):
        return tuple(str(p["full_name"]) for p in annotated[1] if isinstance(p, dict) and "full_name" in p)
    return ()


def read_leandojo_benchmark(path: str | Path) -> Iterator[TraceRow]:
    """Rows from one LeanDojo Benchmark 4 JSON file (a list of theorems with traced tactics), with
    each tactic's premise annotations kept (`TraceRow.premises`)."""
    file = Path(path)
    try:
        theorems = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as bad:
        raise InputError(f"{file}: not a LeanDojo benchmark JSON file ({bad})") from None
    if not isinstance(theorems, list):
        raise InputError(f"{file}: expected a JSON list of theorems (LeanDojo Benchmark 4 format)")
    for entry in theorems:
        try:
            source = str(entry["file_path"])
            name = str(entry["full_name"])
            tactics = entry.get("traced_tactics") or []
        except (KeyError, TypeError) as bad:
            raise InputError(f"{file}: a theorem lacks {bad} (LeanDojo Benchmark 4 format)") from None
        for step, tactic in enumerate(tactics):
            yield TraceRow(
                source=source,
                theorem=name,
                step=step,
                state_before=_state(tactic.get("state_before")),
                tactic=str(tactic["tactic"]),
                state_after=_state(tactic.get("state_after")),
                imports=(),
                premises=_premises(tactic.get("annotated_tactic")),
            )


def trace_lean_repository(url: str, commit: str, *, build_deps: bool = False) -> Iterator[TraceRow]:
    """Trace a Lean 4 repository at `commit` with lean-dojo and yield its rows.

    Raises `ToolchainMissing` when lean-dojo or the Lean toolchain is not installed.
    """
    if shutil.which("lake") is None or shutil.which("elan") is None:
        raise ToolchainMissing("tracing Lean needs elan and lake: install elan (https://github.com/leanprover/elan)")
    try:
        from lean_dojo import LeanGitRepo, trace  # type: ignore[import-not-found]
    except ImportError:
        raise ToolchainMissing(
            f"tracing Lean needs lean-dojo: pip install 'lean-dojo=={LEAN_DOJO_VERSION}'"
        ) from None
    traced = trace(LeanGitRepo(url, commit), build_deps=build_deps)
    for theorem in traced.get_traced_theorems():
        source = str(theorem.file_path)
        for step, tactic in enumerate(theorem.get_traced_tactics()):
            yield TraceRow(
                source=source,
                theorem=theorem.theorem.full_name,
                step=step,
                state_before=_state(tactic.state_before),
                tactic=tactic.tactic,
                state_after=_state(tactic.state_after),
            )
