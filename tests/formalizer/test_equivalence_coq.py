"""Equivalence that is evidence, on real Coq: miniF2F's mathd_algebra_109 against faithful and unfaithful candidates.

The reference is `(a b : R) : 3 * a + 2 * b = 12 -> a = 4 -> b = 0`; automation proves it outright
(`intros; nra`), which is what made every provable candidate "equivalent" before.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from prover.agent import Prover
from prover.backends.coq import CoqBackend
from prover.config import make_config
from prover.formalizer.checking import Statement, split_statement
from prover.formalizer.equivalence import check_equivalence, statement_of_theorem
from tests.conftest import require_coq, shared_path

pytestmark = pytest.mark.coq

HEADER = "Require Import Reals.\nOpen Scope R_scope.\n"


@pytest.fixture(scope="module")
def backend() -> CoqBackend:
    require_coq()
    return CoqBackend()


@pytest.fixture(scope="module")
def prover(backend: CoqBackend) -> Iterator[Prover]:
    config = make_config(backend="coq", policy="portfolio", budget_seconds=5.0, step_timeout=5.0)
    with Prover(config, backend) as running:
        yield running


@pytest.fixture(scope="module")
def reference(backend: CoqBackend) -> Statement:
    path = shared_path("data", "minif2f-coq", "valid", "mathd_algebra_109.v")
    parsed = backend.parse_file(str(path), path.read_text(encoding="utf-8"))
    return statement_of_theorem(parsed.theorems[-1].theorem)


def _candidate(code: str) -> Statement:
    return split_statement(code, "coq", "problem")


def test_one_equals_one_is_not_equivalent_it_has_a_different_shape(backend, prover, reference) -> None:
    result = check_equivalence(_candidate("Theorem problem : 1 = 1."), reference, "coq", backend, prover)
    assert result.verdict == "different shape" and "a : R, b : R" in result.detail


def test_a_nat_version_of_a_real_problem_is_not_equivalent(backend, prover, reference) -> None:
    nat = _candidate("Require Import Arith.\nTheorem problem (a b : nat) : 3 * a + 2 * b = 12 -> a = 4 -> b = 0.")
    result = check_equivalence(nat, reference, "coq", backend, prover)
    assert result.verdict == "different shape" and "a : nat" in result.detail


@pytest.mark.slow  # two searches without the premise and two coqc checks: ~15 s
def test_a_weakened_conclusion_is_trivial_not_equivalent(backend, prover, reference) -> None:
    weakened = _candidate(HEADER + "Theorem problem (a b : R) : 3 * a + 2 * b = 12 -> a = 4 -> b = 0 \\/ b = 1.")
    result = check_equivalence(weakened, reference, "coq", backend, prover)
    assert result.verdict == "trivial", result
    assert "provable without the premise" in result.detail


@pytest.mark.slow  # two kernel checks (coqc): ~10 s
def test_a_renamed_copy_is_equivalent_through_its_premise(backend, prover, reference) -> None:
    renamed = _candidate(HEADER + "Theorem problem: forall (x y : R), 3 * x + 2 * y = 12 -> x = 4 -> y = 0.")
    result = check_equivalence(renamed, reference, "coq", backend, prover)
    assert result.verdict == "equivalent", result
    assert all(tactics[0].endswith("exact premise") for _, tactics in result.proofs), result.proofs


@pytest.mark.slow  # two kernel checks (coqc): ~10 s
def test_a_copy_with_reordered_hypotheses_is_equivalent(backend, prover, reference) -> None:
    reordered = _candidate(HEADER + "Theorem problem (a b : R) (h1 : a = 4) (h0 : 3 * a + 2 * b = 12) : b = 0.")
    result = check_equivalence(reordered, reference, "coq", backend, prover)
    assert result.verdict == "equivalent", result
    assert all("apply premise" in tactics[0] for _, tactics in result.proofs)


@pytest.mark.slow  # four searches (with and without the premise) and coqc checks: ~20 s
def test_a_closed_statement_that_computes_to_the_same_value_is_not_equivalent(backend, prover) -> None:
    """`1 = 1` and `(3 * 5) mod 7 = 1` are convertible, but one is not a formalization of the other."""
    reference = Statement("r", "Require Import Arith.", "Theorem r : (3 * 5) mod 7 = 1.")
    result = check_equivalence(_candidate("Require Import Arith.\nTheorem problem : 1 = 1."), reference, "coq", backend, prover)
    assert result.verdict == "trivial", result


@pytest.mark.slow  # two kernel checks: ~10 s
def test_the_same_closed_statement_written_with_the_function_name_is_equivalent(backend, prover) -> None:
    reference = Statement("r", "Require Import Arith.", "Theorem r : (17 * 18) mod 4 = 2.")
    candidate = _candidate("Require Import Arith.\nTheorem problem : Nat.modulo (17 * 18) 4 = 2.")
    assert check_equivalence(candidate, reference, "coq", backend, prover).verdict == "equivalent"


@pytest.mark.slow  # two kernel checks: ~10 s
def test_a_copy_of_a_statement_with_its_own_fixpoint_is_equivalent(backend, prover) -> None:
    """Each statement's definitions live in its own module; they are unfolded, not computed, to compare."""
    header = (
        "Require Import Arith.\nFixpoint total (n : nat) : nat := match n with 0 => 0 | S m => n + total m end.\n"
    )
    reference = Statement("r", header, "Theorem r: total 100 = 5050.")
    candidate = _candidate(header + "Theorem problem : total 100 = 5050.")
    result = check_equivalence(candidate, reference, "coq", backend, prover)
    assert result.verdict == "equivalent", result
    computed = _candidate(header + "Theorem problem : 5050 = 5050.")
    assert check_equivalence(computed, reference, "coq", backend, prover).verdict != "equivalent"
