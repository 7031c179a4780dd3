"""The linear document of one `coqidetop` process: its sentences, moves between states, restarts.

coqidetop's document is linear: `Edit_at(s)` drops every state after `s`. A `CoqDocument` keeps
the sentences sent (and the state id after each) and reaches any list of sentences by cutting the
chain at the longest common prefix and replaying the rest (`goto`), so a header shared by many
theorems runs once. It owns the process: started on first use, restarted after a crash or a hang
(the chain is then empty and the next `goto` replays it), interrupted and then killed when a call
overruns its wall-clock limit. `StepCache` remembers the outcomes of steps already run.
"""

from __future__ import annotations

import logging
from typing import Callable, Generic, Hashable, Sequence, TypeVar

from prover import budget
from prover.backends.coq_xml import Added, CoqFailure, CoqGoals, CoqIdeTop, CoqMessage
from prover.backends.sandbox import ProcessSandbox, kill_process_group_members
from prover.errors import ProverCrashed, ProverTimeout
from search.types import Failed, Outcome

__all__ = ["CoqDocument", "ReplayFailed", "StepCache"]

log = logging.getLogger(__name__)

_INTERRUPT_GRACE = 3.0  # seconds an overrunning call still gets after SIGINT before the process is killed
_EDIT_TIMEOUT = 60.0  # wall seconds for Init, Edit_at and queries

_Answer = TypeVar("_Answer")
_Key = TypeVar("_Key", bound=Hashable)


class ReplayFailed(Exception):
    """A sentence being replayed failed: (index of the sentence in the list asked for, Coq's message)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


class CoqDocument:
    """One coqidetop process (started on first use, in `sandbox`, with `coq_args`) and its document.

    restarts: processes killed and restarted after a crash or hang. sentences_added: Add calls sent
    (header reuse keeps this low). generation: how many processes were started. feedback: Coq's
    messages while the last `Goal` ran (a `hammer` step's reconstruction is among them).
    """

    def __init__(self, *, sandbox: ProcessSandbox, coq_args: Sequence[str] = ()) -> None:
        self._sandbox = sandbox
        self._coq_args = tuple(coq_args)
        self._top: CoqIdeTop | None = None
        self._init_state = 1
        self._sentences: list[tuple[str, int]] = []  # each sentence sent and the state id after it
        self.generation = 0
        self.restarts = 0
        self.sentences_added = 0
        self.feedback: tuple[CoqMessage, ...] = ()

    # ------------------------------------------------------------ process
    @property
    def process_id(self) -> int | None:
        """The coqidetop's pid, or None before it starts or after `close`."""
        return self._top.pid if self._top is not None else None

    def process(self) -> CoqIdeTop:
        """The running process, started (a fresh, empty document) when there is none or it died."""
        if self._top is None or not self._top.alive:
            if self._top is not None:
                self._top.close()
            # The sandbox's TMPDIR also takes CoqHammer's provers' problem files.
            self._top = CoqIdeTop(
                cwd=str(self._sandbox.workdir()),
                env=self._sandbox.environment(),
                extra_args=self._coq_args,
                interrupt_grace=_INTERRUPT_GRACE,
            )
            self.generation += 1
            self._sentences = []
            try:
                self._init_state = self._top.init(timeout=_EDIT_TIMEOUT)
            except BaseException:
                # A process whose Init hung or failed is no document: without this, the next call
                # would find it alive and use it uninitialised.
                top, self._top = self._top, None
                top.close()
                raise
        return self._top

    def restart(self) -> None:
        """Kill the process and start a fresh one (the document starts empty)."""
        if self._top is not None:
            self._top.close()
            self._top = None
        self.restarts += 1
        self.process()

    def close(self) -> None:
        """Kill the process; the next call starts a fresh one."""
        if self._top is not None:
            top, self._top = self._top, None
            top.close()
        self._sentences = []

    def kill_helpers(self) -> None:
        """Kill what the process forked and left running (CoqHammer's provers after a timed-out `hammer`)."""
        if self._top is not None and self._top.alive:
            kill_process_group_members(self._top.pid)

    def _call(self, request: Callable[[CoqIdeTop, float], _Answer], what: str, *, timeout: float) -> _Answer:
        """One protocol call within `timeout` wall seconds (never past the theorem's deadline). A
        process that overruns it and ignores the interrupt is killed and restarted, and
        `ProverTimeout` is raised; a dead process raises `ProverCrashed` (the caller restarts)."""
        top = self.process()
        timeout = budget.capped(timeout)
        try:
            return request(top, timeout)
        except ProverTimeout:
            log.warning("coqidetop %d ignored SIGINT; killing and restarting it", top.pid)
            self.restart()
            raise ProverTimeout(
                f"coqidetop did not answer {what} within {timeout:.1f} s; it was killed and restarted"
            ) from None

    # ------------------------------------------------------------ document
    @property
    def tip(self) -> int:
        """The state id at the end of the document."""
        return self._sentences[-1][1] if self._sentences else self._init_state

    def starts_with(self, sentences: Sequence[str]) -> bool:
        """Whether the document begins with exactly `sentences`."""
        return len(self._sentences) >= len(sentences) and all(
            self._sentences[i][0] == sentence for i, sentence in enumerate(sentences)
        )

    def goto(self, sentences: Sequence[str], *, timeout: float) -> CoqGoals | None:
        """Make the document exactly `sentences`, run it, and return the goals at its tip (None
        when no proof is open). Raises `ReplayFailed` (after cutting back to the last good
        sentence) when one fails; `timeout` bounds each call."""
        self.process()
        common = 0
        limit = min(len(self._sentences), len(sentences))
        while common < limit and self._sentences[common][0] == sentences[common]:
            common += 1
        self._edit_at(common)
        for index in range(len(self._sentences), len(sentences)):
            keep = len(self._sentences)
            added = self._add(sentences[index], timeout=timeout)
            if isinstance(added, CoqFailure):
                self._cut_after_failure(keep)
                raise ReplayFailed(index, added.message)
        return self._observe(timeout=timeout)

    def rebuild(self, sentences: Sequence[str], *, timeout: float) -> None:
        """Reach `sentences` (the state a step started from), restarting once if the process dies on
        the way; raises `ProverCrashed`/`ProverTimeout` when it cannot. A sentence that fails leaves
        the document at the last good one (the next step retries it)."""
        for attempt in range(2):
            try:
                self.goto(sentences, timeout=timeout)
                return
            except ReplayFailed as failed:
                log.warning("rebuilding a known state stopped early: %s", failed.message)
                return
            except (ProverCrashed, ProverTimeout):
                if attempt:
                    raise
                self.restart()

    def query(self, command: str, *, prefix: Sequence[str], timeout: float) -> tuple[CoqMessage, ...]:
        """Run a query command (`Search`, `Check`) at the state after `prefix` (reached first when
        the document does not start with it); its messages, none when Coq refuses it."""
        if not self.starts_with(prefix):
            self.goto(prefix, timeout=timeout)
        at = self._sentences[len(prefix) - 1][1]
        answer = self._call(lambda top, limit: top.query(command, at=at, timeout=limit), "Query", timeout=_EDIT_TIMEOUT)
        return () if isinstance(answer, CoqFailure) else answer.messages

    def _edit_at(self, length: int) -> None:
        """Cut the document back to its first `length` sentences."""
        if length >= len(self._sentences):
            return
        target = self._state_after(length)
        answer = self._call(lambda top, limit: top.edit_at(target, timeout=limit), "Edit_at", timeout=_EDIT_TIMEOUT)
        if isinstance(answer, CoqFailure) or not answer.cut:
            # Not expected with -async-proofs off; a fresh process is the safe way back.
            log.warning("Edit_at(%d) answered unexpectedly; restarting coqidetop", target)
            self.restart()
            return
        del self._sentences[length:]

    def _add(self, sentence: str, *, timeout: float) -> Added | CoqFailure:
        tip = self.tip
        answer = self._call(lambda top, limit: top.add(sentence, after=tip, timeout=limit), "Add", timeout=timeout)
        self.sentences_added += 1
        if not isinstance(answer, CoqFailure):
            self._sentences.append((sentence, answer.state_id))
        return answer

    def _cut_after_failure(self, keep: int) -> None:
        """After a failed sentence, cut the document back to `keep` sentences (dropping the failed one)."""
        # A failed Add may or may not have created a state; the chain we record is the truth.
        target = self._state_after(keep)
        answer = self._call(lambda top, limit: top.edit_at(target, timeout=limit), "Edit_at", timeout=_EDIT_TIMEOUT)
        if isinstance(answer, CoqFailure):
            self.restart()
            return
        del self._sentences[keep:]

    def _observe(self, *, timeout: float) -> CoqGoals | None:
        """Run every pending sentence (Coq executes lazily) and return the goals at the tip."""
        answer = self._call(lambda top, limit: top.goals(timeout=limit), "Goal", timeout=timeout)
        self.feedback = answer.messages
        if isinstance(answer, CoqFailure):
            failed_at = self._index_of_state(answer.state_id)
            self._cut_after_failure(failed_at)
            raise ReplayFailed(failed_at, answer.message)
        return answer.goals

    def _state_after(self, length: int) -> int:
        return self._sentences[length - 1][1] if length > 0 else self._init_state

    def _index_of_state(self, state_id: int) -> int:
        """Number of document sentences up to and including `state_id` (the last good one)."""
        for index, (_, sid) in enumerate(self._sentences):
            if sid == state_id:
                return index + 1
        if state_id == self._init_state:
            return 0
        log.warning("coqidetop blamed unknown state %d; assuming the last sentence failed", state_id)
        return max(0, len(self._sentences) - 1)


class StepCache(Generic[_Key]):
    """Outcomes of steps already run, by key; a transient failure (a hang, a crash, an interrupt at
    the deadline) is not remembered, since it may not happen again. Cleared when `limit` is reached."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._outcomes: dict[_Key, Outcome] = {}

    def get(self, key: _Key) -> Outcome | None:
        return self._outcomes.get(key)

    def remember(self, key: _Key, outcome: Outcome) -> None:
        if isinstance(outcome, Failed) and outcome.transient:
            return
        if len(self._outcomes) >= self._limit:
            self._outcomes.clear()
        self._outcomes[key] = outcome
