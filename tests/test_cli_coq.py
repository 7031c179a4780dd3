"""`prove FILE.v` end to end on real Coq: exit codes, --json, file writing, Ctrl-C keeps results."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import assert_compiles, require_coq

pytestmark = pytest.mark.coq

EASY = """Require Import Arith Lia.

Theorem add_comm_easy : forall n m : nat, n + m = m + n.
Proof.
Admitted.

Lemma le_example (a b : nat) (h : a <= b) : a <= b + 1.
Admitted.
"""

FALSE_LEMMA = """
Lemma false_lemma : forall n : nat, n = n + 1.
Admitted.
"""


def prove(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prover", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(autouse=True)
def _coq() -> None:
    require_coq()


def test_all_proved_exits_0_with_kernel_checked_json(tmp_path: Path) -> None:
    problem = tmp_path / "easy.v"
    problem.write_text(EASY)
    completed = prove(str(problem), "--json", "--budget-seconds", "20")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["file"] == str(problem) and report["backend"] == "coq"
    assert [r["theorem"] for r in report["results"]] == ["add_comm_easy", "le_example"]
    for row in report["results"]:
        assert row["status"] == "proved" and row["kernel_checked"] is True
        assert row["proof"].startswith("Proof.") and row["proof"].endswith("Qed.")
        assert row["expansions"] >= 1 and row["seconds"] > 0
    assert problem.read_text() == EASY, "without --out/--write the input is never modified"


def test_unproved_theorem_exits_1_and_out_file_compiles(tmp_path: Path) -> None:
    problem = tmp_path / "mixed.v"
    problem.write_text(EASY + FALSE_LEMMA)
    completed_file = tmp_path / "completed.v"
    completed = prove(str(problem), "--budget-seconds", "15", "--out", str(completed_file))
    assert completed.returncode == 1, completed.stderr
    assert "unproved  false_lemma" in completed.stdout
    assert "2/3 theorems proved" in completed.stdout
    text = completed_file.read_text()
    assert text.count("Qed.") == 2 and "Lemma false_lemma : forall n : nat, n = n + 1.\nAdmitted." in text
    # The completed file is a real Coq file: coqc accepts it (the unproved lemma stays Admitted).
    assert_compiles(completed_file)


def test_write_completes_the_file_in_place(tmp_path: Path) -> None:
    problem = tmp_path / "inplace.v"
    problem.write_text(EASY)
    completed = prove(str(problem), "--budget-seconds", "20", "--write")
    assert completed.returncode == 0, completed.stderr
    assert "Admitted." not in problem.read_text() and problem.read_text().count("Qed.") == 2
    assert_compiles(problem)


def test_statement_that_does_not_typecheck_exits_2_with_one_line(tmp_path: Path) -> None:
    problem = tmp_path / "bad.v"
    problem.write_text("Theorem bad : forall x : nat, x = undefined_name.\nAdmitted.\n")
    completed = prove(str(problem), "--budget-seconds", "5")
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    # Located as coqc locates errors, the theorem named once.
    assert len(lines) == 1 and lines[0].startswith(f'prove: File "{problem}", line 1, characters 0-49: bad: invalid statement:')
    assert lines[0].count("bad:") == 1
    assert "Traceback" not in completed.stderr


def test_ctrl_c_keeps_the_finished_proof(tmp_path: Path) -> None:
    problem = tmp_path / "interrupted.v"
    problem.write_text(EASY + FALSE_LEMMA.replace("n = n + 1", "n * n = n * n * n + 1 \\/ n = 7 * n + 1000"))
    completed_file = tmp_path / "partial.v"
    process = subprocess.Popen(
        [sys.executable, "-m", "prover", str(problem), "--budget-seconds", "120", "--out", str(completed_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    assert process.stdout is not None
    for line in process.stdout:  # plain output: one line per finished theorem, as it finishes
        seen.append(line)
        if line.startswith("proved    le_example"):
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    text = completed_file.read_text()
    assert text.count("Qed.") == 2, "both finished proofs were written before exiting"
    assert "Admitted." in text
    assert_compiles(completed_file)


def test_saved_search_tree_reloads_with_its_proof(tmp_path: Path) -> None:
    problem = tmp_path / "one.v"
    problem.write_text("Require Import Lia.\nTheorem one : forall n : nat, n + 0 = n.\nAdmitted.\n")
    tree = tmp_path / "tree.json"
    completed = prove(str(problem), "--search", "mcts", "--budget-seconds", "20", "--save-tree", str(tree))
    assert completed.returncode == 0, completed.stderr
    shown = prove("tree", str(tree), "--dot", str(tmp_path / "tree.dot"))
    assert shown.returncode == 0, shown.stderr
    proof_line = [line for line in shown.stdout.splitlines() if line.startswith("proof: ")][0]
    found = json.loads(prove(str(problem), "--search", "mcts", "--budget-seconds", "20", "--json").stdout)
    rendered_steps = [line.strip().rstrip(".") for line in found["results"][0]["proof"].splitlines()[1:-1]]
    assert proof_line == "proof: " + " ; ".join(rendered_steps)
    assert (tmp_path / "tree.dot").read_text().startswith("digraph")
