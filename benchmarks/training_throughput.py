"""Training and proposing on each device: how fast `prove train policy` runs on CPU and on a GPU,
and what the trained model then proposes, on the same trace rows and the same seed.

    .venv/bin/python benchmarks/training_throughput.py --rows TRACE/rows.jsonl [--devices cpu,cuda]
        [--steps 200] [--batch-size 32] [--hidden-size 256] [--layers 4] [--heads 4] [--states 64]
        [--candidates 8] [--threads N] [--out FILE]

For each device the same `TrainConfig` (by-file train split of the rows, a tiny LLaMA built from the
config, fixed seed) runs `prover.training.trainer.train`; the figures are wall-clock seconds, steps and
examples per second, the first and last losses, and the loss on a fixed batch of held-out steps (the
by-file valid and test splits: files never trained on) before and after training. The trained model is then
loaded as the policy `hf:OUT?decoding=beam` on that device, exactly as a user would load it (so on a
GPU it runs in bfloat16), and proposes `--candidates` tactics for `--states` held-out states; the
figures are milliseconds per state and how often the traced tactic is the first or among the
candidates. The held-out states are every k-th step of those files, chosen before any result.

A device that is not present (no CUDA) is reported as skipped. Prints a table; writes JSON to
--out (default benchmarks/results/training_throughput-<UTC time>.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prover.data.rows import read_rows, split_of, strip_structure  # noqa: E402
from prover.training.trainer import Example, TrainConfig, batch_loss, policy_examples, train  # noqa: E402
from search.types import State  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def heldout_examples(rows_path: Path, count: int) -> list[Example]:
    """Every k-th step of the files outside the by-file train split, `count` of them (the same for every device)."""
    steps = policy_examples([row for row in read_rows(rows_path) if split_of(row, by="file") != "train"])
    if not steps:
        raise SystemExit(f"{rows_path}: no steps outside the by-file train split")
    return steps[:: max(1, len(steps) // count)][:count]


def held_out_loss(model_dir: Path, examples: list[Example], config: TrainConfig, device: str) -> float:
    """Mean loss of the saved model at `model_dir` on `examples` (float32 on `device`)."""
    import torch
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir).to(device)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model.eval()
    with torch.no_grad():
        return float(batch_loss(model, tokenizer, examples, config))


def proposals(model_dir: Path, examples: list[Example], device: str, candidates: int) -> dict[str, Any]:
    """Load the trained model as a user's `hf:` policy on `device` and propose for each example."""
    from prover.policies.factory import build_policy

    policy = build_policy(f"hf:{model_dir}?decoding=beam&max_new_tokens=32&device={device}", backend="coq")
    generator = getattr(policy, "generator", None)
    loaded = getattr(generator, "loaded", None)
    states = [State(goals=tuple(example.state.split("\n\n"))) for example in examples]
    policy.propose_batch(states[:2], candidates)  # warm-up: lazy init, CUDA context, allocator
    started = time.perf_counter()
    batches = policy.propose_batch(states, candidates)
    seconds = time.perf_counter() - started
    top1 = sum(bool(row) and strip_structure(row[0].tactic) == example.target for row, example in zip(batches, examples))
    anywhere = sum(
        any(strip_structure(candidate.tactic) == example.target for candidate in row) for row, example in zip(batches, examples)
    )
    log_probs = [candidate.log_prob for row in batches for candidate in row]
    return {
        "device": str(getattr(loaded, "device", device)),
        "dtype": str(getattr(loaded, "dtype", "?")),
        "ms_per_state": 1000 * seconds / len(states),
        "candidates": len(log_probs),
        "all_log_probs_finite_and_nonpositive": all(math.isfinite(lp) and lp <= 0 for lp in log_probs),
        "top1": top1,
        f"top{candidates}": anywhere,
        "states": len(states),
    }


def run_device(device: str, args: argparse.Namespace, scratch: Path, heldout: list[Example]) -> dict[str, Any]:
    """Train on `device`, then measure the held-out loss and the proposals of the result."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        return {"skipped": "no CUDA device"}
    out = scratch / device.replace(":", "-")
    config = TrainConfig(
        data=str(args.rows), out_dir=str(out), split="train", split_by="file", steps=args.steps,
        batch_size=args.batch_size, hidden_size=args.hidden_size, layers=args.layers, heads=args.heads,
        vocab_size=args.vocab_size, learning_rate=args.learning_rate, warmup_steps=max(1, args.steps // 20),
        save_every=args.steps, seed=0, device=device, threads=args.threads, max_examples=args.max_examples,
    )
    untrained = train(config.model_copy(update={"steps": 0}))  # builds the tokenizer and the initial model
    loss_before = held_out_loss(untrained.out_dir, heldout, config, device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = train(config)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    steps_run = result.steps - result.resumed_from
    return {
        "examples": result.examples,
        "train_seconds": seconds,  # includes one checkpoint save at the end
        "steps_per_second": steps_run / seconds,
        "examples_per_second": steps_run * args.batch_size / seconds,
        "first_loss": result.losses[0],
        "final_loss": result.final_loss,
        "heldout_loss_before": loss_before,
        "heldout_loss_after": held_out_loss(result.out_dir, heldout, config, device),
        "proposals": proposals(result.out_dir, heldout, device, args.candidates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, required=True, help="trace rows (a `prove trace` rows.jsonl)")
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab-size", type=int, default=4000)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--max-examples", type=int, default=None)
    parser.add_argument("--states", type=int, default=64, help="held-out states to propose for")
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import torch

    heldout = heldout_examples(args.rows, args.states)
    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    with tempfile.TemporaryDirectory() as scratch:
        results = {device: run_device(device, args, Path(scratch), heldout) for device in devices}

    print(f"rows={args.rows} steps={args.steps} batch={args.batch_size} model={args.layers}x{args.hidden_size} "
          f"held-out states={len(heldout)} candidates={args.candidates}")
    print(f"{'device':8} {'steps/s':>8} {'ex/s':>8} {'loss 1st->last':>16} {'held-out loss':>14} {'ms/state':>9} "
          f"{'top1':>5} {'top' + str(args.candidates):>5}  dtype")
    for device, row in results.items():
        if "skipped" in row:
            print(f"{device:8} skipped: {row['skipped']}")
            continue
        p = row["proposals"]
        print(f"{device:8} {row['steps_per_second']:8.2f} {row['examples_per_second']:8.1f} "
              f"{row['first_loss']:7.2f}->{row['final_loss']:<7.2f} {row['heldout_loss_before']:6.2f}->{row['heldout_loss_after']:<6.2f} "
              f"{p['ms_per_state']:9.1f} {p['top1']:5} {p[f'top{args.candidates}']:5}  {p['dtype']}")

    machine: dict[str, Any] = {"platform": platform.platform(), "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        machine["gpu"] = torch.cuda.get_device_name(0)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"training_throughput-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    out.write_text(json.dumps({"benchmark": "training_throughput", "machine": machine, "settings": settings,
                               "results": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
