"""The Lean REPL process behind a `LeanEnvironment`, run by lean-interact's `AutoLeanServer`.

What lean-interact provides and is used as is:
  * `AutoLeanServer`: restarts the process before a request when it holds more than a fraction
    of its hard memory limit (`max_process_memory`), and starts a new one when it died;
  * its `ReplaySessionCache`: the header envs are kept there (`keep=True`), under negative
    session ids that stay valid across restarts: a new process re-elaborates a header on the
    first request that names it, so a restart never asks the caller to replay a header;
  * the typed answers (`CommandResponse`, `ProofStepResponse`, `LeanError`), whose `@overload`s
    `LeanRepl.run` keeps.
What this module adds:
  * a generation token per process (`LeanRepl.generation`): proof-state ids are per-process
    counters, so a state id is meaningful only with the generation it came from;
  * a standby process: after the first step timeout kills the REPL, a second process is started
    in a background thread with the current header already elaborated (while the search asks
    its policy for the next tactics), and one is kept from then on; each later timeout swaps it
    in at once instead of re-importing Mathlib inside the search's budget. The wait for a
    standby is capped (`command_timeout`, the deadline); a header lean-interact re-elaborates
    itself (after a memory restart, inside a request) has no timeout of its own: it elaborated
    once already;
  * infrastructure failures as `ProverTimeout`/`ProverCrashed`, and the theorem's deadline as a
    cap on every wait (`prover.budget`).
Why proof states are not in the session cache (`LeanEnvironment` replays tactic paths instead):
the root state comes from a command's `sorries`, which the cache does not record; the cache lives
in one Python process, while a state may come from another worker (a Ray rollout) as a path of
tactics; and the cache replays without a timeout, where every step must stay within the deadline.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Callable, overload

from lean_interact import AutoLeanServer, LeanREPLConfig, LocalProject
from lean_interact.interface import (
    BaseREPLResponse,
    Command,
    CommandResponse,
    LeanError,
    ProofStep,
    ProofStepResponse,
)
from lean_interact.sessioncache import ReplaySessionCache
from pydantic import ValidationError

from prover import budget
from prover.backends.lean_toolchain import LeanProjectLayout
from prover.errors import ProverCrashed, ProverTimeout, ToolchainMissing

__all__ = ["LeanRepl", "error_messages", "lean_error", "one_line"]

log = logging.getLogger(__name__)

# The machine-wide memory check of `AutoLeanServer` stays off: on a machine shared by several
# workers it would stall each of them in 1-2-4-8-16 s back-offs; the per-process limit bounds Lean.
_NO_SYSTEM_MEMORY_CHECK = 1.0


def lean_error(response: BaseREPLResponse | LeanError) -> str | None:
    """The message of a REPL-level error (`{"message": ...}`), or None for a normal answer."""
    return response.message if isinstance(response, LeanError) else None


def error_messages(response: BaseREPLResponse | LeanError) -> list[str]:
    """What went wrong, first reason first: the REPL-level error, else the error messages' texts."""
    if isinstance(response, LeanError):
        return [response.message]
    return [message.data for message in response.get_errors()]


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line, cut at `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class _Server(AutoLeanServer):
    """An `AutoLeanServer` whose every process start (first, after a death, after a memory
    restart) gets a new generation token and is counted."""

    generation: str = ""
    on_start: Callable[[], None] | None = None

    def start(self) -> None:
        super().start()
        self.generation = uuid.uuid4().hex
        if self.on_start is not None:
            self.on_start()


class _Standby:
    """A REPL started in a background thread, with `warm` (elaborating the current header) run on it."""

    def __init__(self, make: Callable[[], _Server], warm: Callable[[_Server], None]) -> None:
        self.server: _Server | None = None
        self.failure: Exception | None = None
        self._discarded = False
        self._thread = threading.Thread(target=self._prepare, args=(make, warm), name="lean-standby", daemon=True)
        self._thread.start()

    def _prepare(self, make: Callable[[], _Server], warm: Callable[[_Server], None]) -> None:
        try:
            self.server = make()
            if self._discarded:
                _kill(self.server)
                return
            warm(self.server)
        except Exception as failure:  # handed to the caller of `take`, in its thread
            self.failure = failure

    def ready(self) -> bool:
        """True when the process is started and warmed (or failed): `take` will not wait."""
        return not self._thread.is_alive()

    def take(self, timeout: float) -> _Server:
        """The started process, waiting at most `timeout` seconds for it."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.discard()
            raise ProverTimeout(f"a new Lean REPL was not ready within {timeout:g}s")
        if self.failure is not None or self.server is None or not self.server.is_alive():
            self.discard()
            failure = self.failure
            if isinstance(failure, (ToolchainMissing, ProverCrashed)):
                raise failure
            raise ProverCrashed(f"a new Lean REPL could not be prepared: {one_line(str(failure))}") from failure
        return self.server

    def discard(self) -> None:
        """Kill the process (now, or as soon as the thread has started it)."""
        self._discarded = True
        if self.server is not None:
            _kill(self.server)


def _kill(server: _Server) -> None:
    """Kill a REPL process; a broken pipe on the way is a process already gone, which is the aim.

    lean-interact's `kill` closes the process's stdin last, and that flush raises BrokenPipeError
    when the process died with a request still buffered (a close right after a timeout)."""
    try:
        server.kill()
    except (BrokenPipeError, ConnectionResetError):
        pass


class LeanRepl:
    """One live Lean REPL at a time (plus, after a step timeout, a warm standby), through lean-interact.

    `run` sends one request and types its answer; a process that died or was killed is replaced
    before the next request (by the standby when there is one). `generation` names the process
    the ids of the last answer belong to.
    """

    def __init__(
        self,
        layout: LeanProjectLayout,
        lake_path: str,
        *,
        memory_limit_mb: int | None,
        memory_restart_fraction: float | None,
        command_timeout: float,
    ) -> None:
        self._layout = layout
        self._lake_path = lake_path
        self._memory_limit_mb = memory_limit_mb
        self._memory_restart_fraction = memory_restart_fraction
        self._command_timeout = command_timeout
        self._config: LeanREPLConfig | None = None
        self._sessions = ReplaySessionCache()  # the header envs, shared by the live REPL and the standby
        self._server: _Server | None = None
        self._standby: _Standby | None = None
        self._keep_standby = False  # set by the first timeout
        self.warm_session: int | None = None  # the header env a new process elaborates before use
        self.starts = 0

    @property
    def generation(self) -> str:
        """The token of the live process ("" before the first start)."""
        return self._server.generation if self._server is not None else ""

    @property
    def process_id(self) -> int | None:
        """The live REPL's process id (for diagnostics and tests)."""
        process = self._server._proc if self._server is not None else None
        return process.pid if process is not None else None

    def standby_ready(self) -> bool:
        """True when a standby process is started and warmed (it will replace a killed REPL at once)."""
        return self._standby is not None and self._standby.ready()

    # -- lifecycle -------------------------------------------------------------------------------

    def ensure(self) -> None:
        """A live process: the current one, else the standby, else a new one."""
        if self._server is not None and self._server.is_alive():
            return
        self._drop_server()
        standby = self._standby if self._standby is not None else self._spawn()
        self._standby = None
        self._server = standby.take(budget.capped(self._command_timeout))
        if self._keep_standby:
            self._standby = self._spawn()

    def restart(self) -> None:
        """Replace the live process (its ids die with it)."""
        self._drop_server()
        self.ensure()

    def close(self) -> None:
        """Stop the live process and the standby (and their children)."""
        self._drop_server()
        if self._standby is not None:
            standby, self._standby = self._standby, None
            standby.discard()

    def _drop_server(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            _kill(server)

    def _spawn(self) -> _Standby:
        config = self._lean_config()
        return _Standby(lambda: self._new_server(config), self._warm)

    def _new_server(self, config: LeanREPLConfig) -> _Server:
        limit = self._memory_limit_mb
        try:
            server = _Server(
                config,
                max_total_memory=_NO_SYSTEM_MEMORY_CHECK,
                max_process_memory=self._memory_restart_fraction if limit is not None else None,
                session_cache=self._sessions,
            )
        except FileNotFoundError as missing:
            raise ToolchainMissing(f"cannot start the Lean REPL ({missing}): run `prove setup`") from missing
        except ChildProcessError as failure:
            raise ProverCrashed(f"the Lean REPL did not start: {one_line(str(failure))}") from failure
        self._count_start()
        server.on_start = self._count_start  # later starts are lean-interact's own restarts
        return server

    def _count_start(self) -> None:
        self.starts += 1

    def _warm(self, server: _Server) -> None:
        session = self.warm_session
        if session is not None and session in self._sessions:
            self._sessions.get_repl_id(session, server)  # lean-interact elaborates the header there

    def _lean_config(self) -> LeanREPLConfig:
        if self._config is None:
            layout = self._layout
            try:
                # A local project and a local REPL path: no git, no network, nothing built here.
                self._config = LeanREPLConfig(
                    project=LocalProject(directory=str(layout.project_dir), lake_path=self._lake_path, auto_build=False),
                    local_repl_path=str(layout.repl_dir),
                    build_repl=False,
                    lake_path=self._lake_path,
                    memory_hard_limit_mb=self._memory_limit_mb,
                    # The upstream REPL reads neither option; they only exist in lean-interact's fork.
                    enable_incremental_optimization=False,
                    enable_parallel_elaboration=False,
                )
            except (ValueError, OSError) as failure:
                raise ToolchainMissing(f"the Lean project cannot be used ({failure}): run `prove setup`") from failure
        return self._config

    # -- requests --------------------------------------------------------------------------------

    @overload
    def run(self, request: Command, timeout: float, *, keep: bool = False) -> CommandResponse | LeanError: ...

    @overload
    def run(self, request: ProofStep, timeout: float, *, keep: bool = False) -> ProofStepResponse | LeanError: ...

    def run(
        self, request: Command | ProofStep, timeout: float, *, keep: bool = False
    ) -> CommandResponse | ProofStepResponse | LeanError:
        """Send one request to the live REPL (`keep`: record its env in the session cache, and answer
        with the session id); a timeout or a crash raises ProverTimeout/ProverCrashed, the process
        is dropped and the next request gets a new one."""
        server = self._server
        if server is None or not server.is_alive():
            # Never start a process here: the request may carry ids of the process that died.
            self._drop_server()
            raise ProverCrashed("the Lean REPL is not running (it died between requests)")
        timeout = budget.capped(timeout)  # nothing waits past the theorem's deadline
        try:
            return server.run(request, timeout=timeout, add_to_session_cache=keep)
        except TimeoutError as timeout_error:
            self._after_timeout()
            raise ProverTimeout(f"Lean did not answer within {timeout:g}s; the REPL was restarted") from timeout_error
        except (ConnectionAbortedError, BrokenPipeError, ChildProcessError, MemoryError, OSError) as crash:
            self._drop_server()
            raise ProverCrashed(f"the Lean REPL died: {one_line(str(crash))}") from crash
        except (json.JSONDecodeError, ValidationError, ValueError, RuntimeError) as garbage:
            # ValueError/RuntimeError also come from lean-interact failing to replay a cached header.
            self._drop_server()
            raise ProverCrashed(f"the Lean REPL answered something unreadable: {one_line(str(garbage))}") from garbage

    def _after_timeout(self) -> None:
        """The REPL was killed at the time limit: prepare its successor now, in the background,
        and keep a standby from now on (timeouts come back: the same slow tactics on sibling states)."""
        self._drop_server()
        self._keep_standby = True
        if self._standby is None:
            self._standby = self._spawn()

    def forget(self, session: int) -> None:
        """Drop a session id (a header that did not elaborate)."""
        self._sessions.remove(session)

