"""Typed failures and the kernel check inside both searches.

A transient failure (timeout, lost process) is retried once before the step counts as dead; a proof
the kernel rejects marks its last step failed and the search goes on to a proof the kernel accepts.
"""

from __future__ import annotations

from typing import Sequence

import pytest

from search import best_first_search, mcts_search
from search.best_first import BestFirstSettings
from search.mcts import MctsSettings
from search.tree import AttemptOutcome, ProofGraph
from search.types import (
    Budget,
    Failed,
    FailureKind,
    Outcome,
    SearchStatus,
    State,
    Theorem,
    Verdict,
)

from tests.search.fakes import QED, TableEnvironment, TablePolicy

SEARCHES = {
    "best_first": lambda env, policy, root, **kw: best_first_search(
        env, policy, root, settings=BestFirstSettings(check_invariants=True), **kw
    ),
    "best_first_edges": lambda env, policy, root, **kw: best_first_search(
        env, policy, root, settings=BestFirstSettings(check_invariants=True, expansion="one"), **kw
    ),
    "mcts": lambda env, policy, root, **kw: mcts_search(
        env, policy, root, settings=MctsSettings(check_invariants=True), **kw
    ),
}


class FlakyEnvironment(TableEnvironment):
    """A table environment whose listed tactics time out (a transient failure) the first `flakes` times."""

    def __init__(self, table, flaky: Sequence[str], flakes: int, kind: FailureKind = FailureKind.INTERRUPTED) -> None:
        super().__init__(table)
        self.remaining = {tactic: flakes for tactic in flaky}
        self.kind = kind

    def transition(self, state: State, tactic: str) -> Outcome:
        if self.remaining.get(tactic, 0) > 0:
            self.remaining[tactic] -= 1
            return Failed(f"{tactic} timed out", self.kind)
        return super().transition(state, tactic)


TABLE = {"goal": {"bogus": QED, "slow": QED, "wrong": None}}
WEIGHTS = {"goal": {"bogus": 0.6, "slow": 0.3, "wrong": 0.1}}


def test_failed_kinds_say_which_failures_are_transient() -> None:
    assert Failed("x", FailureKind.INTERRUPTED).transient and Failed("x", FailureKind.PROCESS_LOST).transient
    assert not Failed("x").transient and Failed("x").kind is FailureKind.TACTIC_ERROR
    permanent = (FailureKind.TIMEOUT, FailureKind.REFUSED, FailureKind.KERNEL_REJECTED, FailureKind.NO_PROGRESS)
    assert not any(Failed("x", kind).transient for kind in permanent)


@pytest.mark.parametrize("search", sorted(SEARCHES))
@pytest.mark.parametrize("kind", [FailureKind.INTERRUPTED, FailureKind.PROCESS_LOST])
def test_a_transient_failure_is_retried_once_and_then_proves(search: str, kind: FailureKind) -> None:
    env = FlakyEnvironment({"goal": {"slow": QED}}, flaky=["slow"], flakes=1, kind=kind)
    result = SEARCHES[search](env, TablePolicy({"goal": {"slow": 1.0}}), env.start(Theorem("t", "goal")),
                              budget=Budget(max_expansions=10))
    assert result.status is SearchStatus.PROVED and result.proof == ("slow",)
    assert [tactic for _, tactic in env.steps] == ["slow", "slow"]


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_a_step_that_keeps_timing_out_is_a_dead_end_after_one_retry(search: str) -> None:
    env = FlakyEnvironment({"goal": {"slow": QED}}, flaky=["slow"], flakes=99)
    result = SEARCHES[search](env, TablePolicy({"goal": {"slow": 1.0}}), env.start(Theorem("t", "goal")),
                              budget=Budget(max_expansions=10))
    assert result.status is SearchStatus.EXHAUSTED
    assert [tactic for _, tactic in env.steps] == ["slow", "slow"]
    attempt = result.graph.attempt(result.graph.root, "slow")
    assert attempt.outcome is AttemptOutcome.FAILED and attempt.failure_kind == "interrupted" and attempt.retries == 1


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_a_proof_the_kernel_rejects_marks_its_step_failed_and_the_search_goes_on(search: str) -> None:
    env = TableEnvironment(TABLE)
    checked: list[tuple[str, ...]] = []

    def verify(proof: tuple[str, ...]) -> Verdict:
        checked.append(proof)
        return Verdict(proof != ("bogus",), "guard condition violated" if proof == ("bogus",) else "")

    result = SEARCHES[search](env, TablePolicy(WEIGHTS), env.start(Theorem("t", "goal")),
                              budget=Budget(max_expansions=10), verify=verify)
    assert result.status is SearchStatus.PROVED and result.proof == ("slow",)
    assert checked == [("bogus",), ("slow",)]
    assert result.verdict is not None and result.verdict.accepted
    assert result.rejected == 1 and "guard" in result.last_rejection
    bogus = result.graph.attempt(result.graph.root, "bogus")
    assert bogus.outcome is AttemptOutcome.FAILED and bogus.failure_kind == "kernel_rejected"


@pytest.mark.parametrize("search", sorted(SEARCHES))
def test_when_the_kernel_rejects_every_proof_the_search_is_exhausted_not_proved(search: str) -> None:
    env = TableEnvironment(TABLE)
    result = SEARCHES[search](env, TablePolicy(WEIGHTS), env.start(Theorem("t", "goal")),
                              budget=Budget(max_expansions=10), verify=lambda proof: Verdict(False, "no"))
    assert result.status is SearchStatus.EXHAUSTED and result.proof is None and result.verdict is None
    assert result.rejected == 2


def test_retries_and_failure_kinds_survive_a_json_round_trip() -> None:
    env = FlakyEnvironment({"goal": {"slow": QED}}, flaky=["slow"], flakes=99)
    result = best_first_search(env, TablePolicy({"goal": {"slow": 1.0}}), env.start(Theorem("t", "goal")),
                               budget=Budget(max_expansions=10))
    again = ProofGraph.from_json(result.graph.to_json())
    attempt = again.attempt(again.root, "slow")
    assert attempt.retries == 1 and attempt.failure_kind == "interrupted"
