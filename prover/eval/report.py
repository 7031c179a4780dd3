"""Metrics and the human-readable report of an evaluation run.

`summarize` turns rows into the numbers (`summary.json`); `write_report` writes `report.md` and a
plot of solved problems against the time budget (`solved_vs_time.png`). Invalid statements are
counted apart and left out of the solve rates' denominators; pass@k is always printed with the
per-attempt budget it was measured under.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

from prover.config import ProverConfig
from prover.eval.datasets import CATEGORIES, Problem
from prover.eval.results import SUMMARY_FILE, ResultRow, write_json_atomically

__all__ = [
    "REPORT_FILE",
    "PLOT_FILE",
    "pass_at_k",
    "solved_within",
    "summarize",
    "write_report",
    "render_markdown",
]

REPORT_FILE = "report.md"
PLOT_FILE = "solved_vs_time.png"


def pass_at_k(attempts: int, correct: int, k: int) -> float:
    """Unbiased estimate of the chance that at least one of k attempts succeeds, from `attempts` tries
    of which `correct` succeeded: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021, "Evaluating Large
    Language Models Trained on Code", eq. 1). Needs k <= attempts."""
    if not 0 < k <= attempts:
        raise ValueError(f"pass@{k} needs 1 <= k <= attempts ({attempts})")
    if attempts - correct < k:
        return 1.0
    return 1.0 - math.comb(attempts - correct, k) / math.comb(attempts, k)


def solved_within(solve_seconds: Sequence[float], budgets: Sequence[float]) -> list[int]:
    """For each budget, how many problems were solved in at most that many seconds.

    A search that found its proof after t seconds would have found it under any budget >= t, so
    this is the solved count a run at that smaller budget would have had (for a deterministic search).
    """
    ordered = sorted(solve_seconds)
    counts = []
    for budget in budgets:
        counts.append(sum(1 for seconds in ordered if seconds <= budget))
    return counts


def summarize(
    rows: Sequence[ResultRow],
    problems: Sequence[Problem],
    *,
    attempts: int,
    config: ProverConfig,
    dataset: str,
    split: str,
) -> dict[str, Any]:
    """The run's numbers: totals, pass@k, per-category counts, timing (the content of summary.json)."""
    by_problem: dict[str, list[ResultRow]] = defaultdict(list)
    for row in rows:
        by_problem[row.problem].append(row)
    invalid_ids = {
        p.id for p in problems if p.invalid_reason is not None or any(r.status == "invalid" for r in by_problem.get(p.id, []))
    }
    valid = [p for p in problems if p.id not in invalid_ids]
    first = {row.problem: row for row in rows if row.attempt == 0}
    solved_first = {pid for pid, row in first.items() if row.status == "proved"}
    solved_any = {row.problem for row in rows if row.status == "proved"}

    pass_rates: dict[str, dict[str, Any]] = {}
    for k in range(1, attempts + 1):
        measured = []
        for problem in valid:
            tries = [r for r in by_problem.get(problem.id, []) if r.status != "invalid"]
            if len(tries) >= k:
                measured.append(pass_at_k(len(tries), sum(r.status == "proved" for r in tries), k))
        pass_rates[str(k)] = {
            "rate": (sum(measured) / len(measured)) if measured else None,
            "problems_measured": len(measured),
        }

    categories: dict[str, dict[str, int]] = {}
    for problem in problems:
        entry = categories.setdefault(
            problem.category,
            {"problems": 0, "invalid": 0, "solved": 0, "solved_any": 0, "unproved": 0, "error": 0, "pending": 0},
        )
        entry["problems"] += 1
        row = first.get(problem.id)
        if problem.id in invalid_ids:
            entry["invalid"] += 1
        elif row is None:
            entry["pending"] += 1
        elif row.status == "proved":
            entry["solved"] += 1
        elif row.status == "error":
            entry["error"] += 1
        else:
            entry["unproved"] += 1
        if problem.id in solved_any:
            entry["solved_any"] += 1
    ordered_categories = {c: categories[c] for c in CATEGORIES if c in categories}
    ordered_categories.update({c: v for c, v in categories.items() if c not in ordered_categories})

    searched = [r for r in rows if r.status != "invalid"]
    valid_ids = {p.id for p in valid}
    return {
        "dataset": dataset,
        "split": split,
        "search": config.search,
        "policy": str(config.policy),
        "value": str(config.value),
        "budget_seconds_per_attempt": config.budget_seconds,
        "max_expansions_per_attempt": config.max_expansions,
        "attempts": attempts,
        "base_seed": config.seed,
        "problems": len(problems),
        "invalid": len(invalid_ids),
        "valid": len(valid),
        "rows": len(rows),
        "expected_rows": len(problems) * attempts,
        "complete": len(rows) >= len(problems) * attempts,
        "solved": len(solved_first & valid_ids),
        "solved_any_attempt": len(solved_any & valid_ids),
        "unproved": sum(1 for pid, r in first.items() if r.status == "unproved" and pid not in invalid_ids),
        "errors": sum(1 for r in rows if r.status == "error"),
        "solve_rate_valid": (len(solved_first & valid_ids) / len(valid)) if valid else None,
        "solve_rate_all": (len(solved_first & valid_ids) / len(problems)) if problems else None,
        "pass_at_k": pass_rates,
        "by_category": ordered_categories,
        "seconds_total": round(sum(r.seconds for r in searched), 3),
        "model_seconds_total": round(sum(r.model_seconds for r in searched), 3),
        "prover_seconds_total": round(sum(r.prover_seconds for r in searched), 3),
        "expansions_total": sum(r.expansions for r in searched),
        "solve_seconds_first_attempt": sorted(
            round(r.seconds, 3) for pid, r in first.items() if r.status == "proved"
        ),
    }


def write_report(out_dir: Path, rows: Sequence[ResultRow], summary: dict[str, Any]) -> Path:
    """Write summary.json, report.md and the solved-vs-time plot into `out_dir`; return the report's path."""
    write_json_atomically(out_dir / SUMMARY_FILE, summary)
    plotted = _plot_solved_vs_time(out_dir / PLOT_FILE, rows, summary)
    report = out_dir / REPORT_FILE
    text = render_markdown(rows, summary, plot=PLOT_FILE if plotted else None)
    temporary = report.with_name(f".{report.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(report)
    return report


def _budget_line(summary: dict[str, Any]) -> str:
    budget = f"{summary['budget_seconds_per_attempt']:g} s"
    if summary.get("max_expansions_per_attempt"):
        budget += f" and {summary['max_expansions_per_attempt']} expansions"
    return budget


def render_markdown(rows: Sequence[ResultRow], summary: dict[str, Any], *, plot: str | None) -> str:
    """The report as markdown: headline, pass@k with its budget, the category table, the plot, the lists."""
    s = summary
    lines = [
        f"# Evaluation: {s['dataset']} ({s['split']})",
        "",
        f"Search `{s['search']}`, policy `{s['policy']}`, value `{s['value']}`; budget per attempt "
        f"{_budget_line(s)}; {s['attempts']} attempt(s) with seeds {s['base_seed']}.."
        f"{s['base_seed'] + s['attempts'] - 1}.",
        "",
        f"- problems: {s['problems']} ({s['invalid']} invalid statements, counted apart; {s['valid']} valid)",
        f"- solved (first attempt, kernel-checked): **{s['solved']} / {s['valid']} valid**"
        + (f" = {100 * s['solve_rate_valid']:.1f}%" if s["solve_rate_valid"] is not None else "")
        + f"; {s['solved']} / {s['problems']} of all",
        f"- unproved: {s['unproved']}; errors (prover kept failing): {s['errors']}",
        f"- rows: {s['rows']} of {s['expected_rows']}" + ("" if s["complete"] else " (run incomplete: rerun with the same --out to finish)"),
        f"- time: {s['seconds_total']:.0f} s of search in all ({s['model_seconds_total']:.0f} s in the policy, "
        f"{s['prover_seconds_total']:.0f} s in the proof assistant), {s['expansions_total']} tactic steps",
        "",
        f"## pass@k (budget {_budget_line(s)} per attempt, so pass@k spends up to k times that per problem)",
        "",
        "| k | pass@k (valid problems) | problems measured |",
        "| --- | --- | --- |",
    ]
    for k, entry in s["pass_at_k"].items():
        rate = f"{100 * entry['rate']:.1f}%" if entry["rate"] is not None else "n/a"
        lines.append(f"| {k} | {rate} | {entry['problems_measured']} |")
    lines += [
        "",
        "## By category (first attempt)",
        "",
        "| category | problems | invalid | solved | solved in any attempt | unproved | error | pending | solved / valid |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for category, c in s["by_category"].items():
        valid = c["problems"] - c["invalid"]
        rate = f"{100 * c['solved'] / valid:.1f}%" if valid else "n/a"
        lines.append(
            f"| {category} | {c['problems']} | {c['invalid']} | {c['solved']} | {c['solved_any']} | "
            f"{c['unproved']} | {c['error']} | {c['pending']} | {rate} |"
        )
    lines += ["", "## Solved problems against the time budget", ""]
    if plot:
        lines.append(f"![solved vs time budget]({plot})")
        lines.append("")
    times = s["solve_seconds_first_attempt"]
    budget = float(s["budget_seconds_per_attempt"])
    marks = [b for b in (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600) if b < budget] + [budget]
    lines += ["| budget (s) | solved within it |", "| --- | --- |"]
    for mark, count in zip(marks, solved_within(times, marks)):
        lines.append(f"| {mark:g} | {count} |")
    if times and max(times) > budget:
        lines.append(f"| {budget:g} + kernel check (up to {max(times):.1f}) | {len(times)} |")
    proved = sorted((r for r in rows if r.status == "proved" and r.attempt == 0), key=lambda r: r.problem)
    if proved:
        lines += ["", "## Solved (first attempt)", ""]
        lines += [f"- `{r.problem}` ({r.seconds:.1f} s, {r.expansions} steps): `{_one_line(r)}`" for r in proved]
    invalid = sorted({r.problem: r for r in rows if r.status == "invalid"}.values(), key=lambda r: r.problem)
    if invalid:
        lines += ["", "## Invalid statements", ""]
        lines += [f"- `{r.problem}`: {_short(r.error)}" for r in invalid]
    errors = sorted((r for r in rows if r.status == "error"), key=lambda r: (r.problem, r.attempt))
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- `{r.problem}` attempt {r.attempt}: {_short(r.error)}" for r in errors]
    return "\n".join(lines) + "\n"


def _one_line(row: ResultRow) -> str:
    """The rendered proof on one line (its tactics joined when no text was rendered)."""
    text = row.proof if row.proof else " ".join(row.tactics or ())
    return " ".join(text.split()).replace("`", "'")


def _short(text: str | None, limit: int = 200) -> str:
    flat = (text or "").replace("\n", " ").strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _plot_solved_vs_time(path: Path, rows: Sequence[ResultRow], summary: dict[str, Any]) -> bool:
    """A step plot of cumulative solved problems against seconds (first attempt, and best of all attempts)."""
    from matplotlib.figure import Figure  # the object API needs no GUI backend (no pyplot state)

    first = sorted(r.seconds for r in rows if r.attempt == 0 and r.status == "proved")
    best: dict[str, float] = {}
    for r in rows:
        if r.status == "proved":
            best[r.problem] = min(best.get(r.problem, math.inf), r.seconds)
    # The kernel check comes after the search budget, so a proof can land a little past it.
    budget = max([float(summary["budget_seconds_per_attempt"]), *first, *best.values()])
    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    axes = figure.add_subplot()
    for label, times in (("first attempt", first), (f"best of {summary['attempts']} attempts", sorted(best.values()))):
        if label.startswith("best") and summary["attempts"] == 1:
            continue
        xs = [0.0] + list(times) + [budget]
        ys = [0] + list(range(1, len(times) + 1)) + [len(times)]
        axes.step(xs, ys, where="post", label=label)
    axes.set_xlabel("seconds per attempt (search budget, then the kernel check)")
    axes.set_ylabel("problems solved")
    axes.set_title(f"{summary['dataset']} {summary['split']}: solved of {summary['valid']} valid problems")
    axes.set_xlim(0, budget)
    axes.set_ylim(0, max(1, int(len(best) * 1.25) + 1))
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    return True
