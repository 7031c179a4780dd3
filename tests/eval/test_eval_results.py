"""The results file (durable rows, repair of a truncated tail, refusal of another config) and the metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval_fakes import fake_problem
from prover.config import ProverConfig
from prover.errors import InputError
from prover.eval.report import pass_at_k, render_markdown, solved_within, summarize, write_report
from prover.eval.results import RESULTS_FILE, ResultRow, ResultStore, RunIdentity, read_rows


def identity(**prover: object) -> RunIdentity:
    return RunIdentity(dataset="fake", split="valid", backend="coq", prover=ProverConfig(**prover).model_dump(mode="json"))


def row(problem: str, status: str = "proved", attempt: int = 0, seconds: float = 1.0, category: str = "algebra") -> ResultRow:
    return ResultRow(problem=problem, attempt=attempt, seed=attempt, status=status, seconds=seconds, category=category,
                     tactics=["lia."] if status == "proved" else None)


def test_rows_survive_reopening_and_the_latest_row_per_key_wins(tmp_path: Path) -> None:
    with ResultStore.open(tmp_path, identity()) as store:
        store.append(row("a", "error"))
        store.append(row("b", "unproved"))
    with ResultStore.open(tmp_path, identity()) as store:
        assert store.finished() == {("a", 0), ("b", 0)}
        store.append(row("a", "proved"))
    rows = {r.key: r for r in read_rows(tmp_path / RESULTS_FILE)}
    assert rows[("a", 0)].status == "proved" and rows[("a", 0)].finished_at


def test_truncated_last_line_from_a_kill_is_dropped_and_the_file_repaired(tmp_path: Path) -> None:
    with ResultStore.open(tmp_path, identity()) as store:
        store.append(row("a"))
        store.append(row("b"))
    results = tmp_path / RESULTS_FILE
    whole = results.read_text()
    results.write_text(whole + whole.splitlines()[0][:25])  # a third row cut mid-line
    with ResultStore.open(tmp_path, identity()) as store:
        assert store.finished() == {("a", 0), ("b", 0)}
        store.append(row("c"))
    lines = results.read_text().splitlines()
    assert [json.loads(line)["problem"] for line in lines] == ["a", "b", "c"]


def test_a_rerun_with_another_configuration_is_refused(tmp_path: Path) -> None:
    ResultStore.open(tmp_path, identity(budget_seconds=30)).close()
    with pytest.raises(InputError, match=r"budget_seconds: 30.0 != 10.0.*another --out"):
        ResultStore.open(tmp_path, identity(budget_seconds=10))
    ResultStore.open(tmp_path, identity(budget_seconds=30)).close()  # the same one is welcome


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    assert pass_at_k(2, 1, 1) == pytest.approx(0.5)
    assert pass_at_k(2, 1, 2) == pytest.approx(1.0)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)
    assert pass_at_k(3, 0, 3) == 0.0
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_solved_within_counts_proofs_found_under_each_budget() -> None:
    assert solved_within([3.0, 0.5, 10.0], [0.1, 1, 3, 60]) == [0, 1, 2, 3]


def test_summary_counts_invalid_apart_and_reports_pass_at_k_with_its_budget(tmp_path: Path) -> None:
    problems = [fake_problem(n) for n in ("mathd_algebra_1", "mathd_algebra_2", "imo_1", "amc12_bad")]
    rows = [
        row("mathd_algebra_1", "proved", 0, 2.0), row("mathd_algebra_1", "proved", 1, 1.0),
        row("mathd_algebra_2", "unproved", 0), row("mathd_algebra_2", "proved", 1, 4.0),
        row("imo_1", "unproved", 0, category="IMO"), row("imo_1", "error", 1, category="IMO"),
        row("amc12_bad", "invalid", 0, category="AMC"), row("amc12_bad", "invalid", 1, category="AMC"),
    ]
    summary = summarize(rows, problems, attempts=2, config=ProverConfig(budget_seconds=20), dataset="fake", split="valid")
    assert (summary["problems"], summary["invalid"], summary["valid"]) == (4, 1, 3)
    assert summary["solved"] == 1 and summary["solved_any_attempt"] == 2
    assert summary["solve_rate_valid"] == pytest.approx(1 / 3)
    assert summary["pass_at_k"]["1"]["rate"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert summary["pass_at_k"]["2"]["rate"] == pytest.approx(2 / 3)
    assert summary["by_category"]["algebra"] == {
        "problems": 2, "invalid": 0, "solved": 1, "solved_any": 2, "unproved": 1, "error": 0, "pending": 0,
    }
    assert summary["by_category"]["AMC"]["invalid"] == 1 and summary["errors"] == 1

    report = write_report(tmp_path, rows, summary)
    text = report.read_text()
    assert "pass@k (budget 20 s per attempt" in text
    assert "| algebra | 2 | 0 | 1 | 2 | 1 | 0 | 0 | 50.0% |" in text
    assert "1 invalid statements, counted apart" in text and "`amc12_bad`" in text
    assert (tmp_path / "solved_vs_time.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "summary.json").read_text())["solved"] == 1


def test_report_of_an_unfinished_run_says_so() -> None:
    problems = [fake_problem("easy_1"), fake_problem("easy_2")]
    summary = summarize([row("easy_1")], problems, attempts=1, config=ProverConfig(), dataset="fake", split="valid")
    assert summary["complete"] is False
    assert "run incomplete" in render_markdown([row("easy_1")], summary, plot=None)
