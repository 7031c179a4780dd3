"""Finding open Coq theorems in files, the headers they get, and writing proofs back: no Coq needed."""

from __future__ import annotations

import pytest

from prover.backends.coq import AUTOMATION_IMPORT, HAMMER_IMPORT, CoqBackend, parse_assumptions, uses_hammer_tactics
from prover.backends.coq_parse import declared_axioms, declared_lemmas, normalise_for_coq816, open_blocks, open_blocks_with_parameters
from prover.errors import InputError

from coq_testing import shared_file

BACKEND = CoqBackend(hammer=False)


def test_bare_proof_at_end_of_file_is_open() -> None:
    text = "Require Import Reals.\n\nTheorem t (x : R) :\n  x = x.\n\nProof.\n"
    (open_theorem,) = BACKEND.parse_file("t.v", text).theorems
    assert open_theorem.theorem.name == "t"
    assert open_theorem.theorem.statement == "Theorem t (x : R) :\n  x = x."
    assert open_theorem.theorem.header == "Require Import Reals.\n\n"
    assert text[open_theorem.span[0] : open_theorem.span[1]] == "Proof."


def test_admitted_with_and_without_proof_keyword() -> None:
    text = "Lemma a : True.\nAdmitted.\nTheorem b : 1 = 1.\nProof.\n  (* todo *)\nAdmitted.\n"
    a, b = BACKEND.parse_file("f.v", text).theorems
    assert text[a.span[0] : a.span[1]] == "Admitted."
    assert text[b.span[0] : b.span[1]] == "Proof.\n  (* todo *)\nAdmitted."
    # The later theorem's header keeps the earlier open one as Admitted, so it can be mentioned.
    assert b.theorem.header == "Lemma a : True.\nAdmitted.\n"


def test_closed_and_aborted_proofs_are_not_open() -> None:
    text = (
        "Lemma done : True.\nProof. - exact I. Qed.\n"
        "Lemma gone : False.\nProof. Abort.\n"
        "Example e : 2 = 2.\nProof. { reflexivity. } Defined.\n"
        "Fact open : 3 = 3.\nProof.\n"
    )
    names = [t.theorem.name for t in BACKEND.parse_file("f.v", text).theorems]
    assert names == ["open"]


def test_comments_and_strings_hide_keywords() -> None:
    text = (
        '(* Theorem fake : False. Admitted. (* nested *) "*)" *)\n'
        'Definition s := "Theorem s2 : False. Admitted.".\n'
        "Corollary real_one : 1 = 1. Admitted.\n"
    )
    (only,) = BACKEND.parse_file("f.v", text).theorems
    assert only.theorem.name == "real_one"


def test_every_theorem_keyword_is_found() -> None:
    keywords = ["Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Example"]
    text = "".join(f"{k} n{i} : True.\nAdmitted.\n" for i, k in enumerate(keywords))
    assert [t.theorem.name for t in BACKEND.parse_file("f.v", text).theorems] == [f"n{i}" for i in range(7)]


def test_statement_left_open_before_next_theorem_gets_admitted_in_later_header() -> None:
    text = "Theorem a : True.\nProof.\nTheorem b : True.\nAdmitted.\n"
    a, b = BACKEND.parse_file("f.v", text).theorems
    assert text[a.span[0] : a.span[1]] == "Proof."
    assert b.theorem.header == "Theorem a : True.\nAdmitted.\n"


def test_from_stdlib_is_rewritten_for_coq_816() -> None:
    text = "From Stdlib Require Import Reals.\nRequire Import Stdlib.Lia.\nTheorem t : True.\nProof.\n"
    (open_theorem,) = BACKEND.parse_file("f.v", text).theorems
    assert open_theorem.theorem.header == "From Coq Require Import Reals.\nRequire Import Coq.Lia.\n"
    assert normalise_for_coq816("From  Stdlib Require Lra.") == "From Coq Require Lra."


def test_unterminated_comment_is_an_input_error() -> None:
    with pytest.raises(InputError):
        BACKEND.parse_file("f.v", "(* never closed\nTheorem t : True.\nProof.\n")


def test_complete_file_replaces_only_proved_and_adds_the_preamble() -> None:
    text = "Require Import Arith.\n\nLemma a : 1 = 1.\nProof.\nAdmitted.\n\nLemma b : 2 = 2.\nAdmitted.\n"
    parsed = BACKEND.parse_file("f.v", text)
    completed = BACKEND.complete_file(parsed, {"b": ["reflexivity"]})
    assert completed == (
        f"{AUTOMATION_IMPORT}\nRequire Import Arith.\n\nLemma a : 1 = 1.\nProof.\nAdmitted.\n\n"
        "Lemma b : 2 = 2.\nProof.\n  reflexivity.\nQed.\n"
    )
    assert BACKEND.complete_file(parsed, {}) == text


def test_hammer_import_is_written_only_for_proofs_that_use_hammer_tactics() -> None:
    text = "Lemma a : True.\nAdmitted.\n"
    with_hammer = CoqBackend(hammer=True)
    parsed = with_hammer.parse_file("f.v", text)
    assert with_hammer.complete_file(parsed, {"a": ["exact I"]}).startswith(f"{AUTOMATION_IMPORT}\nLemma a")
    assert with_hammer.complete_file(parsed, {"a": ["intros; sauto"]}).startswith(
        f"{AUTOMATION_IMPORT}\n{HAMMER_IMPORT}\nLemma a"
    )
    assert uses_hammer_tactics(["qauto."]) and uses_hammer_tactics(["split; [hauto | lia]"])
    assert not uses_hammer_tactics(["auto", "intuition", "(* sauto *) lia"])


def test_complete_file_on_a_bare_proof_at_end() -> None:
    text = "Theorem t : True.\n\nProof."
    parsed = BACKEND.parse_file("f.v", text)
    completed = BACKEND.complete_file(parsed, {"t": ["split", "- exact I."]})
    assert completed.endswith("Theorem t : True.\n\nProof.\n  split.\n  - exact I.\nQed.")


def test_render_and_split_proof_round_trip() -> None:
    rendered = BACKEND.render_proof(["intros x", "lra."])
    assert rendered == "Proof.\n  intros x.\n  lra.\nQed."
    assert BACKEND.split_proof(rendered) == ["intros x.", "lra."]
    assert BACKEND.split_proof("intros. (* c *) split. - lia. - lia") == ["intros.", "split.", "-", "lia.", "-", "lia"]


def test_open_sections_and_modules_are_tracked() -> None:
    header = (
        "Module M.\nSection S.\nVariable n : nat.\nEnd S.\nModule N := M.\n"
        "Section T.\nModule Type MT.\nEnd MT.\n"
    )
    assert open_blocks(header) == [("Module", "M"), ("Section", "T")]
    functor = "Module Type P (Import X : S) (Y Z : T).\nSection A.\nModule F (W : S) <: T.\nModule N : S.\n"
    assert open_blocks_with_parameters(functor) == [
        ("Functor", "P", ("X", "Y", "Z")), ("Section", "A", ()), ("Functor", "F", ("W",)), ("Module", "N", ()),
    ]


def test_declared_axioms_and_lemmas() -> None:
    header = (
        "Parameter Rfloor : R -> Z.\nAxiom Rfloor_spec : forall x : R, True.\n"
        "Axiom (a b : nat) (c : bool).\nAxioms d e : nat.\n#[local] Conjecture f : False.\n"
        "Lemma g : True. Admitted.\n"
    )
    assert declared_axioms(header) == {"Rfloor", "Rfloor_spec", "a", "b", "c", "d", "e", "f"}
    assert declared_lemmas(header) == {"g"}


def test_minif2f_file_with_its_own_axiom() -> None:
    path = shared_file("data", "minif2f-coq", "valid", "amc12a_2016_p3.v")
    (open_theorem,) = BACKEND.parse_file(str(path), path.read_text()).theorems
    assert declared_axioms(open_theorem.theorem.header) == {"Rfloor", "Rfloor_spec"}


def test_every_minif2f_valid_file_opens_with_its_own_theorem() -> None:
    folder = shared_file("data", "minif2f-coq", "valid")
    counts = []
    for path in sorted(folder.glob("*.v")):
        theorems = BACKEND.parse_file(str(path), path.read_text()).theorems
        assert theorems and theorems[0].theorem.name == path.stem, path.name
        counts.append(len(theorems))
    # imo_1966_p5.v states a variant `imo_1966_p5'` after the main theorem; every other file has one.
    assert counts.count(1) == len(counts) - 1


def test_print_assumptions_report_is_parsed() -> None:
    report = (
        "Axioms:\nClassicalDedekindReals.sig_forall_dec\n  : forall P : nat -> Prop,\n    P 0\n"
        "foo : forall x : R, x = x\n"
    )
    assert parse_assumptions(report) == (("ClassicalDedekindReals.sig_forall_dec", "foo"), [])
    assert parse_assumptions("Closed under the global context\n") == ((), [])
    axioms, problems = parse_assumptions("Axioms:\nu is assumed to be guarded.\n")
    assert axioms == () and problems == ["u is assumed to be guarded."]
