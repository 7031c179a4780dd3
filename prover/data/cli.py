"""`prove trace`: turn proofs into step-level training rows (Coq `.v` files, LeanDojo JSON, a Lean repository)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from prover.data.coq_trace import COQ_STDLIB
from prover.data.trace import convert_leandojo, find_coq_files, select_subset, trace_coq
from prover.errors import InputError

__all__ = ["register", "trace_command"]


def register(app: typer.Typer) -> None:
    """Add the `trace` command to the `prove` application."""
    app.command("trace")(trace_command)


def trace_command(
    paths: Annotated[
        Optional[list[Path]],
        typer.Argument(help=".v files or folders (Coq), or LeanDojo Benchmark 4 .json files. Default: Coq's standard library."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: rows.jsonl, theorems.jsonl, splits/, report.json.")] = Path("traced"),
    jobs: Annotated[int, typer.Option(help="coqidetop processes tracing files in parallel.")] = 1,
    subset: Annotated[float, typer.Option(help="Trace only this deterministic fraction of the files (by hash of their name).")] = 1.0,
    limit_files: Annotated[Optional[int], typer.Option(help="Only the first N files (sorted).")] = None,
    sentence_timeout: Annotated[float, typer.Option(help="Seconds one sentence may run before its file is reported as timed out.")] = 60.0,
    lean_repo: Annotated[Optional[str], typer.Option(help="Trace this Lean 4 git repository with lean-dojo (needs a Lean toolchain).")] = None,
    lean_commit: Annotated[Optional[str], typer.Option(help="The commit of --lean-repo.")] = None,
) -> None:
    """Trace proofs into JSONL rows {source, theorem, step, state_before, tactic, state_after, imports}."""
    console = Console(stderr=True, highlight=False)
    if lean_repo is not None:
        from prover.data.lean_trace import trace_lean_repository
        from prover.data.rows import write_rows, write_splits

        if not lean_commit:
            raise InputError("--lean-repo needs --lean-commit")
        rows = list(trace_lean_repository(lean_repo, lean_commit))
        write_rows(out / "rows.jsonl", rows)
        write_splits(out, rows)
        console.print(f"{len(rows)} steps from {lean_repo}@{lean_commit} -> {out}")
        return
    chosen = list(paths or [COQ_STDLIB])
    if chosen and all(p.suffix == ".json" for p in chosen):
        report = convert_leandojo(chosen, out)
    else:
        files = select_subset(find_coq_files(chosen), subset)[:limit_files]
        if not files:
            raise InputError("no .v file to trace")
        with Progress(
            TextColumn("tracing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[steps]} steps"),
            TimeElapsedColumn(), console=console, disable=not console.is_terminal,
        ) as progress:
            task = progress.add_task("trace", total=len(files), steps=0)
            counted = {"steps": 0}

            def advance(traced) -> None:
                counted["steps"] += len(traced.rows)
                progress.update(task, advance=1, steps=counted["steps"])

            report = trace_coq(files, out, jobs=jobs, sentence_timeout=sentence_timeout, on_file=advance)
    summary = report.to_json()
    summary.pop("failed_files")
    summary.pop("replay_errors")
    typer.echo(json.dumps(summary, indent=2))
