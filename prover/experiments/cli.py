"""`prove experiment run cfg.toml` and `prove experiment compare RUN...`: typed, comparable experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from prover.eval.progress import RichProgress
from prover.experiments.config import load_experiment
from prover.experiments.runner import compare_runs, run_experiment

__all__ = ["register", "experiment_app"]

experiment_app = typer.Typer(help="Research experiments from a typed config file.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `experiment` command group (`experiment run`, `experiment compare`) to `prove`."""
    app.add_typer(experiment_app, name="experiment")


@experiment_app.command("run")
def run_command(
    config_file: Annotated[Path, typer.Argument(help="The experiment's TOML file (see prover.experiments.config).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory (default: runs/<config file name>).")] = None,
) -> None:
    """Run an experiment: config, results JSONL, summary, table and plots land in the run directory."""
    config = load_experiment(config_file)
    out_dir = out or Path("runs") / config_file.stem
    console = Console(stderr=True, highlight=False)
    outcome = run_experiment(
        config, out_dir, config_text=config_file.read_text(), progress=RichProgress(console, enabled=console.is_terminal)
    )
    typer.echo((outcome.out_dir / "table.md").read_text())
    typer.echo(f"run directory: {outcome.out_dir}")


@experiment_app.command("compare")
def compare_command(
    runs: Annotated[list[Path], typer.Argument(help="Run directories written by `prove experiment run`.")],
    plot: Annotated[Optional[Path], typer.Option(help="Also write a joint solved-vs-time plot here (.png).")] = None,
) -> None:
    """Print several runs side by side."""
    typer.echo(compare_runs(runs, plot=plot))
