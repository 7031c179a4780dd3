"""`prove solve` and `prove eval-formalizer` end to end: a scripted model, real Coq, proofs checked by the kernel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prover.cli import main

pytestmark = pytest.mark.coq

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
PROBLEM = "Let n be a natural number such that n + 3 = 5. Show that n = 2."
GOOD = "```coq\nRequire Import Arith Lia.\nTheorem problem (n : nat) (h : n + 3 = 5) : n = 2.\nProof.\nAdmitted.\n```"
READING = "Let n be a natural number with n + 3 = 5. Prove n = 2."


@pytest.fixture(autouse=True)
def _coq_installed() -> None:
    missing = [tool for tool in ("coqidetop.opt", "coqc") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"Coq is not installed ({', '.join(missing)} not on PATH)")


def test_solve_formalizes_then_proves_with_the_kernel_and_writes_the_proof(
    scripted_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted_server.script.drafts = [GOOD]
    scripted_server.script.back_translations = [("n + 3 = 5", READING)]
    scripted_server.script.scores = [(READING, "Score: 0.9")]
    problem = tmp_path / "problem.txt"
    problem.write_text(PROBLEM)
    out = tmp_path / "problem.v"
    code = main(["solve", str(problem), "--target", "coq", "-o", str(out), "--model", scripted_server.spec,
                 "--samples", "1", "--repairs", "0", "--budget-seconds", "30", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["solved"] is True and report["vacuous"] is False
    assert report["proof"]["status"] == "proved" and report["proof"]["kernel_checked"] is True
    assert report["formalization"]["candidates"][0]["faithfulness"] == pytest.approx(0.9)
    written = out.read_text()
    assert "Admitted." not in written and "Qed." in written and PROBLEM in written


def test_solve_without_an_elaborating_statement_exits_2(scripted_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scripted_server.script.drafts = ["I cannot formalize this."]
    problem = tmp_path / "problem.txt"
    problem.write_text(PROBLEM)
    code = main(["solve", str(problem), "--target", "coq", "--model", scripted_server.spec, "--samples", "1", "--repairs", "0"])
    assert code == 2
    assert "no statement elaborated" in capsys.readouterr().err


@pytest.mark.slow  # two searches and two kernel checks (coqc): ~5-10 s
def test_eval_formalizer_reports_elaboration_and_a_kernel_checked_equivalence(
    scripted_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = SHARED / "data" / "minif2f-lean4" / "minif2f_valid.jsonl"
    references = SHARED / "data" / "minif2f-coq" / "valid"
    if not (data.is_file() and references.is_dir()):
        pytest.skip(f"shared miniF2F data is absent ({data}, {references})")
    # The reference is `(17 * 18) mod 4 = 2` over nat; the candidate states it with Nat.modulo.
    scripted_server.script.drafts = ["```coq\nRequire Import Arith.\nTheorem problem : Nat.modulo (17 * 18) 4 = 2.\n```"]
    out = tmp_path / "rows.jsonl"
    code = main(["eval-formalizer", "--target", "coq", "--model", scripted_server.spec, "--names",
                 "mathd_numbertheory_101", "--samples", "1", "--repairs", "0", "--no-judge",
                 "--budget-seconds", "20", "--out", str(out), "--json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["elaborated"] == 1 and document["summary"]["elaboration_rate"] == 1.0
    row = document["rows"][0]
    assert row["name"] == "mathd_numbertheory_101" and row["equivalence"] == "equivalent", row
    assert json.loads(out.read_text().splitlines()[0])["equivalence"] == "equivalent"
    prompt = scripted_server.script.of_kind("draft")[0]["messages"][-1]["content"]
    assert "Find the modulo 4 residue" in prompt
