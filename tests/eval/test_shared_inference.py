"""Shared inference: the provers' `hf:` model is loaded once, in an inference actor that batches their requests."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from eval_fakes import GeneratorLoggingFactory
from prover.config import ProverConfig
from prover.errors import InputError
from prover.policies import build_policy
from prover.policies.generation import Generation
from prover.policies.service import served_generator, serving
from search.types import State


class EchoGenerator:
    """A stand-in shared model: answers every prompt with `n` copies of one tactic."""

    name = "served-echo"
    is_encoder_decoder = False

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, prompts, n):  # type: ignore[no-untyped-def]
        self.calls.append(len(prompts))
        return [[Generation("lia.", -0.5)] * n for _ in prompts]


def test_a_served_model_replaces_loading_it_in_the_policy_factory(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-model")  # loading it would fail: only the served generator can answer
    served = EchoGenerator()
    with serving({missing: served}):
        assert served_generator(missing) is served
        policy = build_policy(f"0.5*portfolio?generators=none+0.5*hf:{missing}?template=bfs", backend="coq")
        candidates = policy.propose(State(goals=("n : nat\n⊢ n + 0 = n",)), 4)
    assert served_generator(missing) is None  # only within the block
    assert served.calls == [1] and "lia." in [c.tactic for c in candidates]


def test_hf_atoms_of_a_spec_expand_aliases_and_refuse_one_model_with_two_option_sets() -> None:
    from prover.distributed.inference import hf_atoms

    assert hf_atoms("portfolio+hf:/m?n=4") == {"/m": "hf:/m?n=4"}
    assert hf_atoms("reprover") == {"kaiyuy/leandojo-lean4-tacgen-byt5-small": "hf:kaiyuy/leandojo-lean4-tacgen-byt5-small"}
    assert list(hf_atoms("deepseek-prover")) == ["deepseek-ai/DeepSeek-Prover-V2-7B"]
    assert hf_atoms("portfolio+openai:http://h/v1?model=x") == {}
    with pytest.raises(InputError, match="appears twice"):
        hf_atoms("hf:/m?n=4+hf:/m?n=8")


def test_shared_inference_needs_ray_workers(tmp_path: Path) -> None:
    from eval_fakes import FakeProverFactory, fake_problem
    from prover.eval.runner import run_evaluation

    with pytest.raises(InputError, match="--workers 2"):
        run_evaluation([fake_problem("easy_1")], config=ProverConfig(), out_dir=tmp_path, dataset="fake", split="valid",
                       workers=1, shared_inference=True, prover_factory=FakeProverFactory(marker_dir=str(tmp_path)))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved 2-layer causal LM (checked before the module's Ray starts)."""
    if shutil.which("coqidetop.opt") is None or shutil.which("coqc") is None:
        pytest.skip("Coq is not installed: run scripts/install.sh")
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from prover.policies.tiny import save_tiny_causal

    return save_tiny_causal(tmp_path_factory.mktemp("shared") / "causal")


@pytest.mark.ray
@pytest.mark.coq
@pytest.mark.slow
def test_two_coq_provers_share_one_model_actor_on_ray(tiny_model: Path, tmp_path: Path, ray_session: None) -> None:
    from prover.eval.datasets import load_jsonl
    from prover.eval.runner import run_evaluation

    rows = tmp_path / "problems.jsonl"
    statements = {f"t{k}": f"Theorem t{k} : {k} + {k} = {2 * k}." for k in range(1, 5)}
    rows.write_text("".join(json.dumps({"name": n, "backend": "coq", "statement": s}) + "\n" for n, s in statements.items()))
    log = tmp_path / "built.log"
    spec = f"portfolio?generators=none+hf:{tiny_model}?template=bfs&decoding=sample&max_new_tokens=4"
    outcome = run_evaluation(
        load_jsonl(rows), config=ProverConfig(backend="coq", policy=spec, budget_seconds=60, step_timeout=10),
        out_dir=tmp_path / "run", dataset="tiny", split="valid", workers=2, shared_inference=True,
        prover_factory=GeneratorLoggingFactory(str(log)),
    )
    assert {row.problem: row.status for row in outcome.rows} == {name: "proved" for name in statements}
    built = [line.split() for line in log.read_text().splitlines()]
    # Every prover's model policy holds the shared actor's generator, not a model of its own.
    assert built and all(kinds == ["RemoteGenerator"] for _, *kinds in built)
    (stats,) = outcome.inference
    assert stats["model"] == f"hf:{tiny_model}"
    assert stats["requests"] >= len(statements)  # each search asked the model at least once
    assert sum(stats["batch_sizes"]) >= stats["requests"] and os.getpid() not in stats["clients"]
    assert set(stats["clients"]) == {int(pid) for pid, *_ in built}  # the provers that were built asked it


class SlowModel:
    """A stand-in inference actor whose answers take `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def generate(self, prompts, n, client):  # type: ignore[no-untyped-def]
        import time

        time.sleep(self.seconds)
        return [[Generation("lia.", -0.5)] * n for _ in prompts]


@pytest.mark.ray
def test_a_remote_model_call_ends_at_the_deadline_and_a_dead_actor_is_model_unavailable(ray_session: None) -> None:
    import time

    import ray

    from prover import budget
    from prover.distributed.inference import RemoteGenerator
    from prover.errors import ModelUnavailable

    actor = ray.remote(num_cpus=0, max_concurrency=2)(SlowModel).options(name="slow-model").remote(30.0)
    generator = RemoteGenerator(["slow-model"], "hf:slow", False)
    with budget.deadline_scope(0.5):
        started = time.monotonic()
        assert generator.generate(["⊢ P"], 2) == [[]]  # no samples: the search ends on its budget
        assert time.monotonic() - started < 0.5 + budget.DEADLINE_GRACE_SECONDS + 1.0
    ray.kill(actor, no_restart=True)
    with pytest.raises(ModelUnavailable, match="shared inference actor for hf:slow is gone"):
        generator.generate(["⊢ P"], 2)


@pytest.mark.ray
@pytest.mark.slow
def test_concurrent_requests_to_the_inference_actor_run_as_shared_batches(tiny_model: Path, ray_session: None) -> None:
    import ray

    from prover.distributed.inference import start_inference

    config = ProverConfig(backend="coq", policy=f"hf:{tiny_model}?template=bfs&decoding=sample&max_new_tokens=4")
    served, actors = start_inference(config, "coq", provers=8, max_wait=0.5)
    try:
        (actor,) = actors
        prompts = [[f"⊢ goal{k} :::"] for k in range(8)]
        answers = ray.get([actor.generate.remote(prompt, 2, 1000 + k) for k, prompt in enumerate(prompts)])
        stats = ray.get(actor.stats.remote())
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)
    assert [len(answer) for answer in answers] == [1] * 8 and all(len(answer[0]) == 2 for answer in answers)
    assert stats["requests"] == 8 and sum(stats["batch_sizes"]) == 8
    assert max(stats["batch_sizes"]) > 1  # eight callers, fewer model calls
    assert stats["clients"] == [1000 + k for k in range(8)]
    assert served[str(tiny_model)].name == f"hf:{tiny_model}"
