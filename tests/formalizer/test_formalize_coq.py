"""The formalizer end to end: a scripted model over HTTP on loopback, real Coq elaboration and vacuity checks."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from prover.backends.coq import CoqBackend
from prover.cli import main
from prover.formalizer.checking import elaborate
from prover.formalizer.drafting import Formalizer, FormalizerSettings
from prover.formalizer.models import build_formalizer_model
from prover.formalizer.vacuity import check_vacuity

pytestmark = pytest.mark.coq

PROBLEM = "Let n be a natural number such that n + 3 = 5. Show that n = 2."
GOOD = "```coq\nRequire Import Arith.\nTheorem problem (n : nat) (h : n + 3 = 5) : n = 2.\nProof.\nAdmitted.\n```"
GOOD_READING = "Let n be a natural number with n + 3 = 5. Prove n = 2."
BAD = "```coq\nRequire Import Arith.\nTheorem problem (n : nat) (h : n + three = 5) : n = 2.\n```"
CONTRADICTORY = "```coq\nRequire Import Arith.\nTheorem problem (n : nat) (h : n + 3 = 5) (k : n > 7) : n = 2.\n```"


@pytest.fixture(autouse=True)
def _coq_installed() -> None:
    missing = [tool for tool in ("coqidetop.opt", "coqc") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"Coq is not installed ({', '.join(missing)} not on PATH)")


@pytest.fixture(scope="module")
def coq_env() -> Iterator[object]:
    """One Coq environment shared by the vacuity tests (each test starts its own theorem)."""
    if shutil.which("coqidetop.opt") is None:
        pytest.skip("Coq is not installed (coqidetop.opt not on PATH)")
    env = CoqBackend().open_environment(step_timeout=10.0)
    yield env
    env.close()


@pytest.fixture
def problem_file(tmp_path: Path) -> Path:
    path = tmp_path / "problem.txt"
    path.write_text(PROBLEM + "\n")
    return path


@pytest.fixture
def formalizer(scripted_server) -> Iterator[Formalizer]:
    """A Coq formalizer on the scripted model (2 samples, 1 repair round)."""
    model = build_formalizer_model(scripted_server.spec)
    settings = FormalizerSettings(target="coq", samples=2, repairs=1, step_timeout=10.0)
    with Formalizer(model.drafter, CoqBackend(), settings, judge=model.judge) as running:
        yield running
    model.close()


def test_statement_that_elaborates_at_once_is_written_with_the_problem_in_a_comment(
    scripted_server, problem_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted_server.script.drafts = [GOOD]
    scripted_server.script.back_translations = [("n + 3 = 5", GOOD_READING)]
    scripted_server.script.scores = [(GOOD_READING, "Same problem. Score: 0.95")]
    out = tmp_path / "problem.v"
    code = main(["formalize", str(problem_file), "-o", str(out), "--model", scripted_server.spec,
                 "--samples", "1", "--repairs", "0"])
    assert code == 0
    written = out.read_text()
    assert "Theorem problem (n : nat) (h : n + 3 = 5) : n = 2." in written
    assert PROBLEM in written and "(*" in written and "0.95" in written
    assert not scripted_server.script.of_kind("repair")
    # The written file is a valid Coq file (the statement open with Admitted).
    compiled = subprocess.run(["coqc", "-q", out.name], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert compiled.returncode == 0, compiled.stderr
    assert "1/1 samples elaborated" in capsys.readouterr().err


def test_elaboration_error_goes_back_to_the_model_and_the_repair_is_kept(formalizer, scripted_server) -> None:
    scripted_server.script.drafts = [BAD]
    scripted_server.script.repair = lambda request: GOOD
    result = formalizer.formalize(PROBLEM)
    repairs = scripted_server.script.of_kind("repair")
    assert len(repairs) == 2  # one repair request per failing sample
    feedback = repairs[0]["messages"][-1]["content"]
    assert "The reference three was not found" in feedback  # Coq's own message
    assert repairs[0]["messages"][-2]["content"] == BAD  # the model sees its rejected reply
    best = result.best
    assert best is not None and best.theorem is not None and best.theorem.name == "problem"
    assert [attempt.error is None for attempt in best.attempts] == [False, True]
    assert result.elaborated == 2


def test_statement_that_never_elaborates_exits_2_with_coqs_error(
    scripted_server, problem_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted_server.script.drafts = [BAD]  # repairs repeat the same bad statement
    out = tmp_path / "problem.v"
    code = main(["formalize", str(problem_file), "-o", str(out), "--model", scripted_server.spec,
                 "--samples", "2", "--repairs", "1", "--json"])
    assert code == 2
    captured = capsys.readouterr()
    error = captured.err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("prove: ")
    assert "no statement elaborated in 2 samples" in error[0] and "three was not found" in error[0]
    document = json.loads(captured.out)
    assert document["elaborated"] == 0 and document["best"] is None
    assert all(len(c["attempts"]) == 2 and "three" in c["error"] for c in document["candidates"])
    assert not out.exists()


def test_vacuous_statement_is_flagged_and_ranked_below_a_faithful_one(formalizer, scripted_server) -> None:
    scripted_server.script.drafts = [CONTRADICTORY, GOOD]
    # The judge even prefers the vacuous one: vacuity must still rank it last.
    scripted_server.script.back_translations = [("n > 7", "n + 3 = 5 and n > 7; show n = 2."), ("n + 3 = 5", GOOD_READING)]
    scripted_server.script.scores = [("n > 7", "Score: 0.99"), (GOOD_READING, "Score: 0.8")]
    result = formalizer.formalize(PROBLEM)
    best, last = result.candidates
    assert best.sample == 1 and best.score == pytest.approx(0.8) and not best.vacuity.vacuous
    assert last.sample == 0 and last.score == pytest.approx(0.99)
    assert last.vacuity.vacuous and "contradictory_hypotheses" in last.vacuity.flags
    document = result.to_json()
    assert document["candidates"][1]["vacuity"]["vacuous"] is True


def test_ranking_picks_the_statement_the_judge_scores_highest(formalizer, scripted_server) -> None:
    weaker = GOOD.replace("(h : n + 3 = 5) : n = 2", "(h : n + 3 = 5) : n <= 2")
    stronger = GOOD
    scripted_server.script.drafts = [weaker, stronger]
    scripted_server.script.back_translations = [("n <= 2", "Show n is at most 2."), ("n = 2", GOOD_READING)]
    scripted_server.script.scores = [("at most", "Score: 0.4"), (GOOD_READING, "Score: 0.9")]
    result = formalizer.formalize(PROBLEM)
    assert result.best is not None and result.best.sample == 1 and result.best.score == pytest.approx(0.9)
    assert [c.score for c in result.candidates] == pytest.approx([0.9, 0.4])
    assert "n = 2" in result.render() and PROBLEM in result.render()
    judged = scripted_server.script.of_kind("judge")
    assert all(PROBLEM in payload["messages"][-1]["content"] for payload in judged)
    assert all(payload["temperature"] == 0.0 for payload in judged)


@pytest.mark.parametrize(
    ("statement", "flag"),
    [
        ("Theorem t (n : nat) : True.", "true_conclusion"),
        ("Theorem t (x : nat) (h : x = 898) : x = 898.", "conclusion_is_hypothesis"),
        ("Require Import Reals.\nOpen Scope R_scope.\nTheorem t (x : R) (h0 : x > 2) (h1 : x < 1) : x * x = 5.", "contradictory_hypotheses"),
        ("Theorem t : (17 * 18) mod 4 = 2.", "closed_by_automation"),
        ("Theorem t : ~ (exists a b : nat, a * a * a + b * b * b = 3 /\\ a < 1 /\\ b < 1).", None),
        ("Theorem t (a b : nat) (h : a * a * a + b * b * b = 3) : False.", None),
    ],
)
def test_vacuity_checks_flag_only_degenerate_statements(coq_env, statement: str, flag: str | None) -> None:
    elaboration = elaborate(statement, "coq", CoqBackend(), coq_env)
    assert elaboration.ok, elaboration.error
    report = check_vacuity(coq_env, elaboration.theorem, "coq")
    if flag is None:
        assert report.flags == ()
    else:
        assert report.flags[0] == flag
        assert report.vacuous == (flag != "closed_by_automation")
