"""CoqDocument on real Coq: moves on the linear document replay only past the longest common
prefix, a failing sentence is reported by its index with the document cut back to the last good
one, a killed process is restarted with an empty document; and StepCache never keeps a transient
failure."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Iterator

import pytest

from prover.backends.coq_document import CoqDocument, ReplayFailed, StepCache
from prover.backends.sandbox import ProcessSandbox
from search.types import Failed, FailureKind, Proved

from coq_testing import skip_without_coq

HEADER = ["Require Import Arith.", "Lemma t : forall n : nat, n + 0 = n.", "Proof."]


@pytest.fixture
def document() -> Iterator[CoqDocument]:
    skip_without_coq()
    sandbox = ProcessSandbox()
    document = CoqDocument(sandbox=sandbox)
    yield document
    document.close()
    sandbox.cleanup()


@pytest.mark.coq
def test_goto_replays_only_past_the_common_prefix(document: CoqDocument) -> None:
    goals = document.goto(HEADER, timeout=120)
    assert goals is not None and [g.conclusion for g in goals.focused] == ["forall n : nat, n + 0 = n"]
    assert document.sentences_added == 3
    induction = document.goto([*HEADER, "intros n.", "induction n."], timeout=60)
    assert induction is not None and len(induction.focused) == 2
    sibling = document.goto([*HEADER, "intros n.", "destruct n."], timeout=60)  # cut after `intros n.`
    assert sibling is not None and len(sibling.focused) == 2
    assert document.sentences_added == 6 and document.starts_with([*HEADER, "intros n."])
    assert document.restarts == 0


@pytest.mark.coq
def test_a_failing_sentence_is_reported_by_index_and_cut_away(document: CoqDocument) -> None:
    with pytest.raises(ReplayFailed) as failed:
        document.goto([*HEADER, "intros n.", "exact I.", "reflexivity."], timeout=120)
    assert failed.value.index == 4 and 'The term "I" has type "True"' in failed.value.message
    assert document.starts_with([*HEADER, "intros n."]) and not document.starts_with([*HEADER, "intros n.", "exact I."])
    goals = document.goto([*HEADER, "intros n.", "now rewrite Nat.add_0_r."], timeout=60)
    assert goals is not None and goals.none_left


@pytest.mark.coq
def test_a_killed_process_is_replaced_by_a_fresh_empty_document(document: CoqDocument) -> None:
    document.goto(HEADER, timeout=120)
    pid, generation = document.process_id, document.generation
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait_until_dead(pid)
    goals = document.goto(HEADER, timeout=120)  # a dead process is noticed and replaced before the call
    assert goals is not None and document.process_id != pid and document.generation == generation + 1


def _wait_until_dead(pid: int) -> None:
    """Until the process is a zombie (killed, not yet reaped) or gone."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except (OSError, IndexError):
            return
        time.sleep(0.02)


def test_step_cache_keeps_outcomes_but_never_a_transient_failure() -> None:
    cache: StepCache[str] = StepCache(limit=2)
    cache.remember("hung", Failed("step timed out", FailureKind.INTERRUPTED))
    cache.remember("lost", Failed("cannot rebuild", FailureKind.PROCESS_LOST))
    assert cache.get("hung") is None and cache.get("lost") is None
    cache.remember("bad", Failed("no", FailureKind.TACTIC_ERROR))
    cache.remember("done", Proved(("lia",)))
    assert cache.get("bad") == Failed("no", FailureKind.TACTIC_ERROR) and cache.get("done") == Proved(("lia",))
    cache.remember("third", Proved(("auto",)))  # full: cleared, then the new outcome kept
    assert cache.get("bad") is None and cache.get("third") == Proved(("auto",))


def test_a_process_whose_init_hangs_is_killed_and_the_next_call_starts_a_fresh_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Init can time out (a loaded machine, a hung plugin): that process must not stay as the
    document's, alive and uninitialised, for the next call to use."""
    import prover.backends.coq_document as coq_document
    from prover.errors import ProverTimeout

    started: list["HangingThenFineTop"] = []

    class HangingThenFineTop:
        def __init__(self, **_: object) -> None:
            self.alive, self.closed, self.pid = True, False, 1000 + len(started)
            started.append(self)

        def init(self, timeout: float) -> int:
            if len(started) == 1:
                raise ProverTimeout(f"Init did not answer within {timeout:g}s")
            return 7

        def close(self) -> None:
            self.alive, self.closed = False, True

    monkeypatch.setattr(coq_document, "CoqIdeTop", HangingThenFineTop)
    sandbox = ProcessSandbox()
    try:
        document = CoqDocument(sandbox=sandbox)
        with pytest.raises(ProverTimeout):
            document.process()
        assert started[0].closed and document.process_id is None
        assert document.process() is started[1] and not started[1].closed and document.generation == 2
    finally:
        sandbox.cleanup()
