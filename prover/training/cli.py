"""`prove train policy` and `prove train value`: train a small model on traced rows (resumable, seeded)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from prover.errors import InputError
from prover.training.trainer import TrainConfig, train

__all__ = ["register", "train_app"]

train_app = typer.Typer(help="Train a tactic policy or a value model on traced proof steps.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `train` command group (`train policy`, `train value`) to the `prove` application."""
    app.add_typer(train_app, name="train")


def _run(config_args: dict) -> None:
    try:
        config = TrainConfig(**config_args)
    except ValueError as invalid:
        raise InputError(f"invalid option: {str(invalid).splitlines()[0]}") from invalid
    console = Console(stderr=True, highlight=False)
    with Progress(
        TextColumn(f"training {config.kind}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("train", total=config.steps, loss=float("nan"))
        result = train(config, on_step=lambda step, loss: progress.update(task, completed=step, loss=loss))
    how = f" (resumed at step {result.resumed_from})" if result.resumed_from else ""
    spec = f"hf:{result.out_dir}?decoding=beam" if config.kind == "policy" else f"hf-critic:{result.out_dir}"
    typer.echo(
        f"{config.kind}: {result.steps} steps{how} on {result.examples} examples, final loss {result.final_loss:.4f}; "
        f"use it as --{'policy' if config.kind == 'policy' else 'value'} '{spec}'"
    )


_DATA = typer.Argument(help="Trace rows (a `prove trace` folder or rows JSONL); for a value model also {state, label} JSONL.")
_OUT = typer.Option("--out", "-o", help="Where the model, tokenizer and resumable checkpoints go (rerun to resume).")


def _options(
    data: Path,
    out: Path,
    split: str,
    split_by: str,
    model: str,
    steps: int,
    batch_size: int,
    learning_rate: float,
    hidden_size: int,
    layers: int,
    vocab_size: int,
    max_examples: Optional[int],
    save_every: int,
    seed: int,
    device: Optional[str],
    threads: Optional[int],
) -> dict:
    return dict(
        data=str(data), out_dir=str(out), split=split, split_by=split_by, model=model, steps=steps,
        batch_size=batch_size, learning_rate=learning_rate, hidden_size=hidden_size, layers=layers,
        vocab_size=vocab_size, max_examples=max_examples, save_every=save_every, seed=seed, device=device,
        threads=threads,
    )


@train_app.command("policy")
def train_policy(
    data: Annotated[Path, _DATA],
    out: Annotated[Path, _OUT],
    split: Annotated[str, typer.Option(help="train, valid, test or all.")] = "train",
    split_by: Annotated[str, typer.Option(help="Split rows by theorem or by file.")] = "file",
    model: Annotated[str, typer.Option(help="tiny (a small model built here), or a model id/directory to fine-tune.")] = "tiny",
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 500,
    batch_size: Annotated[int, typer.Option(help="Examples per step.")] = 16,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate (warm-up, then cosine decay).")] = 1e-3,
    hidden_size: Annotated[int, typer.Option(help="Width of the tiny model.")] = 128,
    layers: Annotated[int, typer.Option(help="Layers of the tiny model.")] = 2,
    vocab_size: Annotated[int, typer.Option(help="BPE vocabulary trained on the corpus (tiny model).")] = 4000,
    max_examples: Annotated[Optional[int], typer.Option(help="Only the first N examples.")] = None,
    save_every: Annotated[int, typer.Option(help="Steps between resumable checkpoints.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of weights and batch order.")] = 0,
    device: Annotated[Optional[str], typer.Option(help="cpu or cuda (default: cuda when available).")] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch (1 is fastest for tiny models on a busy machine).")] = None,
) -> None:
    """Train a tactic policy (state -> tactic); the result loads as `--policy hf:OUT`."""
    args = _options(data, out, split, split_by, model, steps, batch_size, learning_rate, hidden_size, layers,
                    vocab_size, max_examples, save_every, seed, device, threads)
    _run({"kind": "policy", **args})


@train_app.command("value")
def train_value(
    data: Annotated[Path, _DATA],
    out: Annotated[Path, _OUT],
    split: Annotated[str, typer.Option(help="train, valid, test or all (for trace rows).")] = "train",
    split_by: Annotated[str, typer.Option(help="Split rows by theorem or by file.")] = "file",
    model: Annotated[str, typer.Option(help="tiny, or a model id/directory to fine-tune.")] = "tiny",
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 300,
    batch_size: Annotated[int, typer.Option(help="Examples per step.")] = 16,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 1e-3,
    hidden_size: Annotated[int, typer.Option(help="Width of the tiny model.")] = 128,
    layers: Annotated[int, typer.Option(help="Layers of the tiny model.")] = 2,
    vocab_size: Annotated[int, typer.Option(help="BPE vocabulary (tiny model).")] = 4000,
    max_examples: Annotated[Optional[int], typer.Option(help="Only the first N examples.")] = None,
    save_every: Annotated[int, typer.Option(help="Steps between resumable checkpoints.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of weights and batch order.")] = 0,
    device: Annotated[Optional[str], typer.Option(help="cpu or cuda.")] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch.")] = None,
) -> None:
    """Train a value model (state -> chance of a proof); the result loads as `--value hf-critic:OUT`."""
    args = _options(data, out, split, split_by, model, steps, batch_size, learning_rate, hidden_size, layers,
                    vocab_size, max_examples, save_every, seed, device, threads)
    _run({"kind": "value", **args})
