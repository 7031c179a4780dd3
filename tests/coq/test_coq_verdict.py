"""The kernel's verdict on real Coq: known proofs are accepted, every way of cheating is rejected."""

from __future__ import annotations

import pytest

from prover.backends.coq import CoqBackend, CoqEnvironment
from prover.backends.coq_sentences import split_sentences
from search.types import Theorem

from coq_testing import shared_file

pytestmark = pytest.mark.coq

BACKEND = CoqBackend(hammer=False)


def known_proof(name: str) -> tuple[Theorem, list[str]]:
    """The last theorem of a known-proof file, as a Theorem (statement and header parsed from the
    file) and its tactics (the sentences between `Proof.` and `Qed.`)."""
    path = shared_file("data", "coq-known-proofs", f"{name}.v")
    text = path.read_text()
    sentences = split_sentences(text)
    start = max(i for i, s in enumerate(sentences) if s.text.startswith(("Theorem", "Lemma")))
    statement = sentences[start]
    assert sentences[start + 1].text == "Proof." and sentences[-1].text == "Qed."
    tactics = [s.text for s in sentences[start + 2 : -1]]
    theorem = Theorem(name=name, statement=statement.text, header=text[: statement.start], source=str(path))
    return theorem, tactics


def open_theorem(text: str, name: str) -> Theorem:
    """The open theorem `name` of a small file, as the CLI would parse it."""
    (found,) = [t.theorem for t in BACKEND.parse_file("f.v", text).theorems if t.theorem.name == name]
    return found


@pytest.mark.parametrize("name", ["mathd_algebra_478", "numbertheory_4x3m7y3neq2003"])
def test_known_proofs_are_accepted_by_the_kernel(coq_env: CoqEnvironment, name: str) -> None:
    theorem, tactics = known_proof(name)
    verdict = coq_env.verify(theorem, tactics)
    assert verdict.accepted, verdict.reason
    assert set(verdict.axioms) <= {
        "Coq.Reals.ClassicalDedekindReals.sig_forall_dec",
        "Coq.Reals.ClassicalDedekindReals.sig_not_dec",
        "Coq.Logic.FunctionalExtensionality.functional_extensionality_dep",
    }


@pytest.mark.parametrize(
    "cheat",
    [
        ["admit."],
        ["intros.", "admit."],
        ["Admitted."],
        ["intros b h v H0 H1 H2 H3.", "Admitted."],
        ["Axiom cheat : forall P : Prop, P.", "apply cheat."],
        ["Abort."],
        ["intros. Qed."],
        ["Qed."],
        ["exact_no_check I."],
        ["intros; exact_no_check I."],
        ["exact I. Qed. Theorem mathd_algebra_478 : True. Proof. exact I."],
        ["intros b h v H0 H1 H2 H3."],  # leaves the goal open
        ["Unset Guard Checking.", "intros; lra."],
    ],
)
def test_cheating_attempts_are_rejected(coq_env: CoqEnvironment, cheat: list[str]) -> None:
    theorem, _ = known_proof("mathd_algebra_478")
    verdict = coq_env.verify(theorem, cheat)
    assert not verdict.accepted
    assert verdict.reason


def test_changed_statement_is_not_what_gets_checked(coq_env: CoqEnvironment) -> None:
    # A proof of an easier statement is checked against the parsed statement, verbatim, and fails.
    theorem, _ = known_proof("mathd_algebra_478")
    easier = Theorem(name=theorem.name, statement=f"Theorem {theorem.name} : True.", header=theorem.header)
    assert coq_env.verify(easier, ["exact I."]).accepted
    assert not coq_env.verify(theorem, ["exact I."]).accepted


def test_shelved_goals_are_rejected(coq_env: CoqEnvironment) -> None:
    theorem = open_theorem("Lemma witness : exists n : nat, n = n.\nProof.\n", "witness")
    verdict = coq_env.verify(theorem, ["eexists.", "reflexivity."])
    assert not verdict.accepted and "goals open" in verdict.reason


def test_axiom_declared_by_the_file_before_the_theorem_is_allowed(coq_env: CoqEnvironment) -> None:
    theorem = open_theorem("Axiom cheat : 1 = 2.\nTheorem uses_axiom : 1 = 2.\nProof.\n", "uses_axiom")
    verdict = coq_env.verify(theorem, ["exact cheat."])
    assert verdict.accepted, verdict.reason
    assert verdict.axioms == ("cheat",)


def test_axiom_declared_after_the_theorem_is_not_available(coq_env: CoqEnvironment) -> None:
    theorem = open_theorem("Theorem early : 1 = 2.\nAdmitted.\nAxiom cheat : 1 = 2.\n", "early")
    verdict = coq_env.verify(theorem, ["exact cheat."])
    assert not verdict.accepted and "cheat" in verdict.reason


def test_admitted_lemma_of_the_file_is_not_an_axiom(coq_env: CoqEnvironment) -> None:
    text = "Lemma helper : 1 = 2.\nAdmitted.\nTheorem uses_helper : 1 = 2.\nProof.\n"
    verdict = coq_env.verify(open_theorem(text, "uses_helper"), ["exact helper."])
    assert not verdict.accepted and "helper" in verdict.reason


def test_admitted_lemma_named_like_an_allowed_axiom_is_rejected(coq_env: CoqEnvironment) -> None:
    text = "Lemma classic : 1 = 2.\nAdmitted.\nTheorem uses_fake_classic : 1 = 2.\nProof.\n"
    verdict = coq_env.verify(open_theorem(text, "uses_fake_classic"), ["exact classic."])
    assert not verdict.accepted and "classic" in verdict.reason


def test_theorem_inside_open_module_and_section_is_checked_after_closing_them(coq_env: CoqEnvironment) -> None:
    text = (
        "Module M.\nAxiom positive : forall k : nat, k + 1 > 0.\nSection S.\nVariable n : nat.\n"
        "Lemma in_section : n + 1 > 0 /\\ n + 0 = n.\nProof.\n"
    )
    theorem = open_theorem(text, "in_section")
    verdict = coq_env.verify(theorem, ["split.", "apply positive.", "lia."])
    assert verdict.accepted, verdict.reason
    assert verdict.axioms == ("M.positive",)


# Issue 13: names are decided by their full kernel names, never by how Print Assumptions prints them.
SHADOWING_FILES = {
    "admitted_definition_named_like_an_allowed_axiom": (
        "Require Import Classical.\nDefinition classic : 1 = 2.\nProof.\nAdmitted.\n"
        "Theorem false_thm : 1 = 2.\nProof.\nAdmitted.\n",
        "exact classic.",
    ),
    "admitted_lemma_named_like_a_section_variable": (
        "Section S.\nVariable helper : nat.\nEnd S.\nLemma helper : 1 = 2.\nProof.\nAdmitted.\n"
        "Theorem false_thm : 1 = 2.\nProof.\nAdmitted.\n",
        "exact helper.",
    ),
    "admitted_module_lemma_named_like_a_top_level_axiom": (
        "Axiom helper : True.\nModule M.\nLemma helper : 1 = 2.\nAdmitted.\nEnd M.\n"
        "Theorem false_thm : 1 = 2.\nProof.\nAdmitted.\n",
        "exact M.helper.",
    ),
    "admitted_instance_named_like_a_module_axiom": (
        "Module M.\nAxiom helper : True.\nEnd M.\nModule N.\nModule M.\n"
        "Fixpoint helper (n : nat) : 1 = 2.\nAdmitted.\nEnd M.\nEnd N.\nImport N.\n"
        "Theorem false_thm : 1 = 2.\nProof.\nAdmitted.\n",
        "exact (M.helper 0).",
    ),
}


@pytest.mark.parametrize("case", sorted(SHADOWING_FILES))
def test_an_admitted_constant_is_rejected_whatever_name_it_shadows(coq_env: CoqEnvironment, case: str) -> None:
    text, tactic = SHADOWING_FILES[case]
    verdict = coq_env.verify(open_theorem(text, "false_thm"), [tactic])
    assert not verdict.accepted
    assert "helper" in verdict.reason or "classic" in verdict.reason
    assert "unproved" in verdict.reason


def test_the_real_classic_is_accepted_by_its_full_name(coq_env: CoqEnvironment) -> None:
    text = "Require Import Classical.\nTheorem em : forall P : Prop, P \\/ ~ P.\nProof.\n"
    verdict = coq_env.verify(open_theorem(text, "em"), ["exact classic."])
    assert verdict.accepted, verdict.reason
    assert verdict.axioms == ("Coq.Logic.Classical_Prop.classic",)


def test_a_module_axiom_of_the_file_is_accepted_by_its_full_name(coq_env: CoqEnvironment) -> None:
    text = "Module M.\nAxiom ax : 1 = 2.\nEnd M.\nTheorem uses_ax : 1 = 2.\nProof.\n"
    verdict = coq_env.verify(open_theorem(text, "uses_ax"), ["exact M.ax."])
    assert verdict.accepted, verdict.reason
    assert verdict.axioms == ("M.ax",)


def test_a_section_variable_used_inside_its_section_is_a_hypothesis_not_an_axiom(coq_env: CoqEnvironment) -> None:
    text = "Section S.\nHypothesis bad : 1 = 2.\nLemma uses_bad : 1 = 2.\nProof.\n"
    verdict = coq_env.verify(open_theorem(text, "uses_bad"), ["exact bad."])
    # Once the section closes, `bad` is an argument of the lemma: nothing is assumed.
    assert verdict.accepted, verdict.reason
    assert verdict.axioms == ()


FUNCTOR_HEADER = (
    "Require Import ProofIrrelevance.\n"
    "Module Type S.\nParameter t : Type.\nParameter x : t.\nAxiom x_refl : x = x.\nEnd S.\n"
    "Module Type P (Import X : S).\nSection Inner.\n"
)


def test_theorem_inside_a_functor_rests_on_its_parameters_not_on_axioms(coq_env: CoqEnvironment) -> None:
    # Nothing inside a module type can be named once it ends: the assumptions are asked for inside,
    # where the parameter's fields are listed, and recognised as the functor's hypotheses.
    theorem = open_theorem(FUNCTOR_HEADER + "Lemma uses_field : x = x.\nProof.\n", "uses_field")
    verdict = coq_env.verify(theorem, ["exact x_refl."])
    assert verdict.accepted, verdict.reason
    assert "X.x_refl" in verdict.axioms


def test_a_global_axiom_used_inside_a_functor_is_still_rejected(coq_env: CoqEnvironment) -> None:
    theorem = open_theorem(
        FUNCTOR_HEADER + "Lemma uses_global : forall (p q : x = x), p = q.\nProof.\n", "uses_global"
    )
    verdict = coq_env.verify(theorem, ["intros p q.", "apply proof_irrelevance."])
    assert not verdict.accepted and "proof_irrelevance" in verdict.reason


def test_hammer_tactic_proof_is_checked_with_the_hammer_import() -> None:
    from prover.backends.coq import hammer_available

    if not hammer_available():
        pytest.skip("CoqHammer's tactics are not installed (apt-get install libcoq-hammer)")
    theorem = open_theorem("Lemma swap : forall A B : Prop, A /\\ B -> B /\\ A.\nProof.\n", "swap")
    with CoqEnvironment(step_timeout=5, hammer=True) as env:
        verdict = env.verify(theorem, ["hauto."])
    assert verdict.accepted, verdict.reason
