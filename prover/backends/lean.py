"""Lean 4 through the Lean REPL, driven by lean-interact: the `LeanBackend` and its `LeanEnvironment`.

How a search talks to Lean (facts from REPL/Main.lean at v4.24.0 and its recorded transcripts,
../shared/fixtures/lean-repl/INDEX.md):
  * the file's header (imports, opens, earlier declarations) is elaborated once per process as one
    command (a header that extends an earlier one, as a later theorem's does, only elaborates the
    extension on the earlier env); its `env` id is reused for every theorem under that header (an env is an immutable
    snapshot: commands run on top of it never change it, so it is also the "fresh env" the final
    check runs in);
  * `<statement> by sorry` run in that env yields the root proof state (the sorry's `proofState`);
  * each search step is one `ProofStep` (one tactic on one proof state); any earlier state can be
    stepped again, so branching is free;
  * env and proof-state ids are per-process counters, never freed, and meaningless after a restart:
    a `State.handle` carries the server generation it belongs to, and a state from another
    generation (or another worker) is rebuilt by replaying its tactic path from the root;
  * an empty `goals` list does not mean proved: a step proves the theorem only with no `LeanError`,
    no error message, no sorries, and `proofStatus == "Completed"` (the REPL's own kernel check);
  * tactic mode has known false positives, so `verify` re-elaborates the whole theorem with its
    proof as one command and accepts only no errors, no sorry, `#print axioms` within
    {propext, Classical.choice, Quot.sound} (native_decide's `Lean.ofReduceBool` refused unless
    allowed), no command smuggled in by a proof step, no meta-code (`run_tac`) or option
    (`set_option ... in`) in a step, and no kernel-weakening option (`set_option debug.skipKernelTC`)
    in the header or statement, since options persist in every env built on the header's;
  * a finite `maxHeartbeats` (an unbounded `set_option maxHeartbeats 0` in a header is replaced),
    a wall-clock timeout per step and per command, a memory limit per process (a hard RLIMIT_AS
    and a soft limit past which lean-interact's `AutoLeanServer` restarts the process before a
    request); a step that hangs or crashes the REPL is a `Failed` outcome. The process lifecycle,
    the header envs that survive restarts and the standby that spares the search a re-import
    after a timeout are in `lean_repl.py`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

from lean_interact.interface import Command, CommandResponse, LeanError, ProofStep, ProofStepResponse

from search.types import Failed, FailureKind, Outcome, Progress, Proved, State, Theorem, Verdict

from prover.backends.base import OpenTheorem, ParsedFile, UnsupportedProof, proof_for
from prover.backends.lean_repl import LeanRepl, error_messages, lean_error, one_line
from prover.backends.lean_source import (
    declared_name,
    find_open_declarations,
    full_name_for_lookup,
    name_example,
    render_tactics,
    smuggled_command,
    split_tactics,
    unsearched_sorries,
)
from prover.backends.lean_toolchain import LeanProjectLayout, find_lake, project_layout
from prover import budget
from prover.budget import MAX_CANDIDATE_CHARS
from prover.errors import InputError, ProverCrashed, ProverError, ProverTimeout, ToolchainMissing

__all__ = [
    "ALLOWED_AXIOMS",
    "NATIVE_AXIOMS",
    "LeanOptions",
    "LeanSettings",
    "LeanHandle",
    "LeanBackend",
    "LeanEnvironment",
    "bounded_header",
    "parse_axioms",
    "step_outcome",
    "command_rejection",
]

log = logging.getLogger(__name__)

# The axioms of Lean's standard foundations; anything else (sorryAx, user axioms) is refused.
ALLOWED_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
# What `native_decide` adds: trust in the compiler, outside the kernel.
NATIVE_AXIOMS = frozenset({"Lean.ofReduceBool", "Lean.trustCompiler"})

_UNBOUNDED_HEARTBEATS = re.compile(r"(set_option\s+maxHeartbeats\s+)0\b")
_SORRY_WARNINGS = ("declaration uses 'sorry'", "declaration uses `sorry`")  # <= v4.27 / >= v4.28 wording
_AXIOMS_MESSAGE = re.compile(r"depends on axioms:\s*\[(?P<axioms>[^\]]*)\]", re.DOTALL)
_NO_AXIOMS_MESSAGE = "does not depend on any axioms"
_NATIVE_DECIDE = re.compile(r"\bnative_decide\b|\bdecide\s*\+\s*native\b|\bdecide\s*\(\s*config\s*:=\s*\{[^}]*native")
_SORRY_TOKEN = re.compile(r"(?<![\w.'])(?:sorry|sorryAx|admit)(?![\w'])")
# Tactics that run arbitrary meta-code or change elaboration options for the rest of the step
# (`run_tac`, `set_option debug.skipKernelTC true in tac`): a proof step may not use them.
_META_TACTIC = re.compile(r"(?<![\w.'])(run_tac|run_cmd|run_elab|run_meta|by_elab|set_option|open\s+private)(?![\w'])")
# Options that switch the kernel's check off or weaken it; a theorem whose header or statement sets
# one is never accepted (options set by a command persist in every env built on it).
_KERNEL_OPTION = re.compile(r"\bset_option\s+(debug\.[\w.]+|trust|compiler\.[\w.]+|Elab\.async)\b")


@dataclass(frozen=True)
class LeanOptions:
    """How a Lean run is bounded and judged (everything but where Lean is and the step timeout).

    command_timeout: wall-clock seconds for a command (the header's imports, the final check).
    memory_limit_mb: hard address-space limit of the REPL process (RLIMIT_AS, set by lean-interact
        before Lean starts), None for none; past it Lean dies and is restarted.
    memory_restart_fraction: the fraction of `memory_limit_mb` (resident, process tree) past which
        lean-interact restarts the REPL before the next request (`AutoLeanServer`'s
        `max_process_memory`); None: never. Without a hard limit there is no soft one either.
    max_heartbeats: the `maxHeartbeats` that replaces an unbounded `set_option maxHeartbeats 0`
        (Lean's default, 200000, applies when a header sets nothing).
    allow_native_decide: accept proofs that use `native_decide` (axiom `Lean.ofReduceBool`).
    root_sorry: the placeholder after `:=` that gives the root proof state; the REPL records a
        proof state for tactic `by sorry` (the default) and term-mode `sorry` alike.
    """

    command_timeout: float = 600.0
    memory_limit_mb: int | None = 16384
    memory_restart_fraction: float | None = 0.8
    max_heartbeats: int = 200000
    allow_native_decide: bool = False
    root_sorry: str = "by sorry"


@dataclass(frozen=True)
class LeanSettings:
    """Everything a `LeanEnvironment` needs to start and bound the Lean REPL.

    layout: the Lean project (the REPL's working directory) and the REPL package inside it.
    lake_path: the `lake` executable (lean-interact starts `lake env <repl binary>`).
    step_timeout: wall-clock seconds one tactic may run; past it the REPL is killed and replaced.
    options: the limits and acceptance rules (`LeanOptions`).
    """

    layout: LeanProjectLayout
    lake_path: Path
    step_timeout: float
    options: LeanOptions = field(default_factory=LeanOptions)


@dataclass(frozen=True)
class LeanHandle:
    """A proof state's id in one REPL process.

    generation: a random token of the process that holds `proof_state`; ids are per-process
        counters, so the id is meaningful only while this generation is alive.
    proof_state: the REPL's `proofState` id.
    theorem: (header, statement) of the theorem the state belongs to, to replay it elsewhere.
    """

    generation: str
    proof_state: int
    theorem: tuple[str, str]


def bounded_header(header: str, max_heartbeats: int) -> str:
    """The header with an unbounded `set_option maxHeartbeats 0` replaced by a finite limit."""
    return _UNBOUNDED_HEARTBEATS.sub(rf"\g<1>{max_heartbeats}", header)


def parse_axioms(messages: Sequence[str]) -> tuple[str, ...] | None:
    """The axioms a `#print axioms` answer lists (empty when none), or None when no answer is found."""
    for data in messages:
        match = _AXIOMS_MESSAGE.search(data)
        if match:
            return tuple(a.strip() for a in match.group("axioms").split(",") if a.strip())
        if _NO_AXIOMS_MESSAGE in data:
            return ()
    return None


class LeanBackend:
    """Lean 4 (with Mathlib) files, proved through the Lean REPL."""

    name = "lean"
    extensions = (".lean",)

    def __init__(
        self,
        *,
        project_dir: str | Path | None = None,
        repl_dir: str | Path | None = None,
        lake_path: str | Path | None = None,
        options: LeanOptions | None = None,
    ) -> None:
        self.layout = project_layout(Path(project_dir) if project_dir else None, Path(repl_dir) if repl_dir else None)
        self._lake_path = Path(lake_path) if lake_path else None
        self.options = options if options is not None else LeanOptions()

    def _lake(self) -> Path | None:
        return self._lake_path if self._lake_path is not None else find_lake()

    def check_toolchain(self) -> None:
        """Raise ToolchainMissing (with the fix: `prove setup`) unless lake and the built project are there."""
        lake = self._lake()
        if lake is None or not lake.is_file():
            raise ToolchainMissing(
                "Lean 4 is not set up: `lake` was not found (install elan, then run `prove setup`)"
            )
        problems = self.layout.missing()
        if problems:
            raise ToolchainMissing(f"the Lean project is not ready ({problems[0]}): run `prove setup`")

    def parse_file(self, path: str, text: str) -> ParsedFile:
        """The theorems/lemmas/examples of `text` whose proof is `sorry`, each with the text before it as header."""
        theorems = []
        for declaration in find_open_declarations(text):
            theorem = Theorem(
                name=declaration.name,
                statement=declaration.statement,
                header=text[: declaration.start],
                source=path,
            )
            theorems.append(
                OpenTheorem(
                    theorem=theorem,
                    span=declaration.proof_span,
                    qualified_name=declaration.qualified_name,
                    statement_start=declaration.start,
                )
            )
        names = [t.name for t in theorems]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InputError(f"{path}: declared more than once: {', '.join(duplicates)}")
        holes = tuple(
            UnsupportedProof(f"sorry@{text.count(chr(10), 0, offset) + 1}", reason, offset)
            for offset, reason in unsearched_sorries(text, [t.span for t in theorems])
        )
        return ParsedFile(path=path, text=text, theorems=tuple(theorems), unsupported=holes)

    def settings(self, *, step_timeout: float) -> LeanSettings:
        """The settings an environment of this backend runs with."""
        self.check_toolchain()
        lake = self._lake()
        assert lake is not None  # check_toolchain raised otherwise
        return LeanSettings(layout=self.layout, lake_path=lake, step_timeout=step_timeout, options=self.options)

    def open_environment(self, *, step_timeout: float) -> "LeanEnvironment":
        """A new environment with its own REPL process (started lazily); close it with `close()`."""
        return LeanEnvironment(self.settings(step_timeout=step_timeout))

    def split_proof(self, script: str) -> list[str]:
        """Single tactic steps of a whole-proof script (see `lean_source.split_tactics`)."""
        return split_tactics(script)

    def render_proof(self, proof: Sequence[str]) -> str:
        """`by` followed by the tactics, one per line, indented two spaces."""
        return render_tactics(proof)

    def complete_file(self, parsed: ParsedFile, proofs: Mapping[str, Sequence[str]]) -> str:
        """The file with each proved theorem's `sorry` replaced by its proof (`proofs` keyed by
        qualified name); the rest unchanged."""
        declarations = {d.proof_span: d for d in find_open_declarations(parsed.text)}
        text = parsed.text
        for open_theorem in sorted(parsed.theorems, key=lambda t: t.span[0], reverse=True):
            tactics = proof_for(parsed, open_theorem, proofs)
            if not tactics:
                continue
            declaration = declarations.get(open_theorem.span)
            indent = declaration.indent if declaration is not None else ""
            start, end = open_theorem.span
            text = text[:start] + render_tactics(tactics, indent) + text[end:]
        return text


_UNKNOWN_STATE = "Unknown proof state."

ProofStateKey = tuple[tuple[str, str], tuple[str, ...]]
"""(theorem (header, statement), tactic path from its root): a proof state in any process."""


@dataclass
class _ProcessIds:
    """The proof-state ids one REPL process handed out (a counter per process: meaningless in another)."""

    generation: str
    states: dict[ProofStateKey, int] = field(default_factory=dict)


class LeanEnvironment:
    """One Lean REPL process seen as a search environment (`search.types.Environment`).

    The process (`lean_repl.LeanRepl`) is started on first use and replaced after a crash, a
    timeout or too much memory; header envs survive in lean-interact's session cache, and states
    of an earlier process (or another worker's) are rebuilt by replaying their tactic paths.
    """

    def __init__(self, settings: LeanSettings) -> None:
        self.settings = settings
        options = settings.options
        self._repl = LeanRepl(
            settings.layout,
            str(settings.lake_path),
            memory_limit_mb=options.memory_limit_mb,
            memory_restart_fraction=options.memory_restart_fraction,
            command_timeout=options.command_timeout,
        )
        self._headers: dict[str, int | None] = {}  # header text -> session id of its env (None: empty header)
        self._ids = _ProcessIds(generation="")
        self._theorems: dict[tuple[str, str], Theorem] = {}

    @property
    def restarts(self) -> int:
        """Processes started after the first one (restarts and standbys; for diagnostics and tests)."""
        return max(self._repl.starts - 1, 0)

    @property
    def process_id(self) -> int | None:
        """The live REPL's process id, None when none runs."""
        return self._repl.process_id

    def standby_ready(self) -> bool:
        """True when a warm standby REPL waits to replace one a timeout kills (see `lean_repl`)."""
        return self._repl.standby_ready()

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> "LeanEnvironment":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the REPL process (and its children, and the standby)."""
        self._repl.close()

    def _known_states(self) -> dict[ProofStateKey, int]:
        """The state ids of the live process (forgotten when the process changed)."""
        generation = self._repl.generation
        if self._ids.generation != generation:
            self._ids = _ProcessIds(generation)
        return self._ids.states

    # -- commands --------------------------------------------------------------------------------

    def _header_env(self, header: str) -> int | None:
        """The session id of `header`'s env (elaborated on first use, kept across restarts by
        lean-interact); None for an empty header."""
        text = bounded_header(header, self.settings.options.max_heartbeats).strip()
        if text not in self._headers:
            self._headers[text] = self._elaborate_header(text) if text else None
        session = self._headers[text]
        self._repl.warm_session = session  # what a standby elaborates before it is needed
        return session

    def _elaborate_header(self, text: str) -> int:
        # A later theorem's header extends an earlier one (the earlier theorem is part of it):
        # elaborate only the extension on top of the earlier env instead of importing again.
        # Only at a line break (a command boundary) and never before an `import` (imports come first).
        extended = [h for h in self._headers if h and text.startswith(h + "\n")]
        base = max(extended, key=len, default="")
        rest = text[len(base) :].strip()
        if base and re.match(r"(?:/-.*?-/\s*|--[^\n]*\n\s*)*import\b", rest, re.DOTALL):
            base, rest = "", text
        request = Command(cmd=rest, env=self._headers[base]) if base else Command(cmd=text)
        response = self._repl.run(request, self.settings.options.command_timeout, keep=True)
        errors = error_messages(response)
        if isinstance(response, LeanError) or errors:
            if isinstance(response, CommandResponse):
                self._repl.forget(response.env)
            raise InputError(f"the file's header does not elaborate: {one_line(errors[0])}")
        return response.env

    def _command(self, text: str, env: int | None, *, keep: bool = False) -> CommandResponse | LeanError:
        return self._repl.run(Command(cmd=text, env=env), self.settings.options.command_timeout, keep=keep)

    def start(self, theorem: Theorem) -> State:
        """Elaborate `<statement> by sorry` on the header's env; the sorry's proof state is the root."""
        key = (theorem.header, theorem.statement)
        self._theorems[key] = theorem
        self._repl.ensure()
        proof_state, goal = self._root(theorem)
        return State(goals=(goal,), path=(), handle=LeanHandle(self._repl.generation, proof_state, key))

    def _root(self, theorem: Theorem) -> tuple[int, str]:
        env = self._header_env(theorem.header)
        statement = bounded_header(_with_assign(theorem.statement), self.settings.options.max_heartbeats)
        response = self._command(f"{statement} {self.settings.options.root_sorry}", env)
        errors = error_messages(response)
        if isinstance(response, LeanError) or errors:
            raise InputError(f"{theorem.name}: the statement does not elaborate: {one_line(errors[0])}")
        sorries = [s for s in response.sorries if s.proof_state is not None]
        if not sorries:
            raise InputError(f"{theorem.name}: Lean gave no proof state for the statement")
        # Our placeholder comes last in the command; a sorry inside the statement would come earlier.
        root = max(sorries, key=lambda s: (s.start_pos.line, s.start_pos.column) if s.start_pos else (0, 0))
        assert root.proof_state is not None  # filtered above
        self._known_states()[((theorem.header, theorem.statement), ())] = root.proof_state
        return root.proof_state, root.goal

    # -- steps -----------------------------------------------------------------------------------

    def step(self, state: State, tactic: str) -> Outcome:
        """Run one tactic on `state`'s first goal; a rejected tactic, a hang or a crash is `Failed`."""
        tactic = tactic.strip("\n")
        refusal = self._refusal(tactic)
        if refusal is not None:
            return Failed(refusal, FailureKind.REFUSED)
        if budget.expired():
            return Failed("the theorem's time budget is spent", FailureKind.INTERRUPTED)
        key = self._theorem_key(state)
        self._repl.ensure()
        proof_state = self._resolve(state, key)
        try:
            generation = self._repl.generation
            response = self._proof_step(proof_state, tactic)
            if lean_error(response) == _UNKNOWN_STATE:
                # The process lost the state (it should not: start a new one), or lean-interact
                # replaced it under the request (memory): rebuild the state by replay, once.
                if self._repl.generation == generation:
                    self._repl.restart()
                response = self._proof_step(self._resolve(state, key), tactic)
        except ProverTimeout:
            # The REPL was killed at the wall-clock limit (Lean has no per-tactic timeout to tell
            # a slow tactic from a busy machine): transient, tried once more.
            return Failed(f"timeout: the tactic ran longer than {self.settings.step_timeout:g}s", FailureKind.INTERRUPTED)
        except ProverCrashed as crash:
            return Failed(f"the tactic crashed the Lean REPL: {crash}", FailureKind.PROCESS_LOST)
        return self._outcome(state, tactic, response, key)

    def _proof_step(self, proof_state: int, tactic: str) -> ProofStepResponse | LeanError:
        """One ProofStep; `Unknown proof state.` when the process changed under the request
        (lean-interact restarts it before a request past the memory limit: the id meant nothing there)."""
        generation = self._repl.generation
        response = self._repl.run(ProofStep(proof_state=proof_state, tactic=tactic), self.settings.step_timeout)
        if self._repl.generation != generation:
            return LeanError(message=_UNKNOWN_STATE)
        return response

    def _refusal(self, tactic: str) -> str | None:
        if not tactic.strip():
            return "empty tactic"
        if len(tactic) > MAX_CANDIDATE_CHARS:
            return f"refused: the step is {len(tactic)} characters long (limit {MAX_CANDIDATE_CHARS})"
        meta = _META_TACTIC.search(tactic)
        if meta is not None:
            return f"`{meta.group(1)}` is refused in a proof step: it runs meta-code or changes options"
        if not self.settings.options.allow_native_decide and _NATIVE_DECIDE.search(tactic):
            return "native_decide is refused: it trusts the compiler (axiom Lean.ofReduceBool), not the kernel"
        if _SORRY_TOKEN.search(tactic):
            return "sorry/admit is not a proof step"
        command = smuggled_command(tactic)
        if command is not None:
            return f"a proof step may not start a new command ({command})"
        return None

    def _outcome(
        self, state: State, tactic: str, response: ProofStepResponse | LeanError, key: tuple[str, str]
    ) -> Outcome:
        path = state.path + (tactic,)
        outcome = step_outcome(response, path)
        if isinstance(outcome, Progress) and isinstance(response, ProofStepResponse):
            self._known_states()[(key, path)] = response.proof_state
            handle = LeanHandle(self._repl.generation, response.proof_state, key)
            return Progress(replace(outcome.state, handle=handle))
        return outcome

    def _theorem_key(self, state: State) -> tuple[str, str]:
        handle = state.handle
        if isinstance(handle, LeanHandle) and handle.theorem in self._theorems:
            return handle.theorem
        if len(self._theorems) == 1:
            return next(iter(self._theorems))
        raise ProverError("a Lean state without a handle can be replayed only when one theorem was started")

    def _resolve(self, state: State, key: tuple[str, str]) -> int:
        """The id of `state` in the live process, replaying its path when it comes from another."""
        handle = state.handle
        if isinstance(handle, LeanHandle) and handle.generation == self._repl.generation:
            return handle.proof_state
        known = self._known_states()
        current = known.get((key, ()))
        if current is None:
            current, _ = self._root(self._theorems[key])
            known = self._known_states()
        for depth, tactic in enumerate(state.path, start=1):
            prefix = state.path[:depth]
            if (key, prefix) in known:
                current = known[(key, prefix)]
                continue
            response = self._proof_step(current, tactic)
            errors = error_messages(response)
            if isinstance(response, LeanError) or errors or not response.goals:
                raise ProverCrashed(
                    f"replaying a proof state failed at step {depth} ({tactic!r}): "
                    f"{one_line(errors[0]) if errors else 'no goals left'}"
                )
            current = response.proof_state
            known[(key, prefix)] = current
        log.debug("rebuilt a state of depth %d by replay", len(state.path))
        return current

    # -- the final check -------------------------------------------------------------------------

    def verify(self, theorem: Theorem, proof: Sequence[str]) -> Verdict:
        """Re-elaborate the whole theorem with `proof` on the header's env and check errors, sorry, axioms."""
        refusal = self._verify_refusal(theorem, proof)
        if refusal is not None:
            return Verdict(accepted=False, reason=refusal)
        # The statement cannot change: the command is the statement's own text followed by the
        # rendered tactics, and no tactic may start a command (`_refusal`, `smuggled_command`).
        statement = bounded_header(_with_assign(theorem.statement), self.settings.options.max_heartbeats)
        command = f"{statement} {render_tactics(proof)}"
        self._repl.ensure()
        env = self._header_env(theorem.header)
        _, name = declared_name(statement)
        if name is None:
            # An example has no name to ask about: check a named copy of the same text.
            name = "neuroprove_checked_example"
            rejection = command_rejection(self._command(command, env))
            if rejection is not None:
                return Verdict(accepted=False, reason=rejection)
            command = name_example(command, name)
        # Kept in the session cache while its axioms are asked: a memory restart in between
        # re-elaborates it instead of leaving a dangling env id.
        response = self._command(command, env, keep=True)
        try:
            rejection = command_rejection(response)
            if rejection is not None:
                return Verdict(accepted=False, reason=rejection)
            assert isinstance(response, CommandResponse)  # command_rejection refuses a LeanError
            # By its full name from the root: from inside `namespace X` the written name may
            # resolve to another declaration, and a `protected` one is not found by it at all.
            lookup = full_name_for_lookup(theorem.header, name)
            return self._axioms_verdict(self._command(f"#print axioms {lookup}", response.env))
        finally:
            if isinstance(response, CommandResponse):
                self._repl.forget(response.env)

    def _verify_refusal(self, theorem: Theorem, proof: Sequence[str]) -> str | None:
        """Why `proof` is refused without asking Lean (a refused step, a kernel-weakening option)."""
        for tactic in proof:
            refusal = self._refusal(tactic)
            if refusal is not None:
                return refusal
        option = _KERNEL_OPTION.search(theorem.header) or _KERNEL_OPTION.search(theorem.statement)
        if option is not None:
            return f"the file sets `{option.group(1)}`, which weakens the kernel check"
        return None

    def _axioms_verdict(self, response: CommandResponse | LeanError) -> Verdict:
        """The verdict from a `#print axioms` answer: accepted when every axiom is allowed."""
        if isinstance(response, LeanError):
            return Verdict(accepted=False, reason=f"#print axioms failed: {response.message}")
        axioms = parse_axioms([m.data for m in response.messages if m.severity == "info"])
        if axioms is None:
            errors = error_messages(response)
            detail = one_line(errors[0]) if errors else "no answer"
            return Verdict(accepted=False, reason=f"could not read the proof's axioms: {detail}")
        allowed = ALLOWED_AXIOMS | (NATIVE_AXIOMS if self.settings.options.allow_native_decide else frozenset())
        extra = sorted(set(axioms) - allowed)
        if extra:
            return Verdict(accepted=False, reason=f"the proof uses axioms outside the allowed set: {', '.join(extra)}", axioms=axioms)
        return Verdict(accepted=True, axioms=axioms)


def _with_assign(statement: str) -> str:
    """The statement ending in `:=` (the proof follows it)."""
    statement = statement.rstrip()
    return statement if statement.endswith(":=") else statement + " :="


def step_outcome(response: ProofStepResponse | LeanError, path: tuple[str, ...]) -> Outcome:
    """What a ProofStep answer means for the search (`path` includes the tactic just run).

    Proved only with no REPL error, no error message, no sorry, no goals and
    `proofStatus == "Completed"`: empty goals alone also come with errors (the error is reported
    and the goal closed with a synthetic sorry), leftover metavariables and failed kernel checks.
    """
    if isinstance(response, LeanError):
        return Failed(response.message.removeprefix("Lean error:\n"))
    errors = error_messages(response)
    if errors:
        return Failed(errors[0])
    if response.sorries or "sorry" in response.proof_status:
        return Failed(f"the tactic leaves a sorry ({response.proof_status})", FailureKind.REFUSED)
    if response.goals:
        return Progress(State(goals=tuple(response.goals), path=path))
    if response.proof_status == "Completed":
        return Proved(path)
    return Failed(f"no goals left but the proof is not complete: {response.proof_status}", FailureKind.REFUSED)


def command_rejection(response: CommandResponse | LeanError) -> str | None:
    """Why a command's answer is not a clean proof (a Lean error, an error message, a sorry), or None."""
    if isinstance(response, LeanError):
        return one_line(response.message)
    errors = error_messages(response)
    if errors:
        return f"Lean rejects the proof: {one_line(errors[0])}"
    if response.sorries or any(m.data in _SORRY_WARNINGS for m in response.messages):
        return "the proof contains sorry"
    return None
