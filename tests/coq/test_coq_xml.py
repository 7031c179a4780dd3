"""The XML protocol layer against a fake coqidetop (no Coq needed): framing of answers among
feedback, `&nbsp;` cut across reads, goal decoding, and the typed errors for death and silence."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from prover.backends.coq import CoqEnvironment
from prover.backends.coq_xml import CoqIdeTop, parse_goals
from prover.errors import ProverCrashed, ProverTimeout, ToolchainMissing

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


def fake_server(tmp_path: Path, behaviour: str) -> list[str]:
    """A Python process that answers each <call> per `behaviour`, writing one byte at a time."""
    script = tmp_path / "fake_coqidetop.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys, time
            GOALS = {GOALS!r}
            FEEDBACK = {FEEDBACK!r}
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
                    elif behaviour == "fail":
                        send('<value val="fail" loc_s="0" loc_e="3"><state_id val="6"/><richpp><_><pp>No&nbsp;such&nbsp;goal.</pp></_></richpp></value>')
                    elif behaviour == "die":
                        sys.exit(3)
                    elif behaviour == "silent":
                        time.sleep(60)
            """
        )
    )
    return [sys.executable, str(script)]


def test_answers_are_framed_among_feedback_and_cut_entities(tmp_path: Path) -> None:
    top = CoqIdeTop(command=fake_server(tmp_path, "goals"))
    try:
        for _ in range(2):  # the second call must not see leftovers of the first
            result = top.call("Goal", "<unit/>", timeout=20)
            assert result.good
            assert [(m.level, m.text, m.state_id) for m in result.messages] == [("notice", "hello there", 5)]
            goals = parse_goals(result.value)
            assert goals is not None
            assert [g.render() for g in goals.focused] == ["n : nat\n============================\nn + 0 = n"]
            assert [g.conclusion for g in goals.unfocused] == ["True"]
            assert not goals.none_left
    finally:
        top.close()


def test_failure_carries_message_and_last_good_state(tmp_path: Path) -> None:
    top = CoqIdeTop(command=fake_server(tmp_path, "fail"))
    try:
        result = top.call("Goal", "<unit/>", timeout=20)
        assert (result.good, result.error, result.error_state_id) == (False, "No such goal.", 6)
    finally:
        top.close()


def test_dead_process_raises_crashed(tmp_path: Path) -> None:
    top = CoqIdeTop(command=fake_server(tmp_path, "die"))
    try:
        with pytest.raises(ProverCrashed):
            top.call("Goal", "<unit/>", timeout=20)
    finally:
        top.close()


def test_silent_process_raises_timeout(tmp_path: Path) -> None:
    top = CoqIdeTop(command=fake_server(tmp_path, "silent"))
    try:
        with pytest.raises(ProverTimeout):
            top.call("Goal", "<unit/>", timeout=0.5)
    finally:
        top.close()


def test_missing_coqidetop_is_toolchain_missing_with_a_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    from prover.backends.coq import CoqBackend

    with pytest.raises(ToolchainMissing, match="apt-get install coq"):
        CoqEnvironment()
    with pytest.raises(ToolchainMissing, match="apt-get install coq"):
        CoqBackend(hammer=False).check_toolchain()
