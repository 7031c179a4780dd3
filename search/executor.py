"""Executors run (state, tactic) jobs for a search and hand back outcomes as they finish.

The search only knows the `Executor` protocol: `submit` a job, `collect` the next finished one,
`cancel` what is left. `InProcessExecutor` steps one environment in the calling thread, first in
first out, when `collect` is called (one worker: deterministic). A distributed executor (a pool of
prover workers, each rebuilding states from their tactic paths) implements the same three methods
and may finish jobs in any order; the search matches results to its selections by `Job.id`.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple, Protocol, runtime_checkable

from search.types import Environment, Outcome, State

__all__ = ["Job", "Executor", "InProcessExecutor"]


class Job(NamedTuple):
    """One environment step to run (a NamedTuple: immutable, and built once per step at a third of
    a frozen dataclass's cost).

    id: unique within one search, so results arriving out of order can be matched to selections.
    state: the state to act on (its `path` rebuilds it on any worker).
    tactic: the tactic to apply to its first goal.
    """

    id: int
    state: State
    tactic: str


@runtime_checkable
class Executor(Protocol):
    """Runs jobs concurrently (or not) for one search at a time.

    Infrastructure failures raise from `collect`, as `Environment.step` raises them.
    """

    def submit(self, job: Job) -> None:
        """Start (or queue) `job`; returns at once."""
        ...

    def collect(self) -> tuple[Job, Outcome]:
        """Block until some submitted job has finished; return it with its outcome (each job once)."""
        ...

    def cancel(self) -> None:
        """Drop every submitted job whose result has not been collected (the search has stopped)."""
        ...


class InProcessExecutor:
    """Steps one environment in this thread, first in first out, when results are collected."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self._queue: deque[Job] = deque()

    def submit(self, job: Job) -> None:
        """Queue `job`."""
        self._queue.append(job)

    def collect(self) -> tuple[Job, Outcome]:
        """Run the oldest queued job now and return its outcome."""
        if not self._queue:
            raise RuntimeError("collect() called with no job submitted")
        job = self._queue.popleft()
        return job, self.env.step(job.state, job.tactic)

    def cancel(self) -> None:
        """Forget the queued jobs."""
        self._queue.clear()
