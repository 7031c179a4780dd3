"""Solve rate on the miniF2F Coq valid split at a fixed wall-clock budget per problem.

    python benchmarks/minif2f_coq.py --budget-seconds 10 --workers 2 --search best_first
    python benchmarks/minif2f_coq.py --budget-seconds 10 --workers 2 --search mcts
    python benchmarks/minif2f_coq.py --budget-seconds 10 --workers 2 --baseline

Prints solved / attempted / invalid and the median seconds of the solved problems, and writes them
to benchmarks/results/minif2f_coq_<label>.json. Statements that do not type-check on Coq 8.16 are
counted as invalid, not as unsolved. The results JSONL of the run stays in the run directory, so
an interrupted benchmark resumes where it stopped.

`--baseline` is the zero-search reference: every portfolio tactic tried once on the initial goal
(no search below the root), with the same budget: search must beat it in the same time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Sequence

from prover.agent import Prover
from prover.backends import get_backend
from prover.config import ProverConfig
from prover.eval.datasets import load_minif2f_coq, select_problems
from prover.eval.runner import run_evaluation
from prover.policies import build_policy
from search.types import Candidate, State

RESULTS = Path(__file__).resolve().parent / "results"
SHARED_VALID = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "minif2f-coq"


class RootOnlyPolicy:
    """The portfolio at the root, nothing below it: 'try each automation tactic once' as a baseline."""

    def __init__(self) -> None:
        self.portfolio = build_policy("portfolio", backend="coq")

    def propose(self, state: State, n: int) -> list[Candidate]:
        return self.portfolio.propose(state, n) if not state.path else []

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        return [self.propose(state, n) for state in states]


class BaselineProverFactory:
    """Builds Provers whose policy is `RootOnlyPolicy` (picklable, so Ray workers can build them)."""

    def __call__(self, config: ProverConfig) -> Prover:
        return Prover(config, get_backend("coq"), policy=RootOnlyPolicy())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--search", choices=["best_first", "mcts"], default="best_first")
    parser.add_argument("--policy", default="portfolio")
    parser.add_argument("--candidates", type=int, default=None)
    parser.add_argument("--step-timeout", type=float, default=5.0)
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems (sorted by name)")
    parser.add_argument("--every", type=int, default=1, help="only every K-th problem (sorted by name): a fixed subset")
    parser.add_argument("--baseline", action="store_true", help="root-only portfolio, no search")
    parser.add_argument("--label", default=None, help="name of the results file (default from the settings)")
    args = parser.parse_args(argv)

    problems = select_problems(load_minif2f_coq("valid", data_dir=SHARED_VALID), limit=args.limit)[:: args.every]
    candidates = args.candidates if not args.baseline else (args.candidates or 64)
    config = ProverConfig(
        backend="coq",
        policy=args.policy,
        search=args.search,
        budget_seconds=args.budget_seconds,
        step_timeout=args.step_timeout,
        candidates=candidates,
    )
    label = args.label or (
        f"{'baseline' if args.baseline else args.search}_{args.policy.replace(':', '-')}_"
        f"{args.budget_seconds:g}s" + (f"_n{args.limit}" if args.limit else "")
        + (f"_every{args.every}" if args.every > 1 else "")
        + (f"_c{args.candidates}" if args.candidates and not args.baseline else "")
    )
    run_dir = RESULTS / "runs" / f"minif2f_coq_{label}"
    started = time.monotonic()
    outcome = run_evaluation(
        problems,
        config=config,
        out_dir=run_dir,
        dataset="minif2f-coq",
        split="valid",
        workers=args.workers,
        prover_factory=BaselineProverFactory() if args.baseline else None,
        write_report=True,
    )
    wall = time.monotonic() - started
    rows = outcome.rows
    solved = [row for row in rows if row.status == "proved"]
    invalid = [row for row in rows if row.status == "invalid"]
    errors = [row for row in rows if row.status == "error"]
    attempted = len(rows) - len(invalid)
    figures = {
        "benchmark": "minif2f_coq_valid",
        "label": label,
        "search": "root-only portfolio" if args.baseline else args.search,
        "policy": args.policy,
        "budget_seconds_per_problem": args.budget_seconds,
        "step_timeout": args.step_timeout,
        "workers": args.workers,
        "problems": len(rows),
        "attempted": attempted,
        "solved": len(solved),
        "invalid": len(invalid),
        "errors": len(errors),
        "solve_rate_of_attempted": round(len(solved) / attempted, 4) if attempted else 0.0,
        "median_seconds_solved": round(statistics.median(r.seconds for r in solved), 3) if solved else None,
        "median_seconds_all_attempted": round(
            statistics.median(r.seconds for r in rows if r.status != "invalid"), 3
        ) if attempted else None,
        "wall_seconds_this_run": round(wall, 1),
        "interrupted": outcome.interrupted,
        "solved_problems": sorted(r.problem for r in solved),
        "run_dir": str(run_dir),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"minif2f_coq_{label}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"{label}: solved {len(solved)} / attempted {attempted} (invalid {len(invalid)}, errors {len(errors)}); "
        f"median seconds of solved {figures['median_seconds_solved']}; wall {wall:.0f}s -> {out}"
    )
    return 0 if not outcome.interrupted else 130


if __name__ == "__main__":
    sys.exit(main())
