"""The in-process runner (`--workers 1`, no Ray) on fake provers: rows, resume, attempts, failures, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eval_fakes import FakeProverFactory, fake_problem
from prover.cli import main
from prover.config import ProverConfig
from prover.errors import InputError
from prover.eval.datasets import Problem
from prover.eval.results import RESULTS_FILE, read_rows
from prover.eval.runner import run_evaluation

HERE = Path(__file__).resolve().parent


def evaluate(problems: list[Problem], out: Path, *, attempts: int = 1, budget: float = 30, calls: Path | None = None, **kwargs):
    return run_evaluation(
        problems,
        config=ProverConfig(budget_seconds=budget),
        out_dir=out,
        dataset="fake",
        split="valid",
        attempts=attempts,
        prover_factory=FakeProverFactory(marker_dir=str(out), calls_file=str(calls) if calls else None),
        **kwargs,
    )


def calls_in(path: Path) -> list[str]:
    return [line.split()[1] for line in path.read_text().splitlines()] if path.exists() else []


def test_every_problem_gets_one_row_with_its_prover_verdict(tmp_path: Path) -> None:
    unreadable = Problem(id="mathd_algebra_9", backend="coq", theorem=None, category="algebra", invalid_reason="does not parse")
    problems = [fake_problem("easy_1"), fake_problem("hard_2"), unreadable]
    outcome = evaluate(problems, tmp_path / "run", calls=tmp_path / "calls")
    statuses = {r.problem: r.status for r in read_rows(tmp_path / "run" / RESULTS_FILE)}
    assert statuses == {"easy_1": "proved", "hard_2": "unproved", "mathd_algebra_9": "invalid"}
    assert sorted(calls_in(tmp_path / "calls")) == ["easy_1", "hard_2"]  # no prover for an unreadable statement
    assert outcome.summary["solved"] == 1 and outcome.summary["invalid"] == 1 and outcome.summary["valid"] == 2
    assert (tmp_path / "run" / "report.md").is_file() and (tmp_path / "run" / "summary.json").is_file()


def test_a_rerun_skips_finished_problems_and_ends_with_the_same_table(tmp_path: Path) -> None:
    problems = [fake_problem(n) for n in ("easy_1", "hard_2", "easy_3")]
    first = evaluate(problems[:2], tmp_path / "run", calls=tmp_path / "calls")
    second = evaluate(problems, tmp_path / "run", calls=tmp_path / "calls")
    assert calls_in(tmp_path / "calls") == ["easy_1", "hard_2", "easy_3"]
    assert first.new_rows == 2 and second.new_rows == 1
    third = evaluate(problems, tmp_path / "run", calls=tmp_path / "calls")
    assert third.new_rows == 0 and third.summary["by_category"] == second.summary["by_category"]


def test_a_row_cut_by_a_kill_is_redone_on_resume(tmp_path: Path) -> None:
    problems = [fake_problem(n) for n in ("easy_1", "hard_2")]
    evaluate(problems, tmp_path / "run")
    results = tmp_path / "run" / RESULTS_FILE
    lines = results.read_text().splitlines(keepends=True)
    results.write_text(lines[0] + lines[1][:20])
    outcome = evaluate(problems, tmp_path / "run", calls=tmp_path / "calls")
    assert calls_in(tmp_path / "calls") == ["hard_2"]
    assert [json.loads(line)["problem"] for line in results.read_text().splitlines()] == ["easy_1", "hard_2"]
    assert outcome.summary["solved"] == 1 and outcome.summary["complete"]


def test_attempts_use_independent_seeds_and_give_pass_at_k(tmp_path: Path) -> None:
    # seed_1_x is proved only by the attempt searching with seed 1; easy_2 by every attempt.
    problems = [fake_problem("seed_1_x"), fake_problem("easy_2"), fake_problem("hard_3")]
    outcome = evaluate(problems, tmp_path / "run", attempts=2)
    seeds = {(r.problem, r.attempt): (r.seed, r.status) for r in outcome.rows}
    assert seeds[("seed_1_x", 0)] == (0, "unproved") and seeds[("seed_1_x", 1)] == (1, "proved")
    assert outcome.summary["pass_at_k"]["1"]["rate"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert outcome.summary["pass_at_k"]["2"]["rate"] == pytest.approx(2 / 3)
    assert "budget 30 s per attempt" in (tmp_path / "run" / "report.md").read_text()


def test_a_prover_failure_or_bug_is_an_error_row_and_the_next_problem_still_runs(tmp_path: Path) -> None:
    outcome = evaluate([fake_problem("raise_1"), fake_problem("bug_2"), fake_problem("easy_3")], tmp_path / "run")
    rows = {r.problem: r for r in outcome.rows}
    assert rows["raise_1"].status == "error" and "fake prover process died" in rows["raise_1"].error
    assert rows["bug_2"].status == "error" and rows["bug_2"].error.startswith("internal error: KeyError")
    assert rows["easy_3"].status == "proved"


def test_errors_are_rerun_only_when_asked(tmp_path: Path) -> None:
    evaluate([fake_problem("raise_1")], tmp_path / "run")
    assert evaluate([fake_problem("raise_1")], tmp_path / "run").new_rows == 0
    assert evaluate([fake_problem("raise_1")], tmp_path / "run", retry_errors=True).new_rows == 1


def test_resuming_with_another_budget_is_refused(tmp_path: Path) -> None:
    evaluate([fake_problem("easy_1")], tmp_path / "run", budget=30)
    with pytest.raises(InputError, match="different configuration"):
        evaluate([fake_problem("easy_1")], tmp_path / "run", budget=5)


@pytest.mark.slow
def test_kill_9_mid_run_loses_no_finished_row_and_the_rerun_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    command = [sys.executable, str(HERE / "eval_fakes.py"), "--count", "8", "--sleep", "0.25"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    killed = tmp_path / "killed"
    process = subprocess.Popen([*command, "--out", str(killed)], env=env)
    results = killed / RESULTS_FILE
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not results.exists() or results.read_text().count("\n") < 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    finished_before = read_rows(results)
    assert 2 <= len(finished_before) < 8, "the kill must land mid-run"

    subprocess.run([*command, "--out", str(killed)], env=env, check=True, timeout=120)
    subprocess.run([*command, "--out", str(tmp_path / "whole")], env=env, check=True, timeout=120)
    resumed, whole = read_rows(results), read_rows(tmp_path / "whole" / RESULTS_FILE)
    assert sorted(r.problem for r in resumed) == sorted(r.problem for r in whole)  # each problem exactly once
    assert {r.problem: r.status for r in resumed} == {r.problem: r.status for r in whole}
    kept = {r.problem: r.finished_at for r in resumed}
    assert all(kept[r.problem] == r.finished_at for r in finished_before)  # finished rows were not redone
    summary = lambda d: json.loads((d / "summary.json").read_text())["by_category"]  # noqa: E731
    assert summary(killed) == summary(tmp_path / "whole")


def test_eval_command_refuses_bad_options_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "no-such-dataset", "--out", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("prove: unknown dataset 'no-such-dataset'") and len(error.splitlines()) == 1
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "rows.jsonl").write_text(json.dumps({"name": "t", "backend": "coq", "statement": "Theorem t : True."}) + "\n")
    assert main(["eval", str(folder / "rows.jsonl"), "--workers", "0", "--out", str(tmp_path / "o")]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err


def test_ctrl_c_stops_the_run_cleanly_keeping_finished_rows(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, str(HERE / "eval_fakes.py"), "--count", "30", "--sleep", "0.2", "--out", str(out)],
        env=env, stdout=subprocess.PIPE, text=True,
    )
    results = out / RESULTS_FILE
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not results.exists() or results.read_text().count("\n") < 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and "interrupted=True" in stdout
    kept = read_rows(results)
    assert 2 <= len(kept) < 30
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["rows"] == len(kept) and not summary["complete"]


def test_ctrl_c_after_a_row_reached_the_disk_counts_that_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The signal can land inside `append`, after the row's line is on disk (here: in the second
    row's fsync): the summary must count what the file holds, not what the store last saw."""
    import prover.eval.results as results_module

    real_fsync, results, pressed = os.fsync, tmp_path / "run" / RESULTS_FILE, []

    def fsync_then_ctrl_c(descriptor: int) -> None:
        real_fsync(descriptor)
        if not pressed and results.exists() and results.read_text().count("\n") == 2:
            pressed.append(True)
            raise KeyboardInterrupt

    monkeypatch.setattr(results_module.os, "fsync", fsync_then_ctrl_c)
    outcome = evaluate([fake_problem(f"easy_{i}") for i in range(5)], tmp_path / "run")
    kept = read_rows(results)
    assert outcome.interrupted and len(kept) == 2 and outcome.new_rows == 2
    assert outcome.summary["rows"] == 2 and outcome.summary["solved"] == 2 and not outcome.summary["complete"]


def test_progress_bar_counts_finished_and_solved_problems(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from prover.eval.progress import RichProgress

    screen = io.StringIO()
    progress = RichProgress(Console(file=screen, force_terminal=True, width=120), enabled=True)
    evaluate([fake_problem("easy_1"), fake_problem("hard_2"), fake_problem("raise_3")], tmp_path / "run", progress=progress)
    assert (progress.solved, progress.errors) == (1, 1)
    assert "3/3" in screen.getvalue() and "solved 1, errors 1" in screen.getvalue()
