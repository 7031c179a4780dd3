"""Disproof on real Coq (Python proposes witnesses, the kernel checks the negation), and `prove solve`'s
new endings: disproved, unfaithful, a server that ignores `n`, and an error in an HTTP 200 reply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prover.backends.coq import CoqBackend
from prover.cli import main
from prover.disprove import disprove
from prover.formalizer.equivalence import statement_of_theorem
from tests.conftest import require_coq

pytestmark = pytest.mark.coq

FALSE_PROBLEM = "Show that 2 + 2 = 5."
FALSE_STATEMENT = "```coq\nRequire Import Arith.\nTheorem problem : 2 + 2 = 5.\nProof.\nAdmitted.\n```"
TRUE_PROBLEM = "Let n be a natural number such that n + 3 = 5. Show that n = 2."
TRUE_STATEMENT = "```coq\nRequire Import Arith Lia.\nTheorem problem (n : nat) (h : n + 3 = 5) : n = 2.\nProof.\nAdmitted.\n```"


@pytest.fixture(autouse=True)
def _coq() -> None:
    require_coq()


def _disprove(text: str):  # type: ignore[no-untyped-def]
    backend = CoqBackend()
    theorem = backend.parse_file("p.v", text).theorems[-1].theorem
    with backend.open_environment(step_timeout=10.0) as env:
        return disprove(theorem, statement_of_theorem(theorem).statement, env)


def test_a_false_real_statement_is_disproved_by_a_kernel_checked_counterexample() -> None:
    disproof = _disprove(
        "Require Import Reals.\nOpen Scope R_scope.\nTheorem problem (a b : R) : 3 * a + 2 * b = 12 -> a = 4 -> b = 1.\nProof.\nAdmitted.\n"
    )
    assert disproof is not None
    assert dict(disproof.witnesses) == {"a": "(4)%R", "b": "(0)%R"}
    assert disproof.theorem.statement.startswith("Theorem problem_is_false : ~ (forall (a b : R)")
    assert "Qed." in disproof.source


def test_a_true_statement_is_not_disproved() -> None:
    assert _disprove("Require Import Arith.\nTheorem problem (n : nat) : n + 0 = n.\nProof.\nAdmitted.\n") is None


def test_solve_on_a_false_problem_ends_disproved_with_exit_1(scripted_server, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    scripted_server.script.drafts = [FALSE_STATEMENT]
    problem = tmp_path / "problem.txt"
    problem.write_text(FALSE_PROBLEM)
    out = tmp_path / "problem.v"
    code = main(["solve", str(problem), "--target", "coq", "--model", scripted_server.spec, "--samples", "1",
                 "--repairs", "0", "--no-judge", "--budget-seconds", "5", "-o", str(out)])
    assert code == 1
    printed = capsys.readouterr().out
    assert "verdict: disproved problem: false" in printed
    written = out.read_text()
    assert "Theorem problem_is_false : ~ (2 + 2 = 5)." in written and "Qed." in written


def test_solve_json_reports_disproved_status(scripted_server, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    scripted_server.script.drafts = [FALSE_STATEMENT]
    problem = tmp_path / "problem.txt"
    problem.write_text(FALSE_PROBLEM)
    code = main(["solve", str(problem), "--target", "coq", "--model", scripted_server.spec, "--samples", "1",
                 "--repairs", "0", "--no-judge", "--json"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "disproved" and report["solved"] is False and report["proof"] is None
    assert report["disproof"]["negation"] == "Theorem problem_is_false : ~ (2 + 2 = 5)."
    assert report["formalization"]["candidates"][0]["disproved"] is True


def test_solve_below_min_faithfulness_is_unfaithful_with_exit_1(scripted_server, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    scripted_server.script.drafts = [TRUE_STATEMENT]
    scripted_server.script.back_translations = [("n + 3 = 5", "Prove that n is even.")]
    scripted_server.script.scores = [("n is even", "Different problems. Score: 0.1")]
    problem = tmp_path / "problem.txt"
    problem.write_text(TRUE_PROBLEM)
    code = main(["solve", str(problem), "--target", "coq", "--model", scripted_server.spec, "--samples", "1",
                 "--repairs", "0", "--json"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "unfaithful" and report["min_faithfulness"] == 0.5 and report["proof"] is None


def test_a_server_that_ignores_n_gets_a_warning(scripted_server, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    scripted_server.script.drafts = [TRUE_STATEMENT]
    scripted_server.script.ignore_n = True
    problem = tmp_path / "problem.txt"
    problem.write_text(TRUE_PROBLEM)
    code = main(["formalize", str(problem), "--target", "coq", "--model", scripted_server.spec, "--samples", "4",
                 "--repairs", "0", "--no-judge", "--json"])
    assert code == 0
    captured = capsys.readouterr()
    assert "warning: the model returned 1 of the 4 samples asked for" in captured.err
    assert json.loads(captured.out)["warnings"] == ["the model returned 1 of the 4 samples asked for"]


@pytest.mark.parametrize(
    ("reply", "message"),
    [({"error": {"message": "model overloaded"}}, "model overloaded"), ({"choices": []}, "the model returned no sample")],
)
def test_an_error_or_no_choices_in_an_http_200_reply_is_a_one_line_failure(scripted_server, tmp_path: Path, capsys, reply, message) -> None:  # type: ignore[no-untyped-def]
    scripted_server.script.raw_reply = reply
    problem = tmp_path / "problem.txt"
    problem.write_text(TRUE_PROBLEM)
    code = main(["solve", str(problem), "--target", "coq", "--model", scripted_server.spec, "--samples", "2", "--repairs", "0"])
    assert code == 2
    error = [line for line in capsys.readouterr().err.splitlines() if line.startswith("prove: ")]
    assert len(error) == 1 and message in error[0]


def test_prove_file_with_disprove_reports_a_false_theorem_disproved(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "false.v"
    text = "Require Import Arith.\nTheorem wrong (n : nat) : n - 3 + 3 = n.\nProof.\nAdmitted.\n"
    source.write_text(text)
    code = main([str(source), "--disprove", "--budget-seconds", "3", "--json"])
    assert code == 1
    (row,) = json.loads(capsys.readouterr().out)["results"]
    assert row["status"] == "disproved" and row["kernel_checked"] is True
    assert "Theorem wrong_is_false : ~ (forall (n : nat), n - 3 + 3 = n)." in row["proof"]
    assert source.read_text() == text  # the user's file changes only where a proof went in


def test_prove_file_without_disprove_leaves_a_false_theorem_unproved(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "false.v"
    source.write_text("Require Import Arith.\nTheorem wrong : 2 + 2 = 5.\nProof.\nAdmitted.\n")
    assert main([str(source), "--budget-seconds", "2", "--json"]) == 1
    (row,) = json.loads(capsys.readouterr().out)["results"]
    assert row["status"] == "unproved"
