"""The unit of batch work and what runs it: a `Job` (one attempt at one problem), the `ProverSlot`
that holds a prover for a worker, and the results rows they produce.

Shared by the in-process runner (`prover.eval.runner`) and the Ray pool (`prover.distributed.pool`);
kept below both so neither imports the other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from search.types import Theorem

from prover.agent import TheoremResult
from prover.config import ProverConfig
from prover.errors import ProverError, ToolchainMissing
from prover.eval.datasets import Problem
from prover.eval.results import ResultRow

__all__ = ["ProverLike", "ProverFactory", "Job", "ProverSlot", "row_from_result", "error_row", "invalid_row"]

log = logging.getLogger(__name__)


class ProverLike(Protocol):
    """What the runner needs of a prover: `prover.agent.Prover` is one; tests pass fakes."""

    def prove_theorem(self, theorem: Theorem, *, on_step: Callable[[int], None] | None = None) -> TheoremResult:
        """Search and kernel-check one theorem; never raises for an unproved or invalid one.

        `on_step(expansions)` is called after each search step (only passed when not None).
        """
        ...

    def close(self) -> None:
        """Stop the prover's process."""
        ...


# Builds a prover for one configuration (the runner varies only the seed between attempts).
# Must be picklable (a module-level class or function) to be sent to Ray workers.
ProverFactory = Callable[[ProverConfig], ProverLike]


@dataclass(frozen=True)
class Job:
    """One unit of work: prove `problem` once with `seed` (its `attempt`-th independent try).

    restarts: how many times a worker process died on this job already (a job is retried once).
    """

    problem: Problem
    attempt: int
    seed: int
    restarts: int = 0


class ProverSlot:
    """Holds one prover, rebuilding it when a job needs another seed or after it failed.

    Jobs come attempt by attempt, so the prover (and its proof-assistant process) is rebuilt only
    when the attempt changes. Used by the in-process path and inside each Ray actor.
    """

    def __init__(self, factory: ProverFactory, config: ProverConfig) -> None:
        self.factory = factory
        self.config = config
        self._prover: ProverLike | None = None
        self._seed: int | None = None

    def run(self, job: Job, *, on_step: Callable[[int], None] | None = None) -> ResultRow:
        """Prove `job` and return its row; a prover failure becomes an "error" row, not an exception.

        `ToolchainMissing` is raised: no later job could run either. Any other exception (a bug in
        a policy or a backend on this one statement) is logged and recorded as an error row.
        """
        if job.problem.theorem is None:
            return invalid_row(job)
        try:
            prover = self._prover_for(job.seed)
            if on_step is not None:
                result = prover.prove_theorem(job.problem.theorem, on_step=on_step)  # type: ignore[call-arg]
            else:
                result = prover.prove_theorem(job.problem.theorem)
        except ToolchainMissing:
            raise
        except ProverError as failure:
            log.warning("%s (attempt %d): prover failed: %s", job.problem.id, job.attempt, failure)
            self.close()
            return error_row(job, f"{type(failure).__name__}: {failure}")
        except Exception as bug:  # noqa: BLE001 - one problem's bug must not end a long batch
            # Recorded (with the traceback in the log) rather than raised: the row says what broke,
            # and the rest of the batch still runs. `--retry-errors` reruns it once fixed.
            log.exception("%s (attempt %d): internal error", job.problem.id, job.attempt)
            self.close()
            return error_row(job, f"internal error: {type(bug).__name__}: {bug}")
        return row_from_result(job, result)

    def _prover_for(self, seed: int) -> ProverLike:
        if self._prover is None or self._seed != seed:
            self.close()
            self._prover = self.factory(self.config.model_copy(update={"seed": seed}))
            self._seed = seed
        return self._prover

    def close(self) -> None:
        """Close the held prover (a failure to close a broken one is logged, it is gone either way)."""
        if self._prover is not None:
            prover, self._prover, self._seed = self._prover, None, None
            try:
                prover.close()
            except ProverError as failure:
                log.debug("closing a prover: %s", failure)


def row_from_result(job: Job, result: TheoremResult) -> ResultRow:
    """The results-file row for a prover's `TheoremResult` on `job`."""
    data: dict[str, Any] = result.to_json()
    data.pop("theorem", None)
    return ResultRow(
        problem=job.problem.id,
        attempt=job.attempt,
        seed=job.seed,
        category=job.problem.category,
        worker_restarts=job.restarts,
        **{key: value for key, value in data.items() if key in ResultRow.model_fields},
    )


def error_row(job: Job, message: str) -> ResultRow:
    """A row for a job whose prover (or worker) kept failing."""
    return ResultRow(
        problem=job.problem.id,
        attempt=job.attempt,
        seed=job.seed,
        category=job.problem.category,
        status="error",
        error=message,
        worker_restarts=job.restarts,
    )


def invalid_row(job: Job) -> ResultRow:
    return ResultRow(
        problem=job.problem.id,
        attempt=job.attempt,
        seed=job.seed,
        category=job.problem.category,
        status="invalid",
        error=job.problem.invalid_reason,
    )
