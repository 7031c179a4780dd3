"""Durable results of an evaluation run: one JSONL row per (problem, attempt), a run identity, a summary.

Each row is appended, flushed and fsynced the moment its problem finishes, so a run killed with
`kill -9` loses nothing that had finished; the partial line such a kill can leave is cut off when
the store is opened again. A run's identity (dataset and prover configuration) is saved beside
the rows and a rerun with a different one is refused, so every row in one directory is comparable.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

import prover
from prover.errors import InputError
from prover.jsonl import read_jsonl, repair_tail
from prover.policies.specs import parse_policy_spec, parse_value_spec

__all__ = [
    "RESULTS_FILE",
    "RUN_FILE",
    "SUMMARY_FILE",
    "ResultRow",
    "RunIdentity",
    "ResultStore",
    "read_rows",
    "latest_rows",
    "write_json_atomically",
]


RESULTS_FILE = "results.jsonl"
RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"

RowStatus = Literal["proved", "unproved", "invalid", "error"]


class ResultRow(BaseModel):
    """One finished (problem, attempt), as written to `results.jsonl`.

    problem: the problem's id in its dataset. attempt: 0-based attempt number (independent seeds).
    seed: the search seed this attempt used. category: the problem's category (see datasets).
    status: "proved" (kernel-checked), "unproved", "invalid" (statement does not elaborate),
        "error" (the proof assistant or its worker kept failing).
    proof: rendered proof text when proved; tactics: its steps.
    seconds: wall-clock seconds of search + kernel check; model_seconds / prover_seconds: time in
        the policy / in the proof assistant. expansions: (state, tactic) steps tried.
    header_seconds / search_seconds / verify_seconds: `seconds` split into elaborating the header
        and statement, searching, and the kernel check.
    error: one-line reason for invalid/error rows. worker_restarts: how many times a worker died
        on this problem before this row was written. finished_at: UTC time the row was written.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    problem: str
    attempt: int = 0
    seed: int = 0
    category: str = "other"
    status: RowStatus
    proof: str | None = None
    tactics: list[str] | None = None
    kernel_checked: bool = False
    seconds: float = 0.0
    expansions: int = 0
    model_seconds: float = 0.0
    prover_seconds: float = 0.0
    header_seconds: float = 0.0
    search_seconds: float = 0.0
    verify_seconds: float = 0.0
    error: str | None = None
    worker_restarts: int = 0
    finished_at: str = ""

    @property
    def key(self) -> tuple[str, int]:
        """(problem, attempt): what a resumed run skips."""
        return (self.problem, self.attempt)


class RunIdentity(BaseModel):
    """What makes two runs comparable: the dataset and every prover setting that changes results.

    Workers, limits and the number of attempts are left out on purpose: a rerun may use more
    workers, a larger `--limit` or more attempts and still extend the same table.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str
    split: str
    backend: str
    prover: dict[str, Any]

    @field_validator("prover")
    @classmethod
    def _same_spelling(cls, prover: dict[str, Any]) -> dict[str, Any]:
        """Policy and value specs in their canonical shorthand, so a run saved with another
        spelling of the same spec (`reprover`, spaces around `+`, a default option written out)
        is still the same run."""
        canonical = dict(prover)
        for key, parse in (("policy", parse_policy_spec), ("value", parse_value_spec)):
            if isinstance(canonical.get(key), str):
                try:
                    canonical[key] = str(parse(canonical[key]))
                except InputError:  # a spec this version no longer reads: compared as written
                    pass
        return canonical

    def differences(self, other: "RunIdentity") -> list[str]:
        """Human-readable `field: saved != requested` lines, empty when the two are the same."""
        mine, theirs = _flatten(self.model_dump()), _flatten(other.model_dump())
        return [
            f"{key}: {mine.get(key)!r} != {theirs.get(key)!r}"
            for key in sorted(set(mine) | set(theirs))
            if mine.get(key) != theirs.get(key)
        ]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def write_json_atomically(path: Path, data: Any) -> None:
    """Write `data` as indented JSON through a temporary file and a rename (never half a file)."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2, sort_keys=False)
        stream.write("\n")
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


@dataclass
class ResultStore:
    """The rows of one output directory, opened for appending.

    Use `ResultStore.open(out_dir, identity)`; then `append(row)` for each finished problem and
    `close()` (or a `with` block). `rows` holds the latest row per (problem, attempt).
    """

    out_dir: Path
    identity: RunIdentity
    rows: dict[tuple[str, int], ResultRow]
    _stream: Any = None
    _lines_at_open: int = 0

    @classmethod
    def open(cls, out_dir: str | os.PathLike[str], identity: RunIdentity) -> "ResultStore":
        """Open (creating) `out_dir`; refuse it when it holds a run with a different identity."""
        directory = Path(out_dir)
        if directory.exists() and not directory.is_dir():
            raise InputError(f"{directory}: --out must be a directory, and this is a file")
        directory.mkdir(parents=True, exist_ok=True)
        run_file = directory / RUN_FILE
        if run_file.exists():
            saved = _read_identity(run_file)
            differences = saved.differences(identity)
            if differences:
                raise InputError(
                    f"{directory} holds a run with a different configuration ({'; '.join(differences)}); "
                    "results would not be comparable: use another --out directory"
                )
        else:
            write_json_atomically(
                run_file,
                {
                    "identity": identity.model_dump(),
                    "created": _now(),
                    "neuroprove_version": prover.__version__,
                },
            )
        results = directory / RESULTS_FILE
        existing = read_rows(results, repair=True)
        store = cls(out_dir=directory, identity=identity, rows={row.key: row for row in existing})
        store._lines_at_open = len(existing)
        store._stream = open(results, "a", encoding="utf-8")
        return store

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the results file."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.close()

    @property
    def results_path(self) -> Path:
        """The JSONL file of rows."""
        return self.out_dir / RESULTS_FILE

    def reread(self) -> int:
        """Take `rows` from the file again and return how many rows were appended since `open`.

        After Ctrl-C or SIGTERM the file is the truth: the signal can land after a row reached the
        disk but before `append` returned, and the summary must count that row as the file does.
        """
        on_disk = read_rows(self.results_path)
        self.rows = {row.key: row for row in on_disk}
        return len(on_disk) - self._lines_at_open

    def finished(self) -> set[tuple[str, int]]:
        """The (problem, attempt) pairs that already have a row."""
        return set(self.rows)

    def append(self, row: ResultRow) -> ResultRow:
        """Write `row` as one line and force it to disk before returning (it survives kill -9)."""
        if self._stream is None:
            raise RuntimeError("ResultStore is closed")
        if not row.finished_at:
            row = row.model_copy(update={"finished_at": _now()})
        self._stream.write(row.model_dump_json() + "\n")
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self.rows[row.key] = row
        return row


def read_rows(path: str | os.PathLike[str], *, repair: bool = False) -> list[ResultRow]:
    """The rows of a results file in file order (later rows for the same key win when used as a map).

    Read by `prover.jsonl.read_jsonl`: a truncated last line (what a killed writer leaves) is
    ignored, and with `repair` cut from the file so the next append starts on a fresh line; a
    malformed line anywhere else is a `JsonlError` naming `file:line`. No file: no rows.
    """
    file = Path(path)
    if not file.exists():
        return []
    if repair:
        repair_tail(file)
    return list(read_jsonl(file, ResultRow))


def latest_rows(rows: Iterable[ResultRow]) -> dict[tuple[str, int], ResultRow]:
    """The last row written for each (problem, attempt)."""
    return {row.key: row for row in rows}


def _read_identity(run_file: Path) -> RunIdentity:
    try:
        saved = json.loads(run_file.read_text(encoding="utf-8"))
        return RunIdentity.model_validate(saved["identity"])
    except (OSError, ValueError, KeyError, ValidationError) as broken:
        raise InputError(f"{run_file}: unreadable run description ({broken}); use another --out directory") from broken


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
