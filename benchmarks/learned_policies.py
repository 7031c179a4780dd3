"""What the learned policies add, at equal wall time per problem: portfolio alone vs portfolio + kNN
(vs portfolio + a small trained model), on held-out standard-library files and miniF2F Coq valid;
and expert iteration rounds on miniF2F valid (solved per round).

    .venv/bin/python benchmarks/trace_corpus.py --subset 0.25 --out /tmp/stdlib-trace   # first
    .venv/bin/python benchmarks/learned_policies.py --trace /tmp/stdlib-trace --part heldout --limit 20
    .venv/bin/python benchmarks/learned_policies.py --trace /tmp/stdlib-trace --part minif2f --limit 30
    .venv/bin/python benchmarks/learned_policies.py --trace /tmp/stdlib-trace --part expert --limit 30 --rounds 2
    (add --model to include a tiny model trained on the trace for --train-steps steps)

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", type=Path, required=True, help="a `prove trace` output (benchmarks/trace_corpus.py)")
    parser.add_argument("--part", choices=("heldout", "minif2f", "expert"), required=True)
    parser.add_argument("--limit", type=int, default=20, help="problems")
    parser.add_argument("--budget", type=float, default=10.0, help="search seconds per problem")
    parser.add_argument("--knn-weight", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=2, help="expert-iteration rounds")
    parser.add_argument("--model", action="store_true", help="also portfolio + a tiny model trained on the trace")
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("/tmp/learned-policies"))
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "minif2f-coq")
    args = parser.parse_args()

    rows = args.trace / "splits" / "by_file" / "train.jsonl"
    if args.part == "heldout":
        from prover.experiments.runner import trace_problems

        # Evenly spaced over the held-out files' theorems (file order kept, so headers are reused).
        every = trace_problems(args.trace, "test")
        stride = max(1, len(every) // max(1, args.limit))
        chosen = tuple(p.id for p in every[::stride][: args.limit])
        dataset = DatasetConfig(name=f"trace:{args.trace}", split="test", only=chosen)
    else:
        dataset = DatasetConfig(name="minif2f-coq", split="valid", limit=args.limit, data_dir=str(args.data_dir))
    prover = ProverConfig(backend="coq", budget_seconds=args.budget, step_timeout=5.0)
    knn = KnnConfig(rows=str(rows), weight=args.knn_weight)
    runs: list[Path] = []
    if args.part == "expert":
        config = ExperimentConfig(
            name=f"expert iteration on {dataset.name}", kind="expert_iteration", dataset=dataset, prover=prover,
            knn=knn, expert_iteration=ExpertIterationConfig(rounds=args.rounds),
        )
        out = args.out / f"{args.part}-expert"
        run_experiment(config, out)
        runs.append(out)
        print((out / "table.md").read_text())
    else:
        configs = [
            ("portfolio", ExperimentConfig(name="portfolio", dataset=dataset, prover=prover)),
            ("portfolio+knn", ExperimentConfig(name="portfolio+knn", dataset=dataset, prover=prover, knn=knn)),
        ]
        if args.model:
            from prover.training.trainer import TrainConfig, train

            model_dir = args.out / "tiny-policy"
            train(TrainConfig(data=str(rows), out_dir=str(model_dir), split="all", steps=args.train_steps, seed=0))
            spec = f"0.5*portfolio+0.5*hf:{model_dir}?decoding=beam&max_input_tokens=512&max_new_tokens=48"
            configs.append(("portfolio+model", ExperimentConfig(
                name="portfolio+model", dataset=dataset, prover=prover.model_copy(update={"policy": spec}))))
        for name, config in configs:
            out = args.out / f"{args.part}-{name}"
            run_experiment(config, out)
            runs.append(out)
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
