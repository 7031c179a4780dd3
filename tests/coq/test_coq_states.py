"""StateSentences (no Coq needed): which sentences rebuild a search state, the Timeout around each
tactic, the longer Timeout a slow tactic keeps for its whole subtree, and which started theorem a
state belongs to."""

from __future__ import annotations

import pytest

from prover.backends.coq_states import CoqHandle, StateSentences
from prover.backends.coq_tactics import TacticRefused
from search.types import State, Theorem

FIRST = Theorem("a", "Lemma a : True.", "Require Import Arith.\nDefinition x := 1.\n")
SECOND = Theorem("b", "Lemma b : 1 = 1.", "Require Import Arith.\n")


def test_a_path_is_the_root_then_each_tactic_inside_its_timeout() -> None:
    states = StateSentences(preamble=("From Coq Require Import Lia.",), coq_timeout=5)
    header, opening = states.root(FIRST)
    assert header == ("From Coq Require Import Lia.", "Require Import Arith.", "Definition x := 1.")
    assert opening == ("Lemma a : True.", "Proof.")
    started = states.register(FIRST, header + opening)
    sentences, owners = states.of_path(started, ["split; auto.", "- exact I.", "{ lia. }"])
    assert sentences[len(header) + 2 :] == [
        "Timeout 5 split; auto.", "-", "Timeout 5 exact I.", "{", "Timeout 5 lia.", "}",
    ]
    assert owners == [-1] * (len(header) + 2) + [0, 1, 1, 2, 2, 2]
    assert states.of_tactic("hammer.") == ["hammer."]  # CoqHammer keeps its own limits
    with pytest.raises(TacticRefused):
        states.of_tactic("Admitted.")


def test_a_tactic_that_timed_out_on_replay_keeps_a_longer_timeout_below_it() -> None:
    states = StateSentences(preamble=(), coq_timeout=5)
    header, opening = states.root(SECOND)
    started = states.register(SECOND, header + opening)
    assert states.allow_more_time(started, ("intros.",))
    assert not states.allow_more_time(started, ("intros.",))  # once only
    deeper, _ = states.of_path(started, ["intros.", "reflexivity."])
    assert deeper[-2:] == ["Timeout 20 intros.", "Timeout 5 reflexivity."]


def test_a_state_belongs_to_the_theorem_its_handle_names() -> None:
    states = StateSentences(preamble=(), coq_timeout=5)
    first = states.register(FIRST, sum(states.root(FIRST), ()))
    second = states.register(SECOND, sum(states.root(SECOND), ()))
    assert first.key != second.key and states.current == second
    assert states.owner(State(goals=("True",), path=(), handle=CoqHandle(first.key, 1, 3))) == first
    assert states.owner(State(goals=("True",), path=())) == second  # no handle: the current theorem
