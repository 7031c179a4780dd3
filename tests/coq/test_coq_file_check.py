"""The whole-file kernel check: one coqc run of the completed file judges every proof found, and it
leaves to the per-theorem check exactly the theorems it cannot vouch for."""

from __future__ import annotations

import pytest

from prover.backends.coq import CoqBackend
from prover.backends.coq_file_check import admit_unproved
from tests.conftest import require_coq

FILE = """Require Import List.

Lemma first_one : forall n : nat, n + 0 = n.
Proof.
Admitted.

Lemma left_open : forall n : nat, n = n + 1.
Admitted.

Module M.
  Lemma in_module : forall b : bool, negb (negb b) = b.
  Proof. Admitted.
End M.

Lemma uses_first : forall m : nat, m + 0 + 0 = m.
Proof.
Admitted.
"""


def parsed_file():
    backend = CoqBackend(hammer=False)
    return backend, backend.parse_file("f.v", FILE)


def test_unproved_theorems_are_admitted_and_spans_follow() -> None:
    _, parsed = parsed_file()
    admitted = admit_unproved(parsed, ["first_one", "uses_first"])
    assert [t.name for t in admitted.theorems] == ["first_one", "uses_first"]
    for open_theorem in admitted.theorems:
        original = next(t for t in parsed.theorems if t.name == open_theorem.name)
        start, end = open_theorem.span
        assert admitted.text[start:end] == parsed.text[original.span[0] : original.span[1]]
        assert admitted.text.startswith(open_theorem.theorem.statement.strip(), open_theorem.statement_start)
    assert "Lemma in_module : forall b : bool, negb (negb b) = b.\n  Admitted." in admitted.text


@pytest.mark.coq
def test_every_good_proof_is_accepted_in_one_compilation() -> None:
    require_coq()
    backend, parsed = parsed_file()
    proofs = {
        "first_one": ("intros", "lia"),
        "M.in_module": ("destruct b; reflexivity",),
        "uses_first": ("intros", "rewrite !first_one", "reflexivity"),
    }
    check = backend.check_completed_file(parsed, proofs)
    assert check.compilations == 1
    assert set(check.verdicts) == set(proofs) and all(v.accepted for v in check.verdicts.values())


@pytest.mark.coq
def test_a_proof_resting_on_an_admitted_lemma_is_rejected_and_the_others_still_pass() -> None:
    require_coq()
    backend, parsed = parsed_file()
    proofs = {
        "first_one": ("intros", "lia"),
        # left_open stays Admitted in the completed file: a proof through it proves nothing.
        "uses_first": ("intros", "pose proof (left_open 0)", "lia"),
    }
    check = backend.check_completed_file(parsed, proofs)
    assert check.verdicts["first_one"].accepted
    assert not check.verdicts["uses_first"].accepted
    assert "left_open" in check.verdicts["uses_first"].reason
    assert check.compilations == 2, "one report for all, then one per theorem to find which"


@pytest.mark.coq
def test_a_proof_that_breaks_the_file_gets_no_verdict_and_the_rest_are_judged() -> None:
    require_coq()
    backend, parsed = parsed_file()
    proofs = {
        "first_one": ("intros",),  # leaves a goal: Qed fails in the completed file
        "M.in_module": ("destruct b; reflexivity",),
    }
    check = backend.check_completed_file(parsed, proofs)
    assert "first_one" not in check.verdicts, "left to the per-theorem check"
    assert check.verdicts["M.in_module"].accepted


@pytest.mark.coq
def test_smuggled_commands_are_refused_without_compiling() -> None:
    require_coq()
    backend, parsed = parsed_file()
    check = backend.check_completed_file(parsed, {"first_one": ("Admitted",)})
    assert not check.verdicts["first_one"].accepted and check.compilations == 0


@pytest.mark.coq
def test_theorems_inside_a_functor_are_left_to_the_per_theorem_check() -> None:
    require_coq()
    backend = CoqBackend(hammer=False)
    text = """Module Type T. Parameter x : nat. End T.
Module F (X : T).
  Lemma in_functor : X.x = X.x.
  Proof. Admitted.
End F.
"""
    parsed = backend.parse_file("g.v", text)
    (open_theorem,) = parsed.theorems
    check = backend.check_completed_file(parsed, {open_theorem.name: ("reflexivity",)})
    assert check.verdicts == {} and check.compilations == 0
