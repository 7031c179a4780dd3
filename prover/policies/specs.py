"""Typed policy and value specs: what `--policy` and `--value` describe, as frozen pydantic models.

A spec is a discriminated union on `kind` (portfolio, hammer, retrieval, hf, openai, whole, knn,
mixture; heuristic, policy, constant, hf-critic for values), so a config file can write it as
JSON/TOML and every option has one type and one default, here. The one-line shorthand of the
command line (`0.3*portfolio+0.7*hf:MODEL?n=8`, grammar in `prover.policies.factory`) parses into
these models (`parse_policy_spec`, `parse_value_spec`) and `str(spec)` writes it back, so
string -> spec -> string -> spec gives the same spec. A bad spec is an `InputError` whose one
line names the atom and the option at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from prover.errors import InputError
from prover.policies.prompts import get_template
from prover.policies.spec_options import split_spec_options

__all__ = [
    "ALIASES",
    "DEFAULT_CRITIC",
    "DEFAULT_HF_MODEL",
    "AtomSpec",
    "ConstantValueSpec",
    "CriticValueSpec",
    "HammerSpec",
    "HeuristicValueSpec",
    "HfSpec",
    "KnnSpec",
    "MixtureSpec",
    "MixtureTerm",
    "OpenAISpec",
    "PolicySpec",
    "PolicyValueSpec",
    "PortfolioSpec",
    "RetrievalSpec",
    "SpecModel",
    "ValueSpec",
    "WholeSpec",
    "describe_spec_error",
    "http_url",
    "parse_policy_spec",
    "parse_spec_atom",
    "parse_value_spec",
]

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
"""The real open models by short name, with the options their prompt formats need."""

_WEIGHTED = re.compile(r"^\s*(?P<weight>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)\s*\*\s*(?P<atom>.+?)\s*$")


class SpecModel(BaseModel):
    """A spec atom `KIND[:TARGET][?KEY=VALUE&...]` as a model: frozen, no unknown option, written
    back as its shorthand by `str()`.

    `_target` names the field written after the colon (`hf:MODEL`), not as a `?key=value` option;
    `_missing` gives the one-line message for a required field left out."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    _target: ClassVar[str | None] = None
    _missing: ClassVar[dict[str, str]] = {}

    def __str__(self) -> str:
        return self.shorthand()

    def shorthand(self) -> str:
        """The one-line spec that `parse_policy_spec`/`parse_value_spec` read back as this spec."""
        kind = type(self).model_fields["kind"].default
        head = kind if self._target is None else f"{kind}:{getattr(self, self._target)}"
        options = self.model_dump(exclude_defaults=True, exclude={"kind", self._target or ""})
        if not options:
            return head
        return head + "?" + "&".join(f"{key}={quote(_option_text(value), safe='/:,@')}" for key, value in options.items())


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value) if value else "none"
    return repr(value) if isinstance(value, float) else str(value)


_URL_EXPECTED = "expected an http(s) URL such as http://localhost:8000/v1"


def http_url(url: str) -> str:
    """`url` when it is an http(s) URL (a server's base URL); ValueError otherwise."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(_URL_EXPECTED)
    return url


def _known_template(name: str | None) -> str | None:
    if name is not None:
        try:
            get_template(name)
        except InputError as unknown:  # a ValueError, so pydantic reports it with the option's name
            raise ValueError(str(unknown)) from None
    return name


# ----------------------------------------------------------------------------------- policies


class PortfolioSpec(SpecModel):
    """The backend's symbolic tactic portfolio (the default policy).

    generators: Coq only: the proposal generators to run (`prover.policies.generators`), named
    (`all` names them all); None (not given) runs the Coq portfolio's default set."""

    kind: Literal["portfolio"] = "portfolio"
    generators: tuple[str, ...] | None = None

    @field_validator("generators", mode="before")
    @classmethod
    def _generator_names(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        from prover.policies.generators import parse_generator_names  # imported only when asked for

        try:
            return parse_generator_names(value)
        except InputError as unknown:
            raise ValueError(str(unknown).removeprefix("portfolio: ")) from None


class HammerSpec(SpecModel):
    """Coq: CoqHammer's `hammer` (premise selection and the E/Z3/CVC4 provers)."""

    kind: Literal["hammer"] = "hammer"


class RetrievalSpec(SpecModel):
    """Coq: lemmas found by `Search` and in the file, BM25-ranked, proposed as apply/rewrite/... .

    premises: ranked lemmas that get apply/rewrite/eapply candidates; combined: how many of the
    best go into `auto using` / `hauto use:`."""

    kind: Literal["retrieval"] = "retrieval"
    premises: int = Field(6, gt=0)
    combined: int = Field(3, ge=0)


class HfSpec(SpecModel):
    """A local transformers model (Hub id or directory), seq2seq or causal.

    template: a `prover.policies.prompts.TEMPLATES` name (None: from the model's name); n: samples
    per state (None: as many as the search asks for); top_p / max_new_tokens: None takes 0.95 /
    4096 for whole-proof templates, 1.0 / 128 otherwise; max_input_tokens: prompt tokens kept."""

    _target: ClassVar[str | None] = "model"
    kind: Literal["hf"] = "hf"
    model: str = Field(DEFAULT_HF_MODEL, min_length=1)
    template: str | None = None
    n: int | None = Field(None, gt=0)
    decoding: Literal["beam", "sample", "greedy"] | None = None
    temperature: float = Field(1.0, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    max_new_tokens: int | None = Field(None, gt=0)
    max_input_tokens: int = Field(2048, gt=0)
    device: str | None = None
    dtype: str | None = None
    trust_remote_code: bool = False

    check_template = field_validator("template")(_known_template)


class OpenAISpec(SpecModel):
    """A model behind an OpenAI-compatible server (vLLM, SGLang, hosted APIs).

    url: the server's base URL (http or https); model: the served model's name; endpoint: None
    follows the template (chat templates use the chat endpoint); max_tokens / timeout (seconds
    per request): None takes 4096 / 600 for whole-proof templates, 128 / 60 otherwise; retries,
    backoff (seconds, doubled each retry) and concurrency (requests in flight) for the client;
    api_key_env: the environment variable holding the API key."""

    _target: ClassVar[str | None] = "url"
    _missing: ClassVar[dict[str, str]] = {"url": _URL_EXPECTED, "model": "say which served model with ?model=NAME"}
    kind: Literal["openai"] = "openai"
    url: str
    model: str = Field(min_length=1)
    template: str | None = None
    endpoint: Literal["completions", "chat"] | None = None
    n: int | None = Field(None, gt=0)
    temperature: float = Field(1.0, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int | None = Field(None, gt=0)
    timeout: float | None = Field(None, gt=0)
    retries: int = Field(3, ge=0)
    backoff: float = Field(0.5, ge=0)
    concurrency: int = Field(8, gt=0)
    logprobs: bool = True
    api_key_env: str | None = None

    check_template = field_validator("template")(_known_template)

    check_url = field_validator("url")(http_url)


class WholeSpec(SpecModel):
    """A model used as a whole-proof writer: a failing proof is cut at its longest verified prefix,
    which becomes a search node (truncate-and-resume)."""

    kind: Literal["whole"] = "whole"
    model: Annotated[HfSpec | OpenAISpec, Field(discriminator="kind")]

    @model_validator(mode="after")
    def _whole_proof_template(self) -> WholeSpec:
        name = self.model.template
        if name is not None and get_template(name).kind != "whole_proof":
            raise ValueError(f"template {name!r} is a tactic template, not a whole-proof one")
        return self

    def shorthand(self) -> str:
        return f"whole:{self.model.shorthand()}"


class KnnSpec(SpecModel):
    """Nearest neighbours over traced proof steps (`prove trace` rows, or a saved index).

    k: neighbours consulted; temperature: softmax temperature over their similarities."""

    _target: ClassVar[str | None] = "rows"
    _missing: ClassVar[dict[str, str]] = {"rows": "needs a path to trace rows, e.g. knn:trace/ or knn:trace/splits/by_file/train.jsonl"}
    kind: Literal["knn"] = "knn"
    rows: str = Field(min_length=1)
    k: int = Field(64, gt=0)
    temperature: float = Field(0.1, gt=0)


AtomSpec = Annotated[
    PortfolioSpec | HammerSpec | RetrievalSpec | HfSpec | OpenAISpec | WholeSpec | KnnSpec,
    Field(discriminator="kind"),
]
"""A single policy (one term of a mixture)."""


class MixtureTerm(BaseModel):
    """One weighted policy of a mixture (weights are normalised by the mixture)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weight: float = Field(ge=0)
    policy: AtomSpec


class MixtureSpec(SpecModel):
    """Several policies: their priors merged by weight, duplicate tactics removed."""

    kind: Literal["mixture"] = "mixture"
    terms: tuple[MixtureTerm, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _some_weight(self) -> MixtureSpec:
        if all(term.weight == 0 for term in self.terms):
            raise ValueError("every weight is zero")
        return self

    def shorthand(self) -> str:
        return "+".join(f"{term.weight!r}*{term.policy.shorthand()}" for term in self.terms)


PolicySpec = Annotated[
    PortfolioSpec | HammerSpec | RetrievalSpec | HfSpec | OpenAISpec | WholeSpec | KnnSpec | MixtureSpec,
    Field(discriminator="kind"),
]
"""Any policy: one atom or a mixture."""


# ----------------------------------------------------------------------------------- values


class HeuristicValueSpec(SpecModel):
    """`search.values.HeuristicValue`: fewer, smaller goals look closer to a proof (the default)."""

    kind: Literal["heuristic"] = "heuristic"


class PolicyValueSpec(SpecModel):
    """`search.values.PolicyScoreValue`: the policy's own confidence."""

    kind: Literal["policy"] = "policy"


class ConstantValueSpec(SpecModel):
    """`search.values.ConstantValue`: the same value in [0, 1] for every state."""

    _target: ClassVar[str | None] = "value"
    kind: Literal["constant"] = "constant"
    value: float = Field(ge=0, le=1)


class CriticValueSpec(SpecModel):
    """A learned critic (`prover.policies.value.LearnedValue`).

    head: "classification" (a reward head) or "lm" (a causal LM's probability of answering Yes);
    trust_remote_code: None trusts only the default critic's own code."""

    _target: ClassVar[str | None] = "model"
    kind: Literal["hf-critic"] = "hf-critic"
    model: str = Field(DEFAULT_CRITIC, min_length=1)
    device: str | None = None
    dtype: str | None = None
    batch_size: int = Field(16, gt=0)
    trust_remote_code: bool | None = None
    head: Literal["classification", "lm"] = "classification"


ValueSpec = Annotated[
    HeuristicValueSpec | PolicyValueSpec | ConstantValueSpec | CriticValueSpec,
    Field(discriminator="kind"),
]
"""Any value function."""


# ----------------------------------------------------------------------------------- parsing


def parse_policy_spec(text: str) -> PolicySpec:
    """The spec a shorthand string describes (aliases expanded); `InputError` naming the problem."""
    terms: list[tuple[float, str]] = []
    for raw in text.split("+"):
        term = raw.strip()
        if not term:
            raise InputError(f"policy spec {text!r} has an empty term (see `prover.policies.factory`)")
        match = _WEIGHTED.match(term)
        terms.append((float(match["weight"]), match["atom"]) if match else (1.0, term))
    if all(weight == 0 for weight, _ in terms):
        raise InputError(f"policy spec {text!r}: every weight is zero")
    atoms = [_parse_atom(atom) for _, atom in terms]
    if len(atoms) == 1:
        return atoms[0]
    return MixtureSpec(terms=tuple(MixtureTerm(weight=weight, policy=atom) for (weight, _), atom in zip(terms, atoms)))


_ATOM_HEAD = re.compile(r"^(?P<kind>[a-z]+)(?P<separator>[:?]|$)")
_ATOM_KINDS: dict[str, type[SpecModel]] = {
    "portfolio": PortfolioSpec,
    "hammer": HammerSpec,
    "retrieval": RetrievalSpec,
    "hf": HfSpec,
    "openai": OpenAISpec,
    "knn": KnnSpec,
}


def _parse_atom(atom: str) -> Any:
    text = ALIASES.get(atom.strip(), atom.strip())
    if text.startswith("whole:"):
        inner = ALIASES.get(text[len("whole:"):], text[len("whole:"):])
        model = _parse_atom(inner.removeprefix("whole:"))
        if not isinstance(model, (HfSpec, OpenAISpec)):
            raise InputError(f"whole:{model.kind} makes no sense: the {model.kind} policy proposes single tactics")
        return _validated(WholeSpec, {"model": model}, text)
    known = ", ".join(["portfolio", "hammer", "retrieval", "hf:MODEL", "openai:URL", "knn:ROWS", "whole:...", *ALIASES])
    return parse_spec_atom(text, _ATOM_KINDS, unknown=f"unknown policy {atom.strip()!r}; expected one of: {known}")


def parse_spec_atom(text: str, kinds: Mapping[str, type[SpecModel]], *, unknown: str) -> Any:
    """`KIND[:TARGET][?KEY=VALUE&...]` read into the spec model of its kind; `InputError(unknown)`
    for a kind not in `kinds` (or written with a target it does not take), and one line naming
    the option at fault for a bad one."""
    head = _ATOM_HEAD.match(text)
    spec_class = kinds.get(head["kind"]) if head else None
    has_target = head is not None and head["separator"] == ":"
    if head is None or spec_class is None or (spec_class._target is not None) != has_target:
        raise InputError(unknown)
    target, options = split_spec_options(text[head.end("kind") + has_target:])
    fields: dict[str, Any] = dict(options)
    if spec_class._target is not None and target:
        fields[spec_class._target] = target
    return _validated(spec_class, fields, text)


def parse_value_spec(text: str) -> ValueSpec:
    """The value spec a shorthand string describes; `InputError` naming the problem."""
    spec = text.strip()
    if spec == "heuristic":
        return HeuristicValueSpec()
    if spec == "policy":
        return PolicyValueSpec()
    if spec.startswith("constant:"):
        raw = spec[len("constant:"):]
        try:
            number = float(raw)
        except ValueError:
            raise InputError(f"value spec {text!r}: expected constant:X with X a number in [0, 1]") from None
        return _validated(ConstantValueSpec, {"value": number}, spec)
    if spec == "hf-critic" or spec.startswith(("hf-critic:", "hf-critic?")):
        target, options = split_spec_options(spec[len("hf-critic"):].lstrip(":"))
        fields: dict[str, Any] = {**options, **({"model": target} if target else {})}
        return _validated(CriticValueSpec, fields, spec)
    raise InputError(f"unknown value {text!r}; expected heuristic, policy, hf-critic[:MODEL] or constant:X")


def _validated(spec_class: type[SpecModel], fields: dict[str, Any], text: str) -> Any:
    """`spec_class` built from an atom's fields; its first problem as a one-line `InputError`."""
    try:
        return spec_class.model_validate(fields)
    except ValidationError as invalid:
        raise InputError(f"{text}: {describe_spec_error(invalid, spec_class)}") from None


_PHRASES = {
    "float_parsing": "is not a number",
    "float_type": "is not a number",
    "int_parsing": "is not an integer",
    "int_type": "is not an integer",
    "int_from_float": "is not an integer",
    "bool_parsing": "is not true/false",
    "bool_type": "is not true/false",
}


def describe_spec_error(invalid: ValidationError, spec_class: type[SpecModel]) -> str:
    """One line for a spec's validation errors: its unknown options, else its first bad option."""
    errors = invalid.errors()
    unknown = [str(error["loc"][0]) for error in errors if error["type"] == "extra_forbidden"]
    if unknown:
        return f"unknown option(s) {', '.join(unknown)}"
    missing = [str(error["loc"][0]) for error in errors if error["type"] == "missing"]
    if missing:
        return spec_class._missing.get(missing[0], f"needs option {missing[0]}")
    first = errors[0]
    target = spec_class._target
    message = str(first["msg"]).removeprefix("Value error, ")
    message = message[0].lower() + message[1:]
    if not first["loc"] or first["loc"][0] == target:
        return message
    key = str(first["loc"][0])
    phrase = _PHRASES.get(first["type"])
    shown = f"option {key}={first['input']!r}"
    return f"{shown} {phrase}" if phrase else f"{shown}: {message}"
