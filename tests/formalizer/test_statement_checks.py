"""Issue 17's fixes without a proof assistant: binder alignment, safe headers, the named theorem,
Lean's bracket-aware `:=`, counterexample search, and replies with too few (or no) samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.disprove import find_counterexample
from prover.errors import InputError
from prover.formalizer.checking import check_header, lean_proof_start, split_statement
from prover.formalizer.drafting import Formalizer, FormalizerSettings
from prover.formalizer.equivalence import align, shape_of
from prover.policies.generation import Generation

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


# -- shapes and alignment ---------------------------------------------------------------------


def test_a_colon_attached_coq_name_is_read() -> None:
    shape = shape_of("Theorem mathd_algebra_10:\n  Rabs ((120 / 100) * 30 - (130 / 100) * 20) = 10.", "coq")
    assert shape.variables == () and shape.body.startswith("Rabs ((120 / 100)")


def test_every_minif2f_coq_reference_is_readable() -> None:
    """62 of the 244 references have `Theorem name:`; none may be unreadable."""
    from prover.backends.coq import CoqBackend
    from prover.formalizer.equivalence import statement_of_theorem

    directory = SHARED / "data" / "minif2f-coq" / "valid"
    if not directory.is_dir():
        pytest.skip(f"shared data {directory} is absent")
    backend = CoqBackend()
    unreadable = []
    for path in sorted(directory.glob("*.v")):
        parsed = backend.parse_file(str(path), path.read_text(encoding="utf-8"))
        try:
            shape_of(statement_of_theorem(parsed.theorems[-1].theorem).statement, "coq")
        except ValueError as error:
            unreadable.append(f"{path.name}: {error}")
    assert unreadable == []


def test_variables_come_from_binders_and_leading_foralls_and_hypotheses_stay_in_the_body() -> None:
    binders = shape_of("Theorem t (a b : R) (h0 : 3 * a + 2 * b = 12) : b = 0.", "coq")
    foralls = shape_of("Theorem t : forall (x y : R), 3 * x + 2 * y = 12 -> y = 0.", "coq")
    assert binders.variables == (("a", "R"), ("b", "R")) and binders.body == "forall (h0 : 3 * a + 2 * b = 12), b = 0"
    assert foralls.variables == (("x", "R"), ("y", "R")) and foralls.body == "3 * x + 2 * y = 12 -> y = 0"
    functions = shape_of("Theorem t (f : R -> R) (n : nat) : f 0 = 0.", "coq")
    assert functions.variables == (("f", "R -> R"), ("n", "nat"))
    lean = shape_of("theorem t (x : Real) (h₀ : 0 < x) : x ^ 2 > 0", "lean")
    assert lean.variables == (("x", "ℝ"),) and lean.body == "∀ (h₀ : 0 < x), x ^ 2 > 0"


def test_alignment_matches_types_in_order_and_refuses_other_types_or_counts() -> None:
    reference = shape_of("Theorem t (n : nat) (x y : R) : x + y = INR n.", "coq")
    reordered = shape_of("Theorem t (a : R) (m : nat) (b : R) : a + b = INR m.", "coq")
    assert align(reference, reordered) == (1, 0, 2)
    assert align(shape_of("Theorem t (a b : R) : a = b.", "coq"), shape_of("Theorem t (a b : nat) : a = b.", "coq")) is None
    assert align(shape_of("Theorem t (a b : R) : a = b.", "coq"), shape_of("Theorem t : 1 = 1.", "coq")) is None


# -- safe headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Axiom cheat : False.",
        "Parameter c : R.",
        "Hypothesis h : 1 = 2.",
        "Lemma helper : 1 = 2.\nAdmitted.",
        "Definition x : nat.\nexact 3.\nDefined.",
        "Notation \"1\" := 2.",
        "Infix \"+\" := Nat.mul.",
        "Unset Guard Checking.",
        "Admit Obligations.",
        "Local Obligation Tactic := idtac.",
        "Ltac done := admit.",
    ],
)
def test_unsafe_coq_header_commands_are_refused(header: str) -> None:
    with pytest.raises(InputError, match="is not allowed in a formalized statement"):
        split_statement(f"Require Import Arith.\n{header}\nTheorem problem : 1 = 2.", "coq", "problem")


@pytest.mark.parametrize(
    "header",
    [
        "axiom cheat : False",
        "macro \"cheat\" : tactic => `(tactic| sorry)",
        "elab \"cheat\" : tactic => pure ()",
        "notation \"2\" => (3 : ℕ)",
        "infixl:65 \" + \" => HMul.hMul",
        "set_option debug.skipKernelTC true",
        "set_option trace.Meta.synthInstance true",
        "set_option maxHeartbeats 0",
        "set_option maxHeartbeats 0 in",
        "variable (h : 1 = 2)",
        "def bad : ℕ := sorry",
        "instance : Fact (1 = 2) := ⟨sorry⟩",
        "theorem helper : 1 = 2 := by sorry",
    ],
)
def test_unsafe_lean_header_commands_are_refused(header: str) -> None:
    with pytest.raises(InputError, match="is not allowed in a formalized statement"):
        split_statement(f"import Mathlib\n{header}\ntheorem problem : 1 = 2 := by sorry", "lean", "problem")


def test_ordinary_headers_are_accepted() -> None:
    check_header(
        "From Coq Require Import Arith Reals.\nRequire Import Coq.ZArith.ZArith.\nImport ListNotations.\n"
        "Open Scope R_scope.\nLocal Open Scope Z_scope.\nDefinition logb (a b : R) := ln b / ln a.\n"
        "Fixpoint sum (n : nat) : nat := match n with 0 => 0 | S m => n + sum m end.",
        "coq",
    )
    check_header(
        "import Mathlib\nimport Aesop\nset_option maxHeartbeats 400000\nopen BigOperators Real Nat Topology Rat\n"
        "noncomputable def f (x : ℝ) : ℝ :=\n  x ^ 2 + 1\ndef g (n : ℕ) : ℕ := n + 1\nnoncomputable section\n"
        "namespace Problem\nset_option maxRecDepth 1000 in\nset_option linter.unusedVariables false in\nopen Real in",
        "lean",
    )


def test_every_minif2f_coq_reference_header_is_accepted_but_those_that_postulate() -> None:
    directory = SHARED / "data" / "minif2f-coq" / "valid"
    if not directory.is_dir():
        pytest.skip(f"shared data {directory} is absent")
    refused = []
    for path in sorted(directory.glob("*.v")):
        try:
            split_statement(path.read_text(encoding="utf-8"), "coq")
        except InputError as refusal:
            refused.append((path.name, str(refusal)))
    # amc12a_2016_p3 postulates a function (`Parameter Rfloor`) and imo_1966_p5 admits a first
    # theorem before the second: both rightly refused as model output.
    messages = [message for _, message in refused]
    assert [name for name, _ in refused] == ["amc12a_2016_p3.v", "imo_1966_p5.v"]
    assert "`Parameter Rfloor" in messages[0] and "`Theorem imo_1966_p5 (x a" in messages[1]


# -- the named theorem, Lean's `:=` -------------------------------------------------------------


def test_the_theorem_named_in_the_prompt_is_taken_not_the_last() -> None:
    code = "Require Import Arith.\nTheorem problem : 1 + 1 = 2.\nProof.\nAdmitted.\nTheorem helper : 2 = 2."
    statement = split_statement(code, "coq", "problem")
    assert statement.name == "problem" and statement.statement == "Theorem problem : 1 + 1 = 2."
    lean = split_statement("import Mathlib\ntheorem problem : 1 + 1 = 2 := by\n  norm_num\ntheorem helper : 2 = 2 := rfl", "lean", "problem")
    assert lean.name == "problem" and lean.statement == "theorem problem : 1 + 1 = 2"


def test_a_missing_named_theorem_is_reported() -> None:
    with pytest.raises(InputError, match="no theorem named problem in the reply \\(it declares my_theorem\\)"):
        split_statement("Require Import Arith.\nTheorem my_theorem : 1 = 1.", "coq", "problem")
    with pytest.raises(InputError, match="no theorem named problem"):
        split_statement("import Mathlib\ntheorem foo : 1 = 1 := by sorry", "lean", "problem")


def test_lean_proof_starts_at_the_first_top_level_unclaimed_assignment() -> None:
    declaration = "theorem t (f : ℕ → ℕ) (h : ∀ n, f n = (let m := n % 3; m + 1)) : f 4 = 2 := by\n  simp [h]"
    assert declaration[lean_proof_start(declaration):].startswith(":= by")
    bare_let = "theorem t : (fun n : ℕ => let m := n % 3; m) 4 = 1 := by decide"
    assert bare_let[lean_proof_start(bare_let):] == ":= by decide"
    top_let = "theorem t : let m := 4 % 3; m = 1 := by decide"
    assert top_let[lean_proof_start(top_let):] == ":= by decide"
    statement = split_statement(f"import Mathlib\n{declaration}", "lean", "t")
    assert statement.statement.endswith("(let m := n % 3; m + 1)) : f 4 = 2")


# -- counterexamples (Python proposes; the kernel decides, see test_disproof_coq.py) -------------


@pytest.mark.parametrize(
    ("statement", "header", "expected"),
    [
        ("Theorem t : 2 + 2 = 5.", "", {}),
        ("Theorem t : 2 + 2 = 4.", "", None),
        ("Theorem t (n : nat) : n - 3 + 3 = n.", "", {"n": 0}),  # nat subtraction truncates
        ("Theorem t (a b : R) : 3 * a + 2 * b = 12 -> a = 4 -> b = 1.", "Open Scope R_scope.", {"a": 4, "b": 0}),
        ("Theorem t (a b : R) : 3 * a + 2 * b = 12 -> a = 4 -> b = 0.", "Open Scope R_scope.", None),
        ("Theorem t (x : R) : x ^ 2 >= 0.", "Open Scope R_scope.", None),
        ("Theorem t (x : R) : sqrt (x ^ 2) = x.", "Open Scope R_scope.", None),  # unreadable: no guess
    ],
)
def test_counterexamples_are_found_only_for_false_arithmetic(statement: str, header: str, expected: object) -> None:
    assert find_counterexample(statement, header) == expected


# -- samples ------------------------------------------------------------------------------------


class _FixedReplies:
    name = "fixed"

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies

    def generate(self, prompts, n):  # type: ignore[no-untyped-def]
        return [[Generation(text, None) for text in self.replies] for _ in prompts]


class _NoBackend:
    name = "coq"

    def open_environment(self, *, step_timeout: float):  # type: ignore[no-untyped-def]
        raise AssertionError("nothing elaborates here")


def test_fewer_samples_than_asked_is_a_warning_and_none_is_a_one_line_failure() -> None:
    settings = FormalizerSettings(target="coq", samples=4, repairs=0, judge=False, vacuity=False, disprove=False)
    empty = Formalizer(_FixedReplies([]), _NoBackend(), settings).formalize("Show that 1 = 1.")  # type: ignore[arg-type]
    assert empty.best is None and empty.candidates == ()
    assert empty.warnings == ("the model returned 0 of the 4 samples asked for",)
    assert "returned no sample" in empty.failure_summary()
    assert empty.to_json()["warnings"] == ["the model returned 0 of the 4 samples asked for"]
