"""`prove eval`: a resumable batch evaluation on miniF2F (Coq or Lean 4), a folder of files, or a JSONL file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from prover.cli_options import ProverOptions, prover_options
from prover.errors import InputError
from prover.eval.datasets import dataset_label, load_dataset, select_problems
from prover.eval.progress import RichProgress
from prover.eval.runner import EvalOutcome, run_evaluation

__all__ = ["register", "eval_command"]

def register(app: typer.Typer) -> None:
    """Add the `eval` command to the `prove` application."""
    app.command("eval")(eval_command)


@prover_options(
    help={
        "budget_seconds": "Search seconds per problem and attempt.",
        "max_expansions": "Tactic steps per problem and attempt (default: no limit).",
        "seed": "Seed of attempt 0; attempt k uses seed + k.",
    }
)
def eval_command(
    dataset: Annotated[
        str,
        typer.Argument(help="minif2f-coq, minif2f-lean4, minif2f (backend by --backend), a folder of .v/.lean files, or a .jsonl file."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder: results.jsonl, summary.json, report.md; rerun to resume.")],
    split: Annotated[str, typer.Option(help="miniF2F split: valid or test.")] = "valid",
    limit: Annotated[Optional[int], typer.Option(help="Only the first N problems (sorted by id).")] = None,
    only: Annotated[Optional[list[str]], typer.Option("--only", help="Only problems whose id matches this glob (repeatable).")] = None,
    workers: Annotated[int, typer.Option(help="Parallel provers; 1 runs in this process without Ray.")] = 1,
    attempts: Annotated[int, typer.Option(help="Independent attempts (seeds) per problem, for pass@k.")] = 1,
    ray_address: Annotated[Optional[str], typer.Option(help="Join this Ray cluster (e.g. ray://host:10001 or auto) instead of a local one.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="A local copy of the dataset instead of fetching it.")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Where fetched datasets are kept (default ~/.cache/neuroprove).")] = None,
    retry_errors: Annotated[bool, typer.Option("--retry-errors", help="On resume, run again the problems recorded as errors.")] = False,
    shared_inference: Annotated[bool, typer.Option("--shared-inference", help="Load each hf: model once per GPU (one in all on CPUs) in a Ray actor that batches the workers' requests, not once per worker.")] = False,
    *,
    prover: ProverOptions,
) -> None:
    """Evaluate the prover on a dataset; rows are saved as each problem finishes, and a rerun resumes."""
    config = prover.config()
    backend = config.backend
    problems = load_dataset(dataset, split=split, backend=backend, data_dir=data_dir, cache_dir=cache_dir)
    problems = select_problems(problems, only=only or (), limit=limit)
    if not problems:
        raise InputError(f"{dataset}: no problem selected")
    console = Console(stderr=True, highlight=False)
    outcome = run_evaluation(
        problems,
        config=config,
        out_dir=out,
        dataset=dataset_label(dataset, backend),
        split=split,
        attempts=attempts,
        workers=workers,
        ray_address=ray_address,
        progress=RichProgress(console, enabled=console.is_terminal),
        retry_errors=retry_errors,
        shared_inference=shared_inference,
    )
    _print_summary(outcome)
    if outcome.interrupted:
        console.print(f"prove: interrupted; {outcome.new_rows} finished rows kept in {out} (rerun to resume)", soft_wrap=True)
        raise typer.Exit(130)


def _print_summary(outcome: EvalOutcome) -> None:
    s = outcome.summary
    rate = f" ({100 * s['solve_rate_valid']:.1f}%)" if s["solve_rate_valid"] is not None else ""
    typer.echo(
        f"{s['dataset']} {s['split']}: solved {s['solved']}/{s['valid']} valid problems{rate}, "
        f"{s['invalid']} invalid, {s['errors']} errors; budget {s['budget_seconds_per_attempt']:g} s per attempt"
    )
    if s["attempts"] > 1:
        rates = ", ".join(
            f"pass@{k} {100 * e['rate']:.1f}%" for k, e in s["pass_at_k"].items() if e["rate"] is not None
        )
        typer.echo(f"{rates} ({s['attempts']} attempts of {s['budget_seconds_per_attempt']:g} s each)")
    for category, c in s["by_category"].items():
        typer.echo(f"  {category:<14} {c['solved']:>3}/{c['problems'] - c['invalid']:<3} solved, {c['invalid']} invalid")
    typer.echo(f"results: {outcome.out_dir / 'results.jsonl'}; report: {outcome.report_path}")
