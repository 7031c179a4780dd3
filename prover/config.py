"""One typed configuration for a prover run; `prover.agent.build_components` turns it into parts.

The defaults here are the only defaults: the CLI, the evaluation runner and experiment files all
start from `ProverConfig()` and override fields, so no default is written twice.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator, model_validator
from pydantic_core import PydanticCustomError

from prover.errors import InputError
from prover.policies.specs import (
    HeuristicValueSpec,
    PolicySpec,
    PortfolioSpec,
    ValueSpec,
    parse_policy_spec,
    parse_value_spec,
)

__all__ = ["PROVER_DEFAULTS", "ProverConfig", "make_config"]


class ProverConfig(BaseModel):
    """Everything that decides how one theorem is searched and checked.

    backend: "coq", "lean", or "auto" (chosen from the file extension).
    policy: the policy's typed spec (`prover.policies.specs.PolicySpec`); its shorthand string
        ("portfolio", "0.3*portfolio+0.7*hf:MODEL", grammar in `prover.policies.factory`) or its
        JSON form is accepted too, and the config writes it back as the shorthand.
    value: the value function's typed spec (`ValueSpec`), likewise: "heuristic" (the default),
        "constant:0.5", ... (used by MCTS; best-first ignores it).
    search: the search algorithm, a key of `search.ALGORITHMS`.
    budget_seconds: wall-clock seconds of search per theorem, one deadline (`prover.budget`) for
        model calls, steps, replays and kernel checks of rejected proofs; elaborating the file
        header and statement before it, and the kernel check of the proof found, come on top.
    max_expansions: (state, tactic) steps per theorem; None for no limit.
    step_timeout: seconds one tactic may run inside the proof assistant.
    candidates: tactics asked of the policy per expanded state (MCTS: when a state is first
        visited); None keeps the search's own default (`search.SETTINGS`).
    seed: seeds the search's randomness (same seed, same tree).
    rollout_workers: MCTS only: proof-assistant processes (Ray actors) that run the search's
        in-flight expansions in parallel; 1 steps everything in this process, without Ray.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["auto", "coq", "lean"] = "auto"
    policy: PolicySpec = PortfolioSpec()
    value: ValueSpec = HeuristicValueSpec()
    search: Literal["best_first", "best_first_edges", "mcts"] = "mcts"
    budget_seconds: float = Field(default=60.0, gt=0)
    max_expansions: int | None = Field(default=None, gt=0)
    step_timeout: float = Field(default=10.0, gt=0)
    candidates: int | None = Field(default=None, gt=0)
    seed: int = 0
    rollout_workers: int = Field(default=1, ge=1)

    @field_validator("policy", mode="before")
    @classmethod
    def _parse_policy(cls, spec: Any) -> Any:
        return _parsed(parse_policy_spec, spec)

    @field_validator("value", mode="before")
    @classmethod
    def _parse_value(cls, spec: Any) -> Any:
        return _parsed(parse_value_spec, spec)

    @field_serializer("policy", "value")
    def _shorthand(self, spec: Any) -> str:
        # The shorthand keeps saved configs and run identities (`prover.eval.results`) readable
        # and comparable across versions; it parses back to the same spec.
        return str(spec)

    @model_validator(mode="after")
    def _rollouts_need_mcts(self) -> "ProverConfig":
        if self.rollout_workers > 1 and self.search != "mcts":
            raise ValueError("rollout_workers > 1 needs search='mcts' (best-first expands one state at a time)")
        return self


PROVER_DEFAULTS = ProverConfig()
"""The defaults, for code that needs one outside a config (a formalizer's step timeout, a CLI default)."""


def _parsed(parse: Any, spec: Any) -> Any:
    """A shorthand string parsed by `parse`; a spec or its JSON form passed on to pydantic."""
    if not isinstance(spec, str):
        return spec
    try:
        return parse(spec)
    except InputError as invalid:  # reported by pydantic with the field's name, like any bad value
        raise PydanticCustomError("spec", "{problem}", {"problem": str(invalid)}) from None


def make_config(**fields: object) -> ProverConfig:
    """A `ProverConfig` from command-line values; a bad value is an InputError naming the option."""
    try:
        return ProverConfig(**fields)  # type: ignore[arg-type]
    except ValidationError as invalid:
        first = invalid.errors()[0]
        option = ".".join(str(part) for part in first["loc"]).replace("_", "-")
        raise InputError(f"invalid option --{option}: {first['msg']}") from invalid
