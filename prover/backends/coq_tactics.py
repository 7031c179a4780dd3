"""Which proof steps the Coq environment accepts: tactics only, never commands or kernel bypasses.

A search must not be able to "prove" a theorem by ending the proof early (`Admitted.`, `Qed.`,
`Abort.`), by adding assumptions (`Axiom`, `Require`, `Set`...), or by tactics that skip the
kernel's type check (`exact_no_check`, ...) or leave holes (`admit`, `give_up`). Coq's vernacular
commands all start with a capital letter while tactics start with a lower-case identifier, `(`,
`[` or a goal selector (`2:`, `all:`, `par:`, `!:`, `[name]:`), or are a library tactic named
by its qualified name in an arithmetic module (`Z.to_euclidean_division_equations`); bullets and
braces are structure. So a sentence is accepted only when it has that shape and contains none of the denied
tactic names; the kernel check in `verify` is the last word in any case.
"""

from __future__ import annotations

import re

from prover.backends.coq_sentences import Sentence, SentenceSyntaxError, split_sentences, strip_comments

__all__ = ["TacticRefused", "DENIED_TACTICS", "TACTIC_MODULES", "COMMANDS_ALLOWED_IN_PROOFS", "tactic_sentences"]

# Tactics that leave holes or bypass the kernel at tactic time (Qed would catch the latter, but
# the search must never count them as progress).
DENIED_TACTICS = frozenset(
    {
        "admit",
        "give_up",
        "exact_no_check",
        "vm_cast_no_check",
        "native_cast_no_check",
        "change_no_check",
    }
)

# Commands that are harmless inside a proof and that a proof may need.
COMMANDS_ALLOWED_IN_PROOFS = frozenset({"Unshelve."})

# Goal selectors that may prefix a tactic: `2:`, `2-3:`, `1,3:`, `all:`, `par:`, `!:`, `[x]:`.
_SELECTOR = r"(?:\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*|all|par|!|\[\s*[A-Za-z_][\w']*\s*\])\s*:"
_TACTIC_START = re.compile(rf"(?:{_SELECTOR}\s*)?[a-z_(\[]")
# Tactics defined in a library module are called by their qualified name (`Z.to_euclidean_division_equations`,
# `Nat.order`). Coq's lexer reads `Require.Import` as the command `Require`, so a capitalised first
# segment is accepted only from this list of arithmetic modules, none of them a command keyword.
TACTIC_MODULES = frozenset({"Z", "N", "Nat", "Pos", "Q", "R", "Zify", "PreOmega"})
_QUALIFIED_TACTIC = re.compile(
    rf"(?:{_SELECTOR}\s*)?(?P<module>[A-Z][\w']*)(?:\.[a-z_][\w']*)+(?=[\s.;|)\]]|$)"
)
_WORD = re.compile(r"[A-Za-z_][\w']*")
_STRING = re.compile(r'"(?:[^"]|"")*"')
# Characters XML 1.0 cannot carry (coqidetop's protocol is XML): C0 controls but tab/newline/return,
# lone surrogates, U+FFFE/U+FFFF. No Coq tactic needs them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class TacticRefused(ValueError):
    """The text is not a plain tactic script (a command, a denied tactic, or unparseable text)."""


def _first_word(text: str) -> str:
    match = _WORD.match(text.lstrip("#[ "))
    return match.group(0) if match else text.split()[0] if text.split() else ""


def tactic_sentences(tactic: str) -> tuple[str, ...]:
    """The sentences of one proof step, comments removed and each ending in `.` (bullets/braces as is).

    A missing final `.` is added (`lia` means `lia.`). Raises `TacticRefused` with a one-line reason
    for anything that is not a tactic: a vernacular command, a denied tactic, an unterminated
    comment or string, a character XML 1.0 cannot carry, or an empty step.
    """
    bad = _NOT_XML.search(tactic)
    if bad is not None:
        raise TacticRefused(f"refused: the step contains the control character U+{ord(bad.group(0)):04X}")
    try:
        cleaned = strip_comments(tactic)
        parts = split_sentences(cleaned, allow_unterminated=True)
    except SentenceSyntaxError as bad:
        raise TacticRefused(f"cannot split the step into sentences: {bad}") from bad
    if not parts:
        raise TacticRefused("empty step")
    sentences: list[str] = []
    for part in parts:
        text = " ".join(part.text.split())
        if text.endswith(" .") and not text.endswith(".. ."):
            text = text[:-2] + "."  # a comment removed before the final dot
        if not part.terminated:
            text = text + "."
        _check_sentence(part, text)
        sentences.append(text)
    return tuple(sentences)


def _check_sentence(part: Sentence, text: str) -> None:
    if part.is_bullet_or_brace or text in COMMANDS_ALLOWED_IN_PROOFS:
        return
    qualified = _QUALIFIED_TACTIC.match(text)
    if _TACTIC_START.match(text) is None and (qualified is None or qualified["module"] not in TACTIC_MODULES):
        word = _first_word(text)
        raise TacticRefused(f"refused {text[:60]!r}: `{word}` is a command, not a tactic")
    words = set(_WORD.findall(_STRING.sub(" ", text)))
    denied = sorted(words & DENIED_TACTICS)
    if denied:
        raise TacticRefused(f"refused {text[:60]!r}: `{denied[0]}` leaves a hole or bypasses the kernel")
