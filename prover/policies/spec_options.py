"""Splitting a spec atom's `?key=value&...` options from its target (`hf:MODEL?temperature=0.7&n=8`).

The typed spec models (`prover.policies.specs`, and the formalizer's `prover.formalizer.models`)
read the options this returns, as strings, into their typed fields.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

__all__ = ["split_spec_options"]


def split_spec_options(text: str) -> tuple[str, dict[str, str]]:
    """`target?k=v&...` -> (target, {k: v}): the query part of a policy or value atom."""
    target, _, query = text.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False)) if query else {}
    return target, options
