"""Split Coq text into sentences the way Coq's lexer does, because coqidetop's `Add` runs only one.

`Add` parses the first command of its string and silently ignores the rest, so the environment
must send exactly one sentence per call. A sentence ends at a `.` followed by whitespace or the
end of the text, outside comments (which nest, and contain lexed strings) and strings (where `""`
is an escaped quote); `..` (recursive notations), qualified names (`Nat.add`), decimals (`1.5`) and
projections (`x.(f)`) do not end one. In proof mode a bullet (`-`, `+`, `*`, repeated), a brace
(`{`, `}`) or a goal selector with a brace (`2: {`) is a sentence of its own, with no `.`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Sentence", "SentenceSyntaxError", "split_sentences", "strip_comments"]


@dataclass(frozen=True)
class Sentence:
    """One Coq sentence.

    text: the sentence as written, from its first character to its closing `.` (or the bullet or
        brace), comments inside it included.
    start, end: its character offsets in the text it came from (`text == source[start:end]`).
    terminated: False for a trailing fragment with no closing `.` (only with `allow_unterminated`).
    """

    text: str
    start: int
    end: int
    terminated: bool = True

    @property
    def is_bullet_or_brace(self) -> bool:
        """A bullet, a brace or a selector-brace: structure, not a tactic (never wrapped in `Timeout`)."""
        return _STRUCTURAL.fullmatch(self.text) is not None


class SentenceSyntaxError(ValueError):
    """The text has an unterminated comment or string, or (when not allowed) an unterminated sentence."""


# A goal selector followed by an opening brace: `2: {`, `[x]: {`, `all: {` is not valid Coq but harmless.
_SELECTOR_BRACE = re.compile(r"(?:\d+|\[\s*[A-Za-z_][\w']*\s*\])\s*:\s*\{")
_BULLET = re.compile(r"(-+|\++|\*+)")
_STRUCTURAL = re.compile(r"-+|\++|\*+|\{|\}|" + _SELECTOR_BRACE.pattern)


def _skip_string(text: str, i: int) -> int:
    """Given `text[i] == '"'`, the index just after the closing quote (`""` is an escaped quote)."""
    j = i + 1
    while True:
        k = text.find('"', j)
        if k < 0:
            raise SentenceSyntaxError(f"unterminated string starting at offset {i}")
        if k + 1 < len(text) and text[k + 1] == '"':
            j = k + 2
            continue
        return k + 1


def _skip_comment(text: str, i: int) -> int:
    """Given `text[i:i+2] == '(*'`, the index just after the matching `*)` (comments nest)."""
    depth = 0
    j = i
    n = len(text)
    while j < n:
        if text.startswith("(*", j):
            depth += 1
            j += 2
        elif text.startswith("*)", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        elif text[j] == '"':
            j = _skip_string(text, j)
        else:
            j += 1
    raise SentenceSyntaxError(f"unterminated comment starting at offset {i}")


def _skip_blank(text: str, i: int) -> int:
    """Skip whitespace and comments from `i`."""
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith("(*", i):
            i = _skip_comment(text, i)
        else:
            break
    return i


def _is_sentence_dot(text: str, i: int) -> bool:
    """Whether the `.` at `i` ends a sentence: followed by whitespace or the end, and not the end
    of a notation's `..`; the `...` terminator of `Proof with` scripts does end one."""
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if not (nxt == "" or nxt.isspace()):
        return False
    if i > 0 and text[i - 1] == ".":
        return text[max(0, i - 2) : i + 1] == "..." and (i < 3 or text[i - 3] != ".")
    return True


def split_sentences(text: str, *, allow_unterminated: bool = False) -> list[Sentence]:
    """The sentences of `text`, in order, with their offsets.

    Raises `SentenceSyntaxError` for an unterminated comment or string, and for trailing text with
    no closing `.` unless `allow_unterminated` (then it is returned with `terminated=False`).
    """
    sentences: list[Sentence] = []
    n = len(text)
    i = _skip_blank(text, 0)
    while i < n:
        start = i
        structural = _SELECTOR_BRACE.match(text, i)
        if structural is None and text[i] in "{}":
            sentences.append(Sentence(text[i], i, i + 1))
            i = _skip_blank(text, i + 1)
            continue
        if structural is None and text[i] in "-+*" and not text.startswith("*)", i):
            structural = _BULLET.match(text, i)
        if structural is not None:
            sentences.append(Sentence(structural.group(0), start, structural.end()))
            i = _skip_blank(text, structural.end())
            continue
        end = None
        while i < n:
            ch = text[i]
            if ch == '"':
                i = _skip_string(text, i)
            elif text.startswith("(*", i):
                i = _skip_comment(text, i)
            elif ch == "." and _is_sentence_dot(text, i):
                end = i + 1
                break
            else:
                i += 1
        if end is None:
            fragment_end = len(text.rstrip())
            if not allow_unterminated:
                raise SentenceSyntaxError(
                    f"text ends without a closing '.' after offset {start}: {text[start:fragment_end][:60]!r}"
                )
            sentences.append(Sentence(text[start:fragment_end], start, fragment_end, terminated=False))
            break
        sentences.append(Sentence(text[start:end], start, end))
        i = _skip_blank(text, end)
    return sentences


def strip_comments(text: str) -> str:
    """`text` with every comment replaced by one space (strings kept intact)."""
    out: list[str] = []
    i = 0
    n = len(text)
    last = 0
    while i < n:
        if text[i] == '"':
            i = _skip_string(text, i)
        elif text.startswith("(*", i):
            out.append(text[last:i])
            out.append(" ")
            i = _skip_comment(text, i)
            last = i
        else:
            i += 1
    out.append(text[last:])
    return "".join(out)
