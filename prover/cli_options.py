"""The prover options every command shares, defined once: `--policy`, `--budget-seconds`, ...

Each option is a `ProverConfig` field with its default and type from there. A command takes
them with `@prover_options(...)` and a `prover: ProverOptions` parameter, and builds its config
with `prover.config()`, so no command re-lists a field, drifts from another or copies a default.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from copy import copy
from dataclasses import dataclass
from typing import Annotated, Any, Optional, TypeVar

import typer

from prover.config import PROVER_DEFAULTS, ProverConfig, make_config

__all__ = ["PROVER_OPTIONS", "ProverOptions", "prover_options"]

_PANEL = "Prover"  # the help panel the shared options are listed in

PROVER_OPTIONS: dict[str, tuple[Any, str]] = {
    "backend": (str, "coq, lean, or auto (from the file extension)."),
    "policy": (str, "Policy spec, e.g. portfolio or 0.3*portfolio+0.7*hf:MODEL (grammar: prover.policies.factory)."),
    "value": (str, "Value function spec for MCTS, e.g. heuristic or constant:0.5."),
    "search": (str, "Search algorithm: best_first, best_first_edges (one tactic per pop) or mcts."),
    "budget_seconds": (float, "Search seconds per theorem."),
    "max_expansions": (Optional[int], "Tactic steps per theorem (default: no limit)."),
    "step_timeout": (float, "Seconds one tactic may run."),
    "candidates": (Optional[int], "Tactics asked of the policy per expanded state (default: the search's own)."),
    "seed": (int, "Seed of the search's randomness."),
    "rollout_workers": (int, "MCTS: run in-flight expansions on this many Ray workers (1: no Ray)."),
}
"""Each shared option: its `ProverConfig` field name -> (command-line type, help)."""

@dataclass(frozen=True)
class ProverOptions:
    """The shared options as one command line gave them: `ProverConfig` field -> value."""

    given: Mapping[str, Any]

    def config(self, **decided: Any) -> ProverConfig:
        """The run's config: `ProverConfig`'s defaults, the options given over them, then the
        fields the command decides itself (e.g. the backend from a formalizer's --target)."""
        return make_config(**{**self.given, **decided})


Command = TypeVar("Command", bound=Callable[..., Any])


def prover_options(
    *,
    only: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
    defaults: Mapping[str, Any] | None = None,
    help: Mapping[str, str] | None = None,
) -> Callable[[Command], Command]:
    """Add the shared options to a typer command, which receives them as `prover: ProverOptions`.

    only / exclude: the fields this command offers (default: all); defaults / help: a command's
    own default or help text for a field, where it means something else there (e.g. seconds per
    implication); every other default is `ProverConfig`'s."""
    fields = [name for name in (only or PROVER_OPTIONS) if name not in exclude]
    unknown = (set(fields) | set(defaults or {}) | set(help or {})) - set(PROVER_OPTIONS)
    if unknown:
        raise ValueError(f"not shared prover options: {sorted(unknown)}")

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        own = [parameter for name, parameter in signature.parameters.items() if name != "prover"]
        shared = [_parameter(name, (defaults or {}).get(name), (help or {}).get(name)) for name in fields]

        @functools.wraps(command)
        def with_options(*args: Any, **values: Any) -> Any:
            given = {name: values.pop(name) for name in fields}
            return command(*args, prover=ProverOptions(given), **values)

        with_options.__signature__ = signature.replace(parameters=[*own, *shared])  # type: ignore[attr-defined]
        with_options.prover_fields = tuple(fields)  # type: ignore[attr-defined]
        return with_options  # type: ignore[return-value]

    return decorate


def _parameter(name: str, default: Any, help_text: str | None) -> inspect.Parameter:
    kind, standard_help = PROVER_OPTIONS[name]
    value = default if default is not None else getattr(PROVER_DEFAULTS, name)
    if name in ("policy", "value"):
        value = str(value)  # typed specs; the command line writes their shorthand
    option = copy(typer.Option(help=help_text or standard_help, rich_help_panel=_PANEL))
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[kind, option], default=value)
