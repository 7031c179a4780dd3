"""Issue 13 on real Coq: a kernel-rejected proof does not end the search, the budget is one deadline,
only a real `hammer` step escapes Coq's `Timeout`, and nothing a run starts outlives it or litters
the temp folder.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

import pytest

from prover import budget
from prover.agent import Prover
from prover.backends.coq import CoqBackend, CoqEnvironment
from prover.config import ProverConfig
from prover.policies.coq_portfolio import CoqPortfolioPolicy
from prover.policies.mixture import MixturePolicy
from search.types import Candidate, Failed, FailureKind, Proved, State, Theorem
from tests.conftest import require_coq

pytestmark = pytest.mark.coq

HEADER = "Require Import Arith Lia.\n"
THEOREMS = [
    Theorem("add_zero_right", "Theorem add_zero_right : forall n : nat, n + 0 = n.", HEADER),
    Theorem("and_swap", "Theorem and_swap : forall A B : Prop, A /\\ B -> B /\\ A.", HEADER),
]


class HostilePolicy:
    """Always proposes one script that closes the goals at step level but that the kernel rejects
    (guardedness is checked only at `Qed`), as the likeliest candidate."""

    def __init__(self, script: str = "fix f 1. exact f.") -> None:
        self.script = script

    def propose(self, state: State, n: int) -> list[Candidate]:
        return [Candidate(self.script, 0.0, "hostile")]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        return [self.propose(state, n) for state in states]


def proved(config: ProverConfig, policy) -> dict[str, tuple[str, ...]]:
    with Prover(config, CoqBackend(hammer=False), policy=policy) as prover:
        results = [prover.prove_theorem(theorem) for theorem in THEOREMS]
    return {r.theorem: r.tactics for r in results if r.status == "proved" and r.kernel_checked}


@pytest.mark.slow
@pytest.mark.parametrize("search", ["best_first", "best_first_edges", "mcts"])
def test_a_hostile_policy_mixed_in_proves_what_the_portfolio_alone_proves(search: str) -> None:
    require_coq()
    config = ProverConfig(backend="coq", search=search, budget_seconds=20, step_timeout=5, candidates=8)
    alone = proved(config, CoqPortfolioPolicy(hammer=False))
    mixed = proved(config, MixturePolicy([HostilePolicy(), CoqPortfolioPolicy(hammer=False)]))
    assert set(alone) == {t.name for t in THEOREMS}
    assert set(mixed) >= set(alone)
    assert all("fix f 1." not in " ".join(tactics) for tactics in mixed.values())


def test_only_a_real_hammer_step_runs_without_coqs_timeout() -> None:
    require_coq()
    with CoqEnvironment(step_timeout=5, hammer=False) as env:
        assert env.states.wrap("hammer.") == "hammer."
        assert env.states.wrap("2: hammer.") == "2: hammer."
        for disguised in ('idtac "hammer"; lia.', "try hammer; lia.", "sauto.", "hammer; admit."):
            assert env.states.wrap(disguised).startswith("Timeout 5 "), disguised


def test_a_step_that_runs_past_the_deadline_is_cut_there() -> None:
    require_coq()
    theorem = Theorem("loops", "Theorem loops : True.", "")
    with CoqEnvironment(step_timeout=60, hammer=False) as env:
        root = env.start(theorem)
        started = time.monotonic()
        with budget.deadline_scope(1.5):
            outcome = env.step(root, "let rec spin := (idtac; spin) in spin.")
            again = env.step(root, "exact I.")
        elapsed = time.monotonic() - started
        assert isinstance(outcome, Failed) and outcome.transient, outcome
        assert isinstance(again, Failed) and again.kind is FailureKind.INTERRUPTED  # the deadline has passed
        assert elapsed < 1.5 + 10
        # Outside the scope the environment works as before.
        assert isinstance(env.step(root, "exact I."), Proved)


def test_an_overlong_candidate_is_refused_unread() -> None:
    require_coq()
    theorem = Theorem("t", "Theorem t : True.", "")
    with CoqEnvironment(step_timeout=5, hammer=False) as env:
        root = env.start(theorem)
        added = env.sentences_added
        outcome = env.step(root, "idtac. " * 2000 + "exact I.")
        assert isinstance(outcome, Failed) and outcome.kind is FailureKind.REFUSED
        assert env.sentences_added == added, "nothing was sent to Coq"


def _zombie_children(pid: int) -> list[int]:
    """Zombie processes whose parent is `pid` (from /proc)."""
    zombies = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            zombies.append(int(entry.name))
    return zombies


def test_psatz_leaves_no_files_in_the_temp_folder_and_no_zombies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_coq()
    # A private parent temp folder: whatever the run forgets there is ours to see.
    parent = tmp_path / "tmp"
    parent.mkdir()
    monkeypatch.setenv("TMPDIR", str(parent))
    monkeypatch.setattr(tempfile, "tempdir", None)
    theorem = Theorem(
        "sos", "Theorem sos : forall x y : R, 0 <= x * x + y * y.", "Require Import Reals Psatz.\nOpen Scope R_scope.\n"
    )
    env = CoqEnvironment(step_timeout=10, hammer=False)
    try:
        root = env.start(theorem)
        assert isinstance(env.step(root, "intros x y; psatz R 2."), Proved)
        assert env.verify(theorem, ["intros x y; psatz R 2."]).accepted
        coqidetop = env.process_id
        assert coqidetop is not None and _zombie_children(coqidetop) == []
        sandbox = env._sandbox.root()
        assert sandbox.parent == parent and (sandbox / "tmp" / "param.csdp").exists()  # csdp wrote in the sandbox
    finally:
        env.close()
    assert list(parent.iterdir()) == []
    assert _zombie_children(os.getpid()) == []
