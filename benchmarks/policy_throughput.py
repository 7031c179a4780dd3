"""Policy throughput on this machine: candidates per second, milliseconds per state, and the batching speed-up.

Tiny random-weight models (saved with `prover.policies.tiny`, nothing downloaded) run the real
transformers path of `prover.policies.hf`: a 2-layer ByT5-vocabulary T5 with beam search (ReProver's
set-up) and a 2-layer LLaMA-architecture causal LM with sampling (BFS-Prover's). For each, 16 proof
states are proposed for one at a time and then as one batch; the speed-up is the ratio of the two
wall-clock times. Figures are medians over repeats. Real models are far larger: these numbers measure
the framework's per-call overhead and the value of batching, not a 7B model's speed.

    .venv/bin/python benchmarks/policy_throughput.py [--states 16] [--candidates 8] [--max-new-tokens 32]
        [--repeats 3] [--width 64] [--threads 1] [--out FILE]

Torch runs on `--threads` CPU threads (default 1): models this small gain nothing from intra-op
parallelism, and on a shared machine OpenMP threads spin-waiting for busy cores slow every matmul
down by an order of magnitude.

The device is the one a user's `hf:` policy gets: CUDA with bfloat16 when a GPU is present, else CPU.
Prints a table and writes --out (default benchmarks/results/policy_throughput.json).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from prover.policies.generation import ModelPolicy
from prover.policies.hf import HFGenerator, pick_device
from prover.policies.prompts import get_template
from prover.policies.tiny import save_tiny_causal, save_tiny_seq2seq
from search.types import State

RESULTS = Path(__file__).resolve().parent / "results" / "policy_throughput.json"


def sample_states(count: int) -> list[State]:
    """Lean-like goals of varied length (so batching pays for padding, as in a real search)."""
    states = []
    for index in range(count):
        hypotheses = "\n".join(f"h{k} : x{k} + {index} = {k} * y" for k in range(index % 5))
        goal = f"x y : ℕ\n{hypotheses}\n⊢ x + {index} * y = y * {index} + x".replace("\n\n", "\n")
        states.append(State(goals=(goal,)))
    return states


def measure(policy: ModelPolicy, states: list[State], candidates: int, repeats: int) -> dict[str, Any]:
    """Median wall-clock times for one-at-a-time and batched proposals, and what they yield."""
    policy.propose_batch(states[:2], candidates)  # warm-up (lazy init, allocator)
    single_times, batch_times, single_counts, batch_counts = [], [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        produced = sum(len(policy.propose(state, candidates)) for state in states)
        single_times.append(time.perf_counter() - started)
        single_counts.append(produced)
        started = time.perf_counter()
        produced = sum(len(row) for row in policy.propose_batch(states, candidates))
        batch_times.append(time.perf_counter() - started)
        batch_counts.append(produced)
    single = statistics.median(single_times)
    batched = statistics.median(batch_times)
    single_candidates = statistics.median(single_counts)
    batch_candidates = statistics.median(batch_counts)
    return {
        "one_at_a_time": {
            "seconds": single,
            "ms_per_state": 1000 * single / len(states),
            "candidates": single_candidates,
            "candidates_per_second": single_candidates / single,
        },
        "batched": {
            "seconds": batched,
            "ms_per_state": 1000 * batched / len(states),
            "candidates": batch_candidates,
            "candidates_per_second": batch_candidates / batched,
        },
        "batching_speedup": single / batched,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=16)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=64, help="hidden size of the tiny models")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    device, dtype = pick_device()
    states = sample_states(args.states)
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        setups = {
            "seq2seq-byt5-beam": (save_tiny_seq2seq(Path(scratch) / "s", width=args.width), "beam", "reprover"),
            "causal-llama-sample": (save_tiny_causal(Path(scratch) / "c", width=args.width), "sample", "bfs"),
        }
        for label, (path, decoding, template) in setups.items():
            generator = HFGenerator(str(path), decoding=decoding, max_new_tokens=args.max_new_tokens)  # type: ignore[arg-type]
            policy = ModelPolicy(generator, get_template(template))
            rows[label] = measure(policy, states, args.candidates, args.repeats)

    print(f"device={device} dtype={dtype} torch threads={torch.get_num_threads()} "
          f"states={args.states} candidates/state={args.candidates} max_new_tokens={args.max_new_tokens}")
    print(f"{'model':22} {'mode':14} {'ms/state':>10} {'cand/s':>10} {'speed-up':>9}")
    for label, row in rows.items():
        for mode in ("one_at_a_time", "batched"):
            figures = row[mode]
            speedup = f"{row['batching_speedup']:.2f}x" if mode == "batched" else ""
            print(f"{label:22} {mode:14} {figures['ms_per_state']:10.1f} {figures['candidates_per_second']:10.1f} {speedup:>9}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "policy_throughput",
                "machine": {
                    "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "device": str(device),
                    "dtype": str(dtype),
                    "torch_threads": torch.get_num_threads(),
                },
                "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
