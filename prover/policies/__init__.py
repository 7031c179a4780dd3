"""Tactic policies and value functions: symbolic portfolios, local and served language models, mixtures.

Start with `build_policy(spec, backend=...)` and `build_value(spec, policy=...)`; the spec syntax is
documented in `prover.policies.factory`. Model code (torch, transformers, httpx) is imported only
when a spec asks for it.
"""

from __future__ import annotations

from prover.policies.factory import DEFAULT_POLICY, DEFAULT_VALUE, build_policy, build_value

__all__ = ["build_policy", "build_value", "DEFAULT_POLICY", "DEFAULT_VALUE"]
