"""The batch runner: every (problem, attempt) of a dataset through a prover, rows streamed to disk.

With one worker the provers run in this process (no Ray); with more, `prover.distributed` runs
them as Ray actors. Either way each finished problem is appended to the results file at once,
finished (problem, attempt) pairs are skipped on a rerun, and Ctrl-C stops the run keeping every
finished row. Attempt k of a problem searches with seed `config.seed + k`, so attempts are
independent samples for pass@k.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence


from prover.agent import Prover
from prover.backends import get_backend
from prover.config import ProverConfig
from prover.errors import InputError
from prover.eval.datasets import Problem
from prover.eval.jobs import Job, ProverFactory, ProverLike, ProverSlot, invalid_row, row_from_result
from prover.eval.results import ResultRow, ResultStore, RunIdentity

__all__ = [
    "ProverLike",
    "ProverFactory",
    "DefaultProverFactory",
    "Job",
    "ProgressSink",
    "ProverSlot",
    "EvalOutcome",
    "plan_jobs",
    "row_from_result",
    "run_evaluation",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DefaultProverFactory:
    """Builds the real `Prover` for `backend` ("coq"/"lean"); picklable, so Ray actors can use it."""

    backend: str

    def __call__(self, config: ProverConfig) -> ProverLike:
        return Prover(config, get_backend(self.backend))


class ProgressSink(Protocol):
    """Receives progress events in the driver (a rich progress bar, or nothing)."""

    def begin(self, total: int, already_done: int) -> None:
        """`total` jobs in this run, of which `already_done` were finished by an earlier run."""
        ...

    def job_started(self, job: Job) -> None:
        """A job was handed to a worker."""
        ...

    def step(self, expansions: int) -> None:
        """The in-process search made a step (not called for Ray workers)."""
        ...

    def job_finished(self, row: ResultRow) -> None:
        """A row was written."""
        ...

    def end(self) -> None:
        """The run ended (finished or interrupted)."""
        ...


def plan_jobs(
    problems: Sequence[Problem],
    *,
    attempts: int,
    base_seed: int,
    finished: set[tuple[str, int]] = frozenset(),  # type: ignore[assignment]
) -> list[Job]:
    """The jobs still to run, attempt by attempt (all problems' attempt 0 first, then attempt 1...).

    Attempt-major order gives a complete pass@1 table early and lets a worker keep one prover
    (one seed) for a long stretch.
    """
    if attempts < 1:
        raise InputError(f"--attempts must be >= 1, got {attempts}")
    return [
        Job(problem=problem, attempt=attempt, seed=base_seed + attempt)
        for attempt in range(attempts)
        for problem in problems
        if (problem.id, attempt) not in finished
    ]


@dataclass
class EvalOutcome:
    """What a run left: its rows (latest per (problem, attempt) of the selected problems), summary, state.

    new_rows: rows written by this run. interrupted: Ctrl-C stopped it before every job finished.
    """

    out_dir: Path
    rows: list[ResultRow]
    summary: dict[str, Any]
    new_rows: int
    interrupted: bool
    report_path: Path | None = None
    plan: list[Job] = field(default_factory=list)
    inference: list[dict[str, Any]] = field(default_factory=list)  # the shared inference actors' statistics


def run_evaluation(
    problems: Sequence[Problem],
    *,
    config: ProverConfig,
    out_dir: str | os.PathLike[str],
    dataset: str,
    split: str,
    attempts: int = 1,
    workers: int = 1,
    ray_address: str | None = None,
    prover_factory: ProverFactory | None = None,
    progress: ProgressSink | None = None,
    retry_errors: bool = False,
    write_report: bool = True,
    shared_inference: bool = False,
) -> EvalOutcome:
    """Run every unfinished (problem, attempt) and write rows, summary.json and the report to `out_dir`.

    `prover_factory` defaults to the real `Prover` for the problems' backend. `workers` > 1 or a
    `ray_address` uses Ray actors (one CPU each); `workers` == 1 runs in this process.
    `shared_inference` (Ray only): the policy's `hf:` models are loaded once per GPU in inference
    actors that batch the provers' requests, not once per prover (`prover.distributed.inference`).
    Raises `InputError` when `out_dir` holds a run with another configuration.
    """
    from prover.eval.report import summarize, write_report as write_report_files

    _check_parallelism(workers, ray_address, shared_inference)
    backend = _backend_of(problems, config)
    if prover_factory is None:
        get_backend(backend).check_toolchain()
        prover_factory = DefaultProverFactory(backend)
    identity = RunIdentity(
        dataset=dataset, split=split, backend=backend,
        prover=config.model_copy(update={"backend": backend}).model_dump(mode="json"),
    )
    selected = {p.id for p in problems}
    with ResultStore.open(out_dir, identity) as store:
        finished = {key for key, row in store.rows.items() if not (retry_errors and row.status == "error")}
        jobs = plan_jobs(problems, attempts=attempts, base_seed=config.seed, finished=finished)
        total = len(problems) * attempts
        new_rows = 0

        def record(row: ResultRow) -> None:
            nonlocal new_rows
            store.append(row)
            new_rows += 1
            if progress is not None:
                progress.job_finished(row)

        interrupted = False
        inference: list[dict[str, Any]] = []
        if progress is not None:
            progress.begin(total, total - len(jobs))
        try:
            inference = _run_jobs(
                jobs, factory=prover_factory, config=config, workers=workers, ray_address=ray_address,
                record=record, progress=progress, shared_inference=shared_inference, backend=backend,
            )
        except KeyboardInterrupt:
            interrupted = True
            new_rows = store.reread()
            log.warning("interrupted: %d rows written by this run are kept in %s", new_rows, store.results_path)
        finally:
            if progress is not None:
                progress.end()
        rows = [row for key, row in store.rows.items() if key[0] in selected and key[1] < attempts]
    summary = summarize(rows, problems, attempts=attempts, config=config, dataset=dataset, split=split)
    summary["interrupted"] = interrupted
    report_path = None
    if write_report:
        report_path = write_report_files(Path(out_dir), rows, summary)
    return EvalOutcome(
        out_dir=Path(out_dir), rows=rows, summary=summary, new_rows=new_rows, interrupted=interrupted,
        report_path=report_path, plan=jobs, inference=inference,
    )


def _check_parallelism(workers: int, ray_address: str | None, shared_inference: bool) -> None:
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    if shared_inference and workers == 1 and ray_address is None:
        raise InputError("--shared-inference shares a model between Ray workers: use --workers 2 or more (or --ray-address)")


def _backend_of(problems: Sequence[Problem], config: ProverConfig) -> str:
    """The one backend of the problems (else the configured one, else Coq); `InputError` when they mix."""
    backends = sorted({p.backend for p in problems})
    if len(backends) > 1:
        raise InputError(f"the problems mix backends ({', '.join(backends)}): pass --backend to pick one")
    return backends[0] if backends else (config.backend if config.backend != "auto" else "coq")


def _run_jobs(
    jobs: Sequence[Job],
    *,
    factory: ProverFactory,
    config: ProverConfig,
    workers: int,
    ray_address: str | None,
    record: Callable[[ResultRow], None],
    progress: ProgressSink | None,
    shared_inference: bool,
    backend: str,
) -> list[dict[str, Any]]:
    """Record a row for every job, in this process or on Ray; the shared inference statistics (if any)."""
    # Statements the loader could not read need no prover: their rows are written here.
    for job in [job for job in jobs if job.problem.theorem is None]:
        record(invalid_row(job))
    jobs_to_prove = [job for job in jobs if job.problem.theorem is not None]
    if not jobs_to_prove:
        return []
    if workers == 1 and ray_address is None:
        _run_in_process(jobs_to_prove, factory, config, record, progress)
        return []
    from prover.distributed.pool import run_on_ray

    return run_on_ray(
        jobs_to_prove,
        prover_factory=factory,
        config=config,
        workers=workers,
        address=ray_address,
        record=record,
        on_start=progress.job_started if progress is not None else None,
        shared_inference=shared_inference,
        backend=backend,
    )


def _run_in_process(
    jobs: Sequence[Job],
    factory: ProverFactory,
    config: ProverConfig,
    record: Callable[[ResultRow], None],
    progress: ProgressSink | None,
) -> None:
    """The `--workers 1` path: one prover in this process, no Ray."""
    slot = ProverSlot(factory, config)
    try:
        for job in jobs:
            if progress is not None:
                progress.job_started(job)
            on_step = progress.step if progress is not None else None
            record(slot.run(job, on_step=on_step))
    finally:
        slot.close()
