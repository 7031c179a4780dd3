"""Policy and value specs build the right objects; the learned critic scores states in [0, 1] in batches."""

from __future__ import annotations

import math
import types
from pathlib import Path

import pytest
from policy_test_fakes import ScriptedPolicy

import prover.policies
from prover.errors import InputError, ModelUnavailable
from prover.policies import build_policy, build_value
from prover.policies.factory import ALIASES, default_template, parse_policy_spec
from prover.policies.specs import HfSpec, MixtureSpec, MixtureTerm, PortfolioSpec
from prover.policies.generation import ModelPolicy
from prover.policies.mixture import MixturePolicy
from prover.policies.whole_proof import WholeProofPolicy
from search.types import State

COQ_STATE = State(goals=("n : nat\n============================\nn + 0 = n",))


@pytest.fixture
def fake_portfolios(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-ins for the portfolio modules (written by other helpers), so the factory's wiring is tested alone."""
    for module_name, class_name, tactic in (
        ("prover.policies.coq_portfolio", "CoqPortfolioPolicy", "lia."),
        ("prover.policies.lean_portfolio", "LeanPortfolioPolicy", "omega"),
    ):
        module = types.ModuleType(module_name)

        class Portfolio(ScriptedPolicy):
            def __init__(self, tactic: str = tactic) -> None:
                super().__init__([(tactic, 0.6), ("auto", 0.4)], source="portfolio")

        setattr(module, class_name, Portfolio)
        monkeypatch.setitem(__import__("sys").modules, module_name, module)


def test_public_names_exist() -> None:
    for name in prover.policies.__all__:
        assert hasattr(prover.policies, name), name
    assert prover.policies.DEFAULT_POLICY == "portfolio"


def test_spec_parsing_reads_weights_and_expands_aliases() -> None:
    assert parse_policy_spec("0.3*portfolio + 0.7*reprover") == MixtureSpec(
        terms=(
            MixtureTerm(weight=0.3, policy=PortfolioSpec()),
            MixtureTerm(weight=0.7, policy=HfSpec(model="kaiyuy/leandojo-lean4-tacgen-byt5-small")),
        )
    )
    assert parse_policy_spec("portfolio") == PortfolioSpec()


@pytest.mark.parametrize("spec", ["", "portfolio+", "0*portfolio", "nonsense", "whole:portfolio"])
def test_malformed_specs_are_input_errors(spec: str, fake_portfolios: None) -> None:
    with pytest.raises(InputError):
        build_policy(spec, backend="coq")


def test_unknown_backend_is_an_input_error() -> None:
    with pytest.raises(InputError, match="backend"):
        build_policy("portfolio", backend="isabelle")


def test_portfolio_is_the_backends_own(fake_portfolios: None) -> None:
    assert type(build_policy("portfolio", backend="coq")).__name__ == "Portfolio"
    assert build_policy("portfolio", backend="coq").propose(COQ_STATE, 1)[0].tactic == "lia."
    assert build_policy("portfolio", backend="lean").propose(COQ_STATE, 1)[0].tactic == "omega"


def test_default_templates_follow_the_model_names() -> None:
    assert default_template("kaiyuy/leandojo-lean4-tacgen-byt5-small") == "reprover"
    assert default_template("ByteDance-Seed/BFS-Prover-V2-7B") == "bfs"
    assert default_template("internlm/internlm2_5-step-prover") == "internlm-step"
    assert default_template("deepseek-ai/DeepSeek-Prover-V2-7B") == "deepseek-prover-v2"
    assert default_template("Goedel-LM/Goedel-Prover-V2-8B") == "goedel-prover-v2"
    assert default_template("AI-MO/Kimina-Prover-Distill-8B") == "kimina-prover"
    assert default_template("my/own-model") is None
    assert all(default_template(spec.split(":")[-1].split("?")[0]) for spec in ALIASES.values())


def test_portfolio_plus_local_tiny_model_is_a_working_mixture(fake_portfolios: None, tiny_seq2seq: Path) -> None:
    policy = build_policy(f"portfolio+hf:{tiny_seq2seq}?max_new_tokens=6", backend="coq")
    assert isinstance(policy, MixturePolicy)
    model = policy.policies[1]
    assert isinstance(model, ModelPolicy) and model.template.name == "reprover" and model.language == "coq"
    candidates = policy.propose(COQ_STATE, 6)
    assert {"lia.", "auto"} <= {c.tactic for c in candidates}
    assert any(c.source.startswith("hf:") for c in candidates)
    assert all(math.isfinite(c.log_prob) and c.log_prob <= 0 for c in candidates)
    assert sum(math.exp(c.log_prob) for c in candidates) <= 1.0 + 1e-9


def test_real_coq_portfolio_mixes_with_a_tiny_model(tiny_seq2seq: Path) -> None:
    policy = build_policy(f"0.5*portfolio+0.5*hf:{tiny_seq2seq}?max_new_tokens=4", backend="coq")
    assert policy.propose(COQ_STATE, 8)


def test_causal_model_options_reach_the_generator(tiny_causal: Path) -> None:
    policy = build_policy(
        f"hf:{tiny_causal}?template=internlm-step&decoding=sample&temperature=0.7&n=5&max_new_tokens=3", backend="lean"
    )
    assert isinstance(policy, ModelPolicy)
    assert (policy.template.name, policy.num_samples) == ("internlm-step", 5)
    assert (policy.generator.decoding, policy.generator.temperature, policy.generator.max_new_tokens) == ("sample", 0.7, 3)
    assert len(policy.propose(State(goals=("⊢ True",)), 8)) <= 5


def test_whole_prefix_makes_a_whole_proof_policy(tiny_causal: Path) -> None:
    policy = build_policy(f"whole:hf:{tiny_causal}?max_new_tokens=4", backend="lean")
    assert isinstance(policy, WholeProofPolicy) and policy.template.name == "chat-whole"
    with pytest.raises(InputError, match="tactic template"):
        build_policy(f"whole:hf:{tiny_causal}?template=bfs", backend="lean")


def test_unknown_or_bad_options_are_reported(tiny_causal: Path) -> None:
    with pytest.raises(InputError, match="colour"):
        build_policy(f"hf:{tiny_causal}?colour=blue", backend="lean")
    with pytest.raises(InputError, match="decoding"):
        build_policy(f"hf:{tiny_causal}?decoding=weird", backend="lean")
    with pytest.raises(InputError, match="not a number"):
        build_policy(f"hf:{tiny_causal}?temperature=hot", backend="lean")


def test_openai_spec_needs_a_url_and_a_model() -> None:
    with pytest.raises(InputError, match="URL"):
        build_policy("openai:localhost:8000?model=x", backend="lean")
    with pytest.raises(InputError, match="model=NAME"):
        build_policy("openai:http://127.0.0.1:9/v1", backend="lean")


def test_value_specs() -> None:
    from search.values import ConstantValue, HeuristicValue, PolicyScoreValue

    assert isinstance(build_value("heuristic"), HeuristicValue)
    assert build_value("constant:0.25").value(COQ_STATE) == 0.25
    assert isinstance(build_value("constant:0.25"), ConstantValue)
    policy_value = build_value("policy", policy=ScriptedPolicy([("lia.", 0.8)]))
    assert isinstance(policy_value, PolicyScoreValue)
    assert policy_value.value(COQ_STATE) == pytest.approx(0.8)
    for bad in ("constant:2", "constant:x", "policy", "oracle"):
        with pytest.raises((InputError, ValueError)):
            build_value(bad)


def test_learned_critic_scores_states_in_unit_interval_batched_and_cached(tiny_classifier: Path) -> None:
    from prover.policies.value import LearnedValue

    critic = build_value(f"hf-critic:{tiny_classifier}?batch_size=2")
    assert isinstance(critic, LearnedValue)
    states = [State(goals=(f"⊢ {index} + 0 = {index}",)) for index in range(5)]
    batched = critic.values(states)
    assert all(0.0 <= value <= 1.0 for value in batched)
    fresh = LearnedValue(str(tiny_classifier))
    alone = [fresh.value(state) for state in states]
    assert batched == pytest.approx(alone, abs=1e-5)
    assert len(set(round(value, 6) for value in batched)) > 1  # the model does look at the state


def test_learned_critic_input_is_the_internlm_critic_chat() -> None:
    from prover.policies.value import CRITIC_QUESTION, LearnedValue

    chat = LearnedValue.chat(State(goals=("⊢ P",)))
    assert chat == [{"role": "user", "content": CRITIC_QUESTION}, {"role": "assistant", "content": "⊢ P"}]
    assert LearnedValue.chat(State(goals=()))[1]["content"] == "no goals"


def test_missing_critic_offline_is_model_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable):
        build_value("hf-critic:no-such-org/no-such-critic")


def test_lm_head_judge_gives_the_probability_of_yes_in_batches(tiny_causal: Path) -> None:
    from prover.policies.value import LearnedValue

    judge = build_value(f"hf-critic:{tiny_causal}?head=lm&batch_size=3")
    assert isinstance(judge, LearnedValue) and judge.head == "lm"
    states = [State(goals=(f"⊢ {'x' * index} = x",)) for index in range(1, 6)]
    batched = judge.values(states)
    alone = [LearnedValue(str(tiny_causal), head="lm").value(state) for state in states]
    assert all(0.0 < value < 1.0 for value in batched)
    assert batched == pytest.approx(alone, abs=1e-5)
    with pytest.raises(InputError, match="head"):
        build_value(f"hf-critic:{tiny_causal}?head=sideways")
