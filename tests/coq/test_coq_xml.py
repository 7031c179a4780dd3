"""The XML protocol layer against a fake coqidetop (no Coq needed): framing of answers among
feedback, `&nbsp;` cut across reads, typed answers (goals, failures with their location, added
states, edits, status), the interrupt before giving up, and the typed errors for death and
silence; then the same typed calls against the real coqidetop."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from prover.backends.coq import CoqEnvironment
from prover.backends.coq_xml import Added, CoqFailure, CoqIdeTop, CoqStatus, Edited, GoalsAnswer, QueryAnswer
from prover.errors import ProverCrashed, ProverTimeout, ToolchainMissing
from tests.conftest import require_coq

GOALS = (
    '<value val="good"><option val="some"><goals><list><goal><string>3</string><list>'
    "<richpp><_><pp>n&nbsp;:&nbsp;<constr.variable>nat</constr.variable></pp></_></richpp></list>"
    "<richpp><_><pp>n&nbsp;+&nbsp;0&nbsp;=&nbsp;n</pp></_></richpp><option val=\"none\"/></goal></list>"
    "<list><pair><list/><list><goal><string>4</string><list/><richpp><_><pp>True</pp></_></richpp>"
    '<option val="none"/></goal></list></pair></list><list/><list/></goals></option></value>'
)
FEEDBACK = (
    '<feedback object="state" route="0"><state_id val="5"/><feedback_content val="message"><message>'
    '<message_level val="notice"/><option val="none"/><richpp><_><pp>hello&nbsp;there</pp></_></richpp>'
    "</message></feedback_content></feedback>"
)


ADDED = (
    '<value val="good"><pair><state_id val="7"/><pair><union val="in_l"><unit/></union>'
    "<string></string></pair></pair></value>"
)
EDITED = '<value val="good"><union val="in_l"><unit/></union></value>'
STATUS = (
    '<value val="good"><status><list><string>M</string></list><option val="some"><string>t</string></option>'
    "<list><string>t</string></list><int>2</int></status></value>"
)
INTERRUPTED = '<value val="fail"><state_id val="4"/><richpp><_><pp>User&nbsp;interrupt.</pp></_></richpp></value>'


def fake_server(tmp_path: Path, behaviour: str) -> list[str]:
    """A Python process that answers each <call> per `behaviour`, writing one byte at a time."""
    script = tmp_path / "fake_coqidetop.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, signal, sys, time
            GOALS = {GOALS!r}
            FEEDBACK = {FEEDBACK!r}
            ANSWERS = {{"added": {ADDED!r}, "edited": {EDITED!r}, "status": {STATUS!r}}}
            INTERRUPTED = {INTERRUPTED!r}
            interrupted = []
            signal.signal(signal.SIGINT, lambda *_: interrupted.append(1))
            def send(text):
                for byte in text.encode():
                    os.write(1, bytes([byte]))
            buffer = b""
            while True:
                chunk = os.read(0, 4096)
                if not chunk:
                    break
                buffer += chunk
                while b"</call>" in buffer:
                    call, buffer = buffer.split(b"</call>", 1)
                    behaviour = {behaviour!r}
                    if behaviour == "goals":
                        send(FEEDBACK + GOALS)
                    elif behaviour in ANSWERS:
                        send(FEEDBACK + ANSWERS[behaviour])
                    elif behaviour == "fail":
                        send('<value val="fail" loc_s="0" loc_e="3"><state_id val="6"/><richpp><_><pp>No&nbsp;such&nbsp;goal.</pp></_></richpp></value>')
                    elif behaviour == "die":
                        sys.exit(3)
                    elif behaviour == "silent":
                        time.sleep(60)
                    elif behaviour == "interruptible":  # busy until SIGINT, then fails as Coq does
                        while not interrupted:
                            time.sleep(0.05)
                        send(INTERRUPTED)
            """
        )
    )
    return [sys.executable, str(script)]


def test_answers_are_framed_among_feedback_and_cut_entities(tmp_path: Path) -> None:
    top = CoqIdeTop(command=fake_server(tmp_path, "goals"))
    try:
        for _ in range(2):  # the second call must not see leftovers of the first
            answer = top.goals(timeout=20)
            assert isinstance(answer, GoalsAnswer)
            assert [(m.level, m.text, m.state_id) for m in answer.messages] == [("notice", "hello there", 5)]
            goals = answer.goals
            assert goals is not None
            assert [g.render() for g in goals.focused] == ["n : nat\n============================\nn + 0 = n"]
            assert [g.conclusion for g in goals.unfocused] == ["True"]
            assert not goals.none_left
    finally:
        top.close()


def test_failure_carries_message_location_and_last_good_state(tmp_path: Path) -> None:
    top = CoqIdeTop(command=fake_server(tmp_path, "fail"))
    try:
        answer = top.goals(timeout=20)
        assert isinstance(answer, CoqFailure)
        assert (answer.message, answer.state_id, answer.location) == ("No such goal.", 6, (0, 3))
        assert isinstance(top.add("intros.", after=5, timeout=20), CoqFailure)
    finally:
        top.close()


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("added", Added(7, ())),
        ("edited", Edited(True, ())),
        ("status", CoqStatus(("M",), "t", ("t",), 2)),
    ],
)
def test_good_answers_decode_to_typed_values(tmp_path: Path, behaviour: str, expected: object) -> None:
    top = CoqIdeTop(command=fake_server(tmp_path, behaviour))
    try:
        if behaviour == "added":
            answer: object = top.add("intros.", after=1, timeout=20)
        elif behaviour == "edited":
            answer = top.edit_at(1, timeout=20)
        else:
            answer = top.status(timeout=20)
        if isinstance(answer, (Added, Edited)):  # these carry the feedback that came with them
            assert [m.text for m in answer.messages] == ["hello there"]
            answer = type(answer)(answer.state_id if isinstance(answer, Added) else answer.cut, ())
        assert answer == expected
    finally:
        top.close()


def test_dead_process_raises_crashed(tmp_path: Path) -> None:
    top = CoqIdeTop(command=fake_server(tmp_path, "die"))
    try:
        with pytest.raises(ProverCrashed):
            top.goals(timeout=20)
    finally:
        top.close()


def test_silent_process_raises_timeout(tmp_path: Path) -> None:
    top = CoqIdeTop(command=fake_server(tmp_path, "silent"))
    try:
        with pytest.raises(ProverTimeout):
            top.goals(timeout=0.5)
    finally:
        top.close()


def test_an_overrunning_call_is_interrupted_and_its_answer_still_read(tmp_path: Path) -> None:
    top = CoqIdeTop(command=fake_server(tmp_path, "interruptible"), interrupt_grace=10)
    try:
        answer = top.goals(timeout=0.5)
        assert isinstance(answer, CoqFailure) and answer.message == "User interrupt."
    finally:
        top.close()


def test_a_process_that_ignores_the_interrupt_raises_timeout_after_the_grace(tmp_path: Path) -> None:
    top = CoqIdeTop(command=fake_server(tmp_path, "silent"), interrupt_grace=0.5)
    try:
        with pytest.raises(ProverTimeout, match="did not answer Goal within 0.5 s"):
            top.goals(timeout=0.5)
    finally:
        top.close()


@pytest.mark.coq
def test_typed_calls_against_the_real_coqidetop() -> None:
    require_coq()
    top = CoqIdeTop()
    try:
        root = top.init(timeout=60)
        statement = top.add("Lemma t : forall n : nat, n = n.", after=root, timeout=60)
        assert isinstance(statement, Added) and statement.state_id > root
        proof = top.add("Proof.", after=statement.state_id, timeout=60)
        assert isinstance(proof, Added)
        answer = top.goals(timeout=60)
        assert isinstance(answer, GoalsAnswer) and answer.goals is not None
        assert [g.conclusion for g in answer.goals.focused] == ["forall n : nat, n = n"]
        status = top.status(timeout=60)
        assert isinstance(status, CoqStatus) and status.proof_name == "t" and status.all_proofs == ("t",)
        bad = top.add("exact I.", after=proof.state_id, timeout=60)
        assert isinstance(bad, Added)  # Add only parses; running it (Goal) fails
        failure = top.goals(timeout=60)
        assert isinstance(failure, CoqFailure) and failure.state_id == proof.state_id  # the last good state
        assert failure.location == (6, 7) and failure.message.startswith('The term "I" has type "True"')
        edited = top.edit_at(proof.state_id, timeout=60)
        assert isinstance(edited, Edited) and edited.cut
        found = top.query("Check nat.", at=proof.state_id, timeout=60)
        assert isinstance(found, QueryAnswer) and [" ".join(m.text.split()) for m in found.messages] == ["nat : Set"]
        unparsable = top.add("exact (.", after=proof.state_id, timeout=60)
        assert isinstance(unparsable, CoqFailure) and unparsable.message.startswith("Syntax error")
        assert isinstance(top.add("intros n.", after=proof.state_id, timeout=60), Added)
        goals = top.goals(timeout=60)
        assert isinstance(goals, GoalsAnswer) and goals.goals is not None
        assert goals.goals.focused[0].hypotheses == ("n : nat",)
    finally:
        top.close()


def test_missing_coqidetop_is_toolchain_missing_with_a_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    from prover.backends.coq import CoqBackend

    with pytest.raises(ToolchainMissing, match="apt-get install coq"):
        CoqEnvironment()
    with pytest.raises(ToolchainMissing, match="apt-get install coq"):
        CoqBackend(hammer=False).check_toolchain()
