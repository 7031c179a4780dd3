"""One shared inference service per GPU: requests from many concurrent searches become few large batches.

`InferenceService` owns a batched model and one worker thread. Callers, from any thread,
`submit(items, n)` and get a future; the worker collects requests until `max_batch` items are
waiting or `max_wait` seconds have passed since the first, then makes one `propose_batch(items, n)`
call per distinct `n` and completes the futures. Two ways to use it:

- states in, candidates out: `InferenceService(policy)` with clients `ServicePolicy(service)`;
- prompts in, generations out: `InferenceService(GeneratorBatcher(generator))` with clients
  `ModelPolicy(ServedGenerator(service), template)`. Prompts are then rendered by each client, so
  per-search context (a whole-proof policy's current theorem) stays with its search.

The service is a plain in-process class. `prover.distributed.inference` hosts it in a Ray actor
(`prove eval --shared-inference`): provers build their policies inside `serving({model:
generator})`, and the factory then uses that remote generator for `hf:MODEL` instead of loading
the model again in every worker.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Protocol, Sequence

from search.types import Candidate, State

from prover.policies.generation import Generation, Prompt, TextGenerator

__all__ = [
    "InferenceService",
    "ServicePolicy",
    "GeneratorBatcher",
    "ServedGenerator",
    "BatchingStats",
    "serving",
    "served_generator",
]

_SERVED: ContextVar[Mapping[str, TextGenerator]] = ContextVar("neuroprove_served_models", default={})


@contextmanager
def serving(generators: Mapping[str, TextGenerator]) -> Iterator[None]:
    """Within the block, a policy spec's `hf:MODEL` uses `generators[MODEL]` (a shared model) instead of loading it."""
    token = _SERVED.set({**_SERVED.get(), **generators})
    try:
        yield
    finally:
        _SERVED.reset(token)


def served_generator(model: str) -> TextGenerator | None:
    """The shared generator serving `model` in this context (see `serving`), or None: load it here."""
    return _SERVED.get().get(model)


@dataclass
class _Request:
    states: tuple[Any, ...]  # states, or prompts when the service wraps a generator
    n: int
    future: Future = field(default_factory=Future)


@dataclass
class BatchingStats:
    """What the service did: how many requests it received and the sizes (in states) of the batches it ran."""

    requests: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class InferenceService:
    """Batches `propose_batch` requests from many threads into few calls on one policy.

    policy: anything with `propose_batch(items, n)` returning one answer per item (a model-backed
        policy, or a `GeneratorBatcher`); only the worker thread calls it.
    max_batch: the most states in one call (a request larger than this runs alone).
    max_wait: seconds the worker waits for more requests after the first one arrives.
    Use as a context manager, or call `close()`; pending requests fail once closed.
    """

    def __init__(self, policy: "_ProposesBatch", *, max_batch: int = 64, max_wait: float = 0.005) -> None:
        self.policy = policy
        self.max_batch = max(1, max_batch)
        self.max_wait = max_wait
        self.stats = BatchingStats()
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._closed = threading.Event()
        self._worker = threading.Thread(target=self._run, name="inference-service", daemon=True)
        self._worker.start()

    def __enter__(self) -> "InferenceService":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, states: Sequence[Any], n: int) -> "Future[list[Any]]":
        """Queue a request; the future resolves to one answer (candidate list) per state (prompt)."""
        if self._closed.is_set():
            raise RuntimeError("the inference service is closed")
        request = _Request(tuple(states), n)
        self._queue.put(request)
        return request.future

    def propose_batch(self, states: Sequence[Any], n: int) -> list[Any]:
        """Blocking form of `submit`: answers for `states`, computed in a shared batch."""
        if not states:
            return []
        return self.submit(states, n).result()

    def close(self) -> None:
        """Stop the worker after the requests already queued."""
        if not self._closed.is_set():
            self._closed.set()
            self._queue.put(None)
            self._worker.join()

    def _collect(self, first: _Request) -> tuple[list[_Request], bool]:
        """`first` and the requests that arrive within `max_wait`, up to `max_batch` states."""
        batch = [first]
        size = len(first.states)
        deadline = time.monotonic() + self.max_wait
        while size < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                request = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if request is None:
                return batch, True
            if size + len(request.states) > self.max_batch:
                # Too big to join: run it first in the next round (order of arrival is kept).
                self._run_batch(batch)
                batch, size = [request], len(request.states)
                deadline = time.monotonic() + self.max_wait
                continue
            batch.append(request)
            size += len(request.states)
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch, stop = self._collect(first)
            self._run_batch(batch)
        # Anything left after close() is refused rather than left hanging.
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            if request is not None:
                request.future.set_exception(RuntimeError("the inference service is closed"))

    def _run_batch(self, batch: list[_Request]) -> None:
        by_n: dict[int, list[_Request]] = {}
        for request in batch:
            by_n.setdefault(request.n, []).append(request)
        for n, requests in by_n.items():
            states = [state for request in requests for state in request.states]
            self.stats.requests += len(requests)
            self.stats.batch_sizes.append(len(states))
            try:
                answers = self.policy.propose_batch(states, n)
            except Exception as error:  # delivered to every caller of this batch, not swallowed
                for request in requests:
                    request.future.set_exception(error)
                continue
            start = 0
            for request in requests:
                request.future.set_result(answers[start : start + len(request.states)])
                start += len(request.states)


class _ProposesBatch(Protocol):
    def propose_batch(self, states: Sequence[Any], n: int) -> list[Any]: ...


class ServicePolicy:
    """The client of an inference service: a `Policy` whose calls join the service's shared batches."""

    def __init__(self, service: _ProposesBatch) -> None:
        self.service = service

    def propose(self, state: State, n: int) -> list[Candidate]:
        """Up to `n` candidates for `state`, computed in a shared batch."""
        return self.service.propose_batch([state], n)[0]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        """Candidates for every state, computed in a shared batch."""
        return self.service.propose_batch(states, n)


class GeneratorBatcher:
    """A `TextGenerator` seen as the service's batched model: prompts in, generations out."""

    def __init__(self, generator: TextGenerator) -> None:
        self.generator = generator
        self.name = generator.name

    def propose_batch(self, prompts: Sequence[Prompt], n: int) -> list[list[Generation]]:
        """`generate` on all the prompts at once."""
        return self.generator.generate(prompts, n)


class ServedGenerator:
    """The client of a service over a `GeneratorBatcher`: a `TextGenerator` whose calls join shared batches."""

    def __init__(self, service: _ProposesBatch, name: str = "served") -> None:
        self.service = service
        self.name = name

    def generate(self, prompts: Sequence[Prompt], n: int) -> list[list[Generation]]:
        """Generations for every prompt, computed in a shared batch."""
        if not prompts:
            return []
        return self.service.propose_batch(list(prompts), n)
