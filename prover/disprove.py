"""Disproof: show a statement false by proving its negation, with witnesses found by evaluating it in Python.

A false statement is an unfaithful formalization, and a user wants to hear that their theorem is
false. For an arithmetic statement `∀ xs, H1 -> ... -> C` over `nat`, `Z` or `R` (the operations
`+ - * / ^ mod`, comparisons, `/\\ \\/ ~`), the statement is evaluated in Python on small values
of its variables (nat 0..10, Z -6..6, R -5..5, ±1/2 and 3/2; truncated subtraction and floor division
where Coq has them); an assignment that satisfies every hypothesis and falsifies the conclusion is
a candidate counterexample. The proof assistant then has to prove `~ (∀ xs, ...)` by
specialising the statement at the witnesses and deciding the concrete arithmetic (`lia`, `lra`,
`nra`); only its kernel check (`verify`) makes the statement "disproved". With a prover, a short
search on the negation comes last (statements Python cannot read, e.g. with `sqrt`).

Python's evaluation only proposes witnesses; it is never the evidence.
"""

from __future__ import annotations

import ast
import itertools
import logging
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Callable, Iterator, Sequence

from search.types import Environment, Theorem

from prover.errors import InputError, ProverError

__all__ = ["COQ_AUTOMATION", "Disproof", "negation_theorem", "find_counterexample", "disprove", "NEGATION_SUFFIX"]

log = logging.getLogger(__name__)

NEGATION_SUFFIX = "_is_false"
COQ_AUTOMATION = "From Coq Require Import Lia Lra Psatz."
_MAX_ASSIGNMENTS = 5000
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class Disproof:
    """A kernel-checked proof that a statement is false.

    theorem: the negation theorem that was proved (its statement is `~ (original)`).
    proof: its tactics. witnesses: the values, by variable, when a counterexample was found.
    source: the negation with its proof as file text (for reports).
    """

    theorem: Theorem
    proof: tuple[str, ...]
    witnesses: tuple[tuple[str, str], ...]
    source: str

    def describe(self) -> str:
        """One line: the counterexample, or that the negation was proved."""
        if self.witnesses:
            values = ", ".join(f"{name} = {value}" for name, value in self.witnesses)
            return f"false: counterexample {values} (negation kernel-checked)"
        return "false: its negation is kernel-checked"

    def to_json(self) -> dict[str, Any]:
        return {
            "negation": self.theorem.statement,
            "proof": list(self.proof),
            "witnesses": dict(self.witnesses),
            "source": self.source,
        }


# -- Python evaluation of Coq arithmetic ------------------------------------------------------


class _Nat(int):
    """nat: subtraction truncates at 0, `/` is floor division."""

    def __add__(self, other: int) -> "_Nat":
        return _Nat(int(self) + int(other))

    __radd__ = __add__

    def __mul__(self, other: int) -> "_Nat":
        return _Nat(int(self) * int(other))

    __rmul__ = __mul__

    def __sub__(self, other: int) -> "_Nat":
        return _Nat(max(int(self) - int(other), 0))

    def __rsub__(self, other: int) -> "_Nat":
        return _Nat(max(int(other) - int(self), 0))

    def __truediv__(self, other: int) -> "_Nat":
        if int(other) == 0:
            raise ZeroDivisionError
        return _Nat(int(self) // int(other))

    def __mod__(self, other: int) -> "_Nat":
        if int(other) == 0:
            raise ZeroDivisionError
        return _Nat(int(self) % int(other))

    def __pow__(self, other: int) -> "_Nat":  # type: ignore[override]
        if not 0 <= int(other) <= _MAX_EXPONENT:
            raise OverflowError
        return _Nat(int(self) ** int(other))


class _Z(int):
    """Z: `/` and `mod` are floor division and its remainder (as Coq's Z.div, Z.modulo)."""

    def __add__(self, other: int) -> "_Z":
        return _Z(int(self) + int(other))

    __radd__ = __add__

    def __mul__(self, other: int) -> "_Z":
        return _Z(int(self) * int(other))

    __rmul__ = __mul__

    def __sub__(self, other: int) -> "_Z":
        return _Z(int(self) - int(other))

    def __rsub__(self, other: int) -> "_Z":
        return _Z(int(other) - int(self))

    def __neg__(self) -> "_Z":
        return _Z(-int(self))

    def __truediv__(self, other: int) -> "_Z":
        if int(other) == 0:
            raise ZeroDivisionError
        return _Z(int(self) // int(other))

    def __mod__(self, other: int) -> "_Z":
        if int(other) == 0:
            raise ZeroDivisionError
        return _Z(int(self) % int(other))

    def __pow__(self, other: int) -> "_Z":  # type: ignore[override]
        if not 0 <= int(other) <= _MAX_EXPONENT:
            raise OverflowError
        return _Z(int(self) ** int(other))


class _R(Fraction):
    """R on rationals: exact arithmetic, natural-number powers."""

    def __pow__(self, other: Any) -> "_R":  # type: ignore[override]
        exponent = Fraction(other)
        if exponent.denominator != 1 or not 0 <= exponent <= _MAX_EXPONENT:
            raise OverflowError
        return _R(Fraction(self) ** int(exponent))


_DOMAINS: dict[str, Callable[[Any], Any]] = {"nat": _Nat, "Z": _Z, "R": _R}
_SAMPLES: dict[str, tuple[Any, ...]] = {
    "nat": tuple(range(11)),
    "Z": tuple(range(-6, 7)),
    "R": (0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, Fraction(1, 2), Fraction(-1, 2), Fraction(3, 2)),
}
_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?|/\\|\\/|<>|<=|>=|->|[A-Za-z_][\w']*|[-+*/^()<>=~])")
_WORDS = {"mod": "%", "True": "True", "False": "False"}
_SYMBOLS = {"/\\": " and ", "\\/": " or ", "~": " not ", "<>": "!=", "=": "==", "^": "**"}


def _python_expression(text: str, variables: Sequence[str], domain: str) -> str | None:
    """`text` (one Coq proposition, no `->`) as a Python expression over `variables`; None when unreadable."""
    out: list[str] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            return None
        token = match.group(1)
        position = match.end()
        if token[0].isdigit():
            value = Fraction(token) if "." in token else int(token)
            if domain != "R" and isinstance(value, Fraction):
                return None
            out.append(f"_D({value.numerator}, {value.denominator})" if isinstance(value, Fraction) else f"_D({value})")
        elif token in variables:
            out.append(f"_v[{variables.index(token)}]")
        elif token in _WORDS:
            out.append(f" {_WORDS[token]} ")
        elif token in _SYMBOLS:
            out.append(_SYMBOLS[token])
        elif token in "+-*/()<>":
            out.append(token)
        else:
            return None  # a function or notation Python does not know
    expression = "".join(out)
    try:
        ast.parse(expression, mode="eval")
    except SyntaxError:
        return None
    return expression


def _implication_parts(body: str) -> list[str] | None:
    """`H1 -> H2 -> C` split at its top-level arrows; None when an arrow or quantifier is nested."""
    from prover.formalizer.equivalence import _top_level

    parts, start = [], 0
    while True:
        arrow = _top_level(body, "->", start)
        if arrow < 0:
            parts.append(body[start:])
            break
        if body[arrow - 1 : arrow] == "<":  # `<->`
            return None
        parts.append(body[start:arrow])
        start = arrow + 2
    if any(re.search(r"\b(forall|exists|fun)\b|->", part) for part in parts):
        return None
    return [part.strip() for part in parts]


def _scope_domain(header: str) -> str:
    scopes = re.findall(r"Open\s+Scope\s+(\w+)_scope", header)
    return {"R": "R", "Z": "Z"}.get(scopes[-1] if scopes else "nat", "nat")


def find_counterexample(statement: str, header: str = "") -> dict[str, Any] | None:
    """Values of the statement's variables that satisfy its hypotheses and falsify its conclusion, or None.

    Only arithmetic over one domain (all variables `nat`, `Z` or `R`) is read; anything else, or
    no counterexample among the small values, gives None. A closed false statement gives {}.
    """
    from prover.formalizer.equivalence import _forall_prefix, shape_of

    try:
        shape = shape_of(statement, "coq")
    except ValueError:
        return None
    kinds = {kind for _, kind in shape.variables}
    if len(kinds) > 1 or not kinds <= set(_DOMAINS):
        return None
    domain = next(iter(kinds)) if kinds else _scope_domain(header)
    body = re.sub(r"%(R|Z|nat)\b", "", shape.body)
    prefix = _forall_prefix(body, "coq")
    if prefix is not None:  # hypothesis binders `forall (h : P), C` read as `P -> C`
        groups, rest = prefix
        body = " -> ".join([f"({kind})" for _, names, kind in groups for _ in names] + [rest])
    parts = _implication_parts(body)
    if parts is None:
        return None
    names = [name for name, _ in shape.variables]
    expressions = [_python_expression(part, names, domain) for part in parts]
    if any(expression is None for expression in expressions):
        return None
    make = _DOMAINS[domain]
    compiled = [compile(expression, "<statement>", "eval") for expression in expressions if expression is not None]
    namespace_base = {"_D": (lambda n, d=1: make(Fraction(n, d))) if domain == "R" else (lambda n, d=1: make(n))}
    for values in itertools.islice(itertools.product(_SAMPLES[domain], repeat=len(names)), _MAX_ASSIGNMENTS):
        namespace = dict(namespace_base, _v=[make(value) for value in values])
        try:
            truths = [bool(eval(code, {"__builtins__": {}}, namespace)) for code in compiled]  # noqa: S307 (our own translation, no names)
        except (ZeroDivisionError, OverflowError, TypeError, ValueError):
            continue
        if all(truths[:-1]) and not truths[-1]:
            return dict(zip(names, values))
    return None


def _coq_value(value: Any, domain: str) -> str:
    scope = {"nat": "nat", "Z": "Z", "R": "R"}[domain]
    fraction = Fraction(value)
    text = str(fraction.numerator) if fraction.denominator == 1 else f"{fraction.numerator} / {fraction.denominator}"
    return f"({text})%{scope}"


def negation_theorem(theorem: Theorem, statement: str) -> Theorem:
    """The theorem `NAME_is_false : ~ (∀ binders, type).` in the same header (with Coq's arithmetic tactics loaded)."""
    from prover.formalizer.equivalence import proposition

    closed = proposition(statement, "coq")
    header = theorem.header if COQ_AUTOMATION in theorem.header else f"{theorem.header.rstrip()}\n{COQ_AUTOMATION}".strip()
    name = f"{theorem.name}{NEGATION_SUFFIX}"
    return replace(theorem, name=name, header=header, statement=f"Theorem {name} : ~ ({closed}).")


def _witness_tactics(witnesses: Sequence[str]) -> Iterator[str]:
    specialise = f"intro H; specialize (H {' '.join(witnesses)}); revert H" if witnesses else "intro H; revert H"
    for decide in ("lia", "lra", "nra", "(simpl; lia)", "tauto"):
        yield f"{specialise}; {decide}"
    # Decidable nat/Z arithmetic: compute, discharge each (now closed) hypothesis, refute the conclusion.
    applied = f"intro H; specialize (H {' '.join(witnesses)})" if witnesses else "intro H"
    yield f"{applied}; vm_compute in H; repeat specialize (H eq_refl); (discriminate H || lia || tauto)"


def disprove(
    theorem: Theorem,
    statement: str,
    env: Environment,
    *,
    prover: Any | None = None,
) -> Disproof | None:
    """A kernel-checked disproof of the Coq `theorem` (its declaration text `statement`), or None.

    Witnesses come from `find_counterexample`; each proposal is checked by `env.verify`. With a
    `prover` (a `prover.agent.Prover`), its search on the negation is tried last.
    """
    try:
        negation = negation_theorem(theorem, statement)
    except ValueError as unreadable:
        log.info("%s: no disproof attempted: %s", theorem.name, unreadable)
        return None
    from prover.formalizer.equivalence import shape_of

    found = find_counterexample(statement, theorem.header)
    proposals: list[tuple[tuple[str, str], ...]] = []
    tactics: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    if found is not None:
        kinds = dict(shape_of(statement, "coq").variables)
        domain = next(iter(kinds.values()), _scope_domain(theorem.header))
        witnesses = tuple((name, _coq_value(value, kinds.get(name, domain))) for name, value in found.items())
        proposals.append(witnesses)
        tactics.extend((tactic, witnesses) for tactic in _witness_tactics([value for _, value in witnesses]))
    for tactic, witnesses in tactics:
        try:
            verdict = env.verify(negation, [tactic])
        except InputError as invalid:
            log.info("%s: negation does not elaborate: %s", theorem.name, invalid)
            return None
        except ProverError as failure:
            log.warning("%s: disproof check failed: %s", theorem.name, failure)
            return None
        if verdict.accepted:
            return _disproof(negation, (tactic,), witnesses)
    if prover is not None:
        result = prover.prove_theorem(negation)
        if result.status == "proved" and result.kernel_checked:
            return _disproof(negation, tuple(result.tactics or ()), ())
    return None


def _disproof(negation: Theorem, proof: tuple[str, ...], witnesses: tuple[tuple[str, str], ...]) -> Disproof:
    body = "\n".join(f"  {step}." if not step.rstrip().endswith(".") else f"  {step}" for step in proof)
    source = f"{negation.header.rstrip()}\n\n{negation.statement}\nProof.\n{body}\nQed.\n"
    return Disproof(negation, proof, witnesses, source)
