"""Parallel rollouts within one problem: a `search.executor.Executor` whose steps run on Ray workers.

MCTS keeps several (state, tactic) expansions in flight; this executor sends each to one of
several workers, each owning its own proof-assistant process. A state crosses processes as its
tactic path from the root: a worker rebuilds it by replaying the path from the longest prefix it
has already reached (every state a worker reaches is cached, keyed by path), so the usual case,
extending a state that worker produced, costs no replay. The driver sends a job to the worker that
produced its state unless that worker is busier than another.

    with RayRolloutExecutor(BackendEnvironmentFactory("coq", step_timeout=10), workers=4) as executor:
        root = executor.start(theorem)
        result = mcts_search(env, policy, root, budget=budget, executor=executor)
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import ray
from ray.exceptions import RayActorError, RayTaskError

from search.executor import Job
from search.types import Environment, Failed, Outcome, Progress, State, Theorem

from prover.backends import get_backend
from prover.config import PROVER_DEFAULTS
from prover.errors import ProverCrashed, ProverError
from prover.distributed.cluster import connect

__all__ = ["BackendEnvironmentFactory", "RolloutWorker", "RayRolloutExecutor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendEnvironmentFactory:
    """Opens an environment of `backend` ("coq"/"lean") in a worker; picklable.

    coq_args: the file's Coq load paths and options (absolute paths), so workers see its project.
    """

    backend: str
    step_timeout: float = PROVER_DEFAULTS.step_timeout
    coq_args: tuple[str, ...] = ()

    def __call__(self) -> Environment:
        backend = get_backend(self.backend)
        if self.coq_args:
            backend.coq_args = self.coq_args  # type: ignore[attr-defined]
        return backend.open_environment(step_timeout=self.step_timeout)


def _portable(state: State) -> State:
    """The state without its worker-local handle (meaningless in another process)."""
    return State(goals=state.goals, path=state.path)


def _portable_outcome(outcome: Outcome) -> Outcome:
    if isinstance(outcome, Progress):
        return Progress(_portable(outcome.state))
    return outcome


class RolloutWorker:
    """Steps states of one theorem, given as tactic paths, in its own environment (a Ray actor).

    cache_size: how many reached states are remembered (least recently used are dropped; the
    root never is).
    """

    def __init__(self, environment_factory: Callable[[], Environment], cache_size: int = 4096) -> None:
        self.environment_factory = environment_factory
        self.cache_size = cache_size
        self._env: Environment | None = None
        self._cache: OrderedDict[tuple[str, ...], State] = OrderedDict()
        self._root: State | None = None
        self.replayed_steps = 0
        self.steps = 0

    def start(self, theorem: Theorem) -> State:
        """Forget the previous theorem's states and start `theorem`; returns its root."""
        if self._env is None:
            self._env = self.environment_factory()
        self._cache.clear()
        self._root = self._env.start(theorem)
        self.replayed_steps = self.steps = 0
        return _portable(self._root)

    def step(self, path: tuple[str, ...], tactic: str) -> Outcome:
        """Apply `tactic` to the state reached by `path` (rebuilt from cached prefixes if needed)."""
        if self._env is None or self._root is None:
            raise RuntimeError("RolloutWorker.step before start")
        state = self._reach(tuple(path))
        outcome = self._env.step(state, tactic)
        self.steps += 1
        if isinstance(outcome, Progress):
            self._remember(outcome.state)
        return _portable_outcome(outcome)

    def stats(self) -> dict[str, int]:
        """Steps asked for, steps replayed to rebuild states, states cached."""
        return {"steps": self.steps, "replayed_steps": self.replayed_steps, "cached": len(self._cache)}

    def close(self) -> None:
        """Stop this worker's proof-assistant process."""
        if self._env is not None:
            env, self._env = self._env, None
            close = getattr(env, "close", None)
            if close is not None:
                close()

    def _remember(self, state: State) -> None:
        self._cache[state.path] = state
        self._cache.move_to_end(state.path)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _reach(self, path: tuple[str, ...]) -> State:
        assert self._env is not None and self._root is not None
        known = len(path)
        while known > 0 and path[:known] not in self._cache:
            known -= 1
        state = self._cache[path[:known]] if known else self._root
        if known:
            self._cache.move_to_end(path[:known])
        for tactic in path[known:]:
            outcome = self._env.step(state, tactic)
            self.replayed_steps += 1
            if not isinstance(outcome, Progress):
                # Replaying a path that once made progress must make it again; anything else means
                # the proof assistant is not deterministic here, which the search cannot work with.
                detail = outcome.message if isinstance(outcome, Failed) else "the goals closed early"
                raise ProverError(f"replaying {tactic!r} did not rebuild the state: {detail}")
            state = outcome.state
            self._remember(state)
        return state


class RayRolloutExecutor:
    """An `Executor` (see `search.executor`) running steps on `workers` Ray actors, one CPU each.

    Call `start(theorem)` before each search; `close()` (or `with`) ends the workers and a Ray
    this object started. A worker's infrastructure failure raises from `collect` (a dead worker as
    `ProverCrashed`), as `Environment.step` would.
    """

    def __init__(
        self,
        environment_factory: Callable[[], Environment],
        *,
        workers: int,
        address: str | None = None,
        cache_size: int = 4096,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._started_ray = connect(address=address, num_cpus=workers)
        remote_worker = ray.remote(num_cpus=1)(RolloutWorker)
        self._workers = [remote_worker.remote(environment_factory, cache_size) for _ in range(workers)]
        self._load = [0] * workers
        self._owner: dict[tuple[str, ...], int] = {}  # path -> worker that reached it
        self._pending: dict[Any, tuple[Job, int]] = {}

    def __enter__(self) -> "RayRolloutExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, theorem: Theorem) -> State:
        """Start `theorem` on every worker (dropping the previous theorem's states); returns the root."""
        self.cancel()
        roots = self._get([worker.start.remote(theorem) for worker in self._workers])
        self._owner = {(): 0}
        return roots[0]

    def submit(self, job: Job) -> None:
        """Send `job` to the worker that reached its state, or to the least busy one if that is busier."""
        least = min(range(len(self._workers)), key=self._load.__getitem__)
        owner = self._owner.get(job.state.path, least)
        chosen = owner if self._load[owner] <= self._load[least] else least
        ref = self._workers[chosen].step.remote(job.state.path, job.tactic)
        self._pending[ref] = (job, chosen)
        self._load[chosen] += 1

    def collect(self) -> tuple[Job, Outcome]:
        """Block until one submitted step has finished; return it with its outcome."""
        if not self._pending:
            raise RuntimeError("collect() called with no job submitted")
        done, _ = ray.wait(list(self._pending), num_returns=1)
        job, worker = self._pending.pop(done[0])
        self._load[worker] -= 1
        (outcome,) = self._get(done)
        if isinstance(outcome, Progress):
            self._owner[outcome.state.path] = worker
        return job, outcome

    def cancel(self) -> None:
        """Forget the steps in flight (their workers finish them; the results are dropped)."""
        self._pending.clear()
        self._load = [0] * len(self._workers)

    def stats(self) -> list[dict[str, int]]:
        """Each worker's step, replay and cache counts."""
        return self._get([worker.stats.remote() for worker in self._workers])

    def close(self) -> None:
        """Stop the workers' proof assistants, kill the actors, and shut down a Ray this object started."""
        workers, self._workers = self._workers, []
        try:
            if workers:
                ray.wait([worker.close.remote() for worker in workers], num_returns=len(workers), timeout=10)
        finally:
            for worker in workers:
                ray.kill(worker, no_restart=True)
            if self._started_ray:
                self._started_ray = False
                ray.shutdown()

    @staticmethod
    def _get(refs: list[Any]) -> list[Any]:
        try:
            return ray.get(refs)
        except RayTaskError as failed:
            cause = getattr(failed, "cause", None)
            if isinstance(cause, ProverError):
                raise cause from None
            raise
        except RayActorError as died:
            raise ProverCrashed(f"a rollout worker died: {str(died).strip().splitlines()[0]}") from None
