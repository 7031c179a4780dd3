"""The formalizer's model from its spec: a sampling generator for drafts, a greedy one for the judge.

A spec is a typed model (`HfFormalizerSpec`, `OpenAIFormalizerSpec`: the options below with
their types and defaults); `--model` gives it in the one-line shorthand:

    SPEC := "hf:" MODEL [ "?" OPTIONS ]       a local transformers model (Hub id or directory)
          | "openai:" URL [ "?" OPTIONS ]     a chat model behind an OpenAI-compatible server
    OPTIONS := KEY "=" VALUE ( "&" KEY "=" VALUE )*   (URL query syntax)

    openai:http://127.0.0.1:8000/v1?model=AI-MO/Kimina-Autoformalizer-7B&template=kimina-autoformalizer
    hf:/path/to/saved/model?max_new_tokens=512

Options: template=NAME (a `prover.formalizer.templates.TEMPLATES` name; default from the model's
name, else the target's generic chat template), temperature (drafts; default 0.7), top_p (0.95),
max_tokens / max_new_tokens (drafts, default 1024), judge_max_tokens (default 1024);
openai: model=NAME (required), timeout, retries, backoff, concurrency, api_key_env=VAR;
hf: device, dtype, trust_remote_code=true.

The HTTP and local-generation code is `prover.policies.openai_compat.OpenAIGenerator` and
`prover.policies.hf.HFGenerator`; the judge shares the drafter's loaded weights (hf) or server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from prover.policies.generation import TextGenerator
from prover.policies.specs import SpecModel, http_url, parse_spec_atom

__all__ = [
    "FormalizerModel",
    "FormalizerModelSpec",
    "HfFormalizerSpec",
    "OpenAIFormalizerSpec",
    "build_formalizer_model",
    "parse_formalizer_model_spec",
    "template_for_model",
]

# Known formalizers, recognised from the model's name, and the template each was trained with.
_NAME_TEMPLATES = (
    ("kimina-autoformalizer", "kimina-autoformalizer"),
    ("goedel-formalizer", "goedel-formalizer-v2"),
    ("herald", "herald"),
)


def template_for_model(model: str) -> str | None:
    """The named template of a known open formalizer, from its name; None when unknown."""
    lowered = model.lower()
    for fragment, template in _NAME_TEMPLATES:
        if fragment in lowered:
            return template
    return None


@dataclass
class FormalizerModel:
    """The generators the formalizer uses.

    drafter: samples statements and repairs (temperature > 0, n samples per prompt).
    judge: back-translations and judgements (greedy / temperature 0), the same model.
    template: the template named by the spec or recognised from the model's name (None: default).
    name: the spec, for reports.
    """

    drafter: TextGenerator
    judge: TextGenerator
    template: str | None
    name: str
    _closers: list[Any] = field(default_factory=list, repr=False)

    def close(self) -> None:
        """Release connections (OpenAI clients); local models are freed with the object."""
        for closer in self._closers:
            closer.close()
        self._closers.clear()

    def __enter__(self) -> "FormalizerModel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HfFormalizerSpec(SpecModel):
    """A local transformers model (Hub id or directory) as the formalizer; the judge shares its weights.

    temperature / top_p / max_new_tokens: the drafts' sampling; judge_max_tokens: the judge's
    (greedy) answers; max_input_tokens: prompt tokens kept."""

    _target: ClassVar[str | None] = "model"
    _missing: ClassVar[dict[str, str]] = {"model": "needs a model: hf:MODEL_ID or hf:/path/to/saved/model"}
    kind: Literal["hf"] = "hf"
    model: str = Field(min_length=1)
    template: str | None = None
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_new_tokens: int = Field(1024, gt=0)
    max_input_tokens: int = Field(4096, gt=0)
    judge_max_tokens: int = Field(1024, gt=0)
    device: str | None = None
    dtype: str | None = None
    trust_remote_code: bool = False


class OpenAIFormalizerSpec(SpecModel):
    """A chat model behind an OpenAI-compatible server as the formalizer (drafts and judge).

    timeout: seconds per request; retries, backoff (seconds), concurrency: the client's;
    api_key_env: the environment variable holding the API key."""

    _target: ClassVar[str | None] = "url"
    _missing: ClassVar[dict[str, str]] = {"model": "say which served model with ?model=NAME"}
    kind: Literal["openai"] = "openai"
    url: str
    model: str = Field(min_length=1)
    template: str | None = None
    endpoint: str = "chat"
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(1024, gt=0)
    judge_max_tokens: int = Field(1024, gt=0)
    timeout: float = Field(600.0, gt=0)
    retries: int = Field(3, ge=0)
    backoff: float = Field(0.5, ge=0)
    concurrency: int = Field(8, gt=0)
    api_key_env: str | None = None

    check_url = field_validator("url")(http_url)

    @field_validator("endpoint")
    @classmethod
    def _chat_only(cls, endpoint: str) -> str:
        if endpoint != "chat":
            raise ValueError(f"the formalizer speaks chat only (endpoint=chat), not {endpoint!r}")
        return endpoint


FormalizerModelSpec = Annotated[HfFormalizerSpec | OpenAIFormalizerSpec, Field(discriminator="kind")]
"""Any formalizer model."""


def parse_formalizer_model_spec(text: str) -> FormalizerModelSpec:
    """The spec a `--model` shorthand describes; `InputError` naming the problem."""
    unknown = (
        f"unknown formalizer model {text.strip()!r}; expected hf:MODEL or openai:URL?model=NAME "
        "(e.g. openai:http://127.0.0.1:8000/v1?model=AI-MO/Kimina-Autoformalizer-7B)"
    )
    return parse_spec_atom(text.strip(), {"hf": HfFormalizerSpec, "openai": OpenAIFormalizerSpec}, unknown=unknown)


def build_formalizer_model(spec: FormalizerModelSpec | str, *, seed: int = 0) -> FormalizerModel:
    """The generators `spec` (typed, or its shorthand) describes (see the module docstring).

    InputError for a malformed spec; ModelUnavailable when the model cannot be loaded (hf) —
    a server that cannot be reached fails at the first request.
    """
    name = spec.strip() if isinstance(spec, str) else str(spec)
    typed = parse_formalizer_model_spec(spec) if isinstance(spec, str) else spec
    if isinstance(typed, HfFormalizerSpec):
        return _hf(typed, name, seed=seed)
    return _openai(typed, name, seed=seed)


def _openai(spec: OpenAIFormalizerSpec, name: str, *, seed: int) -> FormalizerModel:
    from prover.policies.openai_compat import OpenAIGenerator

    common: dict[str, Any] = dict(
        model=spec.model,
        endpoint="chat",
        api_key=os.environ.get(spec.api_key_env) if spec.api_key_env else None,
        timeout=spec.timeout,
        max_retries=spec.retries,
        backoff=spec.backoff,
        max_concurrency=spec.concurrency,
        logprobs=False,
        seed=seed,
    )
    drafter = OpenAIGenerator(spec.url, temperature=spec.temperature, top_p=spec.top_p, max_tokens=spec.max_tokens, **common)
    judge = OpenAIGenerator(spec.url, temperature=0.0, top_p=1.0, max_tokens=spec.judge_max_tokens, **common)
    template = spec.template or template_for_model(spec.model)
    return FormalizerModel(drafter, judge, template, name, [drafter, judge])


def _hf(spec: HfFormalizerSpec, name: str, *, seed: int) -> FormalizerModel:
    from prover.policies.hf import HFGenerator, load_model

    loaded = load_model(spec.model, device=spec.device, dtype=spec.dtype, trust_remote_code=spec.trust_remote_code)
    drafter = HFGenerator(
        spec.model,
        loaded=loaded,
        decoding="sample",
        temperature=spec.temperature,
        top_p=spec.top_p,
        max_new_tokens=spec.max_new_tokens,
        max_input_tokens=spec.max_input_tokens,
        seed=seed,
    )
    judge = HFGenerator(
        spec.model,
        loaded=loaded,
        decoding="greedy",
        max_new_tokens=spec.judge_max_tokens,
        max_input_tokens=spec.max_input_tokens,
        seed=seed,
    )
    return FormalizerModel(drafter, judge, spec.template or template_for_model(spec.model), name)
