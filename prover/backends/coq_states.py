"""What a search state is in Coq: the sentences that rebuild it from an empty document.

A started theorem's root state is the preamble, the header's sentences, the statement and its
opening (`Proof.`, or the file's own `Proof using ...`: Qed rejects a proof that uses an unlisted
section variable, so steps run under the same opening as the file). The state after a path adds
each tactic's sentences inside Coq's `Timeout N` (bullets, braces, `Unshelve.` and a bare
`hammer.`, which keeps its own limits, as they are). A tactic that ran out of its Timeout while
its state was being rebuilt (a busier machine) gets four times as long from then on, so the
states below it keep the same sentences and the document's prefix still matches. The last 64
started theorems are remembered, so states of interleaved searches on one environment still step.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from prover.backends.coq_hammer import is_hammer_step
from prover.backends.coq_kernel_check import PROOF_OPENING
from prover.backends.coq_parse import normalise_for_coq816
from prover.backends.coq_sentences import SentenceSyntaxError, split_sentences
from prover.backends.coq_tactics import tactic_sentences
from prover.errors import InputError
from search.types import State, Theorem

__all__ = ["CoqHandle", "StartedTheorem", "StateSentences", "checked_sentences"]

_REPLAY_TIMEOUT_FACTOR = 4  # a known step that times out on replay gets this many times its Timeout
_REMEMBERED_THEOREMS = 64  # started theorems whose states still step


@lru_cache(maxsize=4096)
def checked_sentences(tactic: str) -> tuple[str, ...]:
    """The step's sentences, `TacticRefused` unless each is a tactic (`coq_tactics`); cached."""
    return tactic_sentences(tactic)


@lru_cache(maxsize=64)
def _header_sentences(header: str) -> tuple[str, ...]:
    # A file's theorems come in order and each header extends the previous one (which ends where
    # a statement begins, a sentence boundary): split only the new text, not the whole header again.
    known, sentences = _last_header[0]
    try:
        if known and header.startswith(known):
            split = sentences + tuple(s.text for s in split_sentences(header[len(known):], allow_unterminated=False))
        else:
            split = tuple(s.text for s in split_sentences(header, allow_unterminated=False))
    except SentenceSyntaxError as bad:
        raise InputError(f"cannot read the file's header: {bad}") from bad
    _last_header[0] = (header, split)  # one store: threads (-j) see the old pair or the new one
    return split


# The header split last and its sentences (see `_header_sentences`).
_last_header: list[tuple[str, tuple[str, ...]]] = [("", ())]


@dataclass(frozen=True)
class StartedTheorem:
    """A started theorem, the sentences that reach its root state, and a stable digest of them."""

    theorem: Theorem
    prefix: tuple[str, ...]
    key: str


@dataclass(frozen=True)
class CoqHandle:
    """`State.handle` of a Coq state: which started theorem it belongs to (a stable digest of its
    header and statement), and the process generation and state id it had (informational: the
    environment always re-derives the state from its path)."""

    theorem_key: str
    generation: int
    state_id: int


class StateSentences:
    """The sentences of each state of the theorems started on one environment.

    preamble: the imports run before every header. coq_timeout: Coq's `Timeout` for one tactic, seconds.
    current: the theorem started last (the owner of a state without a `CoqHandle`).
    """

    def __init__(self, *, preamble: Sequence[str], coq_timeout: int) -> None:
        self.preamble = tuple(preamble)
        self.coq_timeout = coq_timeout
        self.current: StartedTheorem | None = None
        self._started: dict[str, StartedTheorem] = {}
        # Tactics that needed a longer Timeout to replay: (theorem key, path) -> sentences used.
        self._slow_steps: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}

    def root(self, theorem: Theorem) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The sentences up to the theorem's root state: (preamble + header, statement + opening)."""
        header = self.preamble + _header_sentences(normalise_for_coq816(theorem.header))
        return header, (theorem.statement.strip(), getattr(theorem, "proof_opening", PROOF_OPENING))

    def register(self, theorem: Theorem, prefix: tuple[str, ...]) -> StartedTheorem:
        """Remember a theorem whose root state `prefix` reaches; it becomes `current`."""
        key = hashlib.sha256("\n".join(prefix).encode()).hexdigest()[:16]
        self.current = StartedTheorem(theorem, prefix, key)
        self._started[key] = self.current
        while len(self._started) > _REMEMBERED_THEOREMS:
            self._started.pop(next(iter(self._started)))
        return self.current

    def owner(self, state: State) -> StartedTheorem | None:
        """The started theorem `state` belongs to (by its handle; else the current one)."""
        if isinstance(state.handle, CoqHandle):
            return self._started.get(state.handle.theorem_key, self.current)
        return self.current

    def wrap(self, sentence: str, *, seconds: int | None = None) -> str:
        """`Timeout N` around a tactic sentence; bullets, braces, and a `hammer.` step (CoqHammer
        keeps its own ATP and reconstruction limits) as they are."""
        if re.fullmatch(r"[-+*]+|[{}]|.*:\s*\{", sentence) or sentence == "Unshelve.":
            return sentence
        if is_hammer_step(sentence):
            return sentence
        return f"Timeout {seconds or self.coq_timeout} {sentence}"

    def of_tactic(self, tactic: str) -> list[str]:
        """The sentences a new step runs (`TacticRefused` for anything but tactics)."""
        return [self.wrap(s) for s in checked_sentences(tactic)]

    def of_path(self, started: StartedTheorem, path: Sequence[str]) -> tuple[list[str], list[int]]:
        """The sentences that rebuild the state after `path`, and for each the index of the path's
        tactic it comes from (-1 for the header and statement)."""
        sentences = list(started.prefix)
        owners = [-1] * len(sentences)
        for position, tactic in enumerate(path):
            override = self._slow_steps.get((started.key, tuple(path[: position + 1])))
            wrapped = override if override is not None else tuple(self.wrap(s) for s in checked_sentences(tactic))
            sentences.extend(wrapped)
            owners.extend([position] * len(wrapped))
        return sentences, owners

    def allow_more_time(self, started: StartedTheorem, path: tuple[str, ...]) -> bool:
        """Give the last tactic of `path` a longer Timeout from now on (False when it already has one)."""
        key = (started.key, path)
        if key in self._slow_steps:
            return False
        longer = _REPLAY_TIMEOUT_FACTOR * self.coq_timeout
        self._slow_steps[key] = tuple(self.wrap(s, seconds=longer) for s in checked_sentences(path[-1]))
        return True
