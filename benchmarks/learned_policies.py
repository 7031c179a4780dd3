"""What the learned policies add, at equal wall time per problem: portfolio alone vs portfolio + kNN
(vs portfolio + a small trained model), on held-out standard-library files and miniF2F Coq valid;
and expert iteration rounds on miniF2F valid (solved per round).

    .venv/bin/python benchmarks/trace_corpus.py --subset 1.0 --jobs 2 --coquelicot --out /tmp/full-trace  # first
    .venv/bin/python benchmarks/learned_policies.py --trace /tmp/full-trace --part accuracy --limit 1000
    .venv/bin/python benchmarks/learned_policies.py --trace /tmp/full-trace --part heldout --limit 40 --policies portfolio
    .venv/bin/python benchmarks/learned_policies.py --trace /tmp/full-trace --part heldout --limit 40 --policies knn
    .venv/bin/python benchmarks/learned_policies.py --trace /tmp/full-trace --part minif2f --limit 60 --policies portfolio
    .venv/bin/python benchmarks/learned_policies.py --trace /tmp/full-trace --part minif2f --limit 60 --policies knn
    .venv/bin/python benchmarks/learned_policies.py --trace /tmp/full-trace --part minif2f --limit 60 --policies model
    .venv/bin/python benchmarks/learned_policies.py --trace /tmp/full-trace --part expert --limit 60 --rounds 2  # --workers 2: Ray
    The miniF2F subset is --limit problems evenly spaced over the valid split sorted by id.
    Each policy is its own run directory, so the policies can run as separate processes (two at a
    time on two cores: both then see the same contention). `model` adds a tiny model trained on
    the trace for --train-steps steps; `--no-online` / `--no-file-context` are the kNN ablations.

The kNN indexes the trace's by-file train split; held-out problems are the traced theorems of its
by-file test split (files the kNN never saw). Each configuration is a `prove experiment` run in
--out; the comparison table is printed and saved as JSON in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prover.config import ProverConfig  # noqa: E402
from prover.experiments.config import DatasetConfig, ExperimentConfig, ExpertIterationConfig, KnnConfig  # noqa: E402
from prover.experiments.runner import compare_runs, run_experiment  # noqa: E402


def hash_of(text: str) -> str:
    """A stable order over file names (not Python's salted hash)."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def knn_accuracy(trace: Path, limit: int) -> None:
    """Top-1/top-10 exact-match accuracy of the kNN on the held-out files' steps (by-file test
    split), indexing the by-file train split; `limit` caps the steps asked (evenly spaced)."""
    import time

    from prover.data.rows import read_rows, strip_structure
    from prover.policies.knn import KNNPolicy
    from search.types import State

    started = time.monotonic()
    policy = KNNPolicy(read_rows(trace / "splits" / "by_file" / "train.jsonl"))
    indexed = time.monotonic() - started
    test = [r for r in read_rows(trace / "splits" / "by_file" / "test.jsonl") if strip_structure(r.tactic)]
    test = test[:: max(1, len(test) // max(1, limit))][:limit]
    top1 = top10 = 0
    started = time.monotonic()
    for row in test:
        proposed = [c.tactic for c in policy.propose(State(goals=tuple(row.state_before.split("\n\n"))), 10)]
        wanted = strip_structure(row.tactic)
        top1 += bool(proposed) and proposed[0] == wanted
        top10 += wanted in proposed
    asked = time.monotonic() - started
    result = {
        "command": " ".join(sys.argv), "indexed_rows": len(policy), "index_seconds": round(indexed, 2),
        "test_steps": len(test), "top1": round(top1 / len(test), 4), "top10": round(top10 / len(test), 4),
        "ms_per_query": round(1000 * asked / len(test), 2),
    }
    print(json.dumps(result, indent=2))
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (results / f"learned_policies-accuracy-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", type=Path, required=True, help="a `prove trace` output (benchmarks/trace_corpus.py)")
    parser.add_argument("--part", choices=("heldout", "minif2f", "expert", "accuracy"), required=True)
    parser.add_argument("--limit", type=int, default=20, help="problems")
    parser.add_argument("--budget", type=float, default=10.0, help="search seconds per problem")
    parser.add_argument("--knn-weight", type=float, default=0.5)
    parser.add_argument("--online", action=argparse.BooleanOptionalAction, default=True,
                        help="the kNN learns each proof found during the run")
    parser.add_argument("--file-context", action=argparse.BooleanOptionalAction, default=True,
                        help="held-out files: the kNN also searches the proofs before the theorem in its file")
    parser.add_argument("--workers", type=int, default=1, help="problems in parallel (Ray); the kNN then learns online per worker")
    parser.add_argument("--search", default=None, help="search algorithm (default: the prover's default)")
    parser.add_argument("--rounds", type=int, default=2, help="expert-iteration rounds")
    parser.add_argument("--policies", default="portfolio,knn", help="which of portfolio,knn,model to run (comma-separated)")
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("/tmp/learned-policies"))
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "minif2f-coq")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # tiny models on a shared 2-core machine: more threads only contend

    rows = args.trace / "splits" / "by_file" / "train.jsonl"
    if args.part == "accuracy":
        knn_accuracy(args.trace, args.limit)
        return
    if args.part == "heldout":
        from prover.experiments.runner import trace_problems

        # Up to 4 theorems per held-out file, evenly spaced in it and in file order (the file's text
        # before a theorem is its header: in order, each problem replays only the text since the last).
        by_file: dict[str, list] = {}
        for problem in trace_problems(args.trace, "test"):
            by_file.setdefault(problem.source, []).append(problem)
        picked: list[str] = []
        for source in sorted(by_file, key=lambda name: hash_of(name)):
            theorems = by_file[source]
            step = max(1, len(theorems) // 4)
            picked.extend(p.id for p in theorems[step // 2 :: step][:4])
        chosen = tuple(picked[: args.limit])
        dataset = DatasetConfig(name=f"trace:{args.trace}", split="test", only=chosen)
    else:
        from prover.eval.datasets import load_minif2f_coq

        # Evenly spaced over the valid split sorted by id (so every category is represented).
        every = sorted(load_minif2f_coq("valid", data_dir=args.data_dir), key=lambda p: p.id)
        chosen = tuple(p.id for p in every[:: max(1, len(every) // max(1, args.limit))][: args.limit])
        dataset = DatasetConfig(name="minif2f-coq", split="valid", only=chosen, data_dir=str(args.data_dir))
    prover = ProverConfig(backend="coq", budget_seconds=args.budget, step_timeout=5.0)
    if args.search:
        prover = prover.model_copy(update={"search": args.search})
    knn = KnnConfig(rows=str(rows), weight=args.knn_weight, online=args.online, file_context=args.file_context)
    # Ablations get their own run directory, so they compare side by side with the defaults.
    knn_name = "portfolio+knn" + ("" if args.online else "-offline") + ("" if args.file_context else "-nofile")
    runs: list[Path] = []
    if args.part == "expert":
        config = ExperimentConfig(
            name=f"expert iteration on {dataset.name}", kind="expert_iteration", dataset=dataset, prover=prover,
            knn=knn, expert_iteration=ExpertIterationConfig(rounds=args.rounds), workers=args.workers,
        )
        out = args.out / f"{args.part}-expert"
        run_experiment(config, out)
        runs.append(out)
        print((out / "table.md").read_text())
    else:
        wanted = set(args.policies.split(","))
        configs = []
        if "portfolio" in wanted:
            configs.append(("portfolio", ExperimentConfig(name="portfolio", dataset=dataset, prover=prover)))
        if "knn" in wanted:
            configs.append((knn_name, ExperimentConfig(name=knn_name, dataset=dataset, prover=prover, knn=knn)))
        if "model" in wanted:
            from prover.training.trainer import TrainConfig, train

            model_dir = args.out / "tiny-policy"
            train(TrainConfig(data=str(rows), out_dir=str(model_dir), split="all", steps=args.train_steps, seed=0,
                              threads=1, batch_size=8, max_state_tokens=256))
            spec = f"0.5*portfolio+0.5*hf:{model_dir}?decoding=beam&max_input_tokens=256&max_new_tokens=32"
            configs.append(("portfolio+model", ExperimentConfig(
                name="portfolio+model", dataset=dataset, prover=prover.model_copy(update={"policy": spec}))))
        for name, config in configs:
            out = args.out / f"{args.part}-{name}"
            run_experiment(config, out)
            runs.append(out)
    # Compare with every finished run of this part (policies may have run as separate processes).
    runs = sorted({*runs, *(p.parent for p in args.out.glob(f"{args.part}-*/summary.json"))})
    table = compare_runs(runs, plot=args.out / f"{args.part}-solved_vs_time.png")
    print(table)
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    summaries = {run.name: json.loads((run / "summary.json").read_text()) for run in runs}
    (results / f"learned_policies-{args.part}-{stamp}.json").write_text(
        json.dumps({"command": " ".join(sys.argv), "table": table, "summaries": summaries}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
