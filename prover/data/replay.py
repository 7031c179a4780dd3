"""Trace a proof found by search into rows by replaying its tactics through the environment.

Expert iteration learns from the prover's own kernel-checked proofs: replaying them step by step
gives the same (state_before, tactic, state_after) rows that tracing a file gives, in the format
the policies see.
"""

from __future__ import annotations

from typing import Sequence

from prover.data.rows import NO_GOALS, TraceRow
from search.types import Environment, Progress, Proved, State, Theorem

__all__ = ["rows_from_proof", "ReplayFailed"]


class ReplayFailed(Exception):
    """A tactic of the proof did not replay (the proof does not hold in this environment)."""


def rows_from_proof(
    env: Environment, theorem: Theorem, tactics: Sequence[str], *, source: str = "search"
) -> tuple[list[TraceRow], list[State]]:
    """The rows of `tactics` proving `theorem`, and the states they were applied to.

    Raises `ReplayFailed` when a step fails or the proof ends early or leaves goals.
    """
    state = env.start(theorem)
    rows: list[TraceRow] = []
    states: list[State] = []
    for step, tactic in enumerate(tactics):
        outcome = env.step(state, tactic)
        states.append(state)
        if isinstance(outcome, Proved):
            if step != len(tactics) - 1:
                raise ReplayFailed(f"{theorem.name}: the proof closes at step {step} of {len(tactics)}")
            rows.append(TraceRow(source, theorem.name, step, state.key, tactic, NO_GOALS))
            return rows, states
        if not isinstance(outcome, Progress):
            raise ReplayFailed(f"{theorem.name}: step {step} ({tactic!r}) fails: {outcome.message}")
        rows.append(TraceRow(source, theorem.name, step, state.key, tactic, outcome.state.key))
        state = outcome.state
    raise ReplayFailed(f"{theorem.name}: the tactics leave goals open")
