"""Both searches on the real Coq kernel: MCTS proves what best-first proves on easy problems."""

from __future__ import annotations

import pytest

from prover.agent import Prover
from prover.backends import get_backend
from prover.config import ProverConfig
from search.types import Theorem
from tests.conftest import require_coq

pytestmark = pytest.mark.coq

HEADER = "Require Import Arith Lia.\n"
EASY = [
    Theorem("add_zero_right", "Theorem add_zero_right : forall n : nat, n + 0 = n.", HEADER),
    Theorem("and_swap", "Theorem and_swap : forall A B : Prop, A /\\ B -> B /\\ A.", HEADER),
    Theorem("le_step", "Theorem le_step (a b : nat) (h : a <= b) : a <= S b.", HEADER),
]


@pytest.mark.parametrize("algorithm", ["best_first", "mcts"])
def test_search_proves_easy_theorems_with_kernel_checked_proofs(algorithm: str) -> None:
    require_coq()
    config = ProverConfig(backend="coq", search=algorithm, budget_seconds=20, step_timeout=5)
    with Prover(config, get_backend("coq")) as prover:
        results = [prover.prove_theorem(theorem) for theorem in EASY]
    assert [r.status for r in results] == ["proved"] * len(EASY), [r.error for r in results]
    assert all(r.kernel_checked and r.tactics for r in results)
    # The search graph's own extracted proof is the proof that was checked.
    assert all(r.search_graph.extract_proof() is not None for r in results)
