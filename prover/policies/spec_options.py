"""The `?key=value` options of a spec atom (`hf:MODEL?temperature=0.7&n=8`): splitting, and typed access.

`split_spec_options` serves the policy and value specs (`prover.policies.specs`, whose pydantic
models type the options); `SpecOptions` reads the formalizer's model specs (`prover.formalizer.models`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from prover.errors import InputError

__all__ = ["SpecOptions", "split_spec_options"]


def split_spec_options(text: str) -> tuple[str, dict[str, str]]:
    """`target?k=v&...` -> (target, {k: v}): the query part of a policy or value atom."""
    target, _, query = text.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False)) if query else {}
    return target, options


class SpecOptions:
    """Typed access to an atom's options, with an error naming any option left unused."""

    def __init__(self, atom: str, options: dict[str, str]) -> None:
        self.atom = atom
        self.options = dict(options)
        self.used: set[str] = set()

    def text(self, key: str, default: str | None = None) -> str | None:
        self.used.add(key)
        return self.options.get(key, default)

    def number(self, key: str, default: float) -> float:
        value = self.text(key)
        try:
            return float(value) if value is not None else default
        except ValueError:
            raise InputError(f"{self.atom}: option {key}={value!r} is not a number") from None

    def integer(self, key: str, default: int | None) -> int | None:
        value = self.text(key)
        try:
            return int(value) if value is not None else default
        except ValueError:
            raise InputError(f"{self.atom}: option {key}={value!r} is not an integer") from None

    def flag(self, key: str, default: bool) -> bool:
        value = self.text(key)
        if value is None:
            return default
        if value.lower() in {"1", "true", "yes", "on"}:
            return True
        if value.lower() in {"0", "false", "no", "off"}:
            return False
        raise InputError(f"{self.atom}: option {key}={value!r} is not true/false")

    def check_all_used(self) -> None:
        unknown = sorted(set(self.options) - self.used)
        if unknown:
            raise InputError(f"{self.atom}: unknown option(s) {', '.join(unknown)}")

