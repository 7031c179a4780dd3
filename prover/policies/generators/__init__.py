"""Proposal generators: components of the Coq portfolio that widen what it can say.

Each generator reads the first goal and proposes plain Coq tactics with portfolio-scale scores
(no model, CPU milliseconds per state); the portfolio merges them with its own candidates, so
they mix with `knn:`, `hf:` and `openai:` policies like the rest of the portfolio does.

    nlarith    hint terms for nonlinear arithmetic (squares, products of hypotheses), sqrt facts,
               Rabs sign cases + nra/psatz/nia
    cas        sympy: solved values of the hypotheses' equations, factorisations, completed
               squares, field_simplify with the denominators asserted non-zero, square roots of
               perfect squares evaluated, definitions unfolded, universal hypotheses instantiated,
               logarithms split
    witness    `exists` witnesses and bounded case splits found by evaluation in Python
    modular    mod/divisibility: computation, division equations, stdlib rewrites, the remainder
               split x = k*q + r, polynomial quotients as divisibility witnesses
    induction  induction with follow-ups, real-sum and divisibility inductions (computed witnesses,
               lower bounds absorbed), destruct, inversion, unfold of the file's definitions,
               rewrite/apply with the file's earlier lemmas

Selected with the portfolio's option `generators` (`portfolio?generators=none`, `=all`, or a
comma-separated list such as `=nlarith,cas`); the default is `DEFAULT_GENERATORS`.
"""

from __future__ import annotations

from prover.errors import InputError
from prover.policies.generators.base import FileContext, Generator, GoalView, Proposal, context_from_header
from prover.policies.generators.cas import ComputerAlgebraGenerator
from prover.policies.generators.induction import InductionGenerator
from prover.policies.generators.modular import ModularGenerator
from prover.policies.generators.nlarith import NonlinearHintGenerator
from prover.policies.generators.witness import WitnessGenerator

__all__ = [
    "GENERATORS",
    "DEFAULT_GENERATORS",
    "FileContext",
    "Generator",
    "GoalView",
    "Proposal",
    "build_generators",
    "context_from_header",
    "parse_generator_names",
]

GENERATORS: dict[str, type] = {
    "nlarith": NonlinearHintGenerator,
    "cas": ComputerAlgebraGenerator,
    "witness": WitnessGenerator,
    "modular": ModularGenerator,
    "induction": InductionGenerator,
}
"""Every generator by the name the `generators` option uses, in proposal order."""

DEFAULT_GENERATORS: tuple[str, ...] = tuple(GENERATORS)
"""The generators the default Coq portfolio runs."""


def parse_generator_names(value: str) -> tuple[str, ...]:
    """`none`, `all` or a comma-separated list of names -> the names; `InputError` for an unknown one."""
    text = value.strip().lower()
    if text in ("", "none", "off"):
        return ()
    if text in ("all", "on"):
        return tuple(GENERATORS)
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in GENERATORS]
    if unknown:
        raise InputError(
            f"portfolio: unknown generator(s) {', '.join(unknown)}; expected none, all or a comma-separated "
            f"list of {', '.join(GENERATORS)}"
        )
    return names


def build_generators(names: tuple[str, ...]) -> list[Generator]:
    """One instance of each named generator, in registry order."""
    return [GENERATORS[name]() for name in GENERATORS if name in names]
