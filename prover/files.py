"""Proving every open theorem of one source file: what `prove FILE` does, as a library call.

Nothing found is ever lost: results are collected theorem by theorem into a `FileResult` the
caller owns (an interrupt keeps them), a model that fails for one theorem makes that theorem an
`error` and the run goes on, and writing the completed file keeps the user's file as it was
(line endings, byte-order mark, permissions, a symlink) except where a proof went in.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import os
import queue
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from prover.agent import Prover, TheoremResult
from prover.backends import Backend, OpenTheorem, ParsedFile, get_backend
from prover.backends.coq_project import ProjectOptions, check_dependencies, resolve_project
from prover.config import ProverConfig
from prover.errors import InputError, ModelUnavailable, ProverCrashed, ProverError, ProverTimeout, ToolchainMissing
from search.types import Theorem, Verdict

__all__ = [
    "FileResult",
    "SourceFormat",
    "read_source",
    "read_source_with_format",
    "select_theorems",
    "prove_file",
    "write_atomically",
    "write_completed",
    "statement_location",
]

_BOM = "\ufeff"
log = logging.getLogger(__name__)

# The kernel checker's next round starts this many times its last round's duration after it.
_CHECK_PACE = 4.0
# ...and no sooner than this many seconds after the last one started (or after the run started).
_CHECK_SPACING = 20.0
# A theorem is not started with less than this many seconds of --total-seconds left.
_MIN_THEOREM_SECONDS = 1.0


@dataclass(frozen=True)
class SourceFormat:
    """How the file was written, so writing it back changes only the proofs: its line ending
    ("\\n" or "\\r\\n"; a file mixing both is written with the one it uses most) and whether it
    started with a UTF-8 byte-order mark."""

    newline: str = "\n"
    bom: bool = False

    def apply(self, text: str) -> str:
        """`text` (with `\\n` line endings, no BOM) in this format."""
        if self.newline != "\n":
            text = text.replace("\n", self.newline)
        return (_BOM + text) if self.bom else text


@dataclass
class FileResult:
    """The results for one file, filled in theorem by theorem (so an interrupted run keeps them).

    selected: how many open theorems the run was asked to prove (all, or those `--only` picked);
    total_open: how many the file has. stop_reason: why the run stopped early ("interrupted",
    "terminated", "stdout closed"), None when it ran to the end. requirements: for each proved
    theorem, the imports beyond the standard library its proof needs at compile time (CoqHammer's).
    written: where the completed file was written, if it was.
    """

    file: str
    backend: str
    parsed: ParsedFile
    results: list[TheoremResult] = field(default_factory=list)
    interrupted: bool = False
    stop_reason: str | None = None
    source_format: SourceFormat = field(default_factory=SourceFormat)
    selected: int = 0
    total_open: int = 0
    requirements: dict[str, tuple[str, ...]] = field(default_factory=dict)
    written: str | None = None
    tool: Backend | None = field(default=None, repr=False)  # the backend the run used (with its load paths)

    @property
    def all_proved(self) -> bool:
        """True when every selected open proof of the file was proved and kernel-checked (an
        unsupported, skipped or failed one makes it False)."""
        expected = self.selected + len(self.parsed.unsupported) if self.parsed is not None else 0
        return len(self.results) >= expected and all(
            r.status == "proved" and r.kernel_checked for r in self.results
        )

    @property
    def proofs(self) -> dict[str, tuple[str, ...]]:
        """The tactics of every proof found, by qualified theorem name."""
        return {r.theorem: r.tactics for r in self.results if r.status == "proved" and r.tactics}

    def completed_text(self, backend: Backend) -> str:
        """The file with every proof found so far written in (line endings as `\\n`, no BOM), with
        only the imports its proofs need where the backend can tell."""
        complete = getattr(backend, "complete_file_with_needed_imports", backend.complete_file)
        return complete(self.parsed, self.proofs)

    def to_json(self) -> dict[str, Any]:
        """The `--json` document (see the README's contract): {"file", "backend", "interrupted",
        "stopped", "written", "results": [{"theorem", "status", ...}]}."""
        return {
            "file": self.file,
            "backend": self.backend,
            "interrupted": self.interrupted,
            "stopped": self.stop_reason,
            "written": self.written,
            "results": [
                {
                    "theorem": r.theorem,
                    "status": r.status,
                    "proof": r.proof,
                    "kernel_checked": r.kernel_checked,
                    "seconds": round(r.seconds, 3),
                    "search_seconds": round(r.search_seconds, 3),
                    "verify_seconds": round(r.verify_seconds, 3),
                    "expansions": r.expansions,
                    "error": r.error,
                    "requires": list(self.requirements.get(r.theorem, ())),
                }
                for r in self.results
            ],
        }


def read_source_with_format(path: str | os.PathLike[str]) -> tuple[str, SourceFormat]:
    """The text of a source file with `\\n` line endings and no byte-order mark, and its format;
    a missing, unreadable or non-UTF-8 file is an InputError."""
    source = Path(path)
    if not source.exists():
        raise InputError(f"{path}: no such file")
    if source.is_dir():
        raise InputError(f"{path}: is a directory, not a .v or .lean file")
    try:
        raw = source.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as failure:
        raise InputError(f"{path}: cannot read: {failure}") from failure
    bom = raw.startswith(_BOM)
    if bom:
        raw = raw[1:]
    crlf = raw.count("\r\n")
    lone = raw.count("\n") - crlf
    text = raw.replace("\r\n", "\n")
    return text, SourceFormat(newline="\r\n" if crlf > lone else "\n", bom=bom)


def read_source(path: str | os.PathLike[str]) -> str:
    """The text of a source file (`\\n` line endings, no byte-order mark); see `read_source_with_format`."""
    return read_source_with_format(path)[0]


def select_theorems(parsed: ParsedFile, only: Sequence[str]) -> list[OpenTheorem]:
    """The open theorems `--only` patterns pick (shell globs on the qualified or the short name);
    all of them when `only` is empty. A pattern that picks nothing is an InputError."""
    if not only:
        return list(parsed.theorems)
    chosen = [t for t in parsed.theorems if any(_matches(t.name, pattern) for pattern in only)]
    for pattern in only:
        if not any(_matches(t.name, pattern) for t in parsed.theorems):
            names = ", ".join(t.name for t in parsed.theorems[:10]) or "none"
            raise InputError(f"--only {pattern}: no open theorem of {parsed.path} matches (open: {names})")
    return chosen


def _matches(qualified: str, pattern: str) -> bool:
    short = qualified.rsplit(".", 1)[-1]
    return fnmatch.fnmatchcase(qualified, pattern) or fnmatch.fnmatchcase(short, pattern)


def statement_location(parsed: ParsedFile, open_theorem: OpenTheorem) -> str:
    """`File "x.v", line L, characters a-b` for the statement, as coqc and Lean write locations."""
    start = open_theorem.statement_start
    if start < 0:
        start = parsed.text.find(open_theorem.theorem.statement.strip()[:40])
        if start < 0:
            return f'File "{parsed.path}"'
    statement = open_theorem.theorem.statement
    if parsed.text.startswith(statement, start):
        end = start + len(statement)  # the whole sentence, as coqc marks it (past the line if it goes on)
    else:
        end = parsed.text.find("\n", start)
        end = len(parsed.text) if end < 0 else end
    line = parsed.text.count("\n", 0, start) + 1
    column = start - (parsed.text.rfind("\n", 0, start) + 1)
    return f'File "{parsed.path}", line {line}, characters {column}-{column + max(1, end - start)}'


def _located_error(parsed: ParsedFile, open_theorem: OpenTheorem, message: str) -> str:
    """An invalid statement's message: where it is (the failing header sentence when the header
    fails), then Coq's/Lean's words, the name said once."""
    for name in {open_theorem.theorem.name, open_theorem.name}:
        message = re.sub(rf"^{re.escape(name)}:\s*", "", message)
    header_failure = _header_sentence_location(parsed, open_theorem, message)
    return f"{header_failure or statement_location(parsed, open_theorem)}: {message}"


def _header_sentence_location(parsed: ParsedFile, open_theorem: OpenTheorem, message: str) -> str | None:
    """Where the header sentence a message quotes (`the file's header fails at 'End A.'`) is, the
    last occurrence before the statement; None when the message quotes none or it is not found."""
    quoted = re.match(r"the file's header fails at '(.+?)(?:\.\.\.)?':", message)
    if quoted is None or open_theorem.statement_start < 0:
        return None
    words = quoted.group(1).split()
    if not words:
        return None
    pattern = re.compile(r"\s+".join(re.escape(word) for word in words))
    matches = list(pattern.finditer(parsed.text, 0, open_theorem.statement_start))
    if not matches:
        return None
    start, end = matches[-1].span()
    line = parsed.text.count("\n", 0, start) + 1
    column = start - (parsed.text.rfind("\n", 0, start) + 1)
    return f'File "{parsed.path}", line {line}, characters {column}-{column + end - start}'


def _disproved(outcome: TheoremResult, theorem: Theorem, prover: Prover) -> TheoremResult:
    """`outcome` as `disproved` when the theorem's negation is kernel-checked; else unchanged."""
    from prover.disprove import disprove

    found = disprove(theorem, theorem.statement, prover._environment())
    if found is None:
        return outcome
    return dataclasses.replace(
        outcome, status="disproved", proof=found.source, tactics=None, kernel_checked=True, error=found.describe()  # type: ignore[arg-type]
    )


def prove_file(
    path: str | os.PathLike[str],
    config: ProverConfig,
    *,
    only: Sequence[str] = (),
    total_seconds: float | None = None,
    project: ProjectOptions | None = None,
    jobs: int = 1,
    disprove: bool = False,
    on_theorem_start: Callable[[str, int, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
    on_theorem_done: Callable[[TheoremResult], None] | None = None,
    result: FileResult | None = None,
) -> FileResult:
    """Prove the open theorems of `path` (those `only` picks), one after another, into `result`.

    Passing `result` in lets a caller keep the finished theorems when the run is interrupted.
    Open proofs the backend cannot search are reported first as `unsupported`. A model that stays
    unreachable for one theorem (`ModelUnavailable`) makes that theorem an `error` and the run goes
    on. `total_seconds` caps the whole run: each theorem's budget is cut to what is left, and the
    theorems not started in time are reported as `skipped`.
    `jobs`: theorems searched at once, each by its own prover (proof-assistant process and
    policy); results come back in file order whatever order they finish in.
    `project`: the command line's load-path options (Coq); the file's `_CoqProject` or dune
    project is found from its folder unless they say not to. A project whose libraries the file
    cannot load (not compiled, a cycle, another Coq version) is an `InputError` before any search.
    `disprove` (Coq): a theorem left unproved is `disproved` when a counterexample's negation passes
    the kernel (`prover.disprove`); its proof is then the negation with its proof.
    """
    text, source_format = read_source_with_format(path)
    backend = get_backend(config.backend if config.backend != "auto" else str(path))
    if backend.name == "lean":
        _use_lake_project(backend, Path(path))
    backend.check_toolchain()
    parsed = backend.parse_file(str(path), text)
    chosen = select_theorems(parsed, only)
    if backend.name == "coq":
        _use_coq_project(backend, Path(path), project or ProjectOptions())
    if result is None:
        result = FileResult(file=str(path), backend=backend.name, parsed=parsed)
    else:
        result.backend, result.parsed = backend.name, parsed
    result.source_format, result.selected, result.total_open = source_format, len(chosen), len(parsed.theorems)
    result.tool = backend
    for hole in parsed.unsupported:
        if not only or any(_matches(hole.name, pattern) for pattern in only):
            outcome = TheoremResult(theorem=hole.name, status="unsupported", error=hole.reason)  # type: ignore[arg-type]
            result.results.append(outcome)
            if on_theorem_done is not None:
                on_theorem_done(outcome)
    if not chosen:
        return result
    deadline = time.monotonic() + total_seconds if total_seconds is not None else None
    requirements = getattr(backend, "proof_requirements", None)
    # Coq: the proofs found are kernel-checked together, in one compilation of the completed file
    # at the end (a theorem it cannot vouch for gets its own check); other backends check each.
    whole_file = callable(getattr(backend, "check_completed_file", None))

    def record(open_theorem: OpenTheorem, outcome: TheoremResult) -> None:
        outcome = dataclasses.replace(outcome, theorem=open_theorem.name)
        if outcome.status == "invalid" and outcome.error:
            outcome = dataclasses.replace(outcome, error=_located_error(parsed, open_theorem, outcome.error))
        if outcome.status == "proved" and outcome.tactics and requirements is not None:
            needed = tuple(requirements(outcome.tactics))
            if needed:
                result.requirements[outcome.theorem] = needed
        result.results.append(outcome)
        if on_theorem_done is not None:
            on_theorem_done(outcome)

    provers = [Prover(config, backend) for _ in range(max(1, min(jobs, len(chosen))))]
    lock = threading.Lock()  # the checker's thread records results too

    def record_safely(open_theorem: OpenTheorem, outcome: TheoremResult) -> None:
        with lock:
            record(open_theorem, outcome)

    rejected: list[tuple[OpenTheorem, TheoremResult]] = []  # found proofs the kernel refused

    def reject_safely(open_theorem: OpenTheorem, outcome: TheoremResult) -> None:
        with lock:
            rejected.append((open_theorem, outcome))

    checker = _KernelChecker(backend, parsed, config, record_safely, reject_safely) if whole_file else None
    search_options = dict(deadline=deadline, disprove=disprove and backend.name == "coq",
                          on_theorem_start=on_theorem_start, on_step=on_step)
    try:
        searches = _search_theorems(chosen, provers, config, kernel_check=checker is None, **search_options)
        for open_theorem, outcome in searches:
            if outcome.status == "found" and checker is not None:
                checker.submit(open_theorem, outcome)
            else:
                record_safely(open_theorem, outcome)
        if checker is not None:
            checker.finish()
            # A proof the kernel refused does not end its theorem's search: it is searched again,
            # this time with every proof found checked by the kernel as the search goes on (rare:
            # e.g. a proof through an earlier theorem that stays unproved).
            while rejected:
                open_theorem, refused = rejected[0]
                (_, outcome), = _search_theorems([open_theorem], provers[:1], config, kernel_check=True, **search_options)
                if outcome.status != "proved":
                    outcome = dataclasses.replace(outcome, error=outcome.error or refused.error)
                rejected.pop(0)
                record_safely(open_theorem, outcome)
    finally:
        try:
            if checker is not None:
                # Also after an interrupt: the proofs found are checked (a quick run) and kept.
                checker.finish()
        finally:
            for open_theorem, refused in rejected:
                record_safely(open_theorem, refused)
            for prover in provers:
                prover.close()
            order = {t.name: index for index, t in enumerate(parsed.theorems)}
            with lock:
                result.results.sort(key=lambda r: (r.status != "unsupported", order.get(r.theorem, -1)))
    return result


class _Cancelled(Exception):
    """Raised from a parallel search's step callback to stop it (the run was interrupted)."""


def _search_theorems(
    chosen: Sequence[OpenTheorem],
    provers: Sequence[Prover],
    config: ProverConfig,
    *,
    deadline: float | None,
    kernel_check: bool,
    disprove: bool = False,
    on_theorem_start: Callable[[str, int, int], None] | None,
    on_step: Callable[[int], None] | None,
) -> Iterator[tuple[OpenTheorem, TheoremResult]]:
    """Search each theorem with one of `provers` (as many at once as there are provers), yielding
    (theorem, outcome) as each ends; "found" outcomes still need the kernel's check."""
    free: queue.SimpleQueue[Prover] = queue.SimpleQueue()
    for prover in provers:
        free.put(prover)
    stop = threading.Event()

    def step(expansions: int) -> None:
        if stop.is_set():
            raise _Cancelled()
        if on_step is not None:
            on_step(expansions)

    def search_one(index: int, open_theorem: OpenTheorem) -> TheoremResult:
        left = deadline - time.monotonic() if deadline is not None else None
        if left is not None and left < _MIN_THEOREM_SECONDS:
            return TheoremResult(theorem=open_theorem.name, status="skipped", error="--total-seconds ran out before it started")
        prover = free.get()
        try:
            if left is not None:
                # The Prover reads its budget from its config at each theorem.
                prover.config = config.model_copy(update={"budget_seconds": min(config.budget_seconds, left)})
            if on_theorem_start is not None:
                on_theorem_start(open_theorem.name, index, len(chosen))
            try:
                outcome = prover.prove_theorem(open_theorem.theorem, on_step=step, kernel_check=kernel_check)
            except ModelUnavailable as unreachable:
                return TheoremResult(theorem=open_theorem.theorem.name, status="error", error=str(unreachable))
            if disprove and outcome.status == "unproved":
                outcome = _disproved(outcome, open_theorem.theorem, prover)
            return outcome
        finally:
            free.put(prover)

    if len(provers) == 1:
        for index, open_theorem in enumerate(chosen):
            yield open_theorem, search_one(index, open_theorem)
        return
    pool = ThreadPoolExecutor(max_workers=len(provers), thread_name_prefix="prove")
    try:
        futures = {pool.submit(search_one, index, t): t for index, t in enumerate(chosen)}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        stop.set()  # an interrupt (or an error) stops the searches still running at their next step
        pool.shutdown(wait=True, cancel_futures=True)


class _KernelChecker:
    """Kernel-checks the proofs the searches find, in a thread of its own, while the searches go on.

    Each round takes every proof found since the last round and checks them together in one
    compilation of the completed file (with the proofs accepted so far in it, so a proof may use
    an earlier one), through the backend's `check_completed_file`; a theorem that round does not
    accept gets the per-theorem check (`verify`, in an environment of the checker's own). A result
    is recorded as "proved" only from one of these verdicts; a refused one goes to `reject`.
    """

    def __init__(
        self,
        backend: Backend,
        parsed: ParsedFile,
        config: ProverConfig,
        record: Callable[[OpenTheorem, TheoremResult], None],
        reject: Callable[[OpenTheorem, TheoremResult], None] | None = None,
    ) -> None:
        self.backend, self.parsed, self.config, self.record = backend, parsed, config, record
        # Where refused proofs go (as "unproved" with the kernel's reason): `record` by default.
        self.reject = reject if reject is not None else record
        self._pending: list[tuple[OpenTheorem, TheoremResult]] = []
        self._accepted: dict[str, tuple[str, ...]] = {}
        self._condition = threading.Condition()
        self._closing = False
        self._environment: Any = None
        # A daemon: an interrupted run must be able to exit even while coqc runs.
        self._thread = threading.Thread(target=self._run, name="kernel-check", daemon=True)
        self._thread.start()

    def submit(self, open_theorem: OpenTheorem, outcome: TheoremResult) -> None:
        """Queue a "found" result for the kernel's check."""
        with self._condition:
            self._pending.append((open_theorem, outcome))
            self._condition.notify()

    def finish(self) -> None:
        """Wait until every queued proof has its verdict; interrupted, record the rest as unproved."""
        with self._condition:
            self._closing = True
            self._condition.notify()
        try:
            self._thread.join()
        except BaseException:
            with self._condition:
                left, self._pending = self._pending, []
            for open_theorem, outcome in left:
                self.record(open_theorem, _unchecked(outcome, "interrupted before its kernel check"))
            raise
        finally:
            if self._environment is not None:
                self._environment.close()

    def _run(self) -> None:
        next_round = time.monotonic() + _CHECK_SPACING
        while True:
            with self._condition:
                # Each round recompiles the whole file: pace them so that checking takes a fraction
                # of the run (a round waits 4 times as long as the last one took, and rounds start
                # at least _CHECK_SPACING apart; a quick file gets one round, at its end), while
                # the proofs found still get their verdicts within a bounded time.
                while not self._closing and (not self._pending or time.monotonic() < next_round):
                    self._condition.wait(timeout=max(0.05, next_round - time.monotonic()) if self._pending else None)
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
            started = time.monotonic()
            try:
                self._check(batch)
            except Exception as failure:  # noqa: BLE001 - a checker that dies must not take proofs with it
                log.warning("kernel check failed: %s", failure)
                for open_theorem, outcome in batch:
                    self.record(open_theorem, _unchecked(outcome, f"the kernel check failed: {failure}"))
            finished = time.monotonic()
            next_round = max(finished + _CHECK_PACE * (finished - started), started + _CHECK_SPACING)

    def _check(self, batch: list[tuple[OpenTheorem, TheoremResult]]) -> None:
        proofs = {t.name: outcome.tactics or () for t, outcome in batch}
        started = time.monotonic()
        try:
            verdicts = self.backend.check_completed_file(  # type: ignore[attr-defined]
                self.parsed, proofs, accepted=dict(self._accepted)
            ).verdicts
        except (ProverError, OSError) as failure:
            log.warning("the whole-file kernel check failed (%s); checking theorem by theorem", failure)
            verdicts = {}
        # Each theorem of the round is charged an equal share of the one compilation that checked them.
        share = (time.monotonic() - started) / len(batch)
        for open_theorem, outcome in batch:
            verify_seconds = outcome.verify_seconds + share
            verdict = verdicts.get(open_theorem.name)
            if verdict is None or not verdict.accepted:
                alone = time.monotonic()
                verdict = self._verify_alone(open_theorem, outcome)
                verify_seconds += time.monotonic() - alone
            outcome = dataclasses.replace(
                outcome, verify_seconds=verify_seconds, seconds=outcome.seconds + verify_seconds - outcome.verify_seconds
            )
            if verdict.accepted:
                self._accepted[open_theorem.name] = tuple(outcome.tactics or ())
                self.record(open_theorem, dataclasses.replace(outcome, status="proved", kernel_checked=True))
            else:
                log.warning("%s: kernel rejected a found proof: %s", open_theorem.name, verdict.reason)
                self.reject(open_theorem, _unchecked(outcome, f"kernel rejected the proof found: {verdict.reason}"))

    def _verify_alone(self, open_theorem: OpenTheorem, outcome: TheoremResult) -> Verdict:
        """The per-theorem check: the theorem alone, with every earlier open proof admitted."""
        if self._environment is None:
            self._environment = self.backend.open_environment(step_timeout=self.config.step_timeout)
        try:
            return self._environment.verify(open_theorem.theorem, outcome.tactics or ())
        except (ProverCrashed, ProverTimeout) as failure:
            self._environment.close()
            self._environment = None
            return Verdict(False, f"the proof assistant failed during the kernel check: {failure}")


def _unchecked(outcome: TheoremResult, reason: str) -> TheoremResult:
    """A found proof the kernel did not accept: unproved, with the reason."""
    return dataclasses.replace(outcome, status="unproved", proof=None, tactics=None, kernel_checked=False, error=reason)


def _use_coq_project(backend: Backend, path: Path, options: ProjectOptions) -> None:
    """Give the Coq backend the file's load paths, after checking the file can load its project's libraries."""
    project = resolve_project(path, options)
    check_dependencies(path, project)
    backend.coq_args = project.coq_args  # type: ignore[attr-defined]


def _use_lake_project(backend: Backend, path: Path) -> None:
    """Run a `.lean` file inside its own Lake project when it has one (see `layout_for_file`)."""
    from prover.backends.lean_toolchain import layout_for_file

    current = backend.layout  # type: ignore[attr-defined]
    layout, reason = layout_for_file(path, current)
    if layout == current:
        return
    problems = layout.missing()
    if problems:
        raise ToolchainMissing(f"{path}: runs in {reason}, which is not ready: {problems[0]}")
    backend.layout = layout  # type: ignore[attr-defined]


def write_completed(path: str | os.PathLike[str], text: str, source_format: SourceFormat = SourceFormat()) -> bool:
    """Write the completed file `text` to `path` in the source's format; through a symlink to its
    target, keeping the target's permissions. Returns False (and writes nothing) when the file
    already holds exactly these bytes."""
    target = Path(os.path.realpath(path))
    data = source_format.apply(text).encode("utf-8")
    try:
        if target.is_file() and target.read_bytes() == data:
            return False
    except OSError:
        pass
    write_atomically(target, data)
    return True


def write_atomically(path: str | os.PathLike[str], text: str | bytes) -> None:
    """Write `text` to `path` through a temporary file and a rename, so a crash never leaves half a
    file. An existing file keeps its permission bits; a new one gets the usual umask-based mode
    (not mkstemp's 0600). A symlink is written through to its target."""
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8") if isinstance(text, str) else text)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
