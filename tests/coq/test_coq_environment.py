"""CoqEnvironment on real Coq: start, step, re-entering earlier states in any order on coqidetop's
linear document, failures as data, invalid statements, and recovery from a killed or hung process."""

from __future__ import annotations

import os
import signal

import pytest

from prover.backends.coq import CoqEnvironment
from prover.errors import InputError, ProverTimeout
from search.types import Failed, Progress, Proved, Theorem

from coq_testing import skip_without_coq

pytestmark = pytest.mark.coq

HEADER = "Require Import Arith.\n"
CONJ = Theorem(
    name="conj_example",
    statement="Theorem conj_example : forall n : nat, n + 0 = n /\\ 0 + n = n.",
    header=HEADER,
)


def test_start_shows_the_statement_as_the_root_goal(coq_env: CoqEnvironment) -> None:
    root = coq_env.start(CONJ)
    assert root.path == ()
    assert root.goals == ("============================\nforall n : nat, n + 0 = n /\\ 0 + n = n",)


def test_steps_progress_then_prove(coq_env: CoqEnvironment) -> None:
    root = coq_env.start(CONJ)
    intro = coq_env.step(root, "intros n")
    assert isinstance(intro, Progress)
    assert intro.state.goals == ("n : nat\n============================\nn + 0 = n /\\ 0 + n = n",)
    split = coq_env.step(intro.state, "split.")
    assert isinstance(split, Progress) and len(split.state.goals) == 2
    first = coq_env.step(split.state, "- auto.")
    assert isinstance(first, Progress)
    assert first.state.goals == ("(unfocused) n : nat\n============================\n0 + n = n",)
    done = coq_env.step(first.state, "- reflexivity.")
    assert done == Proved(("intros n", "split.", "- auto.", "- reflexivity."))


def test_branching_from_one_state_in_either_order(coq_env: CoqEnvironment) -> None:
    root = coq_env.start(CONJ)
    intro = coq_env.step(root, "intros n")
    assert isinstance(intro, Progress)
    # Branch A goes deep, then branch B starts from an earlier state, then A's tip is stepped again:
    # each move cuts coqidetop's linear document and replays the path.
    split = coq_env.step(intro.state, "split")
    assert isinstance(split, Progress)
    other = coq_env.step(intro.state, "destruct n")
    assert isinstance(other, Progress) and len(other.state.goals) == 2
    assert "S n" in other.state.goals[1]
    after_split = coq_env.step(split.state, "apply Nat.add_0_r")
    assert isinstance(after_split, Progress)
    assert after_split.state.goals == ("n : nat\n============================\n0 + n = n",)
    after_destruct = coq_env.step(other.state, "split; reflexivity")
    assert isinstance(after_destruct, Progress)
    assert after_destruct.state.goals[0].endswith("S n + 0 = S n /\\ 0 + S n = S n")
    # And the first branch still closes from where it was.
    assert isinstance(coq_env.step(after_split.state, "reflexivity"), Proved)
    via_lia = coq_env.step(other.state, "lia")  # closes the first case only, like `split; reflexivity`
    assert isinstance(via_lia, Progress) and via_lia.state.goals == after_destruct.state.goals
    assert isinstance(coq_env.step(root, "intros; split; lia"), Proved)


def test_wrong_tactic_is_failed_and_the_state_stays_usable(coq_env: CoqEnvironment) -> None:
    root = coq_env.start(CONJ)
    wrong = coq_env.step(root, "apply no_such_lemma.")
    assert isinstance(wrong, Failed) and "no_such_lemma" in wrong.message
    assert isinstance(coq_env.step(root, "reflexivity"), Failed)
    assert isinstance(coq_env.step(root, "intros; split; auto with arith"), Proved)


def test_commands_are_refused_before_reaching_coq(coq_env: CoqEnvironment) -> None:
    root = coq_env.start(CONJ)
    for command in ("Admitted.", "Qed.", "Abort.", "Axiom cheat : False.", "admit.", "intros. Admitted."):
        outcome = coq_env.step(root, command)
        assert isinstance(outcome, Failed), command
        assert "refused" in outcome.message
    assert isinstance(coq_env.step(root, "intros; split; lia"), Proved)


def test_no_progress_is_a_failure(coq_env: CoqEnvironment) -> None:
    root = coq_env.start(CONJ)
    outcome = coq_env.step(root, "try discriminate")
    assert isinstance(outcome, Failed) and "unchanged" in outcome.message


def test_shelved_goals_are_not_proved(coq_env: CoqEnvironment) -> None:
    theorem = Theorem(name="witness", statement="Lemma witness : exists n : nat, n = n.", header=HEADER)
    root = coq_env.start(theorem)
    outcome = coq_env.step(root, "eexists. reflexivity.")
    assert isinstance(outcome, Progress)
    assert outcome.state.goals == ("(shelved) ============================\nnat",)


def test_statement_that_does_not_elaborate_is_an_input_error(coq_env: CoqEnvironment) -> None:
    bad = Theorem(name="bad", statement="Theorem bad : forall x : R, x = x.", header=HEADER)
    with pytest.raises(InputError, match=r"bad: the statement does not elaborate: .*R"):
        coq_env.start(bad)
    broken_header = Theorem(name="h", statement="Theorem h : True.", header="Require Import NoSuchLibrary.\n")
    with pytest.raises(InputError, match="header fails"):
        coq_env.start(broken_header)
    # The environment still works afterwards.
    assert isinstance(coq_env.step(coq_env.start(CONJ), "intros; split; lia"), Proved)


def test_same_header_runs_once(coq_env: CoqEnvironment) -> None:
    coq_env.start(CONJ)
    before = coq_env.sentences_added
    other = Theorem(name="other", statement="Lemma other : 2 + 2 = 4.", header=HEADER)
    root = coq_env.start(other)
    assert coq_env.sentences_added - before == 2  # the statement and `Proof.`, not the header again
    assert isinstance(coq_env.step(root, "reflexivity"), Proved)


def test_killed_process_is_restarted_and_the_path_replayed() -> None:
    skip_without_coq()
    with CoqEnvironment(step_timeout=5, hammer=False) as env:
        root = env.start(CONJ)
        intro = env.step(root, "intros n")
        split = env.step(intro.state, "split")
        assert isinstance(split, Progress)
        pid = env.process_id
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        outcome = env.step(split.state, "apply Nat.add_0_r")
        assert isinstance(outcome, Progress)
        assert outcome.state.goals == ("n : nat\n============================\n0 + n = n",)
        assert env.restarts == 1 and env.process_id != pid
        assert isinstance(env.step(outcome.state, "reflexivity"), Proved)


def test_looping_tactic_is_stopped_by_coq_timeout() -> None:
    skip_without_coq()
    with CoqEnvironment(step_timeout=1, hammer=False) as env:
        root = env.start(CONJ)
        outcome = env.step(root, "repeat (assert True by trivial)")
        assert isinstance(outcome, Failed)
        assert env.restarts == 0  # Coq's own Timeout (or our interrupt) stopped it; no kill needed
        assert isinstance(env.step(root, "intros; split; lia"), Proved)


@pytest.mark.slow
def test_hung_process_is_killed_restarted_and_usable() -> None:
    skip_without_coq()
    with CoqEnvironment(step_timeout=1, hammer=False) as env:
        root = env.start(CONJ)
        intro = env.step(root, "intros n")
        assert isinstance(intro, Progress)
        pid = env.process_id
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # a process that no signal-based Timeout can wake
        try:
            outcome = env.step(intro.state, "split")
        except ProverTimeout:
            outcome = None
        assert outcome is None or (isinstance(outcome, Failed) and "timed out" in outcome.message)
        assert env.process_id != pid and env.restarts == 1
        again = env.step(intro.state, "split")
        assert isinstance(again, Progress) and len(again.state.goals) == 2


def test_states_of_two_theorems_can_be_stepped_interleaved(coq_env: CoqEnvironment) -> None:
    root_a = coq_env.start(CONJ)
    intro_a = coq_env.step(root_a, "intros n")
    other = Theorem(name="other_b", statement="Lemma other_b : forall m : nat, m * 1 = m.", header=HEADER)
    root_b = coq_env.start(other)
    intro_b = coq_env.step(root_b, "intros m")
    assert isinstance(intro_a, Progress) and isinstance(intro_b, Progress)
    split_a = coq_env.step(intro_a.state, "split")  # back in theorem A, whose state carries its handle
    assert isinstance(split_a, Progress) and split_a.state.goals[0].endswith("n + 0 = n")
    assert isinstance(coq_env.step(intro_b.state, "lia"), Proved)


def test_statement_must_be_one_sentence(coq_env: CoqEnvironment) -> None:
    two = Theorem(name="two", statement="Lemma two : True. Proof.", header=HEADER)
    with pytest.raises(InputError, match="one sentence"):
        coq_env.start(two)


def test_known_state_that_times_out_on_replay_is_replayed_with_more_time(
    coq_env: CoqEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prover.backends.coq_document import ReplayFailed

    root = coq_env.start(CONJ)
    intro = coq_env.step(root, "intros k")  # a path no other test steps (outcomes are cached)
    assert isinstance(intro, Progress)
    real_goto = coq_env.document.goto
    seen: list[list[str]] = []

    def goto_that_times_out_once(sentences, *, timeout):  # type: ignore[no-untyped-def]
        seen.append(list(sentences))
        if len(seen) == 1:  # as if `intros k` ran out of its Timeout while replaying on a busy machine
            raise ReplayFailed(len(sentences) - 2, "Timeout!")
        return real_goto(sentences, timeout=timeout)

    monkeypatch.setattr(coq_env.document, "goto", goto_that_times_out_once)
    outcome = coq_env.step(intro.state, "split")
    assert isinstance(outcome, Progress) and len(outcome.state.goals) == 2
    longer = f"Timeout {4 * coq_env.coq_timeout} intros k."
    assert seen[1][-2] == longer  # the replay gave the path's tactic four times its Timeout
    # Later steps from that subtree reuse the longer sentence, so the document prefix still matches.
    assert isinstance(coq_env.step(outcome.state, "apply Nat.add_0_r"), Progress)
    assert seen[-1][-3:-1] == [longer, f"Timeout {coq_env.coq_timeout} split."]


def test_a_library_tactic_by_its_qualified_name_is_a_step_and_the_proof_checks(coq_env: CoqEnvironment) -> None:
    modulo = Theorem(
        name="mod_three_bound",
        statement="Theorem mod_three_bound : forall a : Z, a mod 3 < 3.",
        header="Require Import ZArith Lia.\nOpen Scope Z_scope.\n",
    )
    root = coq_env.start(modulo)
    split = coq_env.step(root, "intros a; Z.to_euclidean_division_equations")
    assert isinstance(split, Progress)
    done = coq_env.step(split.state, "lia")
    assert isinstance(done, Proved)
    verdict = coq_env.verify(modulo, ["intros a; Z.to_euclidean_division_equations", "lia"])
    assert verdict.accepted, verdict.reason
