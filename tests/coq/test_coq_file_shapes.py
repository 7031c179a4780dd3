"""The Coq file scan finds every open proof with its qualified name, and reports what it cannot
search; the completed file is written from the sentences the kernel check compiles (no Coq needed
except where marked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.backends.coq import CoqBackend
from prover.backends.coq_output import checked_step_text, comments_in, leading_comments_end
from prover.backends.coq_parse import scan_open_proofs
from prover.eval.datasets import problems_from_source
from tests.conftest import assert_compiles, require_coq

SHAPES = """(* header *)
Goal forall n, n + 0 = n.
Proof.
Admitted.
Property p : True.
Admitted.
Lemma αβ_comm : forall a b : nat, a + b = b + a.
Admitted.
Class C (A : Type) := { c : A }.
#[export] Instance ci : C nat. Proof. Admitted.
Instance : C bool. Proof. Admitted.
Definition d : nat. Proof. Admitted.
Definition e : nat := 3.
Module A. Theorem t : True. Admitted. End A.
Module B. Theorem t : True. Admitted. End B.
Section S. Variable Hk : nat. Lemma u : Hk = Hk. Proof using Hk. Admitted. End S.
Fixpoint g (n : nat) : nat. Proof. Admitted.
"""


def test_scan_names_every_open_proof_and_reports_the_rest() -> None:
    scan = scan_open_proofs(SHAPES)
    assert [o.qualified_name for o in scan.opens] == ["goal@2", "p", "αβ_comm", "ci", "d", "A.t", "B.t", "u"]
    goal = scan.opens[0].theorem
    assert goal.name == "neuroprove_goal_2" and goal.statement == "Theorem neuroprove_goal_2 : forall n, n + 0 = n."
    assert [(u.name, u.reason.split(":")[0]) for u in scan.unsupported] == [
        ("instance@11", "an anonymous Instance"),
        ("admitted@17", "an Admitted proof of a declaration the prover does not search"),
    ]
    # A theorem's header has earlier open proofs as Admitted, so it never sees a proof in progress.
    assert scan.opens[6].theorem.header.count("Admitted.") >= 6


def test_program_obligations_are_unsupported() -> None:
    text = "Program Definition f (n : nat) : {m : nat | m = n} := exist _ n _.\nNext Obligation. Admitted.\nAdmit Obligations.\n"
    scan = scan_open_proofs(text)
    assert scan.opens == []
    assert [u.name for u in scan.unsupported] == ["obligation@2", "obligations@3"]


def test_eval_ids_are_qualified_and_unique() -> None:
    text = "Module A. Theorem t : True. Admitted. End A.\nModule B. Theorem t : True. Admitted. End B.\n"
    ids = [problem.id for problem in problems_from_source("two.v", text, CoqBackend())]
    assert ids == ["two/A.t", "two/B.t"]


def test_steps_are_written_as_the_check_compiles_them() -> None:
    assert checked_step_text("split. 2: { exact I. } exact I.") == "split. 2: { exact I. } exact I."
    assert checked_step_text("2: {") == "2: {"
    assert checked_step_text("exact I.(* c *)") == "exact I."
    assert comments_in('Proof. (* a (* nested *) "*)" *) tac. (* b *)') == ['(* a (* nested *) "*)" *)', "(* b *)"]
    assert leading_comments_end("(* one *)\n(* two *)\nRequire Import Arith.") == len("(* one *)\n(* two *)")
    assert leading_comments_end("Require Import Arith.") == 0


@pytest.mark.coq
def test_selectors_and_comments_compile_once_written(tmp_path: Path) -> None:
    require_coq()
    text = "Theorem two : True /\\ True.\nProof.\nAdmitted.\nTheorem one : True.\nAdmitted.\n"
    backend = CoqBackend(hammer=False)
    parsed = backend.parse_file("sel.v", text)
    proofs = {"two": ["split.", "2: {", "exact I.", "}", "exact I.(* c *)"], "one": ["exact I.(* c *)"]}
    with backend.open_environment(step_timeout=10) as env:
        for open_theorem in parsed.theorems:
            assert env.verify(open_theorem.theorem, proofs[open_theorem.name]).accepted
    written = tmp_path / "sel.v"
    written.write_text(backend.complete_file(parsed, proofs))
    assert "2: {.\n" not in written.read_text() and "(* c *)." not in written.read_text()
    assert_compiles(written)


def test_a_short_name_finds_its_proof_only_when_unambiguous() -> None:
    backend = CoqBackend(hammer=False)
    text = "Module A. Theorem t : True. Admitted. End A.\nModule B. Theorem t : True. Admitted. End B.\nModule C. Theorem u : True. Admitted. End C.\n"
    parsed = backend.parse_file("m.v", text)
    completed = backend.complete_file(parsed, {"t": ["exact I."], "u": ["exact I."]})
    assert completed.count("Qed.") == 1 and "Theorem u : True. Proof.\n  exact I.\nQed." in completed


def test_an_unreadable_file_is_located_like_coqc() -> None:
    from prover.errors import InputError

    with pytest.raises(InputError) as caught:
        CoqBackend(hammer=False).parse_file("x.v", "Theorem t : True.\nAdmitted.\n  (* open\n")
    assert str(caught.value) == 'File "x.v", line 3, characters 2-3: cannot split into Coq sentences: unterminated comment'


def test_a_section_local_let_is_unsupported_not_searched() -> None:
    text = "Section S.\nLet two : 2 = 2.\nProof.\nAdmitted.\nLemma l : True.\nAdmitted.\nEnd S.\n"
    scan = scan_open_proofs(text)
    assert [o.qualified_name for o in scan.opens] == ["l"]
    assert [u.name for u in scan.unsupported] == ["let@2"] and "section-local Let" in scan.unsupported[0].reason
