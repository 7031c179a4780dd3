"""Build a policy or a value function from its spec (the `--policy` / `--value` options).

A spec is a typed model (`prover.policies.specs`: a pydantic union on `kind`); the one-line
grammar below is its shorthand on the command line and in config files, parsed into it by
`parse_policy_spec` / `parse_value_spec`. `build_policy` and `build_value` take either.

Policy specs
------------
    SPEC   := TERM ( "+" TERM )*              a mixture when there are several terms
    TERM   := [ WEIGHT "*" ] ATOM             e.g. 0.3*portfolio (weights default to 1, normalised)
    ATOM   := "portfolio" [ "?" OPTIONS ]     the backend's symbolic tactic portfolio (the default);
                                              Coq option generators=all|none|NAME,NAME,...
                                              (default all: nlarith, cas, witness, modular,
                                              induction; see `prover.policies.generators`)
            | "hf:" MODEL [ "?" OPTIONS ]     a local transformers model: Hub id or directory
            | "openai:" URL [ "?" OPTIONS ]   a model behind an OpenAI-compatible server
            | "whole:" ATOM                   the same, as a whole-proof model (truncate-and-resume)
            | "knn:" ROWS [ "?" OPTIONS ]     nearest neighbours over traced steps (`prove trace`
                                              rows.jsonl, or a saved index); options k, temperature
            | "hammer"                        Coq: CoqHammer's `hammer` (premise selection and the
                                              E/Z3/CVC4 provers); the proof gets its reconstruction
            | "retrieval" [ "?" OPTIONS ]     Coq: lemmas from `Search` on the goal's symbols and the
                                              file's earlier lemmas, BM25-ranked, proposed as apply /
                                              rewrite / eapply / eauto using / hauto use:; options
                                              premises (6), combined (3)
            | ALIAS                           a named open model (below)
    OPTIONS := KEY "=" VALUE ( "&" KEY "=" VALUE )*      (URL query syntax; write "+" as %2B)

Examples:
    portfolio
    portfolio?generators=none                       the portfolio without proposal generators
    portfolio?generators=nlarith,cas
    hf:kaiyuy/leandojo-lean4-tacgen-byt5-small
    hf:ByteDance-Seed/BFS-Prover-V2-7B?template=bfs&n=8&temperature=1.0
    hf:/path/to/saved/model?decoding=beam
    openai:http://localhost:8000/v1?model=ByteDance-Seed/BFS-Prover-V2-7B&template=bfs
    whole:openai:http://localhost:8000/v1?model=deepseek-ai/DeepSeek-Prover-V2-7B&template=deepseek-prover-v2
    0.3*portfolio+0.7*hf:kaiyuy/leandojo-lean4-tacgen-byt5-small

Aliases (the real open models, with their own prompt formats):
    reprover          hf:kaiyuy/leandojo-lean4-tacgen-byt5-small   (template reprover, beam search)
    bfs-prover        hf:ByteDance-Seed/BFS-Prover-V2-7B           (template bfs)
    internlm-step     hf:internlm/internlm2_5-step-prover          (template internlm-step)
    deepseek-prover   whole:hf:deepseek-ai/DeepSeek-Prover-V2-7B   (template deepseek-prover-v2)
    goedel-prover     whole:hf:Goedel-LM/Goedel-Prover-V2-8B       (template goedel-prover-v2)
    kimina-prover     whole:hf:AI-MO/Kimina-Prover-Distill-8B      (template kimina-prover)

Options for hf: and openai: atoms:
    template=NAME      a `prover.policies.prompts.TEMPLATES` name; default from the model's name
                       (see `default_template`), else reprover (seq2seq) / bfs (causal, completions)
                       / chat (chat endpoint)
    n=INT              samples generated per state (default: as many as the search asks for)
    temperature, top_p, max_new_tokens (hf) / max_tokens (openai)
  hf only:     decoding=beam|sample|greedy, device=cuda|cpu, dtype=bfloat16|float32|...,
               max_input_tokens, trust_remote_code=true
  openai only: model=NAME (required), endpoint=completions|chat (default: the template's kind),
               timeout, retries, backoff, concurrency, logprobs=true|false, api_key_env=VAR
A template of kind whole_proof (or the `whole:` prefix) makes a whole-proof policy; the prover
then wraps its environment with `prover.policies.whole_proof.attach_whole_proof`.

Value specs
-----------
    heuristic              `search.values.HeuristicValue`: fewer, smaller goals (the default)
    policy                 `search.values.PolicyScoreValue`: the policy's own confidence
    hf-critic[:MODEL][?device=..&dtype=..&batch_size=..&trust_remote_code=..&head=lm]
                           a learned critic (`LearnedValue`); default MODEL is
                           internlm/internlm2_5-step-prover-critic; head=lm makes a causal LM
                           the judge (probability of answering Yes)
    constant:X             `search.values.ConstantValue`: X in [0, 1] for every state
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from search.types import Policy, ValueFunction

from prover.errors import InputError, ModelUnavailable
from prover.policies.prompts import Language, PromptTemplate, get_template
from prover.policies.specs import (
    ALIASES,
    DEFAULT_CRITIC,
    DEFAULT_HF_MODEL,
    ConstantValueSpec,
    CriticValueSpec,
    HammerSpec,
    HeuristicValueSpec,
    HfSpec,
    KnnSpec,
    MixtureSpec,
    OpenAISpec,
    PolicySpec,
    PolicyValueSpec,
    PortfolioSpec,
    RetrievalSpec,
    ValueSpec,
    WholeSpec,
    parse_policy_spec,
    parse_value_spec,
)

__all__ = [
    "build_policy",
    "build_value",
    "parse_policy_spec",
    "parse_value_spec",
    "default_template",
    "ALIASES",
    "DEFAULT_POLICY",
    "DEFAULT_VALUE",
    "DEFAULT_HF_MODEL",
    "DEFAULT_CRITIC",
]


DEFAULT_POLICY = "portfolio"
DEFAULT_VALUE = "heuristic"

# Model-name fragments (lower case) -> the template the model was trained with.
_NAME_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("leandojo", "reprover"),
    ("byt5", "reprover"),
    ("bfs-prover", "bfs"),
    ("step-prover", "internlm-step"),
    ("deepseek-prover-v2", "deepseek-prover-v2"),
    ("deepseek-prover-v1.5", "deepseek-prover-v1.5"),
    ("goedel-prover", "goedel-prover-v2"),
    ("kimina-prover", "kimina-prover"),
)


def default_template(model: str) -> str | None:
    """The prompt template a known open model was trained with, from its name; None when unknown."""
    lowered = model.lower()
    for fragment, template in _NAME_TEMPLATES:
        if fragment in lowered:
            return template
    return None


def _language(backend: str) -> Language:
    if backend not in {"coq", "lean"}:
        raise InputError(f"unknown backend {backend!r}; expected coq or lean")
    return "coq" if backend == "coq" else "lean"


def build_policy(spec: PolicySpec | str = DEFAULT_POLICY, *, backend: str, seed: int = 0) -> Policy:
    """The policy that `spec` describes (a typed spec, or its shorthand string), for `backend`
    ("coq" or "lean"); see the module docstring.

    Raises InputError for a malformed spec and ModelUnavailable for a model that cannot be loaded
    or reached.
    """
    language = _language(backend)
    typed = parse_policy_spec(spec) if isinstance(spec, str) else spec
    if not isinstance(typed, MixtureSpec):
        return _build_atom(typed, language=language, seed=seed)
    from prover.policies.mixture import MixturePolicy

    policies = [_build_atom(term.policy, language=language, seed=seed) for term in typed.terms]
    return MixturePolicy(policies, [term.weight for term in typed.terms])


def _build_atom(spec: Any, *, language: Language, seed: int) -> Policy:
    if isinstance(spec, PortfolioSpec):
        return _portfolio(language, spec)
    if isinstance(spec, HfSpec):
        return _hf_policy(spec, language=language, seed=seed, whole=False)
    if isinstance(spec, OpenAISpec):
        return _openai_policy(spec, language=language, seed=seed, whole=False)
    if isinstance(spec, WholeSpec):
        inner = spec.model
        if isinstance(inner, HfSpec):
            return _hf_policy(inner, language=language, seed=seed, whole=True)
        return _openai_policy(inner, language=language, seed=seed, whole=True)
    if isinstance(spec, RetrievalSpec):
        if language != "coq":
            raise InputError("the retrieval policy searches Coq's environment: Coq only, single tactics")
        from prover.policies.retrieval import RetrievalPolicy

        return RetrievalPolicy(premises=spec.premises, combined=spec.combined)
    if isinstance(spec, HammerSpec):
        if language != "coq":
            raise InputError("the hammer policy is CoqHammer's tactic: Coq only, single tactics")
        from prover.policies.retrieval import HammerPolicy

        return HammerPolicy()
    if isinstance(spec, KnnSpec):
        from prover.policies.knn import KNNPolicy

        return KNNPolicy.load(spec.rows, k=spec.k, temperature=spec.temperature)
    raise TypeError(f"not a single-policy spec: {spec!r}")


def _portfolio(language: Language, spec: PortfolioSpec) -> Policy:
    settings: dict[str, Any] = {}
    if spec.generators is not None:
        if language != "coq":
            raise InputError("portfolio: the generators option is for the Coq portfolio only")
        settings["generators"] = spec.generators
    # Imported lazily: the portfolios are written separately and pull in backend knowledge.
    module_name, class_name = (
        ("prover.policies.coq_portfolio", "CoqPortfolioPolicy")
        if language == "coq"
        else ("prover.policies.lean_portfolio", "LeanPortfolioPolicy")
    )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as missing:
        if missing.name != module_name:
            raise
        raise ModelUnavailable(f"the {language} tactic portfolio ({module_name}) is not installed") from missing
    return getattr(module, class_name)(**settings)


def _template(named: str | None, model: str, *, whole: bool, fallback: str) -> PromptTemplate:
    """The prompt template: the one named, else the model's own, else `fallback`; a whole-proof
    model without a whole-proof template of its own gets the generic chat one."""
    name = named or default_template(model)
    if whole and (name is None or get_template(name).kind != "whole_proof"):
        name = "chat-whole"  # a named tactic template was refused by `WholeSpec` already
    return get_template(name or fallback)


def _model_policy(generator: Any, template: PromptTemplate, *, language: Language, samples: int | None) -> Policy:
    from prover.policies.generation import ModelPolicy
    from prover.policies.whole_proof import WholeProofPolicy

    if template.kind == "whole_proof":
        policy: Any = WholeProofPolicy(generator, template, language=language)
    else:
        policy = ModelPolicy(generator, template, language=language)
    policy.num_samples = samples
    return policy


def _hf_policy(spec: HfSpec, *, language: Language, seed: int, whole: bool) -> Policy:
    from prover.policies.hf import HFGenerator, load_model

    from prover.policies.service import served_generator

    served = served_generator(spec.model)  # a model shared by the provers (`--shared-inference`): not loaded here
    if served is not None:
        fallback = "reprover" if getattr(served, "is_encoder_decoder", False) else "bfs"
        template = _template(spec.template, spec.model, whole=whole, fallback=fallback)
        return _model_policy(served, template, language=language, samples=spec.n)
    # The spec's options were all checked when it was parsed, before this (possibly long) load.
    loaded = load_model(spec.model, device=spec.device, dtype=spec.dtype, trust_remote_code=spec.trust_remote_code)
    fallback = "reprover" if loaded.is_encoder_decoder else "bfs"
    template = _template(spec.template, spec.model, whole=whole, fallback=fallback)
    long_output = template.kind == "whole_proof"
    generator = HFGenerator(
        spec.model,
        loaded=loaded,
        decoding=spec.decoding,
        temperature=spec.temperature,
        top_p=spec.top_p if spec.top_p is not None else (0.95 if long_output else 1.0),
        max_new_tokens=spec.max_new_tokens or (4096 if long_output else 128),
        max_input_tokens=spec.max_input_tokens,
        seed=seed,
        stop=template.stop,
    )
    return _model_policy(generator, template, language=language, samples=spec.n)


def _openai_policy(spec: OpenAISpec, *, language: Language, seed: int, whole: bool) -> Policy:
    from prover.policies.openai_compat import OpenAIGenerator

    fallback = "chat" if spec.endpoint == "chat" else "bfs"
    template = _template(spec.template, spec.model, whole=whole, fallback=fallback)
    if spec.template is None and spec.endpoint == "completions" and template.chat:
        template = get_template("bfs" if template.kind == "tactic" else "deepseek-prover-v1.5")
    endpoint = spec.endpoint or ("chat" if template.chat else "completions")
    long_output = template.kind == "whole_proof"
    generator = OpenAIGenerator(
        spec.url,
        model=spec.model,
        endpoint=endpoint,
        api_key=os.environ.get(spec.api_key_env) if spec.api_key_env else None,
        temperature=spec.temperature,
        top_p=spec.top_p,
        max_tokens=spec.max_tokens or (4096 if long_output else 128),
        stop=template.stop if endpoint == "completions" else (),
        timeout=spec.timeout or (600.0 if long_output else 60.0),
        max_retries=spec.retries,
        backoff=spec.backoff,
        max_concurrency=spec.concurrency,
        logprobs=spec.logprobs,
        seed=seed,
    )
    return _model_policy(generator, template, language=language, samples=spec.n)


def build_value(spec: ValueSpec | str = DEFAULT_VALUE, *, policy: Policy | None = None) -> ValueFunction:
    """The value function that `spec` describes (typed, or its shorthand; see the module
    docstring); `policy` serves spec "policy"."""
    typed = parse_value_spec(spec) if isinstance(spec, str) else spec
    if isinstance(typed, HeuristicValueSpec):
        from search.values import HeuristicValue

        return HeuristicValue()
    if isinstance(typed, PolicyValueSpec):
        if policy is None:
            raise InputError("value spec 'policy' needs the policy it should ask")
        from search.values import PolicyScoreValue

        return PolicyScoreValue(policy)
    if isinstance(typed, ConstantValueSpec):
        from search.values import ConstantValue

        return ConstantValue(typed.value)
    if isinstance(typed, CriticValueSpec):
        from prover.policies.value import LearnedValue

        trust = typed.trust_remote_code if typed.trust_remote_code is not None else typed.model == DEFAULT_CRITIC
        return LearnedValue(
            typed.model, device=typed.device, dtype=typed.dtype, batch_size=typed.batch_size,
            trust_remote_code=trust, head=typed.head,
        )
    raise TypeError(f"not a value spec: {typed!r}")
