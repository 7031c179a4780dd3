"""The kernel's verdict on real Coq: known proofs are accepted, every way of cheating is rejected."""

from __future__ import annotations

import subprocess

import pytest

from prover.backends.coq import CoqBackend, CoqEnvironment
from prover.backends.coq_kernel_check import kernel_check
from prover.backends.sandbox import ProcessSandbox
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


def test_a_global_library_lemma_used_inside_a_functor_is_still_rejected(project_library: tuple[str, ...]) -> None:
    # A library's admitted lemma is no field of the functor's parameter, whatever the functor is.
    header = "Require Import Lib.Facts.\n" + FUNCTOR_HEADER
    theorem = open_theorem(header + "Lemma uses_global : 2 = 3.\nProof.\n", "uses_global")
    with CoqEnvironment(step_timeout=5, hammer=False, coq_args=project_library) as env:
        verdict = env.verify(theorem, ["exact lib_admitted."])
    assert not verdict.accepted and "Lib.Facts.lib_admitted" in verdict.reason


# A library the file requires is part of its theory: the axioms it declares (by its source) are
# accepted as the file's own are; its admitted lemmas, and libraries only the preamble loads, are not.
LIBRARY_FACTS = """(* Axiom lib_admitted : 2 = 3. : a comment is no declaration *)
Lemma lib_admitted : 2 = 3.
Admitted.
Axiom lib_axiom : 1 = 2.
Module M.
Axiom inner : 3 = 4.
End M.
Module N.
Lemma inner : 3 = 4.
Admitted.
End N.
"""


@pytest.fixture(scope="module")
def project_library(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    """The load path of a compiled project library `Lib`: Facts (source kept), Hidden (only the
    compiled file: its source was removed) and Other (required by no test header)."""
    folder = tmp_path_factory.mktemp("lib")
    sources = {"Facts": LIBRARY_FACTS, "Hidden": "Axiom hidden_axiom : 5 = 6.\n", "Other": "Axiom other_axiom : 7 = 8.\n"}
    for name, text in sources.items():
        (folder / f"{name}.v").write_text(text)
        subprocess.run(["coqc", "-Q", ".", "Lib", f"{name}.v"], cwd=folder, check=True, capture_output=True)
    (folder / "Hidden.v").unlink()
    return ("-Q", str(folder), "Lib")


# Accepted assumptions, each by its full kernel name: (header, statement, tactics, the axioms listed).
ACCEPTED_ASSUMPTIONS = {
    "the_real_classic": ("Require Import Classical.\n", "forall P : Prop, P \\/ ~ P", ["exact classic."],
                         ("Coq.Logic.Classical_Prop.classic",)),
    "a_module_axiom_of_the_file": ("Module M.\nAxiom ax : 1 = 2.\nEnd M.\n", "1 = 2", ["exact M.ax."], ("M.ax",)),
    # A library the file requires is part of its theory: the axioms its source declares count.
    "an_axiom_of_a_stdlib_library_the_file_requires": (
        "Require Import Coq.Sets.Ensembles.\n", "forall (U : Type) (A B : Ensemble U), Same_set U A B -> A = B",
        ["intros U A B H.", "apply Extensionality_Ensembles, H."], ("Coq.Sets.Ensembles.Extensionality_Ensembles",),
    ),
    # `Primitive int := #int63_type.`: the kernel's machine integers, listed among the axioms.
    "a_primitive_of_a_library_the_file_requires": (
        "Require Import Coq.Numbers.Cyclic.Int63.Uint63.\n", "(1 + 1)%uint63 = 2%uint63", ["reflexivity."],
        ("Coq.Numbers.Cyclic.Int63.PrimInt63.int",),
    ),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED_ASSUMPTIONS))
def test_an_acceptable_assumption_is_accepted_by_its_full_name(coq_env: CoqEnvironment, case: str) -> None:
    header, statement, tactics, axioms = ACCEPTED_ASSUMPTIONS[case]
    theorem = open_theorem(f"{header}Theorem uses_it : {statement}.\nProof.\n", "uses_it")
    verdict = coq_env.verify(theorem, tactics)
    assert verdict.accepted, verdict.reason
    assert verdict.axioms == axioms


def test_an_assumption_named_by_a_keyword_is_still_located(coq_env: CoqEnvironment) -> None:
    # Uint63's notations `x land y`, `x lor y` make `land` and `lor` keywords: `Locate land.` is a
    # syntax error, so the names are asked as `L.land` for each loaded library instead.
    text = "Require Import Coq.Numbers.Cyclic.Int63.Uint63.\nOpen Scope uint63_scope.\nTheorem zero_land : forall x, 0 land x = 0.\nProof.\n"
    verdict = coq_env.verify(open_theorem(text, "zero_land"), ["intros.", "apply land0."])
    assert verdict.accepted, verdict.reason
    assert {"Coq.Numbers.Cyclic.Int63.PrimInt63.land", "Coq.Numbers.Cyclic.Int63.PrimInt63.lor"} <= set(verdict.axioms)
    assert "Coq.Numbers.Cyclic.Int63.Uint63.land_spec" in verdict.axioms


def test_an_admitted_lemma_of_the_file_named_like_a_keyword_is_rejected(coq_env: CoqEnvironment) -> None:
    # The file's own admitted `land`, declared before Uint63 made the word a keyword (and shadowed its
    # short name): never taken for the primitive PrimInt63.land.
    text = (
        "Lemma land : 1 = 2.\nAdmitted.\nDefinition alias := land.\nRequire Import Coq.Numbers.Cyclic.Int63.Uint63.\n"
        "Theorem uses_own_land : 1 = 2.\nProof.\n"
    )
    verdict = coq_env.verify(open_theorem(text, "uses_own_land"), ["exact alias."])
    assert not verdict.accepted and "land" in verdict.reason and "unproved" in verdict.reason


@pytest.mark.parametrize(
    ("tactic", "accepted"),
    [
        ("exact lib_axiom.", True),
        ("exact M.inner.", True),
        ("exact lib_admitted.", False),  # declared as an axiom only in a comment
        ("exact N.inner.", False),  # an admitted lemma of the same short name as an axiom
    ],
)
def test_a_project_library_counts_its_axioms_by_its_source_not_its_admitted_lemmas(
    project_library: tuple[str, ...], tactic: str, accepted: bool
) -> None:
    goal = {"lib_axiom": "1 = 2", "M.inner": "3 = 4", "lib_admitted": "2 = 3", "N.inner": "3 = 4"}[tactic.split()[1][:-1]]
    theorem = open_theorem(f"Require Import Lib.Facts.\nTheorem uses_library : {goal}.\nProof.\n", "uses_library")
    with CoqEnvironment(step_timeout=5, hammer=False, coq_args=project_library) as env:
        verdict = env.verify(theorem, [tactic])
    assert verdict.accepted is accepted, verdict.reason
    if not accepted:
        assert "not an allowed axiom" in verdict.reason


def test_a_library_axiom_is_rejected_when_its_source_is_not_there(project_library: tuple[str, ...]) -> None:
    # The kernel shows an admitted lemma exactly like an axiom: without the source, nothing tells them apart.
    theorem = open_theorem("Require Import Lib.Hidden.\nTheorem uses_hidden : 5 = 6.\nProof.\n", "uses_hidden")
    with CoqEnvironment(step_timeout=5, hammer=False, coq_args=project_library) as env:
        verdict = env.verify(theorem, ["exact hidden_axiom."])
    assert not verdict.accepted and "Lib.Hidden.hidden_axiom" in verdict.reason


def test_an_axiom_of_a_library_only_the_preamble_loads_is_rejected(project_library: tuple[str, ...]) -> None:
    theorem = open_theorem("Theorem uses_other : 7 = 8.\nProof.\n", "uses_other")
    sandbox = ProcessSandbox()
    try:
        verdict = kernel_check(
            theorem, ["exact Lib.Other.other_axiom."], preamble=("Require Lib.Other.",),
            coq_args=project_library, sandbox=sandbox, timeout=60,
        )
    finally:
        sandbox.cleanup()
    assert not verdict.accepted and "Lib.Other.other_axiom" in verdict.reason
    # The same axiom, the file requiring its library itself: accepted.
    theorem = open_theorem("Require Lib.Other.\nTheorem uses_other : 7 = 8.\nProof.\n", "uses_other")
    sandbox = ProcessSandbox()
    try:
        verdict = kernel_check(
            theorem, ["exact Lib.Other.other_axiom."], preamble=(), coq_args=project_library, sandbox=sandbox, timeout=60
        )
    finally:
        sandbox.cleanup()
    assert verdict.accepted, verdict.reason


def test_hammer_tactic_proof_is_checked_with_the_hammer_import() -> None:
    from prover.backends.coq import hammer_available

    if not hammer_available():
        pytest.skip("CoqHammer's tactics are not installed (apt-get install libcoq-hammer)")
    theorem = open_theorem("Lemma swap : forall A B : Prop, A /\\ B -> B /\\ A.\nProof.\n", "swap")
    with CoqEnvironment(step_timeout=5, hammer=True) as env:
        verdict = env.verify(theorem, ["hauto."])
    assert verdict.accepted, verdict.reason


def test_the_whole_file_check_leaves_a_library_axiom_to_the_per_theorem_check() -> None:
    # At the completed file's end, which libraries the file itself requires is not known: a library
    # constant beyond the allowed axioms gets no verdict there (None), an allowed axiom is judged.
    from prover.backends.coq_kernel_check import whole_file_judgement

    theorem = Theorem(name="t", statement="Theorem t : True.", header="Require Import Coq.Sets.Ensembles.\n")
    report = "Axioms:\nExtensionality_Ensembles : forall (U : Type) (B C : Ensemble U), Same_set U B C -> B = C\n"
    located = {"Extensionality_Ensembles": "Constant Coq.Sets.Ensembles.Extensionality_Ensembles"}
    assert whole_file_judgement(report, theorem, located) is None
    report = "Axioms:\nclassic : forall P : Prop, P \\/ ~ P\n"
    verdict = whole_file_judgement(report, theorem, {"classic": "Constant Coq.Logic.Classical_Prop.classic"})
    assert verdict is not None and verdict.accepted
