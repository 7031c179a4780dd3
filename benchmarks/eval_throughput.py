"""Evaluation throughput: problems per hour with 1 and 2 workers on a fixed subset of miniF2F Coq valid,
and, with --full, the whole valid split at a fixed budget per problem (solved, invalid, wall time).

    .venv/bin/python benchmarks/eval_throughput.py                       # subset, workers 1 and 2
    .venv/bin/python benchmarks/eval_throughput.py --full --workers 2 --budget-seconds 30

Prints a table and writes JSON to benchmarks/results/eval_throughput-<UTC time>.json. Each run
goes to a fresh output folder, so nothing is resumed and the timings are whole runs (Ray start
included for workers > 1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prover.config import ProverConfig  # noqa: E402
from prover.eval.datasets import load_minif2f_coq, select_problems  # noqa: E402
from prover.eval.runner import run_evaluation  # noqa: E402

# The fixed subset: every 10th problem of the valid split sorted by id (25 problems, all
# categories, easy and hard), so throughput includes quick proofs and searches that hit the budget.
SUBSET_STRIDE = 10


def run_once(problems, *, workers: int, budget: float, step_timeout: float, keep: Path | None) -> dict:
    """One fresh evaluation; its wall time, rate and counts. With `keep`, its output folder is kept there."""
    config = ProverConfig(backend="coq", budget_seconds=budget, step_timeout=step_timeout)
    with tempfile.TemporaryDirectory(prefix="eval-bench-") as scratch:
        out = scratch
        if keep is not None:
            out = str(keep / f"workers{workers}")
            if Path(out).exists():
                raise SystemExit(f"{out} exists: the benchmark times whole runs, give --keep-runs a new folder")
        started = time.monotonic()
        outcome = run_evaluation(
            problems, config=config, out_dir=out, dataset="minif2f-coq", split="valid", workers=workers
        )
        wall = time.monotonic() - started
    s = outcome.summary
    return {
        "workers": workers,
        "problems": len(problems),
        "budget_seconds": budget,
        "wall_seconds": round(wall, 2),
        "problems_per_hour": round(len(problems) / wall * 3600, 1),
        "solved": s["solved"],
        "valid": s["valid"],
        "invalid": s["invalid"],
        "errors": s["errors"],
        "solved_ids": sorted(r.problem for r in outcome.rows if r.status == "proved"),
        "invalid_ids": sorted(r.problem for r in outcome.rows if r.status == "invalid"),
        "error_ids": sorted(r.problem for r in outcome.rows if r.status == "error"),
        "by_category": {c: {"solved": v["solved"], "problems": v["problems"], "invalid": v["invalid"]} for c, v in s["by_category"].items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "minif2f-coq"),
                        help="local miniF2F Coq copy (folder with valid/); default ../shared/data/minif2f-coq")
    parser.add_argument("--budget-seconds", type=float, default=10.0)
    parser.add_argument("--step-timeout", type=float, default=5.0)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to compare")
    parser.add_argument("--full", action="store_true", help="the whole valid split instead of the fixed subset")
    parser.add_argument("--limit", type=int, default=None, help="with --full: only the first N problems")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--keep-runs", default=None, help="keep each run's output (results, report) under this new folder")
    args = parser.parse_args()

    problems = load_minif2f_coq("valid", data_dir=args.data_dir)
    if not args.full:
        problems = problems[::SUBSET_STRIDE]
    else:
        problems = select_problems(problems, limit=args.limit)
    runs = []
    for workers in (int(w) for w in args.workers.split(",")):
        keep = Path(args.keep_runs) if args.keep_runs else None
        result = run_once(problems, workers=workers, budget=args.budget_seconds, step_timeout=args.step_timeout, keep=keep)
        runs.append(result)
        print(
            f"workers={workers}: {result['problems']} problems in {result['wall_seconds']:.1f} s "
            f"= {result['problems_per_hour']:.0f} problems/hour; solved {result['solved']}/{result['valid']} valid, "
            f"{result['invalid']} invalid, {result['errors']} errors (budget {args.budget_seconds:g} s/problem)",
            flush=True,
        )
    report = {
        "benchmark": "eval_throughput",
        "mode": "full valid split" if args.full else f"fixed subset: every {SUBSET_STRIDE}th problem ({len(problems)})",
        "problem_ids": [p.id for p in problems],
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "budget_seconds": args.budget_seconds,
        "step_timeout": args.step_timeout,
        "runs": runs,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"eval_throughput-{'full' if args.full else 'subset'}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
