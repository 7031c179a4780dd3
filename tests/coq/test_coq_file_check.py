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


@pytest.mark.coq
def test_found_proofs_are_recorded_only_with_a_kernel_verdict_and_rejected_ones_checked_alone() -> None:
    require_coq()
    from prover.agent import TheoremResult
    from prover.config import ProverConfig
    from prover.files import _KernelChecker

    backend, parsed = parsed_file()
    by_name = {t.name: t for t in parsed.theorems}
    recorded: dict[str, TheoremResult] = {}
    refused: dict[str, TheoremResult] = {}
    checker = _KernelChecker(
        backend, parsed, ProverConfig(backend="coq"),
        lambda t, r: recorded.__setitem__(t.name, r), lambda t, r: refused.__setitem__(t.name, r),
    )
    checker.submit(by_name["first_one"], TheoremResult(theorem="first_one", status="found", tactics=("intros", "lia")))
    # Leaves a goal at Qed: breaks the completed file, then fails its own check too.
    checker.submit(by_name["M.in_module"], TheoremResult(theorem="M.in_module", status="found", tactics=("intros",)))
    checker.finish()
    # A later round puts the accepted proof in the file: a proof may use it.
    checker = _KernelChecker(backend, parsed, ProverConfig(backend="coq"), lambda t, r: recorded.__setitem__(t.name, r))
    checker._accepted["first_one"] = ("intros", "lia")
    checker.submit(
        by_name["uses_first"], TheoremResult(theorem="uses_first", status="found", tactics=("intros", "rewrite !first_one", "reflexivity"))
    )
    checker.finish()
    assert recorded["first_one"].status == "proved" and recorded["first_one"].kernel_checked
    assert "M.in_module" not in recorded, "a refused proof goes to the reject callback (searched again)"
    assert refused["M.in_module"].status == "unproved" and not refused["M.in_module"].kernel_checked
    assert refused["M.in_module"].error.startswith("kernel rejected the proof found")
    assert recorded["uses_first"].status == "proved" and recorded["uses_first"].kernel_checked
    # The time of the compilation that checked a proof is reported as that theorem's verify time.
    for result in (recorded["first_one"], recorded["uses_first"], refused["M.in_module"]):
        assert result.verify_seconds > 0 and result.seconds >= result.verify_seconds


@pytest.mark.coq
@pytest.mark.slow
def test_parallel_jobs_prove_a_file_with_results_in_file_order(tmp_path) -> None:
    require_coq()
    from prover.config import ProverConfig
    from prover.files import prove_file

    source = tmp_path / "many.v"
    source.write_text(
        "".join(f"Lemma l{i} : forall n : nat, n + {i} = {i} + n.\nProof.\nAdmitted.\n" for i in range(5))
        + "Lemma wrong : forall n : nat, n = n + 1.\nProof.\nAdmitted.\n"
    )
    config = ProverConfig(backend="coq", budget_seconds=8, step_timeout=5)
    result = prove_file(source, config, jobs=2)
    assert [r.theorem for r in result.results] == [f"l{i}" for i in range(5)] + ["wrong"]
    assert all(r.status == "proved" and r.kernel_checked for r in result.results[:5])
    assert result.results[5].status == "unproved"


@pytest.mark.coq
def test_a_files_theorems_in_order_reuse_the_elaborated_header() -> None:
    require_coq()
    from search.types import Proved

    backend = CoqBackend(hammer=False)
    text = "Require Import List.\nDefinition two := 2.\n" + "".join(
        f"Lemma t{i} : two + {i} = {i} + two.\nProof.\nAdmitted.\n\n" for i in range(4)
    )
    parsed = backend.parse_file("h.v", text)
    with backend.open_environment(step_timeout=5) as env:
        added = []
        for open_theorem in parsed.theorems:
            before = env.sentences_added
            root = env.start(open_theorem.theorem)
            added.append(env.sentences_added - before)
            assert isinstance(env.step(root, "unfold two; lia"), Proved)
        # The first theorem runs the preamble and header; each later one adds only the previous
        # theorem's `Admitted.`, its own statement and `Proof.` (the path is cut back, not rerun).
        assert added[0] >= 4 and added[1:] == [3, 3, 3]


@pytest.mark.coq
def test_a_refused_found_proof_is_searched_again_with_the_kernel_check_in_the_search(tmp_path, monkeypatch) -> None:
    require_coq()
    from prover.backends.coq_file_check import FileCheckResult
    from prover.config import ProverConfig
    from prover.files import _KernelChecker, prove_file
    from search.types import Verdict

    asked: list[set[str]] = []

    def refuse_all(self, parsed, proofs, accepted=None):  # type: ignore[no-untyped-def]
        asked.append(set(proofs))
        return FileCheckResult({name: Verdict(False, "refused for the test") for name in proofs}, 1)

    monkeypatch.setattr(CoqBackend, "check_completed_file", refuse_all)
    monkeypatch.setattr(_KernelChecker, "_verify_alone", lambda self, t, o: Verdict(False, "refused alone too"))
    source = tmp_path / "one.v"
    source.write_text("Lemma easy : forall n : nat, n + 0 = n.\nProof.\nAdmitted.\n")
    result = prove_file(source, ProverConfig(backend="coq", budget_seconds=10, step_timeout=5))
    assert asked == [{"easy"}], "the found proof went to the whole-file check once"
    (outcome,) = result.results
    # The second search checks each proof it finds itself (the real per-theorem kernel check).
    assert outcome.status == "proved" and outcome.kernel_checked
