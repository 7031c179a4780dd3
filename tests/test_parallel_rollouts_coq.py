"""Parallel MCTS rollouts on Ray workers, each with its own Coq process, through the Prover."""

from __future__ import annotations

import pytest

from prover.agent import Prover
from prover.backends import get_backend
from prover.config import ProverConfig
from prover.errors import InputError
from prover.config import make_config
from search.types import Theorem
from tests.conftest import require_coq

THEOREM = Theorem(
    "two_goals",
    "Theorem two_goals : forall a b : nat, a + b = b + a /\\ a * 1 = a.",
    "Require Import Arith Lia.\n",
)


def test_rollout_workers_need_mcts() -> None:
    with pytest.raises(InputError, match="needs search='mcts'"):
        make_config(search="best_first", rollout_workers=2)


@pytest.mark.coq
@pytest.mark.ray
@pytest.mark.slow
def test_two_rollout_workers_find_a_kernel_checked_proof() -> None:
    require_coq()
    config = ProverConfig(backend="coq", search="mcts", rollout_workers=2, budget_seconds=60, step_timeout=5)
    with Prover(config, get_backend("coq")) as prover:
        result = prover.prove_theorem(THEOREM)
        stats = prover._rollouts.stats()
    assert result.status == "proved" and result.kernel_checked, result.error
    assert len(stats) == 2
    assert sum(worker["steps"] for worker in stats) >= result.expansions > 0
