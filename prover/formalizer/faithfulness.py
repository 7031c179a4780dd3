"""Faithfulness: does an elaborating statement say what the problem says? Back-translate, then judge.

The model translates each statement back into natural language (it does not see the original, so
it cannot copy it), and a judge prompt compares the back-translation with the original problem and
ends with `Score: S`. The score is parsed robustly (`parse_score`); an answer with no readable
score counts as unknown, which ranks like 0. This is the round-trip check of Herald (Gao et al.,
ICLR 2025) and of LeanAide, with a graded score so candidates can be ranked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from prover.formalizer.templates import Target, back_translation_messages, judge_messages, strip_reasoning
from prover.policies.generation import TextGenerator

__all__ = ["Faithfulness", "parse_score", "assess_faithfulness"]


@dataclass(frozen=True)
class Faithfulness:
    """The round trip for one statement.

    back_translation: the model's natural-language reading of the statement.
    score: the judge's score in [0, 1] (1: same problem), None when no score could be read.
    judge_reply: the judge's full answer, for inspection.
    """

    back_translation: str
    score: float | None
    judge_reply: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"back_translation": self.back_translation, "score": self.score, "judge_reply": self.judge_reply}


_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_SCORE = re.compile(
    rf"score\W{{0,6}}{_NUMBER}\s*(%|/\s*{_NUMBER}|out\s+of\s+{_NUMBER})?", re.IGNORECASE
)
_VERDICT = re.compile(r"\|\|\s*(same|different)\s*\|\|", re.IGNORECASE)


def parse_score(reply: str) -> float | None:
    """The judge's score in [0, 1], or None when the reply states none.

    Read, in order: the last `Score: S` (also `score = S`, `**Score**: S`, `S/10`, `S out of 5`,
    `S%`; a bare S above 1 is read as out of 10 when at most 10, else as a percentage); else Herald's
    `||same||` / `||different||` verdict (1 / 0). Reasoning before `</think>` is ignored.
    """
    answer = strip_reasoning(reply)
    matches = list(_SCORE.finditer(answer))
    if matches:
        match = matches[-1]
        value = float(match.group(1))
        suffix = (match.group(2) or "").strip()
        denominator = match.group(3) or match.group(4)
        if suffix == "%":
            value /= 100.0
        elif denominator is not None and float(denominator) > 0:
            value /= float(denominator)
        elif value > 1.0:
            value = value / 10.0 if value <= 10.0 else value / 100.0
        return min(max(value, 0.0), 1.0)
    verdicts = _VERDICT.findall(answer)
    if verdicts:
        return 1.0 if verdicts[-1].lower() == "same" else 0.0
    return None


def assess_faithfulness(
    judge: TextGenerator, problem: str, codes: Sequence[str], target: Target, *, judge_samples: int = 1
) -> list[Faithfulness]:
    """Back-translate each statement in `codes` and judge it against `problem` (two batched model calls).

    With `judge_samples` > 1 the judge answers several times and the readable scores are averaged.
    """
    if not codes:
        return []
    back = judge.generate([back_translation_messages(code, target) for code in codes], 1)
    readings = [strip_reasoning(outputs[0].text).strip() if outputs else "" for outputs in back]
    replies = judge.generate([judge_messages(problem, reading) for reading in readings], max(1, judge_samples))
    results: list[Faithfulness] = []
    for reading, answers in zip(readings, replies, strict=True):
        scores = [score for score in (parse_score(answer.text) for answer in answers) if score is not None]
        results.append(
            Faithfulness(
                back_translation=reading,
                score=sum(scores) / len(scores) if scores else None,
                judge_reply="\n---\n".join(answer.text for answer in answers),
            )
        )
    return results
