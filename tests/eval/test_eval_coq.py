"""Real Coq: `prove eval` on a few easy miniF2F valid problems, in process and on 2 Ray workers,
and a worker killed in the middle of a real problem."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from prover.cli import main
from prover.config import ProverConfig
from prover.eval.results import RESULTS_FILE, read_rows

SHARED_COQ = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "minif2f-coq"

# Easy for the symbolic portfolio (lra over R, lia over nat), and one statement that does not
# elaborate on Coq 8.16 (Coquelicot's C used where R is expected): invalid, not unsolved.
EASY = ("mathd_algebra_104", "mathd_algebra_123")
INVALID = "algebra_2rootspoly_apatapbeq2asqp2ab"

pytestmark = pytest.mark.coq


@pytest.fixture(scope="module")
def coq_ready() -> Path:
    """The shared miniF2F Coq folder, once Coq, the backend and the portfolio exist (module-scoped so
    that it is checked before the module-scoped Ray fixture starts Ray)."""
    missing = [tool for tool in ("coqidetop.opt", "coqc") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"Coq is not installed ({', '.join(missing)} not on PATH): run scripts/install.sh")
    pytest.importorskip("prover.backends.coq", reason="the Coq backend is not written yet")
    pytest.importorskip("prover.policies.coq_portfolio", reason="the Coq portfolio policy is not written yet")
    if not (SHARED_COQ / "valid").is_dir():
        pytest.skip(f"{SHARED_COQ}/valid is absent (shared data lives beside the repo)")
    return SHARED_COQ


def run_eval(data: Path, out: Path, *extra: str) -> int:
    only = [arg for name in (*EASY, INVALID) for arg in ("--only", name)]
    return main(["eval", "minif2f-coq", "--data-dir", str(data), *only, "--budget-seconds", "20",
                 "--step-timeout", "5", "--out", str(out), *extra])


def test_in_process_eval_proves_easy_problems_with_kernel_checked_proofs(coq_ready: Path, tmp_path: Path) -> None:
    assert run_eval(coq_ready, tmp_path / "w1") == 0
    rows = {r.problem: r for r in read_rows(tmp_path / "w1" / RESULTS_FILE)}
    assert set(rows) == {*EASY, INVALID}
    for name in EASY:
        assert rows[name].status == "proved" and rows[name].kernel_checked and rows[name].proof
    assert rows[INVALID].status == "invalid" and "does not elaborate" in rows[INVALID].error
    summary = json.loads((tmp_path / "w1" / "summary.json").read_text())
    assert (summary["solved"], summary["valid"], summary["invalid"]) == (len(EASY), len(EASY), 1)
    # A rerun resumes: nothing left to do, the same table.
    assert run_eval(coq_ready, tmp_path / "w1") == 0
    assert len(read_rows(tmp_path / "w1" / RESULTS_FILE)) == 3
    rerun = json.loads((tmp_path / "w1" / "summary.json").read_text())
    assert rerun["by_category"] == summary["by_category"] and rerun["solved"] == summary["solved"]


@pytest.mark.ray
@pytest.mark.slow
def test_two_ray_workers_give_the_same_verdicts(coq_ready: Path, ray_session: None, tmp_path: Path) -> None:
    assert run_eval(coq_ready, tmp_path / "w2", "--workers", "2") == 0
    rows = {r.problem: r for r in read_rows(tmp_path / "w2" / RESULTS_FILE)}
    assert set(rows) == {*EASY, INVALID}
    assert all(rows[name].status == "proved" and rows[name].kernel_checked for name in EASY)
    assert rows[INVALID].status == "invalid"


@dataclass(frozen=True)
class DieOnceInRealProver:
    """The real Coq prover, except that the worker process kills itself once, mid-problem."""

    marker: str

    def __call__(self, config: ProverConfig):
        from prover.agent import Prover
        from prover.backends import get_backend

        marker = self.marker

        class Dying(Prover):
            def prove_theorem(self, theorem, *, on_step=None):
                def step(expansions: int) -> None:
                    if expansions == 1 and not os.path.exists(marker):
                        Path(marker).write_text("killed")
                        os.kill(os.getpid(), 9)
                    if on_step is not None:
                        on_step(expansions)

                return super().prove_theorem(theorem, on_step=step)

        return Dying(config, get_backend("coq"))


@pytest.mark.ray
@pytest.mark.slow
def test_worker_killed_mid_real_problem_is_restarted_and_the_problem_retried(
    coq_ready: Path, ray_session: None, tmp_path: Path
) -> None:
    from prover.eval.datasets import load_minif2f_coq, select_problems
    from prover.eval.runner import run_evaluation

    problems = select_problems(load_minif2f_coq("valid", data_dir=coq_ready), only=[EASY[0]])
    outcome = run_evaluation(
        problems,
        config=ProverConfig(backend="coq", budget_seconds=20, step_timeout=5),
        out_dir=tmp_path / "run",
        dataset="minif2f-coq",
        split="valid",
        workers=2,
        prover_factory=DieOnceInRealProver(marker=str(tmp_path / "died")),
    )
    (row,) = outcome.rows
    assert (tmp_path / "died").exists()
    assert row.status == "proved" and row.kernel_checked and row.worker_restarts == 1
