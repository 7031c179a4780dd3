"""Typed policy/value specs: the shorthand parses into them and writes back to the same spec; a bad
spec is one line naming the atom and the problem; `ProverConfig` holds typed specs."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from prover.config import ProverConfig, make_config
from prover.errors import InputError
from prover.policies.specs import (
    CriticValueSpec,
    HfSpec,
    KnnSpec,
    MixtureSpec,
    OpenAISpec,
    PolicySpec,
    PortfolioSpec,
    RetrievalSpec,
    ValueSpec,
    WholeSpec,
    parse_policy_spec,
    parse_value_spec,
)

POLICY_SPECS = [
    "portfolio",
    "portfolio?generators=none",
    "portfolio?generators=nlarith,cas",
    "hammer",
    "retrieval?premises=4&combined=0",
    "reprover",
    "internlm-step",
    "kimina-prover",
    "whole:goedel-prover",
    "hf:ByteDance-Seed/BFS-Prover-V2-7B?template=bfs&n=8&temperature=0.7",
    "hf:/path/to/saved/model?decoding=beam&max_input_tokens=512&trust_remote_code=true",
    "openai:http://localhost:8000/v1?model=ByteDance-Seed/BFS-Prover-V2-7B&template=bfs&concurrency=2&retries=0",
    "whole:openai:http://localhost:8000/v1?model=deepseek-ai/DeepSeek-Prover-V2-7B&template=deepseek-prover-v2",
    "openai:https://host/v1?model=org/a%2Bb&api_key_env=KEY&logprobs=false",
    "knn:trace/splits/by_file/train.jsonl?k=4&temperature=0.5",
    "0.3*portfolio+0.7*hf:kaiyuy/leandojo-lean4-tacgen-byt5-small?n=4",
    "0.5*portfolio?generators=none + 0.25*retrieval + 0.25*knn:rows.jsonl",
]
VALUE_SPECS = ["heuristic", "policy", "constant:0.25", "hf-critic", "hf-critic:my/critic?head=lm&batch_size=3&device=cpu"]


@pytest.mark.parametrize("text", POLICY_SPECS)
def test_policy_shorthand_round_trips_through_string_and_json(text: str) -> None:
    spec = parse_policy_spec(text)
    assert parse_policy_spec(str(spec)) == spec
    adapter = TypeAdapter(PolicySpec)
    assert adapter.validate_json(adapter.dump_json(spec)) == spec
    assert ProverConfig.model_validate_json(ProverConfig(policy=text).model_dump_json()).policy == spec


@pytest.mark.parametrize("text", VALUE_SPECS)
def test_value_shorthand_round_trips_through_string_and_json(text: str) -> None:
    spec = parse_value_spec(text)
    assert parse_value_spec(str(spec)) == spec
    adapter = TypeAdapter(ValueSpec)
    assert adapter.validate_json(adapter.dump_json(spec)) == spec


def test_the_shorthand_reads_into_typed_fields_with_their_defaults() -> None:
    openai = parse_policy_spec("openai:http://h:8000/v1?model=m&timeout=5&concurrency=3")
    assert openai == OpenAISpec(url="http://h:8000/v1", model="m", timeout=5.0, concurrency=3)
    assert (openai.retries, openai.top_p, openai.logprobs) == (3, 0.95, True)
    assert parse_policy_spec("hf:") == HfSpec()  # the default model
    assert parse_policy_spec("deepseek-prover") == WholeSpec(model=HfSpec(model="deepseek-ai/DeepSeek-Prover-V2-7B"))
    from prover.policies.generators import GENERATORS

    assert parse_policy_spec("portfolio?generators=all") == PortfolioSpec(generators=tuple(GENERATORS))
    assert parse_policy_spec("portfolio?generators=none") == PortfolioSpec(generators=())
    assert parse_policy_spec("retrieval") == RetrievalSpec(premises=6, combined=3)
    assert parse_policy_spec("knn:rows.jsonl") == KnnSpec(rows="rows.jsonl", k=64)
    mixture = parse_policy_spec("2*portfolio+hammer")
    assert isinstance(mixture, MixtureSpec) and [term.weight for term in mixture.terms] == [2.0, 1.0]
    assert parse_value_spec("hf-critic?head=lm") == CriticValueSpec(head="lm")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("portfolio+", "empty term"),
        ("0*portfolio+0*hammer", "every weight is zero"),
        ("nonsense", "unknown policy 'nonsense'"),
        ("whole:portfolio", "whole:portfolio makes no sense"),
        ("portfolio?colour=red", "portfolio?colour=red: unknown option(s) colour"),
        ("portfolio?generators=bogus", "option generators='bogus': unknown generator(s) bogus"),
        ("hf:m?temperature=hot", "hf:m?temperature=hot: option temperature='hot' is not a number"),
        ("hf:m?decoding=weird", "option decoding='weird': input should be 'beam', 'sample' or 'greedy'"),
        ("hf:m?template=nope", "option template='nope': unknown prompt template 'nope'"),
        ("whole:hf:m?template=bfs", "template 'bfs' is a tactic template"),
        ("openai:localhost:8000?model=x", "expected an http(s) URL"),
        ("openai:http://h/v1", "say which served model with ?model=NAME"),
        ("openai:http://h/v1?model=m&concurrency=0", "option concurrency='0': input should be greater than 0"),
        ("retrieval?premises=x", "option premises='x' is not an integer"),
        ("knn:", "knn:: needs a path to trace rows"),
        ("openai:?model=m", "expected an http(s) URL"),
    ],
)
def test_bad_policy_specs_fail_with_one_line_naming_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InputError) as failure:
        parse_policy_spec(text)
    message = str(failure.value)
    assert problem in message and "\n" not in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("constant:2", "constant:2: input should be less than or equal to 1"),
        ("constant:x", "expected constant:X"),
        ("oracle", "unknown value 'oracle'"),
        ("hf-critic:m?head=sideways", "option head='sideways'"),
        ("hf-critic:m?batch=3", "unknown option(s) batch"),
    ],
)
def test_bad_value_specs_fail_with_one_line_naming_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InputError) as failure:
        parse_value_spec(text)
    assert problem in str(failure.value) and "\n" not in str(failure.value)


def test_config_holds_typed_specs_from_strings_or_json_and_writes_the_shorthand() -> None:
    config = ProverConfig(policy="0.3*portfolio + 0.7*reprover", value="constant:0.5")
    assert isinstance(config.policy, MixtureSpec)
    assert config.policy.terms[1].policy == HfSpec(model="kaiyuy/leandojo-lean4-tacgen-byt5-small")
    dumped = config.model_dump(mode="json")
    assert dumped["policy"] == "0.3*portfolio+0.7*hf:kaiyuy/leandojo-lean4-tacgen-byt5-small"
    assert dumped["value"] == "constant:0.5"
    assert ProverConfig(**dumped) == config
    assert ProverConfig(policy={"kind": "hf", "model": "x", "n": 3}).policy == HfSpec(model="x", n=3)
    assert ProverConfig().model_dump(mode="json")["policy"] == "portfolio"  # saved run identities unchanged


def test_a_bad_spec_in_the_config_names_the_option() -> None:
    with pytest.raises(InputError, match=r"^invalid option --policy: hf:m\?n=0: option n='0'"):
        make_config(policy="hf:m?n=0")
    with pytest.raises(InputError, match="^invalid option --value: unknown value 'oracle'"):
        make_config(value="oracle")


def test_a_run_saved_with_another_spelling_of_the_same_spec_resumes(tmp_path) -> None:
    from prover.eval.results import ResultStore, RunIdentity

    def identity(policy: str, value: str = "heuristic") -> RunIdentity:
        prover = {**ProverConfig().model_dump(mode="json"), "policy": policy, "value": value}
        return RunIdentity(dataset="d", split="valid", backend="coq", prover=prover)

    saved = "0.3*portfolio + 0.7*hf:kaiyuy/leandojo-lean4-tacgen-byt5-small?temperature=1.0"
    with ResultStore.open(tmp_path, identity(saved, "constant:1")):
        pass
    now = ProverConfig(policy="0.3*portfolio+0.7*reprover", value="constant:1.0").model_dump(mode="json")
    with ResultStore.open(tmp_path, identity(now["policy"], now["value"])):
        pass
    with pytest.raises(InputError, match="different configuration"), ResultStore.open(tmp_path, identity("portfolio")):
        pass


@pytest.mark.parametrize(
    "text",
    [
        "openai:http://127.0.0.1:8000/v1?model=AI-MO/Kimina-Autoformalizer-7B&template=kimina-autoformalizer",
        "hf:/path/to/saved/model?max_new_tokens=512&judge_max_tokens=256&trust_remote_code=true",
    ],
)
def test_formalizer_model_specs_are_typed_the_same_way(text: str) -> None:
    from prover.formalizer.models import FormalizerModelSpec, parse_formalizer_model_spec

    spec = parse_formalizer_model_spec(text)
    assert parse_formalizer_model_spec(str(spec)) == spec
    adapter = TypeAdapter(FormalizerModelSpec)
    assert adapter.validate_json(adapter.dump_json(spec)) == spec
    with pytest.raises(InputError, match=r"option judge_max_tokens='0': input should be greater than 0$"):
        parse_formalizer_model_spec(f"{text}&judge_max_tokens=0")
