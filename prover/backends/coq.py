"""The Coq backend: files (`CoqBackend`), proof search steps and the kernel's verdict (`CoqEnvironment`).

`CoqEnvironment` composes the parts: a `CoqDocument` (`coq_document.py`: one long-lived
`coqidetop.opt` speaking the typed XML protocol of `coq_xml.py`, its linear document reached by
replaying past the longest common prefix, so a header shared by many theorems runs once), the
sentences of each search state (`coq_states.py`), a `StepCache` of step outcomes, and the kernel
check (`coq_kernel_check.py`: `coqc` from scratch, `Print Assumptions` judged by kernel names).
What stays here is what a step means for the search: a tactic that fails is data; a state that
does not rebuild, a hang or a crash is recovered from (more time, rebuild, restart) or reported
as a transient failure; a `hammer` step becomes the tactic CoqHammer reconstructs.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from prover import budget
from prover.backends.base import OpenTheorem, ParsedFile, UnsupportedProof
from prover.backends.coq_document import CoqDocument, ReplayFailed, StepCache
from prover.backends.coq_hammer import (
    HAMMER_FIRST_CALL_SECONDS,
    HAMMER_IMPORT,
    HAMMER_PLUGIN_IMPORT,
    NO_HAMMER_ENV,
    calls_hammer,
    hammer_atps_available,
    hammer_available,
    hammer_reconstruction,
    hammer_settings,
    hammer_wall_seconds,
    is_hammer_step,
    replace_hammer_call,
    uses_hammer_tactics,
)
from prover.backends.coq_kernel_check import kernel_check, whole_file_judgement
from prover.backends.coq_output import complete_coq_file
from prover.backends.coq_output import render_coq_proof as _render_checked_proof
from prover.backends.coq_parse import declared_lemmas, normalise_for_coq816, scan_open_proofs
from prover.backends.coq_sentences import SentenceSyntaxError, split_sentences, strip_comments
from prover.backends.coq_states import CoqHandle, StartedTheorem, StateSentences, checked_sentences
from prover.backends.coq_tactics import TacticRefused
from prover.backends.coq_verdict import ALLOWED_AXIOMS, names_to_locate, parse_assumptions
from prover.backends.coq_xml import COQIDETOP, HAMMER_LIBEXEC, CoqGoals, CoqMessage
from prover.backends.sandbox import ProcessSandbox
from prover.budget import MAX_CANDIDATE_CHARS, MAX_CANDIDATE_SENTENCES
from prover.config import PROVER_DEFAULTS
from prover.errors import InputError, ProverCrashed, ProverError, ProverTimeout, ToolchainMissing
from search.types import Failed, FailureKind, Outcome, Progress, Proved, State, Theorem, Verdict

if TYPE_CHECKING:
    from prover.backends.coq_file_check import FileCheckResult

__all__ = [
    "ALLOWED_AXIOMS",
    "AUTOMATION_IMPORT",
    "HAMMER_IMPORT",
    "NO_HAMMER_ENV",
    "coq_preamble",
    "hammer_available",
    "hammer_atps_available",
    "hammer_reconstruction",
    "HAMMER_PLUGIN_IMPORT",
    "uses_hammer_tactics",
    "CoqBackend",
    "CoqEnvironment",
    "CoqHandle",
    "goal_texts",
    "render_coq_proof",
    "parse_assumptions",
]

log = logging.getLogger(__name__)

# The preamble: imports put before the file's own text, so the portfolio's decision procedures
# (lia, nia, lra, nra, psatz) and CoqHammer's reconstruction tactics (sauto, hauto, qauto) exist
# whatever the file imports. Steps, the kernel check and the completed file all use the same
# preamble + header + statement order (`complete_file` writes the preamble as the file's first
# lines when it completes a proof). At the top rather than before the statement because
# `Require` inside a section is fragile, and because the file's own definitions then shadow ours.
AUTOMATION_IMPORT = "From Coq Require Import Lia Lra Psatz."


def coq_preamble(*, automation: bool = True, hammer: bool = False) -> tuple[str, ...]:
    """The import sentences put before a file's header."""
    return ((AUTOMATION_IMPORT,) if automation else ()) + ((HAMMER_IMPORT,) if hammer else ())


_REBUILD_FAILED = "cannot rebuild the state this step starts from"
_MAX_MESSAGE = 600
_CACHED_STEPS = 200_000  # step outcomes remembered (cleared when full)


def _tactic_failure(message: str) -> Failed:
    """A failed tactic as data: our interrupt at the wall-clock limit ("User interrupt.") is
    INTERRUPTED (transient: a busy machine), Coq's own `Timeout` a TIMEOUT (the tactic's limit),
    anything else a TACTIC_ERROR."""
    text = _one_line(message) or "tactic failed"
    if text.startswith("User interrupt"):
        return Failed(text, FailureKind.INTERRUPTED)
    timed_out = text.startswith("Timeout!") or "Tactic timeout" in text
    return Failed(text, FailureKind.TIMEOUT if timed_out else FailureKind.TACTIC_ERROR)


def _one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def render_coq_proof(proof: Sequence[str]) -> str:
    """`Proof.\\n  tac1.\\n  tac2.\\nQed.`: each step on its own line, written as the kernel check
    compiled it (see `coq_output`)."""
    return _render_checked_proof(proof)


def goal_texts(goals: CoqGoals) -> tuple[str, ...]:
    """The goals as the search sees them: the focused ones, else the unfocused, shelved or given-up
    ones marked as such (a proof is complete only when none of any kind is left)."""
    if goals.focused:
        return tuple(g.render() for g in goals.focused)
    if goals.unfocused:
        return tuple("(unfocused) " + g.render() for g in goals.unfocused)
    if goals.shelved:
        return tuple("(shelved) " + g.render() for g in goals.shelved)
    return tuple("(given up) " + g.render() for g in goals.given_up)


class CoqEnvironment:
    """Coq as a search environment: `start`, `step` from any earlier state in any order, `verify`.

    step_timeout: Coq's `Timeout` for one step (whole seconds, rounded up); the wall-clock limit on
        the process is a little above it, after which the process is interrupted, or killed and
        restarted with the state rebuilt.
    hammer: add `From Hammer Require Import Tactics.` to the preamble (for sauto/hauto/qauto);
        None means "when CoqHammer is installed".
    automation: add `From Coq Require Import Lia Lra Psatz.` to the preamble.
    atp_hammer: load CoqHammer's plugin so that the `hammer` tactic runs (its external provers get
        `step_timeout` each, `hammer_settings`); None means "when the plugin and a prover are
        installed". A `hammer` step enters the path as the tactic it reconstructs.
    header_timeout: wall seconds allowed to run a header (imports) or a whole replay.
    coqc_timeout: wall seconds allowed for the from-scratch `coqc` check in `verify`.
    coq_args: load paths and options for coqidetop and coqc (`-Q /abs/dir Lib`, ...: the file's
        project, see `coq_project.py`); directories must be absolute (Coq runs in a private folder).
    """

    def __init__(
        self,
        *,
        step_timeout: float = PROVER_DEFAULTS.step_timeout,
        hammer: bool | None = None,
        automation: bool = True,
        atp_hammer: bool | None = None,
        header_timeout: float = 180.0,
        coqc_timeout: float = 300.0,
        coq_args: Sequence[str] = (),
    ) -> None:
        if shutil.which(COQIDETOP) is None:
            raise ToolchainMissing(f"{COQIDETOP} not found: install Coq 8.16 (apt-get install coq)")
        self.step_timeout = float(step_timeout)
        self.coq_timeout = max(1, math.ceil(step_timeout))
        self.hammer = hammer_available() if hammer is None else hammer
        self.automation = automation
        self.preamble = coq_preamble(automation=automation, hammer=self.hammer)
        self.atp_hammer = self.hammer and (hammer_atps_available() if atp_hammer is None else atp_hammer)
        if self.atp_hammer:
            self.preamble += hammer_settings(self.coq_timeout)
        self._premise_cache: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
        self._hammer_warm = -1  # the process generation in which a `hammer` call last ran to its end
        self.header_timeout = header_timeout
        self.coqc_timeout = coqc_timeout
        # Seconds past the theorem's deadline a kernel check of a proof found may take.
        self._kernel_check_grace = max(10.0, 2.0 * self.step_timeout)
        self.coq_args = tuple(coq_args)
        # Everything Coq and its helpers write stays in one folder per environment, removed on
        # close: micromega's caches (.lia.cache) go to the working directory, psatz's csdp files
        # (param.csdp, sos*.dat-s) to TMPDIR; users' folders and the shared temp folder stay clean.
        self._sandbox = ProcessSandbox()
        self.document = CoqDocument(sandbox=self._sandbox, coq_args=self.coq_args)
        self.states = StateSentences(preamble=self.preamble, coq_timeout=self.coq_timeout)
        self._step_cache: StepCache[tuple[str, tuple[str, ...], str]] = StepCache(_CACHED_STEPS)

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> "CoqEnvironment":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the coqidetop process and remove the sandbox."""
        self.document.close()
        self._sandbox.cleanup()

    @property
    def process_id(self) -> int | None:
        """The running coqidetop's pid, or None (tests kill or stop it to exercise recovery)."""
        return self.document.process_id

    @property
    def restarts(self) -> int:
        """Processes killed and restarted after a crash or hang."""
        return self.document.restarts

    @property
    def sentences_added(self) -> int:
        """Add calls sent (header reuse keeps this low; tests count it)."""
        return self.document.sentences_added

    # ------------------------------------------------------------ sentences and limits
    def preamble_for(self, proof: Sequence[str]) -> tuple[str, ...]:
        """The preamble of the kernel check and of the completed file: the Hammer import only when
        the proof uses a Hammer tactic (steps always run with the full preamble)."""
        return coq_preamble(automation=self.automation, hammer=self.hammer and uses_hammer_tactics(proof))

    def _step_timeout_wall(self, sentences: Sequence[str]) -> float:
        hammer = any(is_hammer_step(s) for s in sentences)
        per = self._hammer_wall() if hammer else self.coq_timeout
        return per * max(1, len(sentences)) * 1.25 + 2.0

    # ------------------------------------------------------------ Environment protocol
    def start(self, theorem: Theorem) -> State:
        """Run the header (reused when unchanged) and the statement; the root state with its goals.

        Raises `InputError` when the header or the statement does not elaborate (Coq's message in
        one line), `ProverCrashed`/`ProverTimeout` when the process cannot get there.
        """
        header, opening = self.states.root(theorem)
        try:
            statement_sentences = split_sentences(theorem.statement)
        except SentenceSyntaxError as bad:
            raise InputError(f"{theorem.name}: cannot read the statement: {bad}") from bad
        if len(statement_sentences) != 1:
            raise InputError(f"{theorem.name}: the statement must be exactly one sentence ending in '.'")
        for attempt in range(2):
            try:
                goals = self._open_statement(theorem, header, opening)
                break
            except ProverCrashed:
                if attempt:
                    raise
                self.document.restart()
        if goals is None or goals.none_left:
            raise InputError(f"{theorem.name}: the statement did not open a proof")
        started = self.states.register(theorem, header + opening)
        return State(goals=goal_texts(goals), path=(), handle=self._handle(started))

    def _open_statement(
        self, theorem: Theorem, header: tuple[str, ...], opening: tuple[str, ...]
    ) -> CoqGoals | None:
        """Reach the header, then the statement and its opening; `InputError` when either fails."""
        try:
            self.document.goto(header, timeout=self.header_timeout)
        except ReplayFailed as failed:
            bad = header[failed.index] if failed.index < len(header) else "?"
            raise InputError(
                f"{theorem.name}: the file's header fails at {_one_line(bad, 80)!r}: {_one_line(failed.message)}"
            ) from None
        try:
            return self.document.goto(header + opening, timeout=self.header_timeout)
        except ReplayFailed as failed:
            raise InputError(f"{theorem.name}: the statement does not elaborate: {_one_line(failed.message)}") from None

    def _handle(self, started: StartedTheorem) -> CoqHandle:
        return CoqHandle(started.key, self.document.generation, self.document.tip)

    def step(self, state: State, tactic: str) -> Outcome:
        """Apply `tactic` to `state`: Progress, Proved (no goal of any kind left) or Failed (data)."""
        started = self.states.owner(state)  # possibly a theorem started earlier (interleaved searches)
        if started is None:
            raise ProverError("step() before start(): no theorem is open")
        if len(tactic) > MAX_CANDIDATE_CHARS:
            return Failed(f"refused: the step is {len(tactic)} characters long (limit {MAX_CANDIDATE_CHARS})", FailureKind.REFUSED)
        try:
            new_sentences = self.states.of_tactic(tactic)
        except TacticRefused as refused:
            return Failed(str(refused), FailureKind.REFUSED)
        if len(new_sentences) > MAX_CANDIDATE_SENTENCES:
            return Failed(
                f"refused: the step has {len(new_sentences)} sentences (limit {MAX_CANDIDATE_SENTENCES})", FailureKind.REFUSED
            )
        key = (started.key, tuple(state.path), tactic)
        cached = self._step_cache.get(key)
        if cached is not None:
            return cached
        if budget.expired():
            return Failed("the theorem's time budget is spent", FailureKind.INTERRUPTED)
        self.states.current = started
        outcome = self._step_uncached(started, state, tactic, new_sentences)
        outcome = self._reconstructed_hammer(state, tactic, outcome)
        self._step_cache.remember(key, outcome)
        return outcome

    def _step_uncached(self, started: StartedTheorem, state: State, tactic: str, new_sentences: list[str]) -> Outcome:
        """Run the step from `state`'s sentences: a tactic that fails is data; a state that does not
        rebuild gets its slow tactic more time once; a hang interrupts (the state is rebuilt); a
        crash restarts the process and retries once."""
        path = (*state.path, tactic)
        crashes = 0
        while True:
            base, owners = self.states.of_path(started, state.path)
            replaying = not self.document.starts_with(base)
            wall = self._step_timeout_wall(new_sentences) + (self.header_timeout if replaying else 0.0)
            try:
                goals = self.document.goto(base + new_sentences, timeout=wall)
            except ReplayFailed as failed:
                if failed.index >= len(base):
                    return _tactic_failure(failed.message)
                # A state reached before does not rebuild: a tactic on its path that ran close to its
                # Timeout ran out on the replay (a busier machine). Give that tactic more time, once.
                position = owners[failed.index]
                if position >= 0 and self.states.allow_more_time(started, state.path[: position + 1]):
                    log.info("replay of %r timed out; retrying with a longer Timeout", state.path[position])
                    continue
                log.warning("cannot rebuild a known state: %s", failed.message)
                return Failed(f"{_REBUILD_FAILED}: {_one_line(failed.message)}", FailureKind.PROCESS_LOST)
            except ProverTimeout as hung:
                # Killed and restarted: rebuild the state we stepped from so the search goes on
                # (not when the theorem's time is up: the next step, if any, rebuilds it anyway).
                if not budget.expired():
                    self.document.rebuild(base, timeout=self.header_timeout)
                return Failed(f"step timed out ({_one_line(str(hung))})", FailureKind.INTERRUPTED)
            except ProverCrashed as crash:
                crashes += 1
                log.warning("coqidetop crashed (%s); restarting and replaying %d steps", crash, len(state.path))
                self.document.restart()
                if crashes > 1 or budget.expired():
                    if not budget.expired():
                        self.document.rebuild(base, timeout=self.header_timeout)
                    return Failed(f"coqidetop crashed on this tactic: {_one_line(str(crash), 200)}", FailureKind.PROCESS_LOST)
                continue
            return self._outcome(started, state, path, goals)

    def _outcome(self, started: StartedTheorem, state: State, path: tuple[str, ...], goals: CoqGoals | None) -> Outcome:
        """What the goals after a step mean for the search."""
        if goals is None:
            return Failed("the step closed the proof block", FailureKind.REFUSED)
        if goals.none_left:
            return Proved(path)
        texts = goal_texts(goals)
        if texts == tuple(state.goals):
            # `auto`, `simpl`, `try ...` succeed without doing anything: no new state for the search.
            return Failed("no progress: the goals are unchanged", FailureKind.NO_PROGRESS)
        return Progress(State(goals=texts, path=path, handle=self._handle(started)))

    def _hammer_wall(self) -> float:
        """Wall seconds for a `hammer` step: `hammer_wall_seconds`, and on a process's first call
        also the time CoqHammer takes to extract the features of every loaded constant."""
        first = self._hammer_warm != self.document.generation
        return hammer_wall_seconds(self.coq_timeout) + (HAMMER_FIRST_CALL_SECONDS if first else 0.0)

    def _reconstructed_hammer(self, state: State, tactic: str, outcome: Outcome) -> Outcome:
        """A successful `hammer` step becomes the tactic CoqHammer reconstructed (printed as "Replace
        the hammer tactic with: ..."), re-run from `state`: the path, the kernel check and the
        completed file then hold that tactic, and never call the external provers again."""
        if not calls_hammer(tactic):
            return outcome
        self.document.kill_helpers()  # a timed-out hammer leaves its helpers running
        if not (isinstance(outcome, Failed) and outcome.transient):
            self._hammer_warm = self.document.generation  # it ran to its end: the features are extracted
        if isinstance(outcome, Failed):
            return outcome
        replacement = replace_hammer_call(tactic, [message.text for message in self.document.feedback])
        if replacement is None:
            return Failed("hammer succeeded but printed no single reconstruction to put in its place")
        replayed = self.step(state, replacement)
        if isinstance(replayed, Failed):
            return Failed(f"hammer's reconstruction {replacement!r} does not replay: {replayed.message}", replayed.kind)
        return replayed

    def verify(self, theorem: Theorem, proof: Sequence[str]) -> Verdict:
        """Accept only a proof whose steps are tactics that close every goal, and that `coqc` re-checks
        from scratch (`Qed`) with `Print Assumptions` listing only allowed axioms (`coq_kernel_check`).

        The statement is the parsed theorem's, reinserted verbatim; the proof text cannot change it.
        """
        try:
            for step in proof:
                checked_sentences(step)
        except TacticRefused as refused:
            return Verdict(False, str(refused))
        # A proof found just before the deadline is still checked: the replay runs on the step
        # limits alone, and coqc gets what is left of the deadline plus `_kernel_check_grace`.
        with budget.deadline_lifted() as deadline:
            replayed = self._replay(theorem, proof)
            if replayed is not None:
                return replayed
            limit = self.coqc_timeout if deadline is None else budget.capped(self.coqc_timeout, deadline + self._kernel_check_grace)
            return self._kernel_check(theorem, proof, timeout=limit)

    def _replay(self, theorem: Theorem, proof: Sequence[str]) -> Verdict | None:
        """Run the proof's steps from the theorem's start; a rejecting Verdict unless they close it."""
        try:
            state = self.start(theorem)
        except InputError as invalid:
            return Verdict(False, str(invalid))
        outcome: Outcome = Progress(state)
        for index, step in enumerate(proof):
            if not isinstance(outcome, Progress):
                return Verdict(False, f"the proof goes on after step {index} closed or failed")
            before = outcome.state
            outcome = self.step(before, step)
            if isinstance(outcome, Failed) and outcome.transient:
                outcome = self.step(before, step)  # once more, as the search would
        if isinstance(outcome, Failed):
            return Verdict(False, f"a step fails: {outcome.message}")
        if not isinstance(outcome, Proved):
            return Verdict(False, "the tactics leave goals open")
        return None

    def _kernel_check(self, theorem: Theorem, proof: Sequence[str], *, timeout: float | None = None) -> Verdict:
        """`coq_kernel_check.kernel_check` with this environment's preamble, load paths and sandbox."""
        return kernel_check(
            theorem,
            proof,
            preamble=self.preamble_for(proof),
            coq_args=self.coq_args,
            sandbox=self._sandbox,
            timeout=self.coqc_timeout if timeout is None else timeout,
        )

    # ------------------------------------------------------------ premises (prover/policies/retrieval.py)
    def search_premises(self, state: State, query: str) -> list[tuple[str, str]]:
        """(name, statement) of each lemma Coq's `Search QUERY.` finds in the scope of `state`'s
        theorem (its file's header, imports included), the goal's own hypotheses left out."""
        started = self._started_for(state)
        key = (started.key, "Search", query)
        if key not in self._premise_cache:
            found = []
            for message in self._query_at_root(started, f"Search {query}."):
                match = re.match(r"([\w'.]+)\s*:\s*(.*)", message.text, re.DOTALL)
                if match:
                    found.append((match.group(1), " ".join(match.group(2).split())))
            self._premise_cache[key] = found
        hypotheses = {line.split(" : ", 1)[0].strip() for goal in state.goals[:1] for line in goal.splitlines() if " : " in line}
        hypotheses = {name.strip() for names in hypotheses for name in names.split(",")}
        return [(name, statement) for name, statement in self._premise_cache[key] if name not in hypotheses]

    def local_premises(self, state: State) -> list[tuple[str, str]]:
        """(name, statement) of the lemmas `state`'s file declares before its theorem, as `Check`
        prints them there (a name not reachable from the theorem's scope is left out)."""
        started = self._started_for(state)
        key = (started.key, "local", "")
        if key not in self._premise_cache:
            found = []
            for name in sorted(declared_lemmas(normalise_for_coq816(started.theorem.header))):
                for message in self._query_at_root(started, f"Check {name}."):
                    match = re.match(r"([\w'.]+)\s*:\s*(.*)", message.text, re.DOTALL)
                    if match:
                        found.append((name, " ".join(match.group(2).split())))
            self._premise_cache[key] = found
        return list(self._premise_cache[key])

    def _started_for(self, state: State) -> StartedTheorem:
        started = self.states.owner(state)
        if started is None:
            raise ProverError("premises asked before start(): no theorem is open")
        return started

    def _query_at_root(self, started: StartedTheorem, command: str) -> tuple[CoqMessage, ...]:
        """Run a query command (`Search`, `Check`) where the theorem's proof starts; its messages."""
        return self.document.query(command, prefix=started.prefix, timeout=self.header_timeout)


class CoqBackend:
    """Coq 8.16 through coqidetop: parses `.v` files, opens environments, writes proofs back."""

    name = "coq"
    extensions = (".v",)

    def __init__(self, *, hammer: bool | None = None, automation: bool = True, coq_args: Sequence[str] = ()) -> None:
        self._hammer = hammer
        self.automation = automation
        # The file's project load paths and options (absolute paths; see `coq_project.py`).
        self.coq_args = tuple(coq_args)

    @property
    def hammer(self) -> bool:
        """Whether environments import CoqHammer's tactics (auto-detected unless set)."""
        if self._hammer is None:
            self._hammer = hammer_available()
        return self._hammer

    @property
    def preamble(self) -> tuple[str, ...]:
        """The imports every environment of this backend runs before a file's header (see `coq_preamble`)."""
        return coq_preamble(automation=self.automation, hammer=self.hammer)

    def check_toolchain(self) -> None:
        """Raise `ToolchainMissing` when coqidetop.opt or coqc is not on PATH."""
        for tool in (COQIDETOP, "coqc"):
            if shutil.which(tool) is None:
                raise ToolchainMissing(f"{tool} not found: install Coq 8.16 (apt-get install coq)")

    def parse_file(self, path: str, text: str) -> ParsedFile:
        """Every theorem-like declaration whose proof is missing; `InputError` for unreadable text."""
        try:
            scan = scan_open_proofs(text, source=path)
        except SentenceSyntaxError as bad:
            reason = re.sub(r"\s+(?:starting )?at offset \d+", "", str(bad))  # the location says where
            raise InputError(f"{_located(path, text, str(bad))}cannot split into Coq sentences: {reason}") from bad
        return ParsedFile(
            path=path,
            text=text,
            theorems=tuple(OpenTheorem(o.theorem, o.span, o.qualified_name, o.statement_start) for o in scan.opens),
            unsupported=tuple(UnsupportedProof(u.name, u.reason, u.start) for u in scan.unsupported),
        )

    def open_environment(self, *, step_timeout: float) -> CoqEnvironment:
        """A new environment with its own coqidetop process (started on first use)."""
        self.check_toolchain()
        return CoqEnvironment(
            step_timeout=step_timeout, hammer=self.hammer, automation=self.automation, coq_args=self.coq_args
        )

    def check_completed_file(
        self,
        parsed: ParsedFile,
        proofs: Mapping[str, Sequence[str]],
        *,
        accepted: Mapping[str, Sequence[str]] | None = None,
    ) -> "FileCheckResult":
        """Kernel-check all `proofs` (qualified name -> tactics) in one `coqc` run of the completed
        file (with the `accepted` proofs in it too), judged as the per-theorem check judges (see
        `coq_file_check`); the theorems it leaves without a verdict need `CoqEnvironment.verify`."""
        from prover.backends.coq_file_check import check_completed_file

        # Judged by full kernel names (`Locate` at the file's end); a name not located there goes to
        # the per-theorem check. coqc (and psatz's csdp) write into a sandbox of their own.
        sandbox = ProcessSandbox(prefix="neuroprove-file-check-")
        try:
            return check_completed_file(
                parsed,
                proofs,
                complete=self.complete_file,
                judge=whole_file_judgement,
                names_to_locate=lambda theorem: names_to_locate(normalise_for_coq816(theorem.header)),
                accepted=accepted,
                coq_args=self.coq_args,
                environment=sandbox.environment(),
            )
        finally:
            sandbox.cleanup()

    def split_proof(self, script: str) -> list[str]:
        """Split a whole-proof script into steps (one sentence each), dropping `Proof.` and a final `Qed.`."""
        try:
            cleaned = strip_comments(script)
            sentences = split_sentences(cleaned, allow_unterminated=True)
        except SentenceSyntaxError:
            # An unterminated comment or string (a model cut at max_tokens): one step, which the
            # tactic filter refuses, so the candidate fails like any other bad one.
            return [" ".join(script.split())] if script.strip() else []
        steps = [" ".join(s.text.split()) for s in sentences]
        if steps and re.fullmatch(r"Proof\b.*", steps[0]):
            steps = steps[1:]
        if steps and steps[-1] in ("Qed.", "Defined.", "Qed", "Defined"):
            steps = steps[:-1]
        return [s for s in steps if s]

    def render_proof(self, proof: Sequence[str]) -> str:
        """`Proof.\\n  tac1.\\n  tac2.\\nQed.`"""
        return render_coq_proof(proof)

    def proof_requirements(self, proof: Sequence[str]) -> tuple[str, ...]:
        """Imports beyond the standard library the proof needs at compile time (CoqHammer's)."""
        return (HAMMER_IMPORT,) if self.hammer and uses_hammer_tactics(proof) else ()

    def complete_file(
        self, parsed: ParsedFile, proofs: Mapping[str, Sequence[str]], *, automation: bool | None = None
    ) -> str:
        """The file with each proved theorem's open proof replaced (keyed by qualified name); others untouched.

        When at least one proof is written, the preamble's imports go after the file's leading
        comments (the Hammer import only when some written proof uses it); `automation=False`
        leaves out the Lia/Lra/Psatz import (for files that compile without it).
        """
        written = [step for proof in proofs.values() for step in proof]
        preamble = coq_preamble(
            automation=self.automation if automation is None else automation,
            hammer=self.hammer and uses_hammer_tactics(written),
        )
        return complete_coq_file(parsed, proofs, preamble=preamble)

    def complete_file_with_needed_imports(self, parsed: ParsedFile, proofs: Mapping[str, Sequence[str]]) -> str:
        """`complete_file`, without the Lia/Lra/Psatz import when the completed file compiles without
        it (coqc, with the project's load paths, tried once): the file gains only what its proofs need."""
        full = self.complete_file(parsed, proofs)
        if not proofs or not self.automation or shutil.which("coqc") is None:
            return full
        bare = self.complete_file(parsed, proofs, automation=False)
        if bare == full:
            return full
        stem = Path(parsed.path).stem
        name = stem if re.fullmatch(r"[A-Za-z_][\w]*", stem) else "Completed"
        with tempfile.TemporaryDirectory(prefix="neuroprove-complete-") as workdir:
            (Path(workdir) / f"{name}.v").write_text(bare, encoding="utf-8")
            env = dict(os.environ, TMPDIR=workdir)
            env["PATH"] = HAMMER_LIBEXEC + os.pathsep + env.get("PATH", "")
            # Run from the file's folder (its siblings load as they do for the user); output stays in workdir.
            folder = Path(parsed.path).resolve().parent
            try:
                compiled = subprocess.run(
                    ["coqc", "-q", *self.coq_args, str(Path(workdir) / f"{name}.v")],
                    cwd=folder if folder.is_dir() else workdir,
                    capture_output=True, text=True, timeout=_IMPORT_PROBE_SECONDS, env=env,
                )
            except (OSError, subprocess.TimeoutExpired):
                return full
        return bare if compiled.returncode == 0 else full


# How long the completed file may take to compile when deciding whether it needs the automation import.
_IMPORT_PROBE_SECONDS = 120


def _located(path: str, text: str, message: str) -> str:
    """`File "x.v", line L, characters a-b: ` for a message naming `offset N` (as coqc writes it)."""
    match = re.search(r"offset (\d+)", message)
    if match is None:
        return f"{path}: "
    return coq_location(path, text, int(match.group(1))) + ": "


def coq_location(path: str, text: str, start: int, end: int | None = None) -> str:
    """`File "x.v", line L, characters a-b` for text[start:end], as coqc reports a location
    (characters counted from the start of line L)."""
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1)
    length = max(1, (end if end is not None else start + 1) - start)
    return f'File "{path}", line {line}, characters {column}-{column + length}'
