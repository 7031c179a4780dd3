"""The Coq sentence splitter and the tactic filter: pure text, no Coq needed."""

from __future__ import annotations

import pytest

from prover.backends.coq_sentences import SentenceSyntaxError, split_sentences, strip_comments
from prover.backends.coq_tactics import TacticRefused, tactic_sentences


def texts(source: str) -> list[str]:
    return [s.text for s in split_sentences(source)]


def test_qualified_names_and_decimals_do_not_end_a_sentence() -> None:
    assert texts("apply Nat.add_0_r. exact (Rlt_0_1).\nrewrite Z.mul_comm at 1.5.") == [
        "apply Nat.add_0_r.",
        "exact (Rlt_0_1).",
        "rewrite Z.mul_comm at 1.5.",
    ]


def test_recursive_notation_dots_and_projections_stay_inside() -> None:
    source = 'Notation "[ x ; .. ; y ]" := (cons x .. (cons y nil) ..).\nexact r.(field).'
    assert texts(source) == ['Notation "[ x ; .. ; y ]" := (cons x .. (cons y nil) ..).', "exact r.(field)."]


def test_nested_comments_with_strings_are_skipped() -> None:
    source = '(* outer (* inner. *) "a *) in a string. " still comment. *) lia. (* tail *)'
    sentences = split_sentences(source)
    assert [s.text for s in sentences] == ["lia."]
    assert source[sentences[0].start : sentences[0].end] == "lia."


def test_strings_with_escaped_quotes_and_dots() -> None:
    assert texts('idtac "a. ""b"". c". lia.') == ['idtac "a. ""b"". c".', "lia."]


def test_bullets_and_braces_are_sentences_of_their_own() -> None:
    source = "split. - lia. -- auto. + { now left. } * 2: { lia. } }"
    assert texts(source) == ["split.", "-", "lia.", "--", "auto.", "+", "{", "now left.", "}", "*", "2: {", "lia.", "}", "}"]
    assert all(s.is_bullet_or_brace for s in split_sentences(source) if not s.text.endswith("."))


def test_comment_is_not_a_bullet() -> None:
    assert texts("(* x *) - lia.") == ["-", "lia."]


def test_unterminated_comment_string_and_sentence() -> None:
    with pytest.raises(SentenceSyntaxError):
        split_sentences("lia. (* open")
    with pytest.raises(SentenceSyntaxError):
        split_sentences('idtac "open. lia.')
    with pytest.raises(SentenceSyntaxError):
        split_sentences("lia. auto")
    last = split_sentences("lia. auto", allow_unterminated=True)[-1]
    assert (last.text, last.terminated) == ("auto", False)


def test_strip_comments_keeps_strings() -> None:
    assert strip_comments('a (* b (* c *) *) "(* d *)" e') == 'a   "(* d *)" e'


@pytest.mark.parametrize(
    "tactic",
    [
        "Admitted.",
        "Abort.",
        "Abort All.",
        "Qed.",
        "Defined.",
        "Save foo.",
        "Axiom cheat : False.",
        "Parameter p : nat.",
        "Require Import Classical.",
        "Import Nat.",
        "Set Printing All.",
        "Unset Guard Checking.",
        "Definition x := 1.",
        "Lemma other : True.",
        "Proof.",
        "Back.",
        "Reset t.",
        "Restart.",
        "Undo.",
        "Focus 1.",
        "Timeout 100 lia.",
        "Fail lia.",
        "Succeed lia.",
        "Drop.",
        "Load evil.",
        "Extraction t.",
        "Cd \"/\".",
        "#[local] Axiom a : False.",
        "admit.",
        "give_up",
        "all: admit.",
        "exact_no_check I.",
        "vm_cast_no_check I.",
        "native_cast_no_check I.",
        "change_no_check True.",
        "split; [admit | lia].",
        "lia. Qed.",
        "(* hide *) Admitted.",
        "lia (* x *). Admitted.",
        'idtac "ok". Abort.',
        "",
        # Coq reads `Require.Import` as the command `Require`: a qualified first word is a tactic only
        # from an arithmetic module.
        "Require.Import Classical.",
        "Axiom.cheat : False.",
        "Set.Printing All.",
        "Z.to_euclidean_division_equations. Admitted.",
        "Nat.order; admit.",
        "Zify.zify. Qed.",
    ],
)
def test_commands_and_hole_tactics_are_refused(tactic: str) -> None:
    with pytest.raises(TacticRefused):
        tactic_sentences(tactic)


@pytest.mark.parametrize(
    "tactic, sentences",
    [
        ("lia", ("lia.",)),
        ("intros; nia.", ("intros; nia.",)),
        ("intros x y.\n  lra.", ("intros x y.", "lra.")),
        ("1: lia.", ("1: lia.",)),
        ("all: lra.", ("all: lra.",)),
        ("- lia.", ("-", "lia.")),
        ("2: { lia. }", ("2: {", "lia.", "}")),
        ("[> lia | lra ].", ("[> lia | lra ].",)),
        ("(split; lia).", ("(split; lia).",)),
        ("Unshelve.", ("Unshelve.",)),
        ('fail "admit is not used".', ('fail "admit is not used".',)),
        ("lia (* admit *).", ("lia.",)),
        ("Z.to_euclidean_division_equations; lia", ("Z.to_euclidean_division_equations; lia.",)),
        ("all: Zify.zify.", ("all: Zify.zify.",)),
        ("Nat.order.", ("Nat.order.",)),
    ],
)
def test_tactics_are_split_and_kept(tactic: str, sentences: tuple[str, ...]) -> None:
    assert tactic_sentences(tactic) == sentences


def test_proof_with_ellipsis_ends_a_sentence_but_notation_dots_do_not() -> None:
    texts = [s.text for s in split_sentences("apply H...\n+ intros x.\nexact [x ; .. ; y].")]
    assert texts == ["apply H...", "+", "intros x.", "exact [x ; .. ; y]."]
