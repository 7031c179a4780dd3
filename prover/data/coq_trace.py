"""Trace Coq `.v` files into step rows by replaying each file once, in order, through coqidetop.

Driving `CoqEnvironment.start` per theorem would re-send each file's growing prefix; instead the
tracer sends every sentence of the file once over the same XML protocol, asks for the goals after
each, and records one row per tactic sentence inside a proof. So that rows look exactly like the
states the search sees, each proof is opened the way the environment opens it: the backend's
preamble (`coq_preamble`) before the statement, then `Proof.` (a file's `Proof using ...` is
sent as `Proof.`), and goals rendered by the backend's own renderer. A theorem's rows therefore
replay through `CoqEnvironment` (header = the file's text before the statement).

Nothing is dropped silently: a theorem that is admitted, aborted, uses `Proof with`, or runs a
vernacular command inside its proof is counted under that reason. A proof whose step fails here
(the preamble's imports can change what `auto with *` or `intuition` do) is admitted so the file
goes on, and counted as "tactic failed in replay" with the message. A file that fails outside a
proof (or times out) stops there and is counted with the theorems it still held.
`Proof term.` is traced as one step, `exact (term).`.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from prover.backends.coq import goal_texts, coq_preamble
from prover.backends.coq_parse import THEOREM_KEYWORDS
from prover.backends.coq_sentences import Sentence, SentenceSyntaxError, split_sentences, strip_comments
from prover.backends.coq_tactics import TacticRefused, tactic_sentences
from prover.backends.coq_xml import CoqFailure, CoqGoals, CoqIdeTop
from prover.data.rows import NO_GOALS, TraceRow
from prover.errors import ProverCrashed, ProverTimeout

__all__ = [
    "TracedTheorem",
    "FileTrace",
    "CoqTracer",
    "trace_coq_files",
    "goals_text",
    "declaration_keyword",
    "COQ_STDLIB",
    "COQ_USER_CONTRIB",
]

log = logging.getLogger(__name__)

COQ_STDLIB = Path("/usr/lib/ocaml/coq/theories")
COQ_USER_CONTRIB = Path("/usr/lib/ocaml/coq/user-contrib")

_PROOF_ENDERS = {"Qed", "Defined", "Admitted", "Abort", "Save"}
_ATTRIBUTES = re.compile(r"^(?:#\[[^\]]*\]\s*|(?:Local|Global|Polymorphic|Monomorphic|Private|Program)\s+)*")
_IDENT = re.compile(r"[A-Za-z_][\w']*")
# Declarations that may open a proof when they have no `:=` body.
_MAYBE_PROOF = THEOREM_KEYWORDS | {"Definition", "Instance", "Let", "Fixpoint", "CoFixpoint", "Goal", "Lemma"}


def goals_text(goals: CoqGoals | None) -> str:
    """The state as the search's policies see it (`State.key` of the environment's state)."""
    if goals is None or goals.none_left:
        return NO_GOALS
    return "\n\n".join(goal_texts(goals))


def declaration_keyword(text: str) -> str:
    """The first word of a sentence after attributes (`#[global] Instance x` -> `Instance`)."""
    match = _IDENT.match(_ATTRIBUTES.sub("", strip_comments(text).lstrip()))
    return match.group(0) if match else ""


def _declared_name(text: str) -> str | None:
    cleaned = _ATTRIBUTES.sub("", strip_comments(text).lstrip())
    match = re.match(r"(\w+)\s+([A-Za-z_][\w'.]*)", cleaned)
    return match.group(2) if match else None


@dataclass(frozen=True)
class TracedTheorem:
    """One proof met in a file.

    name: the declaration's name (`KEYWORD@LINE`, e.g. `Goal@12` or `Next@40`, when it has none).
    statement: the sentence that opened the proof, as written.
    header_end: character offset of the statement in the file: `text[:header_end]` is the header
        a `Theorem` needs to replay the rows through `CoqEnvironment`.
    status: "traced" or the reason it was not (e.g. "admitted", "proof with", "command in proof").
    steps: rows recorded (0 unless traced).
    """

    name: str
    statement: str
    header_end: int
    status: str
    steps: int = 0

    def to_json(self, source: str, path: str = "") -> dict:
        """A JSON object for `theorems.jsonl`."""
        return {
            "source": source,
            "path": path,
            "theorem": self.name,
            "statement": self.statement,
            "header_end": self.header_end,
            "status": self.status,
            "steps": self.steps,
        }


@dataclass
class FileTrace:
    """What tracing one file produced: rows, theorems, and why anything was not traced."""

    source: str
    path: str = ""  # the file on disk (theorem headers are read from it)
    rows: list[TraceRow] = field(default_factory=list)
    theorems: list[TracedTheorem] = field(default_factory=list)
    failure: str | None = None  # why the file stopped replaying (None when it went through)
    untraced_after_failure: int = 0  # theorem-like declarations left unreplayed after the failure
    sentences: int = 0
    seconds: float = 0.0
    replay_errors: list[str] = field(default_factory=list)  # proofs admitted because a step failed

    def skipped_by_reason(self) -> Counter:
        """Theorems not traced, by reason (file failures included)."""
        counts = Counter(t.status for t in self.theorems if t.status != "traced")
        if self.failure is not None and self.untraced_after_failure:
            counts[f"file failed: {_reason_class(self.failure)}"] += self.untraced_after_failure
        return counts


def _reason_class(message: str) -> str:
    """A short class of a failure message, for counting (`timeout`, `error`, `crash`, ...)."""
    return message.split(":", 1)[0]


def _load_path_for(file: Path) -> tuple[str, ...]:
    """`-R DIR LIB` for a file of an installed user-contrib library, whose files `Require` their
    siblings by short name (Coquelicot's `Require Import Rcomplements`)."""
    try:
        relative = file.resolve().relative_to(COQ_USER_CONTRIB)
    except ValueError:
        return ()
    library = relative.parts[0]
    return ("-R", str(COQ_USER_CONTRIB / library), library)


class _FileFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CoqTracer:
    """Replays `.v` files in one coqidetop process each (reused across files, restarted as needed).

    sentence_timeout: wall seconds allowed for one sentence (a file that overruns is reported).
    hammer: add CoqHammer's import to the preamble, as `CoqEnvironment` does when it is installed;
        pass the environment's choice (`CoqBackend().hammer`) so rows match its states exactly.
    """

    def __init__(self, *, sentence_timeout: float = 60.0, hammer: bool = False, automation: bool = True) -> None:
        self.sentence_timeout = sentence_timeout
        self.preamble = coq_preamble(automation=automation, hammer=hammer)
        self._top: CoqIdeTop | None = None
        self._tip = 1
        self._text = ""
        self._at = 0  # offset of the sentence being replayed (for failure reports)

    def close(self) -> None:
        """Stop the coqidetop process."""
        if self._top is not None:
            self._top.close()
            self._top = None

    def __enter__(self) -> "CoqTracer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ protocol
    def _fresh(self, cwd: str | None, extra_args: Sequence[str] = ()) -> CoqIdeTop:
        self.close()
        top = CoqIdeTop(cwd=cwd, extra_args=extra_args)
        try:
            self._tip = top.init(timeout=60)
        except ProverCrashed:
            top.close()
            raise
        self._top = top
        return top

    def _send(self, sentence: str, at: int | None = None) -> CoqGoals | None:
        """Add one sentence, run it, return the goals after it; `_FileFailed` on any error.
        `at`: the sentence's offset in the file (for the failure's line number)."""
        if at is not None:
            self._at = at
        top = self._top
        assert top is not None
        previous = self._tip
        try:
            added = top.add(sentence, after=self._tip, timeout=self.sentence_timeout)
            if isinstance(added, CoqFailure):
                self._back_to(previous)
                raise _FileFailed(f"error: {added.message[:300]}")
            self._tip = added.state_id
            answer = top.goals(timeout=self.sentence_timeout)
        except ProverTimeout:
            self.close()
            raise _FileFailed(f"timeout: a sentence ran over {self.sentence_timeout:.0f} s") from None
        except ProverCrashed as crash:
            self.close()
            raise _FileFailed(f"crash: {str(crash)[:200]}") from None
        if isinstance(answer, CoqFailure):
            self._back_to(previous)
            raise _FileFailed(f"error: {answer.message[:300]}")
        return answer.goals

    def _back_to(self, state_id: int) -> None:
        """Cut the document back to `state_id` after a failed sentence, so replay can go on."""
        assert self._top is not None
        try:
            answer = self._top.edit_at(state_id, timeout=self.sentence_timeout)
        except (ProverTimeout, ProverCrashed) as broken:
            self.close()
            raise _FileFailed(f"crash: cannot cut back after a failure ({broken})") from None
        if isinstance(answer, CoqFailure) or not answer.cut:
            raise _FileFailed(f"crash: Edit_at answered unexpectedly: {answer.message if isinstance(answer, CoqFailure) else 'focus'}")
        self._tip = state_id

    # ------------------------------------------------------------ files
    def trace_file(self, path: str | Path, *, source: str | None = None) -> FileTrace:
        """Replay one file and return its rows and report (never raises for a bad file)."""
        started = time.monotonic()
        file = Path(path)
        label = source or str(file)
        result = FileTrace(label, str(file.resolve()))
        try:
            text = file.read_text()
            sentences = split_sentences(text)
        except (OSError, UnicodeDecodeError, SentenceSyntaxError) as bad:
            result.failure = f"unreadable: {bad}"
            result.seconds = time.monotonic() - started
            return result
        imports = tuple(
            " ".join(strip_comments(s.text).split()) for s in sentences if declaration_keyword(s.text) in {"Require", "From"}
        )
        self._text = text
        self._at = 0
        try:
            self._fresh(cwd=str(file.parent), extra_args=_load_path_for(file))
            self._replay(text, sentences, imports, result)
        except _FileFailed as failed:
            line = text.count("\n", 0, self._at) + 1
            kind, _, message = failed.reason.partition(": ")
            result.failure = f"{kind}: line {line}: {message}"
        except (ProverCrashed, ProverTimeout) as crash:
            result.failure = f"crash: {crash}"
        finally:
            self.close()
        if result.failure is not None:
            done = {t.header_end for t in result.theorems}
            last = max(done) if done else -1
            result.untraced_after_failure = sum(
                1 for s in sentences if s.start > last and declaration_keyword(s.text) in THEOREM_KEYWORDS
            )
        result.seconds = time.monotonic() - started
        return result

    def _replay(self, text: str, sentences: Sequence[Sentence], imports: tuple[str, ...], result: FileTrace) -> None:
        index = 0
        count = len(sentences)
        while index < count:
            sentence = sentences[index]
            keyword = declaration_keyword(sentence.text)
            following = declaration_keyword(sentences[index + 1].text) if index + 1 < count else ""
            likely_proof = keyword in THEOREM_KEYWORDS or (keyword in _MAYBE_PROOF and following == "Proof")
            if likely_proof:
                for line in self.preamble:
                    self._send(line)
            goals = self._send(sentence.text, sentence.start)
            result.sentences += 1
            index += 1
            if goals is None:
                continue
            # The sentence opened a proof: trace it up to its Qed/Defined/Admitted/Abort.
            index = self._trace_proof(text, sentences, index, sentence, goals, imports, result)

    def _trace_proof(
        self,
        text: str,
        sentences: Sequence[Sentence],
        index: int,
        opening: Sentence,
        goals: CoqGoals,
        imports: tuple[str, ...],
        result: FileTrace,
    ) -> int:
        line = text.count("\n", 0, opening.start) + 1
        keyword = declaration_keyword(opening.text)
        name = _declared_name(opening.text) if keyword in _MAYBE_PROOF and keyword != "Goal" else None
        # Goals, obligations and other anonymous proofs are named by where they are.
        name = name.rstrip(".") if name else f"{keyword or 'Unnamed'}@{line}"
        status = "traced"
        count = len(sentences)
        # `Proof.` as the environment sends it; a file's own `Proof using ...` is the same interactively.
        if index < count and declaration_keyword(sentences[index].text) == "Proof":
            proof_sentence = " ".join(strip_comments(sentences[index].text).split())
            index += 1
            if re.fullmatch(r"Proof\s*\.|Proof\s+using\b.*", proof_sentence):
                goals = self._send("Proof.") or goals
            elif proof_sentence.startswith("Proof with"):
                status = "proof with"
                goals = self._send(sentences[index - 1].text) or goals
            else:
                # `Proof term.` is a whole proof: traced as `exact (term).` and closed with Qed.
                return self._proof_term(proof_sentence, opening, name, goals, imports, result, index)
        else:
            goals = self._send("Proof.") or goals
        rows: list[TraceRow] = []
        pending: list[str] = []
        before = goals_text(goals)
        while index < count:
            sentence = sentences[index]
            keyword = declaration_keyword(sentence.text)
            index += 1
            if keyword in _PROOF_ENDERS:
                if keyword == "Admitted":
                    status = "admitted"
                elif keyword == "Abort":
                    status = "aborted"
                elif before != NO_GOALS and status == "traced":
                    status = "not closed"
                self._send(sentence.text, sentence.start)
                result.sentences += 1
                break
            cleaned = " ".join(strip_comments(sentence.text).split())
            tactic: str | None
            try:
                parts = tactic_sentences(cleaned)
                tactic = parts[0] if len(parts) == 1 else cleaned
            except TacticRefused:
                tactic = None
                if status == "traced":
                    status = f"command in proof: {declaration_keyword(sentence.text) or cleaned[:20]}"
            try:
                after_goals = self._send(sentence.text, sentence.start)
            except _FileFailed as failed:
                if not failed.reason.startswith("error:"):
                    raise
                # The proof does not replay here (e.g. the preamble's imports give `auto with *`
                # more hints): admit it so the file goes on, and count it under its own reason.
                return self._admit_after_failure(sentences, index, opening, name, failed, result)
            result.sentences += 1
            if after_goals is None:
                # A command ended the proof without Qed (e.g. `Save`-like vernacular): stop here.
                status = f"proof ended by {declaration_keyword(sentence.text) or 'a command'}"
                break
            after = goals_text(after_goals)
            if tactic is not None:
                if after == before:
                    # A step that changes nothing the search can see (`{` on the only goal, a no-op
                    # `simpl`): the environment refuses it alone, so it rides with the next step.
                    pending.append(tactic)
                    continue
                rows.append(TraceRow(result.source, name, len(rows), before, " ".join([*pending, tactic]), after, imports))
                pending.clear()
            before = after
        else:
            status = "unterminated proof"
        if status == "traced":
            result.rows.extend(rows)
        result.theorems.append(
            TracedTheorem(name, opening.text, opening.start, status, len(rows) if status == "traced" else 0)
        )
        return index

    def _admit_after_failure(
        self,
        sentences: Sequence[Sentence],
        index: int,
        opening: Sentence,
        name: str,
        failed: "_FileFailed",
        result: FileTrace,
    ) -> int:
        line = self._text.count("\n", 0, self._at) + 1
        while index < len(sentences) and declaration_keyword(sentences[index].text) not in _PROOF_ENDERS:
            index += 1
        self._send("Admitted.")
        message = failed.reason.partition(": ")[2]
        log.info("%s: %s does not replay at line %d: %s", result.source, name, line, message)
        result.replay_errors.append(f"{name} (line {line}): {message[:200]}")
        result.theorems.append(TracedTheorem(name, opening.text, opening.start, "tactic failed in replay", 0))
        return index + 1

    def _proof_term(
        self,
        proof_sentence: str,
        opening: Sentence,
        name: str,
        goals: CoqGoals,
        imports: tuple[str, ...],
        result: FileTrace,
        index: int,
    ) -> int:
        term = proof_sentence[len("Proof"):].strip().removesuffix(".").strip()
        before = goals_text(self._send("Proof.") or goals)
        tactic = f"exact ({term})."
        after = goals_text(self._send(tactic))
        self._send("Qed.")
        result.sentences += 1
        status = "traced" if after == NO_GOALS else "proof term"
        if status == "traced":
            result.rows.append(TraceRow(result.source, name, 0, before, tactic, after, imports))
        result.theorems.append(TracedTheorem(name, opening.text, opening.start, status, int(status == "traced")))
        return index


def trace_coq_files(
    files: Sequence[tuple[str | Path, str]],
    *,
    jobs: int = 1,
    sentence_timeout: float = 60.0,
    hammer: bool = False,
    on_file: Callable[[FileTrace], None] | None = None,
) -> Iterable[FileTrace]:
    """Trace `(path, source label)` pairs with `jobs` coqidetop processes; yields results in input order."""

    def one(item: tuple[str | Path, str]) -> FileTrace:
        with CoqTracer(sentence_timeout=sentence_timeout, hammer=hammer) as tracer:
            return tracer.trace_file(item[0], source=item[1])

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for traced in pool.map(one, files):
            if on_file is not None:
                on_file(traced)
            yield traced
