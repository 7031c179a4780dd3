"""The formalizer's model from a one-line spec: a sampling generator for drafts, a greedy one for the judge.

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
from typing import Any

from prover.errors import InputError
from prover.policies.spec_options import SpecOptions, split_spec_options
from prover.policies.generation import TextGenerator

__all__ = ["FormalizerModel", "build_formalizer_model", "template_for_model"]

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


def build_formalizer_model(spec: str, *, seed: int = 0) -> FormalizerModel:
    """The generators `spec` describes (see the module docstring).

    InputError for a malformed spec; ModelUnavailable when the model cannot be loaded (hf) —
    a server that cannot be reached fails at the first request.
    """
    spec = spec.strip()
    if spec.startswith("hf:"):
        return _hf(spec, seed=seed)
    if spec.startswith("openai:"):
        return _openai(spec, seed=seed)
    raise InputError(
        f"unknown formalizer model {spec!r}; expected hf:MODEL or openai:URL?model=NAME "
        "(e.g. openai:http://127.0.0.1:8000/v1?model=AI-MO/Kimina-Autoformalizer-7B)"
    )


def _openai(spec: str, *, seed: int) -> FormalizerModel:
    from prover.policies.openai_compat import OpenAIGenerator

    url, raw = split_spec_options(spec[len("openai:"):])
    options = SpecOptions(f"openai:{url}", raw)
    if not url.startswith(("http://", "https://")):
        raise InputError(f"openai:{url}: expected an http(s) URL such as http://127.0.0.1:8000/v1")
    model = options.text("model")
    if not model:
        raise InputError(f"openai:{url}: say which served model with ?model=NAME")
    endpoint = options.text("endpoint", "chat")
    if endpoint != "chat":
        raise InputError(f"openai:{url}: the formalizer speaks chat only (endpoint=chat), not {endpoint!r}")
    key_env = options.text("api_key_env")
    common: dict[str, Any] = dict(
        model=model,
        endpoint="chat",
        api_key=os.environ.get(key_env) if key_env else None,
        timeout=options.number("timeout", 600.0),
        max_retries=options.integer("retries", 3),
        backoff=options.number("backoff", 0.5),
        max_concurrency=options.integer("concurrency", 8),
        logprobs=False,
        seed=seed,
    )
    drafter = OpenAIGenerator(
        url,
        temperature=options.number("temperature", 0.7),
        top_p=options.number("top_p", 0.95),
        max_tokens=options.integer("max_tokens", 1024),
        **common,
    )
    judge = OpenAIGenerator(
        url, temperature=0.0, top_p=1.0, max_tokens=options.integer("judge_max_tokens", 1024), **common
    )
    template = options.text("template") or template_for_model(model)
    options.check_all_used()
    return FormalizerModel(drafter, judge, template, spec, [drafter, judge])


def _hf(spec: str, *, seed: int) -> FormalizerModel:
    from prover.policies.hf import HFGenerator, load_model

    model, raw = split_spec_options(spec[len("hf:"):])
    options = SpecOptions(f"hf:{model}", raw)
    if not model:
        raise InputError("hf: needs a model: hf:MODEL_ID or hf:/path/to/saved/model")
    loaded = load_model(
        model,
        device=options.text("device"),
        dtype=options.text("dtype"),
        trust_remote_code=options.flag("trust_remote_code", False),
    )
    drafter = HFGenerator(
        model,
        loaded=loaded,
        decoding="sample",
        temperature=options.number("temperature", 0.7),
        top_p=options.number("top_p", 0.95),
        max_new_tokens=options.integer("max_new_tokens", 1024),
        max_input_tokens=options.integer("max_input_tokens", 4096),
        seed=seed,
    )
    judge = HFGenerator(
        model,
        loaded=loaded,
        decoding="greedy",
        max_new_tokens=options.integer("judge_max_tokens", 1024),
        max_input_tokens=options.integer("max_input_tokens", 4096),
        seed=seed,
    )
    template = options.text("template") or template_for_model(model)
    options.check_all_used()
    return FormalizerModel(drafter, judge, template, spec)
