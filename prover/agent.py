"""The prover: one environment, one policy, one search, and the kernel's verdict on what it finds.

`Prover.prove_theorem` is the unit of work the CLI, the evaluation runner and the Ray actors all
share: it never raises for a theorem that is merely unproved or invalid; it raises only when the
proof assistant cannot be (re)started at all.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Literal, Protocol

from search import ALGORITHMS, BestFirstSettings, Executor, MctsSettings, mcts_search
from search.tree import ProofGraph
from search.types import Budget, Environment, Policy, ProofVerifier, SearchResult, SearchStatus, State, Theorem, ValueFunction

from prover.backends.base import Backend
from prover.budget import deadline_scope
from prover.config import ProverConfig
from prover.errors import InputError, ProverCrashed, ProverError, ProverTimeout

__all__ = ["TheoremResult", "Prover", "ConfiguredSearch", "configured_search"]

log = logging.getLogger(__name__)

Status = Literal["proved", "found", "unproved", "invalid", "error", "unsupported", "skipped"]


@dataclass(frozen=True)
class TheoremResult:
    """The outcome for one theorem.

    status: "proved" (the kernel accepted the proof), "unproved" (search ended without one),
        "invalid" (the statement does not elaborate), "error" (the proof assistant or the model
        kept failing); for files also "unsupported" (an open proof the backend does not search) and
        "skipped" (--total-seconds ran out before it started); "found" (the steps closed every
        goal but the kernel has not checked the proof yet: asked for with `kernel_check=False`,
        a file's proofs are checked together at the end; never a final status).
    proof: the rendered proof text that completes the theorem, when proved.
    tactics: the tactic steps of that proof.
    kernel_checked: True only when the from-scratch kernel check accepted the proof.
    seconds: wall-clock seconds for the whole theorem (elaborating the statement, search, kernel checks).
    expansions: (state, tactic) steps tried.
    model_seconds / prover_seconds: time spent in the policy / in the proof assistant during search.
    header_seconds / search_seconds / verify_seconds: where `seconds` went: elaborating the file's
        header and the statement; the search (model calls, steps, replays), kernel checks
        excluded; the from-scratch kernel checks (of every proof found, rejected ones too).
    error: the one-line reason for "invalid"/"error", or why a found proof was rejected.
    search_graph: the search's `search.tree.ProofGraph` (for --save-tree and analysis); not
        part of equality or of `to_json`.
    """

    theorem: str
    status: Status
    proof: str | None = None
    tactics: tuple[str, ...] | None = None
    kernel_checked: bool = False
    seconds: float = 0.0
    expansions: int = 0
    model_seconds: float = 0.0
    prover_seconds: float = 0.0
    header_seconds: float = 0.0
    search_seconds: float = 0.0
    verify_seconds: float = 0.0
    error: str | None = None
    search_graph: ProofGraph | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples as lists; the search graph left out)."""
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "search_graph"}
        row["tactics"] = list(self.tactics) if self.tactics is not None else None
        return row


class Prover:
    """Proves theorems one at a time with a long-lived proof-assistant process.

    The environment is opened lazily and reopened after a crash or hang, so one broken theorem
    does not end a batch. The policy and value are built once from the config.
    """

    # How many times one theorem's search is restarted after the proof assistant died.
    max_restarts: int = 2

    def __init__(
        self,
        config: ProverConfig,
        backend: Backend,
        *,
        policy: Policy | None = None,
        value: ValueFunction | None = None,
    ) -> None:
        self.config = config
        self.backend = backend
        self.policy = policy if policy is not None else _build_policy(config, backend.name)
        self.value = value if value is not None else _build_value(config, self.policy)
        self._env: Environment | None = None
        self._rollouts: Any = None  # a RayRolloutExecutor when config.rollout_workers > 1

    def __enter__(self) -> "Prover":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the proof-assistant process(es), if any are running."""
        if self._rollouts is not None:
            rollouts, self._rollouts = self._rollouts, None
            rollouts.close()
        if self._env is not None:
            env, self._env = self._env, None
            close = getattr(env, "close", None)
            if close is not None:
                close()

    def _environment(self) -> Environment:
        if self._env is None:
            from prover.policies.retrieval import attach_premise_source
            from prover.policies.whole_proof import attach_whole_proof

            env = self.backend.open_environment(step_timeout=self.config.step_timeout)
            # Whole-proof candidates are stepped sentence by sentence and cut at their longest
            # verified prefix (truncate-and-resume); one-tactic candidates pass straight through.
            self._env = attach_whole_proof(env, self.policy, self.backend.split_proof)
            # Retrieval policies ask the environment for premises (`Search`, the file's lemmas).
            attach_premise_source(self.policy, env)
        return self._env

    def _rollout_executor(self) -> Any:
        """The Ray executor for parallel MCTS rollouts (built once), or None for in-process steps."""
        if self.config.rollout_workers <= 1:
            return None
        if self._rollouts is None:
            # Imported here: Ray is an optional extra and only prover/distributed imports it.
            from prover.distributed.rollouts import BackendEnvironmentFactory, RayRolloutExecutor

            factory = BackendEnvironmentFactory(
                self.backend.name,
                step_timeout=self.config.step_timeout,
                coq_args=tuple(getattr(self.backend, "coq_args", ())),
            )
            self._rollouts = RayRolloutExecutor(factory, workers=self.config.rollout_workers)
        return self._rollouts

    def prove_theorem(
        self, theorem: Theorem, *, on_step: Callable[[int], None] | None = None, kernel_check: bool = True
    ) -> TheoremResult:
        """Search for a proof of `theorem` within the configured budget, each proof found checked by the kernel.

        The budget is one wall-clock deadline for the search (model calls, steps, replays, kernel
        checks of rejected proofs), counted across restarts of a failed proof assistant; the
        statement's elaboration comes before it and the final kernel check may end a little after.
        """
        clock = _TheoremClock(started=time.monotonic())
        last_failure = ""
        for attempt in range(self.max_restarts + 1):
            try:
                return self._prove_once(theorem, clock, on_step, kernel_check)
            except InputError as invalid:
                return clock.result(theorem, "invalid", error=str(invalid))
            except (ProverCrashed, ProverTimeout) as failure:
                # The process is gone or wedged: drop it; the next attempt starts a fresh one.
                last_failure = str(failure)
                self._discard_environment()
                if clock.budget_left(self.config.budget_seconds) <= 0:
                    return clock.result(theorem, "unproved", error=f"the proof assistant failed at the end of the budget: {failure}")
                log.warning("%s: prover failed (%s); restart %d", theorem.name, failure, attempt + 1)
        return clock.result(
            theorem, "error", error=f"proof assistant failed {self.max_restarts + 1} times: {last_failure}"
        )

    def _discard_environment(self) -> None:
        try:
            self.close()
        except ProverError as failure:  # closing a dead process may itself fail; it is gone either way
            log.debug("closing a failed environment: %s", failure)
        self._env = None

    def _prove_once(
        self,
        theorem: Theorem,
        clock: "_TheoremClock",
        on_step: Callable[[int], None] | None,
        kernel_check: bool = True,
    ) -> TheoremResult:
        env = self._environment()
        # Elaborating the header and statement is not search: the budget starts after it, so a
        # long file header does not eat the time a theorem gets.
        header_started = time.monotonic()
        root = env.start(theorem)
        clock.header += time.monotonic() - header_started
        observe = getattr(self.policy, "observe_theorem", None)
        if observe is not None:  # policies that read the theorem's file (the portfolio's generators)
            observe(theorem)
        remaining = clock.budget_left(self.config.budget_seconds)
        budget = Budget(max_expansions=self.config.max_expansions, max_seconds=remaining)
        rollouts = self._rollout_executor()
        if rollouts is not None:
            rollouts.start(theorem)  # each worker elaborates the statement in its own process
        run_search = configured_search(self.config, executor=rollouts)
        search_started = time.monotonic()
        try:
            with deadline_scope(remaining):
                result = run_search(
                    env,
                    self.policy,
                    root,
                    budget=budget,
                    value=self.value,
                    seed=self.config.seed,
                    on_step=on_step,
                    # Deferred (kernel_check=False): no coqc per proof found here; the file's
                    # proofs are checked together (prover/files.py), and a theorem whose found
                    # proof they refuse is searched again with this in-search check.
                    verify=(lambda proof: env.verify(theorem, proof)) if kernel_check else None,
                )
        finally:
            clock.searched += time.monotonic() - search_started
        clock.verified += result.verify_seconds
        return self._result(theorem, env, clock, result, kernel_check)

    def _result(
        self, theorem: Theorem, env: Environment, clock: "_TheoremClock", result: SearchResult, kernel_check: bool
    ) -> TheoremResult:
        """The theorem's outcome from its search's: "proved" only with the kernel's acceptance."""
        common = dict(
            expansions=result.expansions,
            model_seconds=result.policy_seconds,
            prover_seconds=result.env_seconds,
            search_graph=result.graph,
        )
        if result.status is not SearchStatus.PROVED or result.proof is None:
            # A search that tried every candidate of every reachable state says so: more time
            # would not have helped, a wider policy (or a different one) might.
            if result.rejected:
                error = f"kernel rejected the proof found ({result.rejected} in all): {result.last_rejection}"
            elif result.status is SearchStatus.EXHAUSTED:
                error = f"search space exhausted at {result.seconds:.1f} s"
            else:
                error = None
            return clock.result(theorem, "unproved", error=error, **common)
        if not kernel_check:
            # The caller has the kernel check the proof, with the whole file it is written into.
            return clock.result(
                theorem,
                "found",
                proof=self.backend.render_proof(result.proof),
                tactics=tuple(result.proof),
                **common,
            )
        verdict = result.verdict
        if verdict is None:  # a search that did not check its proof (a resumed graph already proved)
            check_started = time.monotonic()
            verdict = env.verify(theorem, result.proof)
            clock.verified += time.monotonic() - check_started
        if not verdict.accepted:
            # The step-level checks said "proved" but the kernel did not: never report it as proved.
            log.warning("%s: kernel rejected a found proof: %s", theorem.name, verdict.reason)
            return clock.result(
                theorem, "unproved", error=f"kernel rejected the proof found: {verdict.reason}", **common
            )
        return clock.result(
            theorem,
            "proved",
            proof=self.backend.render_proof(result.proof),
            tactics=tuple(result.proof),
            kernel_checked=True,
            **common,
        )


@dataclass
class _TheoremClock:
    """One theorem's time accounts, kept across restarts: wall start, header and statement
    elaboration, search seconds (kernel checks included, as the budget counts them) and
    kernel-check seconds."""

    started: float
    header: float = 0.0
    searched: float = 0.0
    verified: float = 0.0

    def budget_left(self, budget_seconds: float) -> float:
        """Search seconds the budget still allows (at least 0)."""
        return max(budget_seconds - self.searched, 0.0)

    def result(self, theorem: Theorem, status: Status, **fields: Any) -> TheoremResult:
        """A `TheoremResult` with this clock's honest times."""
        return TheoremResult(
            theorem=theorem.name,
            status=status,
            seconds=time.monotonic() - self.started,
            header_seconds=round(self.header, 3),
            search_seconds=round(max(self.searched - self.verified, 0.0), 3),
            verify_seconds=round(self.verified, 3),
            **fields,
        )


class ConfiguredSearch(Protocol):
    """A search with its settings (and executor) bound: what `configured_search` returns."""

    def __call__(
        self,
        env: Environment,
        policy: Policy,
        root: State,
        *,
        budget: Budget,
        value: ValueFunction | None = None,
        seed: int = 0,
        on_step: Callable[[int], None] | None = None,
        verify: ProofVerifier | None = None,
    ) -> SearchResult: ...


def configured_search(config: ProverConfig, *, executor: Executor | None = None) -> ConfiguredSearch:
    """The config's search with its settings bound: the search's own defaults (`search.SETTINGS`)
    with the config's candidates; MCTS also gets `executor` (Ray rollout workers; None steps in
    this process) and one expansion in flight per rollout worker."""
    if config.search in ("best_first", "best_first_edges"):  # the edges search sets its own expansion
        best_first = BestFirstSettings()
        if config.candidates is not None:
            best_first = dataclasses.replace(best_first, candidates_per_state=config.candidates)
        return functools.partial(ALGORITHMS[config.search], settings=best_first)
    mcts = MctsSettings()
    if config.rollout_workers > 1:  # one expansion in flight per worker keeps every worker busy
        mcts = dataclasses.replace(mcts, expansions_in_flight=max(mcts.expansions_in_flight, config.rollout_workers))
    if config.candidates is not None:
        mcts = dataclasses.replace(
            mcts, initial_candidates=config.candidates, max_candidates=max(config.candidates, mcts.max_candidates)
        )
    return functools.partial(mcts_search, settings=mcts, executor=executor)


def _build_policy(config: ProverConfig, backend_name: str) -> Policy:
    from prover.policies import build_policy

    return build_policy(config.policy, backend=backend_name, seed=config.seed)


def _build_value(config: ProverConfig, policy: Policy) -> ValueFunction:
    from prover.policies import build_value

    return build_value(config.value, policy=policy)
