"""A mixture (portfolio + a tiny random transformers model) inside both searches on real Coq.

The model's tactics are noise, so the mixture must still prove, with the kernel's acceptance,
every theorem the portfolio alone proves: the model widens the search, it must not break it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.agent import Prover
from prover.backends import get_backend
from prover.config import ProverConfig
from search.types import Theorem
from tests.conftest import require_coq

pytestmark = [pytest.mark.coq, pytest.mark.slow]

HEADER = "Require Import Arith Lia.\n"
THEOREMS = [
    Theorem("mul_one_right", "Theorem mul_one_right : forall n : nat, n * 1 = n.", HEADER),
    Theorem("or_swap", "Theorem or_swap : forall A B : Prop, A \\/ B -> B \\/ A.", HEADER),
]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers", reason="the models extra is not installed")
    from prover.policies.tiny import save_tiny_seq2seq

    return save_tiny_seq2seq(tmp_path_factory.mktemp("tiny") / "seq2seq")


def proved_theorems(config: ProverConfig) -> dict[str, tuple[str, ...]]:
    with Prover(config, get_backend("coq")) as prover:
        results = [prover.prove_theorem(theorem) for theorem in THEOREMS]
    return {r.theorem: r.tactics for r in results if r.status == "proved" and r.kernel_checked}


@pytest.mark.parametrize("algorithm", ["best_first", "mcts"])
def test_mixture_proves_whatever_the_portfolio_alone_proves(algorithm: str, tiny_model: Path) -> None:
    require_coq()
    common = dict(backend="coq", search=algorithm, budget_seconds=30, step_timeout=5, candidates=12)
    alone = proved_theorems(ProverConfig(policy="portfolio", **common))
    mixed = proved_theorems(
        ProverConfig(policy=f"0.7*portfolio+0.3*hf:{tiny_model}?max_new_tokens=8", **common)
    )
    assert alone, "the portfolio alone proves these easy theorems"
    assert set(alone) <= set(mixed)
