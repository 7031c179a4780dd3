"""The one JSONL reader: a truncated last line is skipped (and repaired), a malformed middle line is an error at file:line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import BaseModel

from eval_fakes import FakeProverFactory, fake_problem
from prover.config import ProverConfig
from prover.data.rows import read_rows as read_trace_rows
from prover.errors import InputError
from prover.eval.datasets import load_jsonl
from prover.eval.results import RESULTS_FILE, ResultStore, read_rows
from prover.eval.runner import run_evaluation
from prover.jsonl import JsonlError, read_jsonl, read_jsonl_numbered, repair_tail
from prover.training.trainer import read_value_examples


class Point(BaseModel):
    x: int
    y: int = 0


def lines(*rows: str) -> str:
    return "".join(row + "\n" for row in rows)


def test_rows_are_parsed_by_a_model_and_blank_lines_skipped(tmp_path: Path) -> None:
    file = tmp_path / "p.jsonl"
    file.write_text(lines('{"x": 1}', "", '{"x": 2, "y": 3}'))
    assert list(read_jsonl(file, Point)) == [Point(x=1), Point(x=2, y=3)]
    assert [number for number, _ in read_jsonl_numbered(file, Point)] == [1, 3]


def test_a_truncated_last_line_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    file = tmp_path / "p.jsonl"
    file.write_text(lines('{"x": 1}', '{"x": 2}') + '{"x": 3, "y"')
    with caplog.at_level(logging.WARNING, logger="prover.jsonl"):
        assert [p.x for p in read_jsonl(file, Point)] == [1, 2]
    assert f"{file}:3: ignoring a truncated last line" in caplog.text


def test_a_complete_last_row_without_its_newline_is_kept(tmp_path: Path) -> None:
    file = tmp_path / "p.jsonl"
    file.write_text('{"x": 1}\n{"x": 2}')  # a hand-written file often ends like this
    assert [p.x for p in read_jsonl(file, Point)] == [1, 2]
    repair_tail(file)
    assert file.read_text() == '{"x": 1}\n{"x": 2}\n'


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [('{"x": 2', "not JSON"), ('{"x": "two"}', "not a valid row (x:"), ("[1, 2]", "not a valid row")],
)
def test_a_malformed_middle_line_is_an_error_naming_file_and_line(tmp_path: Path, bad_line: str, message: str) -> None:
    file = tmp_path / "p.jsonl"
    file.write_text(lines('{"x": 1}', bad_line, '{"x": 3}'))
    with pytest.raises(JsonlError, match=rf"^{file}:2: {message}".replace("(", r"\(").replace("[", r"\[")):
        list(read_jsonl(file, Point))


def test_a_missing_field_in_a_parsed_row_names_the_field(tmp_path: Path) -> None:
    file = tmp_path / "v.jsonl"
    file.write_text(lines('{"state": "⊢ P", "label": 1}', '{"state": "⊢ Q"}', '{"state": "⊢ R", "label": 0}'))
    with pytest.raises(JsonlError, match=rf"^{file}:2: not a valid row \(missing field 'label'\)"):
        read_value_examples(file)


def test_every_reader_applies_the_same_policy(tmp_path: Path) -> None:
    """Trace rows, datasets, value examples and results: a cut tail is skipped, a bad middle line names file:line."""
    trace_row = json.dumps({"source": "a.v", "theorem": "t", "step": 0, "state_before": "⊢ True",
                            "tactic": "exact I.", "state_after": "no goals", "imports": []})
    problem = json.dumps({"name": "t", "backend": "coq", "statement": "Theorem t : True."})
    value = json.dumps({"state": "⊢ True", "label": 1})
    cases = [(read_trace_rows, trace_row), (load_jsonl, problem), (read_value_examples, value)]
    for number, (reader, row) in enumerate(cases):
        cut, broken = tmp_path / f"cut{number}.jsonl", tmp_path / f"broken{number}.jsonl"
        cut.write_text(lines(row) + row[: len(row) // 2])
        broken.write_text(lines(row, row[: len(row) // 2], row))
        assert len(list(reader(cut))) == 1, reader
        with pytest.raises(InputError, match=rf"^{broken}:2: not JSON"):
            list(reader(broken))


def test_results_with_a_malformed_middle_row_are_refused_not_silently_redone(tmp_path: Path) -> None:
    config = ProverConfig(budget_seconds=30)
    run = lambda: run_evaluation(  # noqa: E731
        [fake_problem("easy_1"), fake_problem("hard_2")], config=config, out_dir=tmp_path / "run",
        dataset="fake", split="valid", workers=1, prover_factory=FakeProverFactory(marker_dir=str(tmp_path)),
    )
    run()
    results = tmp_path / "run" / RESULTS_FILE
    first, second = results.read_text().splitlines()
    results.write_text(lines(first, "garbage", second))
    with pytest.raises(JsonlError, match=rf"{results}:2: not JSON"):
        run()


def test_resume_after_an_interrupted_write_keeps_finished_rows_and_redoes_only_the_cut_one(tmp_path: Path) -> None:
    config = ProverConfig(budget_seconds=30)
    problems = [fake_problem(name) for name in ("easy_1", "hard_2", "easy_3")]

    def run(out: Path) -> list:
        return run_evaluation(
            problems, config=config, out_dir=out, dataset="fake", split="valid", workers=1,
            prover_factory=FakeProverFactory(marker_dir=str(tmp_path)),
        ).rows

    run(tmp_path / "run")
    results = tmp_path / "run" / RESULTS_FILE
    rows = results.read_text().splitlines()
    results.write_text(lines(*rows[:2]) + rows[2][:40])  # killed while writing the third row
    finished = {row.problem: row.finished_at for row in read_rows(results)}
    assert len(finished) == 2
    resumed = run(tmp_path / "run")
    assert sorted(row.problem for row in resumed) == ["easy_1", "easy_3", "hard_2"]
    kept = {row.problem: row.finished_at for row in read_rows(results)}
    assert all(kept[name] == when for name, when in finished.items())  # finished rows were not redone
    assert len(results.read_text().splitlines()) == 3 and results.read_text().endswith("\n")
    assert {row.problem: row.status for row in resumed} == {row.problem: row.status for row in run(tmp_path / "whole")}


def test_a_store_opened_on_a_file_missing_its_last_newline_appends_on_a_fresh_line(tmp_path: Path) -> None:
    from prover.eval.results import ResultRow, RunIdentity

    identity = RunIdentity(dataset="fake", split="valid", backend="coq", prover=ProverConfig().model_dump(mode="json"))
    with ResultStore.open(tmp_path, identity) as store:
        store.append(ResultRow(problem="a", attempt=0, seed=0, status="proved"))
    results = tmp_path / RESULTS_FILE
    results.write_text(results.read_text().rstrip("\n"))
    with ResultStore.open(tmp_path, identity) as store:
        assert store.finished() == {("a", 0)}
        store.append(ResultRow(problem="b", attempt=0, seed=0, status="unproved"))
    assert [row.problem for row in read_rows(results)] == ["a", "b"]
