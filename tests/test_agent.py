"""The Prover facade: a "proved" status only with the kernel's acceptance; restarts; invalid statements."""

from __future__ import annotations

import time
from typing import Mapping, Sequence

import pytest

from prover.agent import Prover
from prover.backends.base import ParsedFile
from prover.config import ProverConfig
from prover.errors import InputError, ProverCrashed
from search.types import Candidate, Failed, Outcome, Progress, Proved, State, Theorem, Verdict

THEOREM = Theorem(name="two_steps", statement="Theorem two_steps : P.")


class TwoStepEnvironment:
    """`a` then `b` proves the theorem; anything else fails. Can be told to crash or to reject."""

    def __init__(self, *, accept: bool = True, crashes: int = 0, invalid: bool = False) -> None:
        self.accept, self.crashes_left, self.invalid = accept, crashes, invalid
        self.closed = False
        self.verified: list[tuple[str, ...]] = []

    def start(self, theorem: Theorem) -> State:
        if self.invalid:
            raise InputError("The reference P was not found in the current environment.")
        return State(goals=("P",))

    def step(self, state: State, tactic: str) -> Outcome:
        if self.crashes_left:
            self.crashes_left -= 1
            raise ProverCrashed("coqidetop exited with signal 9")
        if state.path == () and tactic == "a":
            return Progress(State(goals=("Q",), path=("a",)))
        if state.path == ("a",) and tactic == "b":
            return Proved(path=("a", "b"))
        return Failed(f"{tactic}: no")

    def verify(self, theorem: Theorem, proof: Sequence[str]) -> Verdict:
        self.verified.append(tuple(proof))
        return Verdict(accepted=self.accept, reason="" if self.accept else "uses axiom cheat")

    def close(self) -> None:
        self.closed = True


class ABPolicy:
    """Always proposes `a` then `b`."""

    def propose(self, state: State, n: int) -> list[Candidate]:
        return [Candidate("a", -0.1), Candidate("b", -0.2)][:n]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        return [self.propose(state, n) for state in states]


class FakeBackend:
    """A backend whose environments are handed out from a list, to script crashes across restarts."""

    name = "fake"
    extensions = (".fake",)

    def __init__(self, environments: list[TwoStepEnvironment]) -> None:
        self.environments = environments
        self.opened: list[TwoStepEnvironment] = []

    def check_toolchain(self) -> None:
        return None

    def parse_file(self, path: str, text: str) -> ParsedFile:
        raise NotImplementedError

    def open_environment(self, *, step_timeout: float) -> TwoStepEnvironment:
        env = self.environments.pop(0)
        self.opened.append(env)
        return env

    def split_proof(self, script: str) -> list[str]:
        return script.split(";")

    def render_proof(self, proof: Sequence[str]) -> str:
        return " ".join(proof)

    def complete_file(self, parsed: ParsedFile, proofs: Mapping[str, Sequence[str]]) -> str:
        raise NotImplementedError


def make_prover(*environments: TwoStepEnvironment, search: str = "best_first") -> Prover:
    config = ProverConfig(search=search, budget_seconds=30)
    return Prover(config, FakeBackend(list(environments)), policy=ABPolicy())


@pytest.mark.parametrize("search", ["best_first", "best_first_edges", "mcts"])
def test_found_proof_is_proved_only_after_kernel_acceptance(search: str) -> None:
    env = TwoStepEnvironment()
    with make_prover(env, search=search) as prover:
        result = prover.prove_theorem(THEOREM)
    assert result.status == "proved" and result.kernel_checked
    assert result.tactics == ("a", "b") and result.proof == "a b"
    assert env.verified == [("a", "b")]
    assert env.closed, "the environment is closed with the prover"


def test_kernel_rejection_is_never_reported_as_proved() -> None:
    with make_prover(TwoStepEnvironment(accept=False)) as prover:
        result = prover.prove_theorem(THEOREM)
    assert result.status == "unproved" and not result.kernel_checked
    assert result.proof is None
    assert "uses axiom cheat" in (result.error or "")


def test_crashed_prover_is_restarted_and_the_search_goes_on() -> None:
    crashing, healthy = TwoStepEnvironment(crashes=1), TwoStepEnvironment()
    prover = make_prover(crashing, healthy)
    result = prover.prove_theorem(THEOREM)
    prover.close()
    assert result.status == "proved"
    assert prover.backend.opened == [crashing, healthy]
    assert crashing.closed


def test_prover_that_keeps_crashing_ends_in_error_not_exception() -> None:
    environments = [TwoStepEnvironment(crashes=5) for _ in range(Prover.max_restarts + 1)]
    with make_prover(*environments) as prover:
        result = prover.prove_theorem(THEOREM)
    assert result.status == "error"
    assert "signal 9" in (result.error or "")


def test_statement_that_does_not_elaborate_is_invalid() -> None:
    with make_prover(TwoStepEnvironment(invalid=True)) as prover:
        result = prover.prove_theorem(THEOREM)
    assert result.status == "invalid"
    assert "was not found" in (result.error or "")


def test_result_json_has_the_documented_fields() -> None:
    with make_prover(TwoStepEnvironment()) as prover:
        row = prover.prove_theorem(THEOREM).to_json()
    assert set(row) >= {"theorem", "status", "proof", "kernel_checked", "seconds", "expansions"}
    assert row["tactics"] == ["a", "b"]


class SlowStartEnvironment(TwoStepEnvironment):
    """Elaborating the header takes longer than the whole search budget."""

    def start(self, theorem: Theorem) -> State:
        time.sleep(0.3)
        return super().start(theorem)


def test_elaborating_the_header_does_not_eat_the_search_budget() -> None:
    config = ProverConfig(search="best_first", budget_seconds=0.2)
    with Prover(config, FakeBackend([SlowStartEnvironment()]), policy=ABPolicy()) as prover:
        result = prover.prove_theorem(THEOREM)
    assert result.status == "proved" and result.expansions >= 2
    assert result.seconds >= 0.3, "the reported time still includes elaboration"


class OnlyBPolicy(ABPolicy):
    """Proposes only `b`, which fails at the root: the search space is exhausted at once."""

    def propose(self, state: State, n: int) -> list[Candidate]:
        return [Candidate("b", -0.1)][:n]


class ObservingPolicy(ABPolicy):
    """Records the theorems the prover shows it (the portfolio's generators read the file's header)."""

    def __init__(self) -> None:
        self.observed: list[str] = []

    def observe_theorem(self, theorem: Theorem) -> None:
        self.observed.append(theorem.name)


@pytest.mark.parametrize("search", ["best_first", "mcts"])
def test_an_exhausted_search_space_is_reported_with_its_time(search: str) -> None:
    config = ProverConfig(search=search, budget_seconds=30)
    with Prover(config, FakeBackend([TwoStepEnvironment()]), policy=OnlyBPolicy()) as prover:
        result = prover.prove_theorem(THEOREM)
    assert result.status == "unproved"
    assert (result.error or "").startswith("search space exhausted at ") and result.error.endswith(" s")


def test_the_policy_observes_each_theorem_before_its_search() -> None:
    policy = ObservingPolicy()
    with Prover(ProverConfig(budget_seconds=30), FakeBackend([TwoStepEnvironment()]), policy=policy) as prover:
        assert prover.prove_theorem(THEOREM).status == "proved"
    assert policy.observed == ["two_steps"]


class SlowCheckEnvironment(SlowStartEnvironment):
    """Elaborating the header takes 0.3 s and the kernel check 0.2 s."""

    def verify(self, theorem: Theorem, proof):  # type: ignore[no-untyped-def]
        time.sleep(0.2)
        return super().verify(theorem, proof)


def test_the_time_of_a_problem_is_split_into_header_search_and_verification() -> None:
    with Prover(ProverConfig(search="best_first", budget_seconds=5), FakeBackend([SlowCheckEnvironment()]),
                policy=ABPolicy()) as prover:
        result = prover.prove_theorem(THEOREM)
    assert result.status == "proved"
    assert result.header_seconds >= 0.3 and result.verify_seconds >= 0.2
    assert result.search_seconds < 0.2  # two instant steps
    assert result.header_seconds + result.search_seconds + result.verify_seconds <= result.seconds + 1e-3
    row = result.to_json()
    assert {"header_seconds", "search_seconds", "verify_seconds"} <= set(row)


class CountingPolicy(ABPolicy):
    """ABPolicy that records how many candidates each call asked for."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def propose(self, state: State, n: int) -> list[Candidate]:
        self.asked.append(n)
        return super().propose(state, n)

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        self.asked.append(n)
        return [super(CountingPolicy, self).propose(state, n) for state in states]


@pytest.mark.parametrize("search", ["best_first", "mcts"])
def test_config_candidates_reach_the_policy_of_either_search(search: str) -> None:
    from search import BestFirstSettings, MctsSettings

    default = BestFirstSettings().candidates_per_state if search == "best_first" else MctsSettings().initial_candidates
    for candidates, expected in ((3, 3), (None, default)):
        policy = CountingPolicy()
        config = ProverConfig(search=search, budget_seconds=30, candidates=candidates)
        with Prover(config, FakeBackend([TwoStepEnvironment()]), policy=policy) as prover:
            assert prover.prove_theorem(THEOREM).status == "proved"
        assert policy.asked and policy.asked[0] == expected
