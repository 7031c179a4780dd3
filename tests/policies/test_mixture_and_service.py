"""Mixtures merge priors and remove duplicates deterministically; the inference service batches concurrent callers."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from policy_test_fakes import ScriptedPolicy

from prover.policies.mixture import MixturePolicy
from prover.policies.service import InferenceService, ServicePolicy
from search.types import State

STATE = State(goals=("⊢ P",))


def test_mixture_merges_priors_as_a_weighted_mixture_of_renormalised_probabilities() -> None:
    portfolio = ScriptedPolicy([("lia", 0.5), ("auto", 0.5)], source="portfolio")
    model = ScriptedPolicy([("auto", 0.001), ("ring", 0.003)], source="model")  # tiny raw sequence probabilities
    merged = MixturePolicy([portfolio, model], [0.25, 0.75]).propose(STATE, 10)
    probabilities = {c.tactic: math.exp(c.log_prob) for c in merged}
    # model renormalised: auto 0.25, ring 0.75
    assert probabilities == pytest.approx({"ring": 0.75 * 0.75, "auto": 0.25 * 0.5 + 0.75 * 0.25, "lia": 0.25 * 0.5})
    assert [c.tactic for c in merged] == ["ring", "auto", "lia"]
    assert sum(probabilities.values()) == pytest.approx(1.0)


def test_mixture_removes_duplicates_up_to_whitespace_and_keeps_the_best_source() -> None:
    first = ScriptedPolicy([("rewrite  H.", 0.9), ("lia.", 0.1)], source="a")
    second = ScriptedPolicy([("rewrite H.", 1.0)], source="b")
    merged = MixturePolicy([first, second]).propose(STATE, 10)
    assert [c.tactic for c in merged] == ["rewrite  H.", "lia."]
    assert merged[0].source == "b"  # b gave it the larger share (0.5 * 1.0 > 0.5 * 0.9)


def test_mixture_order_is_deterministic_on_ties_component_then_rank() -> None:
    first = ScriptedPolicy([("x", 0.5), ("y", 0.5)])
    second = ScriptedPolicy([("z", 0.5), ("w", 0.5)])
    mixture = MixturePolicy([first, second])
    assert [c.tactic for c in mixture.propose(STATE, 4)] == ["x", "y", "z", "w"]
    assert [c.tactic for c in mixture.propose(STATE, 2)] == ["x", "y"]


def test_mixture_batches_each_component_once_per_call() -> None:
    first, second = ScriptedPolicy([("a", 1.0)]), ScriptedPolicy([("b", 1.0)])
    rows = MixturePolicy([first, second]).propose_batch([STATE, STATE, STATE], 2)
    assert len(rows) == 3 and first.batch_sizes == [3] and second.batch_sizes == [3]


def test_mixture_rejects_bad_weights() -> None:
    with pytest.raises(ValueError):
        MixturePolicy([ScriptedPolicy([])], [0.0])
    with pytest.raises(ValueError):
        MixturePolicy([ScriptedPolicy([]), ScriptedPolicy([])], [1.0])


def test_service_batches_concurrent_requests_into_fewer_larger_calls() -> None:
    policy = ScriptedPolicy([("a", 0.6), ("b", 0.4)])
    callers = 16
    barrier = threading.Barrier(callers)
    with InferenceService(policy, max_batch=64, max_wait=0.2) as service:
        client = ServicePolicy(service)

        def call(index: int) -> list:
            barrier.wait()
            return client.propose(State(goals=(f"⊢ goal{index}",)), 2)

        with ThreadPoolExecutor(callers) as pool:
            answers = list(pool.map(call, range(callers)))
    assert all([c.tactic for c in answer] == ["a", "b"] for answer in answers)
    assert sum(policy.batch_sizes) == callers
    assert len(policy.batch_sizes) < callers and max(policy.batch_sizes) > 1
    assert service.stats.requests == callers


def test_service_returns_each_caller_its_own_states_answers() -> None:
    class EchoPolicy(ScriptedPolicy):
        def propose_batch(self, states, n):  # type: ignore[override]
            super().propose_batch(states, n)
            from search.types import Candidate

            return [[Candidate(state.goals[0], -1.0)] for state in states]

    with InferenceService(EchoPolicy([]), max_wait=0.05) as service:
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(service.propose_batch, [State(goals=(f"g{i}",)), State(goals=(f"h{i}",))], 1) for i in range(4)]
            results = [future.result() for future in futures]
    for index, rows in enumerate(results):
        assert [row[0].tactic for row in rows] == [f"g{index}", f"h{index}"]


def test_service_groups_requests_by_n() -> None:
    policy = ScriptedPolicy([("a", 0.5), ("b", 0.3), ("c", 0.2)])
    with InferenceService(policy, max_wait=0.2) as service:
        small = service.submit([STATE], 1)
        large = service.submit([STATE], 3)
        assert len(small.result()[0]) == 1 and len(large.result()[0]) == 3


def test_service_delivers_policy_errors_to_callers() -> None:
    class Broken(ScriptedPolicy):
        def propose_batch(self, states, n):  # type: ignore[override]
            raise RuntimeError("model fell over")

    with InferenceService(Broken([])) as service, pytest.raises(RuntimeError, match="fell over"):
        service.propose_batch([STATE], 1)


def test_closed_service_refuses_new_requests() -> None:
    service = InferenceService(ScriptedPolicy([("a", 1.0)]))
    service.close()
    with pytest.raises(RuntimeError, match="closed"):
        service.submit([STATE], 1)


def test_service_over_a_tiny_model_batches_and_matches_direct_calls(tiny_seq2seq: Path) -> None:
    from prover.policies.generation import ModelPolicy
    from prover.policies.hf import HFGenerator
    from prover.policies.prompts import get_template

    generator = HFGenerator(str(tiny_seq2seq), decoding="beam", max_new_tokens=4)
    sizes: list[int] = []
    original = generator.generate

    def recording_generate(prompts, n):
        sizes.append(len(prompts))
        return original(prompts, n)

    generator.generate = recording_generate  # type: ignore[method-assign]
    policy = ModelPolicy(generator, get_template("reprover"))
    states = [State(goals=(f"⊢ {index} = {index}",)) for index in range(8)]
    direct = [policy.propose(state, 2) for state in states]
    sizes.clear()
    barrier = threading.Barrier(len(states))
    with InferenceService(policy, max_wait=0.2) as service:
        client = ServicePolicy(service)

        def call(state: State) -> list:
            barrier.wait()
            return client.propose(state, 2)

        with ThreadPoolExecutor(len(states)) as pool:
            served = list(pool.map(call, states))
    assert [[c.tactic for c in row] for row in served] == [[c.tactic for c in row] for row in direct]
    assert sum(sizes) == len(states) and len(sizes) < len(states)


def test_whole_proof_clients_sharing_a_generator_service_keep_their_own_theorems() -> None:
    from prover.policies.generation import Generation, TheoremSlot
    from prover.policies.prompts import get_template
    from prover.policies.service import GeneratorBatcher, ServedGenerator
    from prover.policies.whole_proof import WholeProofPolicy
    from search.types import Theorem

    class Recording:
        name = "recording"

        def __init__(self) -> None:
            self.batches: list[list] = []

        def generate(self, prompts, n):
            self.batches.append(list(prompts))
            return [[Generation("```lean4\ntheorem t : P := by\n  simp\n```", -1.0)] for _ in prompts]

    model = Recording()
    names = [f"thm{index}" for index in range(6)]
    barrier = threading.Barrier(len(names))
    with InferenceService(GeneratorBatcher(model), max_wait=0.2) as service:

        def search(name: str) -> list:
            slot = TheoremSlot()
            slot.set(Theorem(name=name, statement=f"theorem {name} : P :="))
            policy = WholeProofPolicy(ServedGenerator(service), get_template("deepseek-prover-v2"), theorem_slot=slot)
            barrier.wait()
            return policy.propose(State(goals=("⊢ P",)), 1)

        with ThreadPoolExecutor(len(names)) as pool:
            answers = list(pool.map(search, names))
    assert all([c.tactic for c in answer] == ["simp"] for answer in answers)
    prompts = [messages[0]["content"] for batch in model.batches for messages in batch]
    assert sorted(name for name in names for prompt in prompts if f"theorem {name} : P := by" in prompt) == sorted(names)
    assert len(model.batches) < len(names)
