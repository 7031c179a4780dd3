"""The transformers policy runs the real generation path on tiny random-weight seq2seq and causal models."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from prover.errors import ModelUnavailable
from prover.policies.generation import ModelPolicy
from prover.policies.hf import HFGenerator, load_model, pick_device
from prover.policies.prompts import get_template
from prover.policies.whole_proof import WholeProofPolicy
from search.types import State

STATES = [
    State(goals=("n : nat\n============================\nn + 0 = n",)),
    State(goals=("⊢ True",), path=("intro",)),
    State(goals=("a b : ℕ\n⊢ a + b = b + a", "⊢ 0 = 0")),
]


def test_seq2seq_beam_search_returns_n_distinct_candidates_with_finite_log_probs(tiny_seq2seq: Path) -> None:
    generator = HFGenerator(str(tiny_seq2seq), decoding="beam", max_new_tokens=6)
    generations = generator.generate(["n : nat\n⊢ n = n"], 4)[0]
    assert len(generations) == 4
    assert all(math.isfinite(g.log_prob) and g.log_prob < 0 for g in generations)
    # Beams come out best first (length_penalty=0: the plain sum of log-probabilities).
    assert [g.log_prob for g in generations] == sorted((g.log_prob for g in generations), reverse=True)


def _teacher_forced_log_prob(generator: HFGenerator, prompt: str, token_ids: tuple[int, ...]) -> float:
    """The model's log-probability of `token_ids` after `prompt`, by one forward pass on the model's device."""
    import torch

    loaded = generator.loaded
    target = torch.tensor([list(token_ids)], device=loaded.device)
    with torch.inference_mode():
        if loaded.is_encoder_decoder:
            encoded = loaded.tokenizer([prompt], return_tensors="pt").to(loaded.device)
            logits = loaded.model(**encoded, labels=target).logits
        else:
            prompt_ids = loaded.tokenizer([prompt], return_tensors="pt").input_ids.to(loaded.device)
            full = torch.cat([prompt_ids, target], dim=1)
            logits = loaded.model(input_ids=full).logits[:, prompt_ids.shape[1] - 1 : -1]
    return float(torch.log_softmax(logits.float(), dim=-1).gather(-1, target.unsqueeze(-1)).sum())


@pytest.mark.parametrize("model, decoding", [("seq2seq", "beam"), ("causal", "sample"), ("causal", "beam")])
def test_log_prob_is_the_sum_of_generated_token_log_probs_under_the_model(
    model: str, decoding: str, tiny_seq2seq: Path, tiny_causal: Path
) -> None:
    path = tiny_seq2seq if model == "seq2seq" else tiny_causal
    generator = HFGenerator(str(path), decoding=decoding, max_new_tokens=5)  # type: ignore[arg-type]
    prompt = "⊢ 1 + 1 = 2:::"
    for generation in generator.generate([prompt], 3)[0]:
        assert generation.token_ids
        expected = _teacher_forced_log_prob(generator, prompt, generation.token_ids)
        assert generation.log_prob == pytest.approx(expected, abs=_tolerance(generator))


def _stop_met_by(path: Path, prompt: str) -> tuple[str, int]:
    """A stop string that greedy generation from `prompt` first meets at its third token or later,
    and that token's position."""
    free = HFGenerator(str(path), decoding="greedy", max_new_tokens=12).generate([prompt], 1)[0][0]
    tokenizer = load_model(str(path)).tokenizer
    for position in range(2, len(free.token_ids)):
        piece = tokenizer.decode([free.token_ids[position]], skip_special_tokens=True).strip()
        if piece and piece not in tokenizer.decode(list(free.token_ids[:position]), skip_special_tokens=True):
            return piece, position
    raise AssertionError(f"the tiny model's greedy text {free.text!r} has no usable stop string")


def test_a_stop_string_ends_the_text_and_its_log_prob_where_it_first_appears(tiny_causal: Path) -> None:
    prompt = "⊢ 2 + 2 = 4:::"
    stop, position = _stop_met_by(tiny_causal, prompt)
    free = HFGenerator(str(tiny_causal), decoding="greedy", max_new_tokens=12).generate([prompt], 1)[0][0]
    stopped = HFGenerator(str(tiny_causal), decoding="greedy", max_new_tokens=12, stop=(stop,)).generate([prompt], 1)[0][0]
    assert stopped.text == free.text[: free.text.index(stop)] and stop not in stopped.text
    assert stopped.token_ids == free.token_ids[: position + 1]
    reference = free_generator(tiny_causal)
    expected = _teacher_forced_log_prob(reference, prompt, stopped.token_ids)
    assert stopped.log_prob == pytest.approx(expected, abs=_tolerance(reference))


@pytest.mark.parametrize("decoding", ["beam", "sample"])
def test_stopped_generations_end_at_their_first_stop_with_the_log_prob_of_their_tokens(decoding: str, tiny_causal: Path) -> None:
    prompt = "⊢ 2 + 2 = 4:::"
    stop, _ = _stop_met_by(tiny_causal, prompt)
    generator = HFGenerator(str(tiny_causal), decoding=decoding, max_new_tokens=12, stop=(stop,))  # type: ignore[arg-type]
    decode = generator.loaded.tokenizer.decode
    for generation in generator.generate([prompt], 3)[0]:
        assert stop not in generation.text
        if stop in decode(list(generation.token_ids), skip_special_tokens=True):
            # The fewest tokens that reach the stop: one fewer does not.
            assert stop not in decode(list(generation.token_ids[:-1]), skip_special_tokens=True)
        expected = _teacher_forced_log_prob(free_generator(tiny_causal), prompt, generation.token_ids)
        assert generation.log_prob == pytest.approx(expected, abs=_tolerance(generator))


def _tolerance(generator: HFGenerator) -> float:
    """How far two forward passes may disagree: float32 on CPU; bfloat16 (a GPU's default) rounds far more."""
    import torch

    return 1e-3 if generator.loaded.dtype == torch.float32 else 5e-2


def free_generator(path: Path) -> HFGenerator:
    """A generator without stop strings, for teacher-forced log-probabilities."""
    return HFGenerator(str(path), decoding="greedy", max_new_tokens=12)


def test_causal_sampling_returns_n_samples_with_finite_log_probs(tiny_causal: Path) -> None:
    generator = HFGenerator(str(tiny_causal), decoding="sample", max_new_tokens=6, seed=3)
    outputs = generator.generate(["x : Nat\n⊢ x = x:::", "⊢ True:::"], 3)
    assert [len(row) for row in outputs] == [3, 3]
    assert all(math.isfinite(g.log_prob) and g.log_prob < 0 for row in outputs for g in row)


def test_sampling_with_the_same_seed_repeats(tiny_causal: Path) -> None:
    first = HFGenerator(str(tiny_causal), decoding="sample", max_new_tokens=6, seed=7).generate(["⊢ a:::"], 3)
    again = HFGenerator(str(tiny_causal), decoding="sample", max_new_tokens=6, seed=7).generate(["⊢ a:::"], 3)
    assert first == again


@pytest.mark.parametrize("model, template", [("seq2seq", "reprover"), ("causal", "bfs")])
def test_batched_beam_search_gives_the_same_candidates_as_one_state_at_a_time(
    model: str, template: str, tiny_seq2seq: Path, tiny_causal: Path
) -> None:
    path = tiny_seq2seq if model == "seq2seq" else tiny_causal
    policy = ModelPolicy(HFGenerator(str(path), decoding="beam", max_new_tokens=6), get_template(template))
    batched = policy.propose_batch(STATES, 3)
    alone = [policy.propose(state, 3) for state in STATES]
    assert [[c.tactic for c in row] for row in batched] == [[c.tactic for c in row] for row in alone]
    for row_batched, row_alone in zip(batched, alone):
        for one, other in zip(row_batched, row_alone):
            assert one.log_prob == pytest.approx(other.log_prob, abs=1e-3)


def test_greedy_batching_matches_one_at_a_time_for_causal_models(tiny_causal: Path) -> None:
    generator = HFGenerator(str(tiny_causal), decoding="greedy", max_new_tokens=6)
    prompts = ["short:::", "a much longer prompt that forces left padding of the others:::"]
    batched = generator.generate(prompts, 1)
    alone = [generator.generate([prompt], 1)[0] for prompt in prompts]
    assert [row[0].text for row in batched] == [row[0].text for row in alone]


def test_model_policy_candidates_are_distinct_sorted_and_tagged(tiny_causal: Path) -> None:
    policy = ModelPolicy(HFGenerator(str(tiny_causal), decoding="sample", max_new_tokens=4), get_template("bfs"))
    candidates = policy.propose(STATES[1], 8)
    keys = [" ".join(c.tactic.split()) for c in candidates]
    assert len(keys) == len(set(keys)) and all(keys)
    assert [c.log_prob for c in candidates] == sorted((c.log_prob for c in candidates), reverse=True)
    assert {c.source for c in candidates} == {f"hf:{tiny_causal}"}


def test_chat_templates_go_through_the_tokenizer_chat_template(tiny_causal: Path) -> None:
    policy = WholeProofPolicy(
        HFGenerator(str(tiny_causal), decoding="sample", max_new_tokens=8), get_template("deepseek-prover-v2")
    )
    rendered = policy.generator._text(policy.template.prompt(policy.context(STATES[1])))
    assert rendered.startswith("<|user|>Complete the following Lean 4 code:") and rendered.endswith("<|assistant|>")
    assert all(math.isfinite(c.log_prob) for c in policy.propose(STATES[1], 2))


def test_cpu_machine_gets_float32(tiny_seq2seq: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the CPU default is what is checked here")
    device, dtype = pick_device()
    assert (device.type, dtype) == ("cpu", torch.float32)
    assert next(load_model(str(tiny_seq2seq)).model.parameters()).dtype == torch.float32


def test_missing_model_offline_is_model_unavailable_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as raised:
        load_model("no-such-org/no-such-model-for-tests")
    assert "no-such-org/no-such-model-for-tests" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_directory_without_weights_is_model_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not load"):
        load_model(str(tmp_path))
