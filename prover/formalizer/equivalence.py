"""Is a formalized statement equivalent to a reference one? Align the binders, then prove each direction using the other.

A proof of `candidate -> reference` between two closed propositions is no evidence when the
reference is provable on its own (then `1 = 1` "implies" it). So:

1. Both statements are split into their universally quantified variables (binders and leading
   `forall`s whose types are data types: `R`, `nat`, `R -> R`, ...) and a body (hypotheses and
   conclusion). The variables are aligned by type and order; when the counts or types differ the
   verdict is "different shape" (a `nat` version of a real-number problem is not the same problem).
2. For the aligned variables `xs`, each direction is posed with the other side as a hypothesis:
   forward `(∀ xs,) candidate xs ⊢ reference xs`, backward `reference xs ⊢ candidate xs`.
   A direction is "proved" only when it is shown with its premise: first by tactics that use the
   premise by construction (`exact premise`, `apply premise` then the hypotheses, in Coq only once
   the premise's conclusion is the goal's syntactically, so no computation makes `1 = 1` fit), else by the
   prover's search, and then only if the search could not prove the conclusion *without* the
   premise first (a proof found without it is "trivial": such automation, e.g. `lra`, mentions every
   hypothesis in its proof term, so Print Assumptions cannot tell a real use from an idle one).
3. "equivalent" needs both directions proved; a direction provable without its premise makes the
   verdict "trivial". Every "proved" is checked by the kernel (the backend's `verify`).

In Coq each statement is a definition over its variables inside its own module, so that one
statement's `Open Scope R_scope` cannot change how the other's numerals are read; the direction is
stated in a section whose variables are the aligned ones and whose `Hypothesis premise` is the other
statement, both unfolded (`cbv beta delta`) so the search sees plain propositions. Lean statements
are renamed to the aligned variable names and share Mathlib's notation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Sequence

from search.types import Theorem

from prover.backends.base import Backend
from prover.errors import InputError, ProverError
from prover.formalizer.checking import Statement
from prover.formalizer.templates import Target

__all__ = [
    "EquivalenceResult",
    "Shape",
    "shape_of",
    "align",
    "proposition",
    "direction_source",
    "statement_of_theorem",
    "check_equivalence",
    "STRUCTURAL_TACTICS",
    "AlignedStatement",
]

Direction = Literal["forward", "backward"]

_OPENERS = {"(": ")", "[": "]", "{": "}", "⦃": "⦄"}
_COQ_REQUIRE = re.compile(r"^\s*(?:From\s+\S+\s+)?Require\b")
_SENTENCE_END = re.compile(r"\.(?=\s|$)")
# Keyword and name: the name ends before whitespace, a binder or the colon (`Theorem t:` is common).
_DECLARATION = re.compile(r"\s*(?:@\[[^\]]*\]\s*)?[A-Za-z]+\s+([^\s:({\[⦃]+)")

# Words a data type is built from (anything else in a binder's type makes it a hypothesis).
_DATA_WORDS = {
    "coq": {
        "R", "nat", "Z", "Q", "C", "N", "positive", "bool", "Prop", "Type", "Set", "list", "option",
        "prod", "unit", "Rdefinitions.R", "BinNums.Z", "Datatypes.nat",
    },
    "lean": {
        "ℝ", "ℕ", "ℤ", "ℚ", "ℂ", "Nat", "Int", "Real", "Rat", "Complex", "Bool", "Prop", "Type",
        "List", "Finset", "Set", "Fin", "ZMod", "Multiset", "Polynomial", "NNReal", "ℝ≥0", "EReal",
    },
}
_TYPE_TOKEN = re.compile(r"->|→|×|\*|[()]|[^\s()*×]+")
_LEAN_SYNONYMS = {"Real": "ℝ", "Nat": "ℕ", "Int": "ℤ", "Rat": "ℚ", "Complex": "ℂ"}

# Coq: `exact`/`apply` would accept a premise that is merely convertible, and conversion computes
# (`1 = 1` is convertible to `(3 * 5) mod 7 = 1`); so the premise's conclusion must first be the
# goal's syntactically (`constr_eq`, up to bound names) before it is used. Each statement's own
# definitions live in its own module, so they are unfolded (`cbv delta`, no computation) on both
# sides before the comparison. DEFINITIONS is replaced by that list of names.
_COQ_NORMALISE = "let P := type of premise in let P := eval cbv delta [DEFINITIONS] in P in let G := eval cbv delta [DEFINITIONS] in G in"
_COQ_SAME_CONCLUSION = (
    "intros; let rec last T := lazymatch T with ?A -> ?B => last B | _ => T end in "
    f"lazymatch goal with |- ?G => {_COQ_NORMALISE} let C := last P in constr_eq C G end; apply premise"
)

# Tactics that prove a direction through its premise by construction (the premise is `premise`).
STRUCTURAL_TACTICS: dict[Target, tuple[str, ...]] = {
    "coq": (
        f"lazymatch goal with |- ?G => {_COQ_NORMALISE} constr_eq P G end; exact premise",
        f"{_COQ_SAME_CONCLUSION}; assumption",
        f"{_COQ_SAME_CONCLUSION}; try assumption; first [lia | lra | nra | tauto | congruence]",
    ),
    # Lean: reducible transparency only, so `exact`/`apply` do not unfold arithmetic to make them fit.
    "lean": (
        "with_reducible exact premise",
        "intros; with_reducible apply premise <;> assumption",
        "intros; with_reducible apply premise <;> first | assumption | omega | linarith | nlinarith | tauto",
    ),
}


@dataclass(frozen=True)
class EquivalenceResult:
    """What the prover showed.

    verdict: "equivalent" (both directions proved, each using its premise), "trivial" (a direction
        holds without its premise: the statements' content was never compared), "candidate implies
        reference", "reference implies candidate", "different shape" (the variables cannot be
        aligned), or "equivalence not shown".
    forward / backward: each direction's status: "proved" (with its premise), "trivial" (proved
        without it), "unproved", "invalid" (does not elaborate), "error", or "skipped".
    detail: what to read (e.g. why the shapes differ, or an implication's error).
    proofs: the kernel-checked proof (tactics) of each direction proved with its premise.
    """

    verdict: str
    forward: str
    backward: str
    detail: str = ""
    proofs: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "forward": self.forward,
            "backward": self.backward,
            "detail": self.detail or None,
            "proofs": {direction: list(tactics) for direction, tactics in self.proofs},
        }


@dataclass(frozen=True)
class Shape:
    """A statement as `∀ variables, body`.

    variables: (name, type) of each universally quantified variable of a data type, in order.
    body: the rest (hypothesis binders become `forall (h : P),` in front of it).
    """

    variables: tuple[tuple[str, str], ...]
    body: str


def _matching(text: str, start: int) -> int:
    """Index just past the bracket group that opens at `text[start]`."""
    depth: list[str] = []
    for index in range(start, len(text)):
        char = text[index]
        if char in _OPENERS:
            depth.append(_OPENERS[char])
        elif depth and char == depth[-1]:
            depth.pop()
            if not depth:
                return index + 1
    raise ValueError(f"unbalanced brackets in {text[start:start + 80]!r}")


def _top_level(text: str, token: str, start: int = 0) -> int:
    """Index of the first `token` outside brackets in `text` from `start`, or -1."""
    depth: list[str] = []
    index = start
    while index < len(text):
        char = text[index]
        if char in _OPENERS:
            depth.append(_OPENERS[char])
        elif depth and char == depth[-1]:
            depth.pop()
        elif not depth and text.startswith(token, index):
            if token != ":" or text[index + 1 : index + 2] != "=":
                return index
        index += 1
    return -1


def _split_binders(statement: str, target: Target) -> tuple[str, str]:
    """(binders, type) of `Theorem name BINDERS : TYPE.` / `theorem name BINDERS : TYPE`."""
    text = statement.strip()
    if target == "coq":
        text = re.sub(r"\.\s*$", "", text)
    match = _DECLARATION.match(text)
    if match is None:
        raise ValueError(f"not a declaration: {statement[:80]!r}")
    rest = text[match.end():]
    colon = _top_level(rest, ":")
    if colon < 0:
        raise ValueError(f"no `:` before the statement's type in {statement[:80]!r}")
    return rest[:colon].strip(), rest[colon + 1 :].strip()


def proposition(statement: str, target: Target) -> str:
    """The statement as one closed proposition: `forall BINDERS, TYPE` (Coq) or `∀ BINDERS, TYPE` (Lean)."""
    binders, body = _split_binders(statement, target)
    if not binders:
        return body
    quantifier = "forall" if target == "coq" else "∀"
    return f"{quantifier} {binders}, {body}"


def _is_data_type(kind: str, target: Target) -> bool:
    words = _DATA_WORDS[target]
    tokens = _TYPE_TOKEN.findall(kind)
    return bool(tokens) and all(
        token in ("->", "→", "×", "*", "(", ")") or token in words or token.isdigit() for token in tokens
    )


def _normal_type(kind: str, target: Target) -> str:
    tokens = _TYPE_TOKEN.findall(kind)
    if target == "lean":
        tokens = [_LEAN_SYNONYMS.get(token, token) for token in tokens]
    return " ".join(tokens).replace("( ", "(").replace(" )", ")")


def _binder_groups(text: str) -> list[tuple[str, list[str], str]] | None:
    """The bracketed binder groups of `text` as (opening bracket, names, type); None when `text` is not all groups."""
    groups = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        if text[index] not in _OPENERS:
            return None
        end = _matching(text, index)
        inner = text[index + 1 : end - 1]
        colon = _top_level(inner, ":")
        if colon < 0:
            return None
        groups.append((text[index], inner[:colon].split(), inner[colon + 1 :].strip()))
        index = end
    return groups


def _forall_prefix(body: str, target: Target) -> tuple[list[tuple[str, list[str], str]], str] | None:
    """The binder groups of a leading `forall ... ,` and the text after the comma; None when there is none."""
    match = re.match(r"\s*(forall\b|∀)", body)
    if match is None:
        return None
    comma = _top_level(body, ",", match.end())
    if comma < 0:
        return None
    binders = body[match.end() : comma].strip()
    groups = _binder_groups(binders)
    if groups is None:  # `forall x y : R,` without brackets
        colon = _top_level(binders, ":")
        if colon < 0:
            return None
        groups = [("(", binders[:colon].split(), binders[colon + 1 :].strip())]
    return groups, body[comma + 1 :].strip()


def _render_group(opening: str, names: Sequence[str], kind: str) -> str:
    return f"{opening}{' '.join(names)} : {kind}{_OPENERS[opening]}"


def shape_of(statement: str, target: Target) -> Shape:
    """Split a declaration into its data-typed variables and the rest; ValueError when unreadable."""
    binders, body = _split_binders(statement, target)
    groups = _binder_groups(binders)
    if groups is None:
        raise ValueError(f"binders not in brackets: {binders[:80]!r}")
    variables: list[tuple[str, str]] = []
    hypotheses: list[str] = []
    for opening, names, kind in groups:
        if opening in "({⦃" and not hypotheses and _is_data_type(kind, target):
            variables.extend((name, _normal_type(kind, target)) for name in names)
        else:
            hypotheses.append(_render_group("(" if opening == "{" else opening, names, kind))
    # Leading `forall`s of data types are variables too (miniF2F's Coq files state most problems so).
    while not hypotheses:
        prefix = _forall_prefix(body, target)
        if prefix is None:
            break
        forall_groups, rest = prefix
        data = 0
        while data < len(forall_groups) and _is_data_type(forall_groups[data][2], target):
            data += 1
        if data == 0:
            break
        for _, names, kind in forall_groups[:data]:
            variables.extend((name, _normal_type(kind, target)) for name in names)
        remaining = [_render_group("(", names, kind) for _, names, kind in forall_groups[data:]]
        quantifier = "forall" if target == "coq" else "∀"
        body = f"{quantifier} {' '.join(remaining)}, {rest}" if remaining else rest
        if remaining:
            break
    if hypotheses:
        quantifier = "forall" if target == "coq" else "∀"
        body = f"{quantifier} {' '.join(hypotheses)}, {body}"
    return Shape(tuple(variables), body)


def align(reference: Shape, candidate: Shape) -> tuple[int, ...] | None:
    """For each reference variable, the index of the candidate variable of the same type in the same order; None when impossible."""
    if len(reference.variables) != len(candidate.variables):
        return None
    used: set[int] = set()
    order: list[int] = []
    for _, kind in reference.variables:
        match = next((i for i, (_, other) in enumerate(candidate.variables) if other == kind and i not in used), None)
        if match is None:
            return None
        used.add(match)
        order.append(match)
    return tuple(order)


def _shape_difference(reference: Shape, candidate: Shape) -> str:
    def listing(shape: Shape) -> str:
        return ", ".join(f"{name} : {kind}" for name, kind in shape.variables) or "none"

    return f"variables differ: reference ({listing(reference)}), candidate ({listing(candidate)})"


def statement_of_theorem(theorem: Theorem) -> Statement:
    """A parsed theorem as a `Statement` (Lean's trailing `:=` dropped)."""
    text = re.sub(r":=\s*(by)?\s*$", "", theorem.statement.strip()).rstrip()
    return Statement(name=theorem.name, header=theorem.header, statement=text)


def _coq_sentences(header: str) -> list[str]:
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(header):
        sentence = header[start : match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = header[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


@dataclass(frozen=True)
class AlignedStatement:
    """One statement prepared for a direction: its text, shape, and how its variables map to the shared ones."""

    statement: Statement
    shape: Shape
    order: tuple[int, ...]  # shared variable i is this statement's variable order[i]


def direction_source(
    premise: AlignedStatement | None, conclusion: AlignedStatement, variables: Sequence[str], target: Target, *, name: str
) -> str:
    """A file stating `conclusion` over the shared `variables` with `premise` as hypothesis `premise` (None: without it), proof open."""
    kinds = [conclusion.shape.variables[conclusion.order[i]][1] for i in range(len(variables))]
    sides = [side for side in (premise, conclusion) if side is not None]
    if target == "coq":
        requires: list[str] = []
        modules: list[str] = []
        for module, side in zip(("PremiseStatement", "ConclusionStatement")[-len(sides):], sides):
            local: list[str] = []
            for sentence in _coq_sentences(side.statement.header):
                if _COQ_REQUIRE.match(sentence):
                    if sentence not in requires:
                        requires.append(sentence)
                else:
                    local.append(sentence)
            parameters = "".join(f" ({own} : {kind})" for own, kind in side.shape.variables)
            modules.append(
                "\n".join([f"Module {module}.", *local, f"Definition statement{parameters} : Prop :=\n  {side.shape.body}.", f"End {module}."])
            )

        def unfolded(module: str, side: AlignedStatement) -> str:
            arguments = [""] * len(side.shape.variables)
            for shared, own in enumerate(side.order):
                arguments[own] = variables[shared]
            applied = " ".join([f"{module}.statement", *arguments])
            return f"ltac:(let t := eval cbv beta delta [{module}.statement] in ({applied}) in exact t)"

        lines = ["\n".join(requires), "", "\n\n".join(modules), "", f"Section {name}."]
        if variables:
            lines.append("Variables " + " ".join(f"({v} : {k})" for v, k in zip(variables, kinds)) + ".")
        if premise is not None:
            lines.append(f"Hypothesis premise : {unfolded('PremiseStatement', premise)}.")
        lines.append(f"Theorem {name} : {unfolded('ConclusionStatement', conclusion)}.\nProof.\nAdmitted.\nEnd {name}.\n")
        return "\n".join(lines)
    lines: list[str] = []
    for side in sides:
        for line in side.statement.header.splitlines():
            if line.strip() and line not in lines:
                lines.append(line)
    imports = [line for line in lines if line.startswith("import ")]
    others = [line for line in lines if not line.startswith("import ")]

    def renamed(side: AlignedStatement) -> str:
        body = side.shape.body
        mapping = {side.shape.variables[own][0]: variables[shared] for shared, own in enumerate(side.order)}
        if mapping:
            pattern = re.compile(r"(?<![\w.'])(" + "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)) + r")(?![\w'])")
            body = pattern.sub(lambda match: mapping[match.group(1)], body)
        return body

    binders = " ".join(f"({v} : {k})" for v, k in zip(variables, kinds))
    hypothesis = f" (premise : {renamed(premise)})" if premise is not None else ""
    header = "\n".join(imports + [""] + others)
    return f"{header}\n\ntheorem {name} {binders}{hypothesis} : {renamed(conclusion)} := by\n  sorry\n".replace("  :", " :")


def check_equivalence(
    candidate: Statement, reference: Statement, target: Target, backend: Backend, prover: Any
) -> EquivalenceResult:
    """Align the variables, then prove each direction with its premise (see the module docstring).

    `prover` is a `prover.agent.Prover` (its environment kernel-checks the structural proofs, its
    search tries the rest) or None (structural proofs only; "trivial" is then never established).
    """
    try:
        reference_shape, candidate_shape = shape_of(reference.statement, target), shape_of(candidate.statement, target)
    except ValueError as unreadable:
        return EquivalenceResult("equivalence not shown", "invalid", "invalid", f"unreadable statement: {unreadable}")
    order = align(reference_shape, candidate_shape)
    if order is None:
        return EquivalenceResult("different shape", "skipped", "skipped", _shape_difference(reference_shape, candidate_shape))
    variables = [f"v{index + 1}" for index in range(len(order))]
    reference_side = AlignedStatement(reference, reference_shape, tuple(range(len(order))))
    candidate_side = AlignedStatement(candidate, candidate_shape, order)
    statuses: dict[str, str] = {}
    details: list[str] = []
    proofs: list[tuple[str, tuple[str, ...]]] = []
    extension = ".v" if target == "coq" else ".lean"
    for direction, premise, conclusion in (
        ("forward", candidate_side, reference_side),
        ("backward", reference_side, candidate_side),
    ):
        name = f"equivalence_{direction}"
        try:
            parsed = backend.parse_file(f"{name}{extension}", direction_source(premise, conclusion, variables, target, name=name))
            alone = backend.parse_file(
                f"{name}_alone{extension}", direction_source(None, conclusion, variables, target, name=f"{name}_alone")
            )
        except (InputError, ValueError) as invalid:
            statuses[direction] = "invalid"
            details.append(f"{direction}: {invalid}")
            continue
        definitions = _local_definitions(premise, conclusion, target)
        status, tactics, detail = _prove_direction(
            parsed.theorems[-1].theorem, alone.theorems[-1].theorem, target, prover, definitions
        )
        statuses[direction] = status
        if tactics:
            proofs.append((direction, tactics))
        if detail:
            details.append(f"{direction}: {detail}")
    forward, backward = statuses["forward"], statuses["backward"]
    if forward == "proved" and backward == "proved":
        verdict = "equivalent"
    elif "trivial" in (forward, backward):
        verdict = "trivial"
    elif forward == "proved":
        verdict = "candidate implies reference"
    elif backward == "proved":
        verdict = "reference implies candidate"
    else:
        verdict = "equivalence not shown"
    return EquivalenceResult(verdict, forward, backward, "; ".join(details), tuple(proofs))


_COQ_DEFINITION = re.compile(r"^\s*(?:Local\s+)?(?:Definition|Fixpoint)\s+([\w']+)")
_COQ_COMMENTS = re.compile(r"\(\*.*?\*\)", re.DOTALL)


def _local_definitions(premise: AlignedStatement, conclusion: AlignedStatement, target: Target) -> tuple[str, ...]:
    """The fully qualified names of the definitions each statement's header makes in its module (Coq)."""
    if target != "coq":
        return ()
    names = []
    for module, side in (("PremiseStatement", premise), ("ConclusionStatement", conclusion)):
        for sentence in _coq_sentences(_COQ_COMMENTS.sub(" ", side.statement.header)):
            match = _COQ_DEFINITION.match(sentence)
            if match is not None:
                names.append(f"{module}.{match.group(1)}")
    return tuple(names)


def _structural_tactics(target: Target, definitions: Sequence[str]) -> tuple[str, ...]:
    if target != "coq":
        return STRUCTURAL_TACTICS[target]
    if not definitions:  # `cbv delta []` would unfold everything
        return tuple(
            tactic.replace(" let P := eval cbv delta [DEFINITIONS] in P in let G := eval cbv delta [DEFINITIONS] in G in", "")
            for tactic in STRUCTURAL_TACTICS[target]
        )
    return tuple(tactic.replace("DEFINITIONS", " ".join(definitions)) for tactic in STRUCTURAL_TACTICS[target])


def _prove_direction(
    with_premise: Theorem, without_premise: Theorem, target: Target, prover: Any, definitions: Sequence[str] = ()
) -> tuple[str, tuple[str, ...], str]:
    """(status, proof, detail) of one direction: structural tactics, else search without then with the premise."""
    if prover is None:
        return "unproved", (), "no prover given"
    env = prover._environment()
    last_error = ""
    for tactic in _structural_tactics(target, definitions):
        try:
            verdict = env.verify(with_premise, [tactic])
        except InputError as invalid:
            return "invalid", (), str(invalid)
        except ProverError as failure:  # a crashed or hung check: the search below restarts the process
            last_error = str(failure)
            prover._discard_environment()
            env = prover._environment()
            continue
        if verdict.accepted:
            return "proved", (tactic,), ""
        last_error = verdict.reason
    alone = prover.prove_theorem(without_premise)
    if alone.status == "invalid":
        return "invalid", (), alone.error or ""
    if alone.status == "proved" and alone.kernel_checked:
        return "trivial", (), f"provable without the premise ({'; '.join(alone.tactics or ())})"
    found = prover.prove_theorem(with_premise)
    if found.status == "proved" and found.kernel_checked:
        return "proved", tuple(found.tactics or ()), ""
    return found.status, (), found.error or last_error
