"""Step-level training rows (one per tactic step), deterministic splits, and JSONL reading/writing.

A row is what a tracer writes and what the trainers and the kNN policy read:
`{"source", "theorem", "step", "state_before", "tactic", "state_after", "imports"}`. States are
the text a policy sees during search (`search.types.State.key`: the goals joined by a blank line);
a closed proof's `state_after` is `"no goals"` (LeanDojo's spelling).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Literal, Sequence

from prover.errors import InputError
from prover.jsonl import read_jsonl

__all__ = [
    "NO_GOALS",
    "TraceRow",
    "SplitName",
    "SPLITS",
    "split_of",
    "read_rows",
    "write_rows",
    "is_structural",
    "strip_structure",
    "write_splits",
]

NO_GOALS = "no goals"
SplitName = Literal["train", "valid", "test"]
SPLITS: tuple[SplitName, ...] = ("train", "valid", "test")
_STRUCTURAL = re.compile(r"-+|\++|\*+|\{|\}|(?:\d+|\[\s*[A-Za-z_][\w']*\s*\])\s*:\s*\{")


@dataclass(frozen=True)
class TraceRow:
    """One tactic step of a real proof.

    source: the file (or dataset file path) the proof comes from.
    theorem: the declaration's name.
    step: the step's index in the proof (0 for the first tactic).
    state_before: the goals the tactic was applied to, as the search's policies see them.
    tactic: the tactic text, one sentence (comments removed, whitespace collapsed).
    state_after: the goals after the tactic (`NO_GOALS` when the proof is complete).
    imports: the file's `Require`/`import` lines (what the proof's environment needs).
    premises: the library lemmas the tactic uses, fully qualified, where the source says
        (LeanDojo Benchmark 4's annotated tactics); empty otherwise.
    """

    source: str
    theorem: str
    step: int
    state_before: str
    tactic: str
    state_after: str
    imports: tuple[str, ...] = field(default=())
    premises: tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        """The row as a JSON object (imports and premises as lists; premises only when known)."""
        data = asdict(self)
        data["imports"] = list(self.imports)
        if self.premises:
            data["premises"] = list(self.premises)
        else:
            data.pop("premises")
        return data

    @classmethod
    def from_json(cls, data: dict) -> "TraceRow":
        """Read a row written by `to_json` (extra keys are ignored)."""
        try:
            return cls(
                source=str(data["source"]),
                theorem=str(data["theorem"]),
                step=int(data["step"]),
                state_before=str(data["state_before"]),
                tactic=str(data["tactic"]),
                state_after=str(data["state_after"]),
                imports=tuple(data.get("imports") or ()),
                premises=tuple(data.get("premises") or ()),
            )
        except (KeyError, TypeError, ValueError) as bad:
            raise InputError(f"not a trace row ({bad}): {str(data)[:120]}") from None


def is_structural(tactic: str) -> bool:
    """A bullet or brace (`-`, `+`, `*`, `{`, `}`, `2: {`): proof structure, not a tactic to learn."""
    return _STRUCTURAL.fullmatch(tactic.strip()) is not None


def strip_structure(tactic: str) -> str:
    """The tactic without the bullets and braces a traced step may start with (`- {  auto.` -> `auto.`)."""
    text = tactic.strip()
    while True:
        match = re.match(r"(?:-+|\++|\*+|\{|\}|(?:\d+|\[\s*[A-Za-z_][\w']*\s*\])\s*:\s*\{)(?=\s|$)\s*", text)
        if match is None or match.end() == 0:
            return text
        text = text[match.end():]


def _fraction(key: str) -> float:
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(
    row: TraceRow | dict, *, by: Literal["theorem", "file"] = "theorem", valid: float = 0.05, test: float = 0.05
) -> SplitName:
    """The deterministic split of a row: a hash of its theorem (`by="theorem"`) or of its whole
    source file (`by="file"`, so held-out files are never seen in training)."""
    source = row["source"] if isinstance(row, dict) else row.source
    theorem = row["theorem"] if isinstance(row, dict) else row.theorem
    key = source if by == "file" else f"{source}::{theorem}"
    fraction = _fraction(key)
    if fraction < test:
        return "test"
    if fraction < test + valid:
        return "valid"
    return "train"


def read_rows(path: str | os.PathLike[str]) -> Iterator[TraceRow]:
    """The rows of a JSONL file (or of `rows.jsonl` in a trace directory)."""
    file = Path(path)
    if file.is_dir():
        file = file / "rows.jsonl"
    if not file.exists():
        raise InputError(f"{file}: no such file of trace rows")
    yield from read_jsonl(file, TraceRow.from_json)


def write_rows(path: str | os.PathLike[str], rows: Iterable[TraceRow], *, append: bool = False) -> int:
    """Write rows as JSONL; returns how many were written."""
    count = 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a" if append else "w") as handle:
        for row in rows:
            handle.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count


def write_splits(out_dir: str | os.PathLike[str], rows: Sequence[TraceRow]) -> dict[str, dict[str, int]]:
    """Write `splits/by_theorem/{train,valid,test}.jsonl` and `splits/by_file/...`; returns row counts."""
    counts: dict[str, dict[str, int]] = {}
    for by in ("theorem", "file"):
        buckets: dict[str, list[TraceRow]] = {name: [] for name in SPLITS}
        for row in rows:
            buckets[split_of(row, by=by)].append(row)  # type: ignore[arg-type]
        counts[f"by_{by}"] = {}
        for name, bucket in buckets.items():
            counts[f"by_{by}"][name] = write_rows(Path(out_dir) / "splits" / f"by_{by}" / f"{name}.jsonl", bucket)
    return counts
