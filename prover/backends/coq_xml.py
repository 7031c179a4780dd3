"""A `coqidetop.opt` process and its XML protocol (Coq 8.16): typed calls, answers, feedback, goals.

One `CoqIdeTop` owns one process started with `-main-channel stdfds -async-proofs off`. Its calls
(`init`, `add`, `edit_at`, `goals`, `query`, `status`) each write one `<call>`, read until the
matching top-level `<value>` (collecting the `<feedback>` messages in between) and return a typed
answer: what Coq gave back, or a `CoqFailure` (its message, location and last good state). All XML
encoding and decoding lives here. A process that dies raises `ProverCrashed`; one that does not
answer within the wall-clock limit raises `ProverTimeout` (with `interrupt_grace`, only after a
SIGINT went unanswered that long too; the caller decides whether to kill and restart it).
Call signatures: `coqidetop.opt --help-XML-protocol`; the encoding is Coq's dev/doc/xml-protocol.md.
"""

from __future__ import annotations

import logging
import os
import re
import select
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, TypeVar
from xml.sax.saxutils import escape

from prover.errors import ProverCrashed, ProverTimeout, ToolchainMissing

__all__ = [
    "COQIDETOP",
    "HAMMER_LIBEXEC",
    "CoqMessage",
    "CoqGoal",
    "CoqGoals",
    "CoqFailure",
    "Added",
    "Edited",
    "GoalsAnswer",
    "QueryAnswer",
    "CoqStatus",
    "CoqIdeTop",
    "richpp_text",
]

log = logging.getLogger(__name__)

COQIDETOP = "coqidetop.opt"
# CoqHammer's `hammer` runs its ATP helpers (predict, htimeout) from here; Debian does not put it on PATH.
HAMMER_LIBEXEC = "/usr/libexec/coq-hammer"


# Control characters that XML 1.0 forbids (tab, newline and return are allowed), as UTF-8 bytes.
_NOT_XML_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# ---------------------------------------------------------------- encoding
def xml_string(text: str) -> str:
    """A protocol string; characters XML 1.0 cannot carry become U+FFFD (coqidetop's parser would
    stop at them; the tactic filter refuses such steps before they get here)."""
    return f"<string>{escape(_NOT_XML_TEXT.sub(chr(0xFFFD), text))}</string>"


def xml_int(value: int) -> str:
    return f"<int>{int(value)}</int>"


def xml_bool(value: bool) -> str:
    return f'<bool val="{"true" if value else "false"}"/>'


def xml_state_id(state_id: int) -> str:
    return f'<state_id val="{int(state_id)}"/>'


def xml_pair(first: str, second: str) -> str:
    return f"<pair>{first}{second}</pair>"


def xml_unit() -> str:
    return "<unit/>"


# ---------------------------------------------------------------- decoding
def richpp_text(element: ET.Element | None) -> str:
    """The plain text of a `<richpp>`/`<pp>` tree (markup dropped, non-breaking spaces as spaces)."""
    if element is None:
        return ""
    return "".join(element.itertext()).replace("\xa0", " ")


@dataclass(frozen=True)
class CoqMessage:
    """A message Coq sent as feedback: level ("error", "warning", "notice", "info", "debug"), text, state."""

    level: str
    text: str
    state_id: int


@dataclass(frozen=True)
class CoqGoal:
    """One goal: hypotheses (each `name : type`, several names sharing a type stay on one line) and conclusion."""

    hypotheses: tuple[str, ...]
    conclusion: str

    def render(self) -> str:
        """Coq's own layout: hypotheses, a rule of `=`, the conclusion."""
        return "\n".join((*self.hypotheses, "============================", self.conclusion))


@dataclass(frozen=True)
class CoqGoals:
    """The answer to `Goal`: focused goals, unfocused ones (from enclosing bullets/braces), shelved, given up."""

    focused: tuple[CoqGoal, ...]
    unfocused: tuple[CoqGoal, ...]
    shelved: tuple[CoqGoal, ...]
    given_up: tuple[CoqGoal, ...]

    @property
    def none_left(self) -> bool:
        """True when no goal of any kind remains: the proof is complete."""
        return not (self.focused or self.unfocused or self.shelved or self.given_up)


def _parse_goal(element: ET.Element) -> CoqGoal:
    # <goal><string>id</string><list>hyps richpp...</list><richpp>concl</richpp><option name/></goal>
    children = list(element)
    hyps = tuple(" ".join(richpp_text(h).split()) for h in children[1])
    conclusion = " ".join(richpp_text(children[2]).split())
    return CoqGoal(hyps, conclusion)


def parse_goals(value: ET.Element) -> CoqGoals | None:
    """Decode a good `Goal` answer; None when no proof is open."""
    option = value.find("option")
    if option is None or option.get("val") != "some":
        return None
    goals = option.find("goals")
    if goals is None:
        raise ProverCrashed("coqidetop answered Goal without <goals>")
    lists = [child for child in goals if child.tag == "list"]
    focused = tuple(_parse_goal(g) for g in lists[0].iter("goal"))
    unfocused = tuple(_parse_goal(g) for g in lists[1].iter("goal"))
    shelved = tuple(_parse_goal(g) for g in lists[2].iter("goal")) if len(lists) > 2 else ()
    given_up = tuple(_parse_goal(g) for g in lists[3].iter("goal")) if len(lists) > 3 else ()
    return CoqGoals(focused, unfocused, shelved, given_up)


@dataclass(frozen=True)
class CoqFailure:
    """Coq's refusal of a call (`<value val="fail">`).

    message: Coq's message in one line ("Coq reported an error" when it gave none).
    state_id: the last state Coq considers good (0 when it names none).
    location: (start, end) character offsets of the error in the sentence, when Coq gives them.
    messages: feedback messages received while the call ran.
    """

    message: str
    state_id: int
    location: tuple[int, int] | None
    messages: tuple[CoqMessage, ...]


@dataclass(frozen=True)
class Added:
    """`Add`'s good answer: the new sentence's state id (Coq runs it only when asked for goals)."""

    state_id: int
    messages: tuple[CoqMessage, ...]


@dataclass(frozen=True)
class Edited:
    """`Edit_at`'s good answer. cut: Coq cut the document at the state (`in_l`); False when it
    answered with a focus instead (only with asynchronous proofs, which this client turns off)."""

    cut: bool
    messages: tuple[CoqMessage, ...]


@dataclass(frozen=True)
class GoalsAnswer:
    """`Goal`'s good answer: the goals at the tip (None when no proof is open), and the feedback
    messages of the sentences it ran (Coq executes lazily, so a sentence's output arrives here)."""

    goals: CoqGoals | None
    messages: tuple[CoqMessage, ...]


@dataclass(frozen=True)
class QueryAnswer:
    """`Query`'s good answer: the messages the command printed (`Search`, `Check`...)."""

    messages: tuple[CoqMessage, ...]


@dataclass(frozen=True)
class CoqStatus:
    """`Status`'s good answer.

    path: the open sections and modules, outermost first.
    proof_name: the proof being edited, None when none is open.
    all_proofs: every open proof's name.
    proof_number: Coq's count of the proofs started so far.
    """

    path: tuple[str, ...]
    proof_name: str | None
    all_proofs: tuple[str, ...]
    proof_number: int


@dataclass(frozen=True)
class _Reply:
    """One call's raw answer: the `<value>` element and the feedback received while it ran."""

    value: ET.Element
    messages: tuple[CoqMessage, ...]

    @property
    def good(self) -> bool:
        return self.value.get("val") == "good"

    def failure(self) -> CoqFailure:
        state = self.value.find("state_id")
        start, end = self.value.get("loc_s"), self.value.get("loc_e")
        location = (int(start), int(end)) if start is not None and end is not None else None
        error = " ".join(richpp_text(self.value.find("richpp")).split())
        return CoqFailure(
            error or "Coq reported an error",
            int(state.get("val", "0")) if state is not None else 0,
            location,
            self.messages,
        )


_Answer = TypeVar("_Answer")


class CoqIdeTop:
    """One `coqidetop.opt` process speaking the XML protocol over stdin/stdout."""

    def __init__(
        self,
        *,
        extra_args: Sequence[str] = (),
        cwd: str | None = None,
        command: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        interrupt_grace: float | None = None,
    ) -> None:
        """Start the process. `command` replaces the whole command line (tests use a fake server);
        `env`: its environment (default: this process's); `extra_env` adds variables (TMPDIR: where
        CoqHammer's provers write their problem files). `interrupt_grace`: seconds a call that
        overran its limit still gets after a SIGINT (None: no interrupt, `ProverTimeout` at once)."""
        self.interrupt_grace = interrupt_grace
        env = dict(os.environ if env is None else env)
        env["PATH"] = HAMMER_LIBEXEC + os.pathsep + env.get("PATH", "")
        env.update(extra_env or {})
        argv = (
            list(command)
            if command is not None
            else [COQIDETOP, "-main-channel", "stdfds", "-async-proofs", "off", *extra_args]
        )
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
                cwd=cwd,
                start_new_session=True,  # our SIGINT to it must not reach us, nor a terminal's to it
            )
        except FileNotFoundError as missing:
            self._stderr.close()
            raise ToolchainMissing(
                f"{COQIDETOP} not found: install Coq 8.16 (apt-get install coq)"
            ) from missing
        self._parser = ET.XMLPullParser(events=("start", "end"))
        # The stream is a sequence of top-level elements: give them a root to hang from.
        self._parser.feed("<coqidetop>")
        self._root: ET.Element | None = None
        self._depth = 0
        self._entity_tail = b""

    @property
    def pid(self) -> int:
        """The process id (tests kill or stop it to exercise recovery)."""
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def stderr_tail(self, limit: int = 400) -> str:
        """The end of what the process wrote on stderr (for crash reports)."""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            return self._stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    # ------------------------------------------------------------ typed calls
    def init(self, *, timeout: float = 60) -> int:
        """`Init`: the initial state id; `ProverCrashed` when Coq refuses."""
        reply = self._exchange("Init", '<option val="none"/>', timeout)
        if not reply.good:
            raise ProverCrashed(f"coqidetop refused Init: {reply.failure().message}")
        state = reply.value.find("state_id")
        return int(state.get("val", "1")) if state is not None else 1

    def add(self, sentence: str, *, after: int, timeout: float) -> Added | CoqFailure:
        """`Add` one sentence after state `after`: its new state id, or Coq's refusal (a parse error)."""
        payload = xml_pair(
            xml_pair(
                xml_pair(xml_pair(xml_string(sentence), xml_int(0)), xml_pair(xml_state_id(after), xml_bool(False))),
                xml_int(0),
            ),
            xml_pair(xml_int(0), xml_int(0)),
        )
        return self._typed("Add", payload, timeout, _decode_added)

    def edit_at(self, state_id: int, *, timeout: float) -> Edited | CoqFailure:
        """`Edit_at`: drop every state after `state_id`."""
        return self._typed(
            "Edit_at", xml_state_id(state_id), timeout,
            lambda reply: Edited(_child_union(reply.value) == "in_l", reply.messages),
        )

    def goals(self, *, timeout: float) -> GoalsAnswer | CoqFailure:
        """`Goal`: run every pending sentence and return the goals at the tip, or the failure of
        the first sentence that fails (its `state_id` is the last good state)."""
        return self._typed("Goal", xml_unit(), timeout, lambda reply: GoalsAnswer(parse_goals(reply.value), reply.messages))

    def query(self, command: str, *, at: int, timeout: float) -> QueryAnswer | CoqFailure:
        """`Query`: run a query command (`Search ...`, `Check ...`) at state `at`, outside the document."""
        payload = '<pair><route_id val="0"/>' + xml_pair(xml_string(command), xml_state_id(at)) + "</pair>"
        return self._typed("Query", payload, timeout, lambda reply: QueryAnswer(reply.messages))

    def status(self, *, timeout: float) -> CoqStatus | CoqFailure:
        """`Status` (without forcing pending sentences): open blocks and proofs at the tip."""
        return self._typed("Status", xml_bool(False), timeout, _decode_status)

    def _typed(
        self, name: str, payload: str, timeout: float, decode: Callable[[_Reply], _Answer]
    ) -> _Answer | CoqFailure:
        reply = self._exchange(name, payload, timeout)
        return decode(reply) if reply.good else reply.failure()

    # ------------------------------------------------------------ framing
    def _exchange(self, name: str, payload: str, timeout: float) -> _Reply:
        """Send `<call val=name>payload</call>` and wait at most `timeout` wall seconds for its value.
        With `interrupt_grace`, a call that overruns is interrupted (SIGINT, as CoqIDE's Interrupt
        button) and its answer awaited that many seconds more; `ProverTimeout` when none comes."""
        request = f'<call val="{name}">{payload}</call>'.encode()
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(request)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as broken:
            raise ProverCrashed(f"coqidetop died (cannot write): {self.stderr_tail()}") from broken
        try:
            return self._await_value(timeout, what=name)
        except ProverTimeout:
            if self.interrupt_grace is None:
                raise
        self.interrupt()
        try:
            return self._await_value(self.interrupt_grace, what="the interrupted command")
        except (ProverTimeout, ProverCrashed):
            raise ProverTimeout(f"coqidetop did not answer {name} within {timeout:.1f} s") from None

    def _await_value(self, timeout: float, *, what: str) -> _Reply:
        """Read until the next `<value>` (the answer to the call in flight), at most `timeout` seconds."""
        messages: list[CoqMessage] = []
        deadline = time.monotonic() + timeout
        while True:
            for element in self._drain():
                if element.tag == "feedback":
                    message = _feedback_message(element)
                    if message is not None:
                        messages.append(message)
                elif element.tag == "value":
                    return _Reply(element, tuple(messages))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProverTimeout(f"coqidetop did not answer {what} within {timeout:.1f} s")
            self._read(remaining)

    def _drain(self) -> list[ET.Element]:
        """Top-level elements completed so far, detached from the root so memory stays flat."""
        done: list[ET.Element] = []
        try:
            events = list(self._parser.read_events())
        except ET.ParseError as garbled:  # the pull parser reports errors here, not in feed()
            raise ProverCrashed(f"coqidetop sent malformed XML: {garbled}") from garbled
        for event, element in events:
            if event == "start":
                if self._root is None:
                    self._root = element
                else:
                    self._depth += 1
            else:
                if element is self._root:
                    continue
                self._depth -= 1
                if self._depth == 0:
                    done.append(element)
                    self._root.remove(element)  # type: ignore[union-attr]
        return done

    def _read(self, wait: float) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], max(0.0, wait))
        if not ready:
            return
        chunk = os.read(stdout.fileno(), 1 << 16)
        if not chunk:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            raise ProverCrashed(
                f"coqidetop exited (status {self._process.returncode}): {self.stderr_tail() or 'no message'}"
            )
        data = self._entity_tail + chunk
        # Coq writes HTML's &nbsp;, which XML does not define; hold back an entity cut by the read.
        cut = data.rfind(b"&")
        if cut >= 0 and b";" not in data[cut:]:
            data, self._entity_tail = data[:cut], data[cut:]
        else:
            self._entity_tail = b""
        # Coq echoes text as it got it: a control character XML 1.0 forbids would stop the parser.
        data = _NOT_XML_BYTES.sub(b"?", data.replace(b"&nbsp;", b"&#160;"))
        try:
            self._parser.feed(data)
        except ET.ParseError as garbled:
            raise ProverCrashed(f"coqidetop sent malformed XML: {garbled}") from garbled

    def interrupt(self) -> None:
        """Ask Coq to abandon the running command (SIGINT), as CoqIDE's Interrupt button does."""
        if self.alive:
            os.kill(self._process.pid, signal.SIGINT)

    def close(self) -> None:
        """Kill the process and release its pipes (no graceful Quit: it may be hung)."""
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("coqidetop %d did not exit after SIGKILL", self._process.pid)
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._stderr.close()


def _feedback_message(element: ET.Element) -> CoqMessage | None:
    content = element.find("feedback_content")
    if content is None or content.get("val") != "message":
        return None
    message = content.find("message")
    if message is None:
        return None
    level_element = message.find("message_level")
    level = level_element.get("val", "") if level_element is not None else ""
    state = element.find("state_id")
    state_id = int(state.get("val", "0")) if state is not None else 0
    return CoqMessage(level, richpp_text(message.find("richpp")).strip(), state_id)


def _decode_added(reply: _Reply) -> Added:
    # <value val="good"><pair><state_id val="N"/><pair><union val="in_l"><unit/></union>...</pair></pair>
    new_state = reply.value.find("pair/state_id")
    if new_state is None:
        raise ProverCrashed("coqidetop answered Add without a state id")
    return Added(int(new_state.get("val", "0")), reply.messages)


def _child_union(value: ET.Element) -> str | None:
    union = value.find("union")
    return union.get("val") if union is not None else None


def _decode_status(reply: _Reply) -> CoqStatus:
    # <status><list>path strings</list><option>proof name</option><list>all proofs</list><int>n</int></status>
    status = reply.value.find("status")
    if status is None:
        raise ProverCrashed("coqidetop answered Status without <status>")
    children = list(status)
    path = tuple(s.text or "" for s in children[0].iter("string"))
    name = children[1].find("string") if children[1].get("val") == "some" else None
    all_proofs = tuple(s.text or "" for s in children[2].iter("string"))
    return CoqStatus(path, name.text or "" if name is not None else None, all_proofs, int(children[3].text or "0"))
