"""Build a policy or a value function from a one-line spec (the `--policy` / `--value` options).

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
                                              rewrite / eapply / auto using / hauto use:; options
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
import re
from dataclasses import dataclass
from typing import Any

from search.types import Policy, ValueFunction

from prover.errors import InputError, ModelUnavailable
from prover.policies.prompts import Language, PromptTemplate, get_template
from prover.policies.spec_options import SpecOptions, choice as _choice, split_spec_options

__all__ = [
    "build_policy",
    "build_value",
    "parse_policy_spec",
    "PolicyTerm",
    "default_template",
    "ALIASES",
    "DEFAULT_POLICY",
    "DEFAULT_VALUE",
    "DEFAULT_HF_MODEL",
    "DEFAULT_CRITIC",
]


DEFAULT_POLICY = "portfolio"
DEFAULT_VALUE = "heuristic"
DEFAULT_HF_MODEL = "kaiyuy/leandojo-lean4-tacgen-byt5-small"
DEFAULT_CRITIC = "internlm/internlm2_5-step-prover-critic"

ALIASES: dict[str, str] = {
    "reprover": f"hf:{DEFAULT_HF_MODEL}",
    "bfs-prover": "hf:ByteDance-Seed/BFS-Prover-V2-7B",
    "internlm-step": "hf:internlm/internlm2_5-step-prover?trust_remote_code=true",
    "deepseek-prover": "whole:hf:deepseek-ai/DeepSeek-Prover-V2-7B",
    "goedel-prover": "whole:hf:Goedel-LM/Goedel-Prover-V2-8B",
    "kimina-prover": "whole:hf:AI-MO/Kimina-Prover-Distill-8B",
}

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

_WEIGHTED = re.compile(r"^\s*(?P<weight>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)\s*\*\s*(?P<atom>.+?)\s*$")


@dataclass(frozen=True)
class PolicyTerm:
    """One term of a policy spec: `weight * atom`."""

    weight: float
    atom: str


def parse_policy_spec(spec: str) -> list[PolicyTerm]:
    """Split a spec into weighted atoms (aliases expanded); `InputError` for an empty or malformed one."""
    terms: list[PolicyTerm] = []
    for raw in spec.split("+"):
        text = raw.strip()
        if not text:
            raise InputError(f"policy spec {spec!r} has an empty term (see `prover.policies.factory`)")
        match = _WEIGHTED.match(text)
        weight, atom = (float(match["weight"]), match["atom"]) if match else (1.0, text)
        terms.append(PolicyTerm(weight, ALIASES.get(atom, atom)))
    if all(term.weight == 0 for term in terms):
        raise InputError(f"policy spec {spec!r}: every weight is zero")
    return terms


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


def build_policy(spec: str = DEFAULT_POLICY, *, backend: str, seed: int = 0) -> Policy:
    """The policy that `spec` describes, for `backend` ("coq" or "lean"); see the module docstring.

    Raises InputError for a malformed spec and ModelUnavailable for a model that cannot be loaded
    or reached.
    """
    language = _language(backend)
    terms = parse_policy_spec(spec)
    policies = [_build_atom(term.atom, language=language, seed=seed) for term in terms]
    if len(policies) == 1:
        return policies[0]
    from prover.policies.mixture import MixturePolicy

    return MixturePolicy(policies, [term.weight for term in terms])


def _build_atom(atom: str, *, language: Language, seed: int) -> Policy:
    whole = False
    text = atom.strip()
    if text.startswith("whole:"):
        whole, text = True, text[len("whole:"):]
        text = ALIASES.get(text, text)
        if text.startswith("whole:"):
            text = text[len("whole:"):]
    if text == "portfolio" or text.startswith("portfolio?"):
        if whole:
            raise InputError("whole:portfolio makes no sense: the portfolio proposes single tactics")
        return _portfolio(language, text)
    if text.startswith("hf:"):
        return _hf_policy(text, language=language, seed=seed, whole=whole)
    if text.startswith("openai:"):
        return _openai_policy(text, language=language, seed=seed, whole=whole)
    if text == "retrieval" or text.startswith("retrieval?"):
        if whole or language != "coq":
            raise InputError("the retrieval policy searches Coq's environment: Coq only, single tactics")
        from prover.policies.retrieval import RetrievalPolicy

        options = SpecOptions("retrieval", split_spec_options(text)[1])
        premises = int(options.integer("premises", 6) or 6)
        combined = int(options.integer("combined", 3) or 3)
        options.check_all_used()
        return RetrievalPolicy(premises=premises, combined=combined)
    if text == "hammer":
        if whole or language != "coq":
            raise InputError("the hammer policy is CoqHammer's tactic: Coq only, single tactics")
        from prover.policies.retrieval import HammerPolicy

        return HammerPolicy()
    if text.startswith("knn:"):
        if whole:
            raise InputError("whole:knn makes no sense: the kNN policy proposes single tactics")
        from prover.policies.knn import build_knn_policy

        return build_knn_policy(text)
    known = ", ".join(["portfolio", "hammer", "retrieval", "hf:MODEL", "openai:URL", "knn:ROWS", "whole:...", *ALIASES])
    raise InputError(f"unknown policy {atom!r}; expected one of: {known}")


def _portfolio(language: Language, text: str = "portfolio") -> Policy:
    _, raw_options = split_spec_options(text)
    options = SpecOptions("portfolio", raw_options)
    generators = options.text("generators")
    options.check_all_used()
    settings: dict[str, Any] = {}
    if generators is not None:
        if language != "coq":
            raise InputError("portfolio: the generators option is for the Coq portfolio only")
        from prover.policies.generators import parse_generator_names

        settings["generators"] = parse_generator_names(generators)
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


def _template(
    options: SpecOptions, model: str, *, whole: bool, fallback: str
) -> PromptTemplate:
    name = options.text("template") or default_template(model)
    if whole and (name is None or get_template(name).kind != "whole_proof"):
        if options.text("template"):
            raise InputError(f"{options.atom}: template {name!r} is a tactic template, not a whole-proof one")
        name = "chat-whole"
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


def _hf_policy(text: str, *, language: Language, seed: int, whole: bool) -> Policy:
    target, raw_options = split_spec_options(text[len("hf:"):])
    model = target or DEFAULT_HF_MODEL
    options = SpecOptions(f"hf:{model}", raw_options)
    from prover.policies.hf import HFGenerator, load_model

    # Every option is read and checked before the (possibly long) model load.
    trust = options.flag("trust_remote_code", False)
    device, dtype = options.text("device"), options.text("dtype")
    named_template = options.text("template")
    if named_template is not None:
        get_template(named_template)
    decoding = options.text("decoding")
    if decoding not in (None, "beam", "sample", "greedy"):
        raise InputError(f"hf:{model}: decoding must be beam, sample or greedy, not {decoding!r}")
    temperature = options.number("temperature", 1.0)
    top_p = options.text("top_p")
    max_new_tokens = options.integer("max_new_tokens", None)
    max_input_tokens = int(options.integer("max_input_tokens", 2048) or 2048)
    samples = options.integer("n", None)
    options.check_all_used()

    from prover.policies.service import served_generator

    served = served_generator(model)  # a model shared by the provers (`--shared-inference`): not loaded here
    if served is not None:
        fallback = "reprover" if getattr(served, "is_encoder_decoder", False) else "bfs"
        template = _template(options, model, whole=whole, fallback=fallback)
        return _model_policy(served, template, language=language, samples=samples)
    loaded = load_model(model, device=device, dtype=dtype, trust_remote_code=trust)
    fallback = "reprover" if loaded.is_encoder_decoder else "bfs"
    template = _template(options, model, whole=whole, fallback=fallback)
    long_output = template.kind == "whole_proof"
    generator = HFGenerator(
        model,
        loaded=loaded,
        decoding=decoding,  # type: ignore[arg-type]
        temperature=temperature,
        top_p=options.number("top_p", 0.95 if long_output else 1.0) if top_p is not None else (0.95 if long_output else 1.0),
        max_new_tokens=max_new_tokens or (4096 if long_output else 128),
        max_input_tokens=max_input_tokens,
        seed=seed,
        stop=template.stop,
    )
    return _model_policy(generator, template, language=language, samples=samples)


def _openai_policy(text: str, *, language: Language, seed: int, whole: bool) -> Policy:
    import os

    from prover.policies.openai_compat import OpenAIGenerator

    url, raw_options = split_spec_options(text[len("openai:"):])
    options = SpecOptions(f"openai:{url}", raw_options)
    if not url.startswith(("http://", "https://")):
        raise InputError(f"openai:{url}: expected an http(s) URL such as http://localhost:8000/v1")
    model = options.text("model")
    if not model:
        raise InputError(f"openai:{url}: say which served model with ?model=NAME")
    endpoint = options.text("endpoint")
    if endpoint not in (None, "completions", "chat"):
        raise InputError(f"openai:{url}: endpoint must be completions or chat, not {endpoint!r}")
    template_name = options.text("template")
    fallback = "chat" if endpoint == "chat" else "bfs"
    template = _template(options, model, whole=whole, fallback=fallback)
    if template_name is None and endpoint == "completions" and template.chat:
        template = get_template("bfs" if template.kind == "tactic" else "deepseek-prover-v1.5")
    endpoint = endpoint or ("chat" if template.chat else "completions")
    long_output = template.kind == "whole_proof"
    key_env = options.text("api_key_env")
    generator = OpenAIGenerator(
        url,
        model=model,
        endpoint=endpoint,  # type: ignore[arg-type]
        api_key=os.environ.get(key_env) if key_env else None,
        temperature=options.number("temperature", 1.0),
        top_p=options.number("top_p", 0.95),
        max_tokens=int(options.integer("max_tokens", 4096 if long_output else 128) or 128),
        stop=template.stop if endpoint == "completions" else (),
        timeout=options.number("timeout", 600.0 if long_output else 60.0),
        max_retries=int(options.integer("retries", 3) or 0),
        backoff=options.number("backoff", 0.5),
        max_concurrency=int(options.integer("concurrency", 8) or 8),
        logprobs=options.flag("logprobs", True),
        seed=seed,
    )
    samples = options.integer("n", None)
    options.check_all_used()
    return _model_policy(generator, template, language=language, samples=samples)


def build_value(spec: str = DEFAULT_VALUE, *, policy: Policy | None = None) -> ValueFunction:
    """The value function that `spec` describes (see the module docstring); `policy` serves spec "policy"."""
    text = spec.strip()
    if text == "heuristic":
        from search.values import HeuristicValue

        return HeuristicValue()
    if text == "policy":
        if policy is None:
            raise InputError("value spec 'policy' needs the policy it should ask")
        from search.values import PolicyScoreValue

        return PolicyScoreValue(policy)
    if text.startswith("constant:"):
        from search.values import ConstantValue

        raw = text[len("constant:"):]
        try:
            return ConstantValue(float(raw))
        except ValueError:
            raise InputError(f"value spec {spec!r}: expected constant:X with X a number in [0, 1]") from None
    if text == "hf-critic" or text.startswith("hf-critic:") or text.startswith("hf-critic?"):
        from prover.policies.value import LearnedValue

        rest = text[len("hf-critic"):].lstrip(":")
        target, raw_options = split_spec_options(rest)
        model = target or DEFAULT_CRITIC
        options = SpecOptions(f"hf-critic:{model}", raw_options)
        settings: dict[str, Any] = dict(
            device=options.text("device"),
            dtype=options.text("dtype"),
            batch_size=int(options.integer("batch_size", 16) or 16),
            trust_remote_code=options.flag("trust_remote_code", model == DEFAULT_CRITIC),
            head=_choice(options, "head", ("classification", "lm"), "classification"),
        )
        options.check_all_used()  # before loading: a typo should not cost a model load
        return LearnedValue(model, **settings)
    raise InputError(
        f"unknown value {spec!r}; expected heuristic, policy, hf-critic[:MODEL] or constant:X"
    )
