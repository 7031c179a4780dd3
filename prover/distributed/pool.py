"""A pool of provers as Ray actors for batch evaluation (with `inference` and `rollouts`, the only modules that import ray).

Each actor takes one CPU and owns one prover (and so one proof-assistant process). The driver
keeps at most one job in flight per actor, writes each row as it comes back, and, when an actor's
process dies (killed, out of memory), lets Ray restart the actor and retries that job once; a
second death on the same job is recorded as an "error" row. Local Ray starts quietly without a
dashboard; `address` joins an existing cluster instead. With `shared_inference` the provers'
`hf:` models are loaded once, in `prover.distributed.inference` actors that batch their requests.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import replace
from typing import Any, Callable, Sequence

import ray
from ray.exceptions import ActorDiedError, RayActorError, RayTaskError

from prover.config import ProverConfig
from prover.errors import ProverError
from prover.eval.results import ResultRow
from prover.distributed.cluster import connect
from prover.eval.jobs import Job, ProverFactory, ProverSlot, error_row

__all__ = ["ProverActor", "run_on_ray", "MAX_RETRIES_AFTER_WORKER_DEATH"]

log = logging.getLogger(__name__)

# A job whose worker died is retried this many times on a restarted worker, then recorded as an error.
MAX_RETRIES_AFTER_WORKER_DEATH = 1

# How long the driver waits for a result before looking at Ctrl-C again.
_POLL_SECONDS = 0.5
# How long a worker may take to start (or restart) before the run gives up on it.
_START_SECONDS = 300.0
# How long the provers may take to close at the end of a run.
_CLOSE_SECONDS = 30.0
# Pause between pings of a worker that is restarting.
_REPING_SECONDS = 0.2


class ProverActor:
    """A Ray actor holding one prover; `prove(job)` returns the job's row.

    Created through `ray.remote(...)` in `run_on_ray`, so the class itself stays importable and
    testable without a cluster.
    """

    def __init__(self, factory: ProverFactory, config: ProverConfig) -> None:
        self.slot = ProverSlot(factory, config)

    def prove(self, job: Job) -> ResultRow:
        """Prove one job in this worker's prover."""
        return self.slot.run(job)

    def pid(self) -> int:
        """This worker's process id (tests kill it to check the restart path)."""
        return os.getpid()

    def close(self) -> None:
        """Stop the prover's process before the actor is killed."""
        self.slot.close()


def run_on_ray(
    jobs: Sequence[Job],
    *,
    prover_factory: ProverFactory,
    config: ProverConfig,
    workers: int,
    address: str | None,
    record: Callable[[ResultRow], None],
    on_start: Callable[[Job], None] | None = None,
    shared_inference: bool = False,
    backend: str = "coq",
) -> list[dict[str, Any]]:
    """Run `jobs` on `workers` prover actors, calling `record(row)` in the driver as each finishes.

    Returns when every job has a row, with the shared inference actors' statistics (empty without
    `shared_inference`). On Ctrl-C (KeyboardInterrupt) or any error the actors are killed and a
    Ray this call started is shut down before the exception propagates. A `ProverError` raised
    inside a worker (a missing toolchain) aborts the run with that error.
    """
    started = connect(address=address, num_cpus=workers)
    actors: list[Any] = []
    models: list[Any] = []
    try:
        provers = min(workers, len(jobs))
        factory = prover_factory
        if shared_inference:
            from prover.distributed.inference import ServedModelsFactory, start_inference

            served, models = start_inference(config, backend, provers=provers)
            factory = ServedModelsFactory(prover_factory, served)
        remote_actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=0)(ProverActor)
        actors = [remote_actor.remote(factory, config) for _ in range(provers)]
        _drive(actors, deque(jobs), record, on_start)
        # Finished normally: let each prover stop its proof assistant before the actor goes.
        # (After Ctrl-C or an error the actors are killed at once; a proof assistant whose
        # parent died sees its input close and exits.)
        ray.wait([actor.close.remote() for actor in actors], num_returns=len(actors), timeout=_CLOSE_SECONDS)
        return ray.get([model.stats.remote() for model in models], timeout=_CLOSE_SECONDS)
    finally:
        for actor in actors + models:
            ray.kill(actor, no_restart=True)
        if started:
            ray.shutdown()


def _drive(
    actors: list[Any],
    queue: deque[Job],
    record: Callable[[ResultRow], None],
    on_start: Callable[[Job], None] | None,
) -> None:
    """Hand jobs to ready actors, record rows, retry jobs whose worker died.

    An actor is given work only once a ping (`pid()`) has answered: at start, and again after its
    process died (Ray restarts it, and a call sent while it restarts would fail without running).
    """
    idle: list[Any] = []
    in_flight: dict[Any, tuple[Any, Job]] = {}
    pings: dict[Any, tuple[Any, float]] = {}  # ping ref -> (actor, deadline to come back)
    waiting: list[tuple[float, Any, float]] = []  # (when to ping again, actor, deadline)

    def ping(actor: Any, deadline: float) -> None:
        pings[actor.pid.remote()] = (actor, deadline)

    for actor in actors:
        ping(actor, time.monotonic() + _START_SECONDS)
    while queue or in_flight:
        now = time.monotonic()
        for entry in [w for w in waiting if w[0] <= now]:
            waiting.remove(entry)
            ping(entry[1], entry[2])
        while idle and queue:
            actor, job = idle.pop(), queue.popleft()
            in_flight[actor.prove.remote(job)] = (actor, job)
            if on_start is not None:
                on_start(job)
        refs = list(in_flight) + list(pings)
        if not refs:
            time.sleep(_REPING_SECONDS)
            continue
        done, _ = ray.wait(refs, num_returns=1, timeout=_POLL_SECONDS)
        for ref in done:
            if ref in pings:
                actor, deadline = pings.pop(ref)
                try:
                    ray.get(ref)
                except ActorDiedError as dead:
                    raise ProverError(f"a prover worker could not start: {_last_line(dead)}") from None
                except RayActorError as unavailable:  # still restarting: ask again shortly
                    if time.monotonic() > deadline:
                        raise ProverError(f"a prover worker did not come back: {_first_line(unavailable)}") from None
                    waiting.append((time.monotonic() + _REPING_SECONDS, actor, deadline))
                    continue
                idle.append(actor)
                continue
            actor, job = in_flight.pop(ref)
            try:
                row = ray.get(ref)
            except RayActorError as died:
                reason = _first_line(died)
                retried = replace(job, restarts=job.restarts + 1)
                if job.restarts < MAX_RETRIES_AFTER_WORKER_DEATH:
                    log.warning("%s: worker died (%s); retrying on a restarted worker", job.problem.id, reason)
                    queue.appendleft(retried)
                else:
                    record(error_row(retried, f"worker died {retried.restarts} times on this problem: {reason}"))
                ping(actor, time.monotonic() + _START_SECONDS)
                continue
            except RayTaskError as failed:
                cause = getattr(failed, "cause", None)
                if isinstance(cause, ProverError):
                    raise cause from None
                raise
            idle.append(actor)
            record(row)


def _last_line(error: BaseException) -> str:
    """The last line of Ray's message: for a failed actor constructor, the original exception."""
    text = [line for line in str(error).strip().splitlines() if line.strip()]
    return text[-1].strip() if text else type(error).__name__


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
