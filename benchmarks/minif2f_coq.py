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

Ablation of the proposal generators (issue 15): each `--arm SPEC[@SECONDS]` is one policy run on
the same problems (chosen before any result: `--every K` takes every K-th problem sorted by name);
`--ablation` adds the standard arms (generators off, each generator alone, all):

    python benchmarks/minif2f_coq.py --ablation --every 8 --budget-seconds 10 --workers 1 \
        --arm-budget none=20 --arm-budget all=20

It prints and writes (benchmarks/results/minif2f_coq_ablation_<label>.{json,md}) the solved count
per arm, the solved-versus-time curve (problems solved within t seconds, from each row's time),
the per-category table, and the count of proofs re-checked by `coqc` from the completed file
(every claimed proof is written into its problem's file and compiled again, outside the prover).
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
from prover.policies.generators import GENERATORS
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
    parser.add_argument("--offset", type=int, default=0, help="with --every: start at this index (another fixed subset)")
    parser.add_argument("--baseline", action="store_true", help="root-only portfolio, no search")
    parser.add_argument("--label", default=None, help="name of the results file (default from the settings)")
    parser.add_argument("--arm", action="append", default=[], metavar="SPEC[@SECONDS]",
                        help="an ablation arm: a policy spec, optionally with its own budget (repeatable)")
    parser.add_argument("--ablation", action="store_true",
                        help="arms: generators none, each generator alone, all (see prover.policies.generators)")
    parser.add_argument("--arm-budget", action="append", default=[], metavar="NAME=SECONDS",
                        help="with --ablation: the budget of the arm named NAME (none, all or a generator)")
    args = parser.parse_args(argv)

    problems = select_problems(load_minif2f_coq("valid", data_dir=SHARED_VALID), limit=args.limit)[args.offset :: args.every]
    if args.arm or args.ablation:
        return run_ablation(problems, args)
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


def _ablation_arms(args: argparse.Namespace) -> list[tuple[str, str, float]]:
    """(name, policy spec, budget seconds) for each arm, in report order."""
    arms: list[tuple[str, str, float]] = []
    budgets = dict(item.split("=", 1) for item in args.arm_budget)
    if args.ablation:
        names = ["none", "all", *GENERATORS]  # the two reference arms first: a cut-short run still compares them
        for name in names:
            arms.append((name, f"portfolio?generators={name}", float(budgets.get(name, args.budget_seconds))))
    for raw in args.arm:
        spec, _, seconds = raw.rpartition("@") if "@" in raw else (raw, "", "")
        arms.append((spec, spec, float(seconds) if seconds else args.budget_seconds))
    return arms


def _commit() -> str:
    """The code's git commit (with "+dirty" for uncommitted changes), so figures name what they measured."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"
    return head + ("+dirty" if dirty else "") if head else "unknown"


def recheck_with_coqc(problem_file: Path, tactics: Sequence[str], work: Path) -> tuple[bool, str]:
    """Write the problem's file completed with `tactics` and compile it with coqc; (ok, first error line)."""
    import subprocess

    backend = get_backend("coq")
    parsed = backend.parse_file(str(problem_file), problem_file.read_text())
    name = parsed.theorems[0].theorem.name
    completed = backend.complete_file(parsed, {name: list(tactics)})
    if "Admitted." in completed:
        return False, "the completed file still has Admitted"
    target = work / problem_file.name
    target.write_text(completed)
    try:
        done = subprocess.run(["coqc", target.name], cwd=work, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return False, "coqc timed out"
    error = (done.stderr or done.stdout).strip().splitlines()
    return done.returncode == 0, (error[-1] if error and done.returncode else "")


def run_ablation(problems: list, args: argparse.Namespace) -> int:
    """Run each arm on the same problems; print and write the ablation, curve and category tables."""
    import tempfile

    arms = _ablation_arms(args)
    label = args.label or (
        f"ablation_{args.search}_every{args.every}" + (f"_offset{args.offset}" if args.offset else "")
        + (f"_n{args.limit}" if args.limit else "")
    )
    figures: dict = {
        "benchmark": "minif2f_coq_valid_generators_ablation",
        "label": label,
        "command": "python benchmarks/minif2f_coq.py " + " ".join(sys.argv[1:]),
        "commit": _commit(),
        "search": args.search,
        "step_timeout": args.step_timeout,
        "workers": args.workers,
        "problems": [p.id for p in problems],
        "selection": f"every {args.every}-th problem of the valid split sorted by name, from index {args.offset}"
        + (f", first {args.limit}" if args.limit else ""),
        "arms": [],
    }
    categories = sorted({p.category for p in problems})
    for name, spec, budget in arms:
        config = ProverConfig(
            backend="coq", policy=spec, search=args.search, budget_seconds=budget,
            step_timeout=args.step_timeout, candidates=args.candidates,
        )
        run_dir = RESULTS / "runs" / f"minif2f_coq_{label}" / name.replace("?", "_").replace("=", "-").replace(",", "-")
        started = time.monotonic()
        outcome = run_evaluation(
            problems, config=config, out_dir=run_dir, dataset="minif2f-coq", split="valid",
            workers=args.workers, write_report=True,
        )
        wall = time.monotonic() - started
        rows = outcome.rows
        solved = [row for row in rows if row.status == "proved"]
        attempted = [row for row in rows if row.status != "invalid"]
        rechecked: list[str] = []
        recheck_failures: dict[str, str] = {}
        with tempfile.TemporaryDirectory(prefix="minif2f_recheck_") as work:
            for row in solved:
                ok, error = recheck_with_coqc(SHARED_VALID / "valid" / f"{row.problem}.v", row.tactics or [], Path(work))
                if ok:
                    rechecked.append(row.problem)
                else:
                    recheck_failures[row.problem] = error
        marks = [t for t in (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120) if t <= budget]
        curve = {str(t): sum(1 for row in solved if row.seconds <= t) for t in marks}
        by_category = {
            category: {
                "attempted": sum(1 for row in attempted if row.category == category),
                "solved": sum(1 for row in solved if row.category == category),
            }
            for category in categories
        }
        arm = {
            "arm": name, "policy": spec, "budget_seconds": budget, "attempted": len(attempted),
            "solved": len(solved), "rechecked_by_coqc": len(rechecked), "recheck_failures": recheck_failures,
            "invalid": len(rows) - len(attempted), "errors": sum(1 for row in rows if row.status == "error"),
            "solved_within_seconds": curve, "by_category": by_category,
            "solved_problems": sorted(row.problem for row in solved),
            "wall_seconds_this_run": round(wall, 1), "interrupted": outcome.interrupted, "run_dir": str(run_dir),
        }
        figures["arms"].append(arm)
        print(f"{name}: solved {len(solved)} / {len(attempted)} at {budget:g}s (coqc re-checked {len(rechecked)}); "
              f"curve {curve}; wall {wall:.0f}s", flush=True)
        _write_ablation(figures, label, categories)
        if outcome.interrupted:
            return 130
    return 0


def _write_ablation(figures: dict, label: str, categories: list[str]) -> None:
    """The JSON figures and a markdown report (ablation, curve, categories) under benchmarks/results/."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"minif2f_coq_{label}.json").write_text(json.dumps(figures, indent=2) + "\n")
    base = set(figures["arms"][0]["solved_problems"]) if figures["arms"] else set()  # the first arm is the reference
    lines = [f"# miniF2F Coq valid: generators ablation ({figures['selection']})", "",
             f"Command: `{figures['command']}` (code at {figures.get('commit', 'unknown')})", "",
             "| arm | budget s | solved / attempted | re-checked by coqc | new vs first arm | lost vs first arm |",
             "| --- | --- | --- | --- | --- | --- |"]
    for arm in figures["arms"]:
        solved = set(arm["solved_problems"])
        lines.append(f"| {arm['arm']} | {arm['budget_seconds']:g} | {arm['solved']} / {arm['attempted']} | "
                     f"{arm['rechecked_by_coqc']} | {len(solved - base)} | {len(base - solved)} |")
    marks = sorted({int(t) for arm in figures["arms"] for t in arm["solved_within_seconds"]})
    lines += ["", "Solved within t seconds:", "", "| arm | " + " | ".join(f"{t}s" for t in marks) + " |",
              "| --- |" + " --- |" * len(marks)]
    for arm in figures["arms"]:
        lines.append(f"| {arm['arm']} | " + " | ".join(str(arm["solved_within_seconds"].get(str(t), "")) for t in marks) + " |")
    lines += ["", "By category (solved / attempted):", "", "| arm | " + " | ".join(categories) + " |",
              "| --- |" + " --- |" * len(categories)]
    for arm in figures["arms"]:
        cells = [f"{arm['by_category'][c]['solved']} / {arm['by_category'][c]['attempted']}" for c in categories]
        lines.append(f"| {arm['arm']} | " + " | ".join(cells) + " |")
    (RESULTS / f"minif2f_coq_{label}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
