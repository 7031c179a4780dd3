"""The `prove` command.

`prove FILE` proves the open theorems of a .v or .lean file; the other commands (`doctor`,
`setup`, `eval`, ...) are registered by the modules that own them. Every failure the user can
cause or meet ends in one line on stderr and a non-zero exit code: 1 when a run finished with
something unproved (or unsupported, skipped, or a theorem the model failed for), 2 for bad input or
a missing toolchain, 130 for Ctrl-C, 143 for SIGTERM and 141 when stdout was closed (`| head`);
the last three still print and write every proof already found.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
import time
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console

import prover
from prover.agent import TheoremResult
from prover.backends.coq_project import LoadPath, ProjectOptions
from prover.cli_options import ProverOptions, prover_options
from prover.config import ProverConfig
from prover.errors import InputError, ProverError
from prover.files import FileResult, prove_file, write_atomically, write_completed

if TYPE_CHECKING:  # imported for checkers only: the graph module loads networkx
    from search.tree import ProofGraph

__all__ = ["app", "main"]

app = typer.Typer(
    name="prove",
    help="A neuro-symbolic theorem prover: policy models propose tactics, search chooses, "
    "the proof assistant's kernel checks every proof.\n\n"
    "prove FILE.v|FILE.lean [--budget-seconds S] [--json] [--out PATH | --write]: prove a file's "
    "open theorems (see 'prove FILE --help'); or one of the commands below.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Subcommands owned by other modules: each module's `register(app)` adds its commands.
_COMMAND_MODULES = (
    "prover.setup",
    "prover.eval.cli",
    "prover.formalizer.cli",
    "prover.data.cli",
    "prover.training.cli",
    "prover.experiments.cli",
)

# The hidden command that `prove FILE` is routed to (click groups cannot mix a positional
# argument with subcommands, so `main` inserts this name when the first word is not a command).
_FILE_COMMAND = "prove-file"

stderr = Console(stderr=True, highlight=False)


def _version_callback(show: bool) -> None:
    if show:
        typer.echo(f"prove (neuroprove) {prover.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the prover does.")] = False,
) -> None:
    """Prove FILE (a .v or .lean file), or run one of the commands below.

    prove FILE [--budget-seconds S] [--json] [--out PATH | --write] [--search best_first|best_first_edges|mcts]
    [--policy SPEC]: see `prove FILE --help` for every option.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


class _Stopped(KeyboardInterrupt):
    """The run was stopped from outside (SIGTERM, a closed stdout): handled as Ctrl-C is, finished
    results printed and written, with its own message and exit code."""

    reason = "interrupted"
    exit_code = 130
    message = "interrupted; finished results kept"


class _Terminated(_Stopped):
    reason = "terminated"
    exit_code = 143  # 128 + SIGTERM, as shells report a process SIGTERM ended
    message = "terminated (SIGTERM); finished results kept"


class _StdoutClosed(_Stopped):
    reason = "stdout closed"
    exit_code = 141  # 128 + SIGPIPE, what `cmd | head -1` gives a program killed by the pipe
    message = "stdout was closed; stopped, finished results kept"


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def _silence_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone, so no later write (or the interpreter's
    final flush) raises BrokenPipeError again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests): nothing to redirect
        pass
    finally:
        os.close(devnull)


def _echo(text: str) -> None:
    """Print a line on stdout; a closed stdout stops the run like an interrupt (`_StdoutClosed`)."""
    try:
        typer.echo(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        raise _StdoutClosed() from None


@app.command(_FILE_COMMAND, hidden=True)
@prover_options()
def prove_file_command(
    file: Annotated[Path, typer.Argument(help="A .v (Coq) or .lean (Lean 4) file with open proofs.")],
    # What to prove and for how long.
    total_seconds: Annotated[
        Optional[float],
        typer.Option(help="Cap on the whole run's seconds; theorems not started in time are reported skipped."),
    ] = None,
    only: Annotated[
        Optional[list[str]],
        typer.Option("--only", help="Prove only this theorem (qualified or short name, shell glob); repeatable."),
    ] = None,
    disprove: Annotated[
        bool, typer.Option("--disprove", help="Coq: for each theorem left unproved, look for a counterexample; a kernel-checked negation makes it 'disproved'.")
    ] = False,
    # Output.
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object with every result.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the completed file here.")] = None,
    write: Annotated[bool, typer.Option("--write", help="Complete FILE in place (untouched when nothing is proved).")] = False,
    save_tree: Annotated[
        Optional[Path],
        typer.Option(help="Save the search graphs: .json (one file, all theorems by name; reloadable), .graphml or .dot."),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", min=1, help="Prove this many theorems of the file at once (a prover process and policy each)."),
    ] = 1,
    # Proof assistant.
    no_hammer: Annotated[
        bool, typer.Option("--no-hammer", help="Coq: never use CoqHammer (no sauto/hauto proposed, no Hammer import written).")
    ] = False,
    # Coq projects.
    coq_arg: Annotated[
        Optional[list[str]],
        typer.Option(
            "--coq-arg",
            help="Coq: pass this option to coqidetop and coqc (repeatable). -Q DIR LIB and -R DIR LIB add "
            "load paths; both add to the nearest _CoqProject's (or dune project's) flags.",
        ),
    ] = None,
    load_path: Annotated[Optional[list[str]], typer.Option("--load-path", hidden=True)] = None,
    no_coqproject: Annotated[
        bool, typer.Option("--no-coqproject", help="Coq: ignore _CoqProject and dune files above FILE.")
    ] = False,
    *,
    prover: ProverOptions,
) -> None:
    """Search for proofs of FILE's open theorems and report the kernel's verdicts.

    Coq files are checked with their project's load paths: the nearest _CoqProject above FILE
    (-Q/-R/-I and -arg), or a dune project's coq.theory stanzas; -Q DIR LIB, -R DIR LIB and
    --coq-arg ARG add to them, --no-coqproject ignores the project file.
    """
    _check_run_options(out=out, write=write, total_seconds=total_seconds, no_hammer=no_hammer)
    project = _project_options(load_path or [], coq_arg or [], use_project_file=not no_coqproject)
    config = prover.config()
    result = FileResult(file=str(file), backend=config.backend, parsed=None)  # type: ignore[arg-type]
    display = _Display(live=stderr.is_terminal and not json_output, lines=not json_output, result=result)
    previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        stopped = _search_file(
            file, config, result, display,
            only=tuple(only or ()), project=project, jobs=jobs, total_seconds=total_seconds, disprove=disprove,
        )
        # Reporting and writing finish even if a second SIGTERM comes: the user's work comes first.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stopped, write_failure = _finish(result, stopped, file, json_output=json_output, out=out, write=write, save_tree=save_tree)
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
    if write_failure is not None:
        stderr.print(f"prove: {write_failure}", soft_wrap=True, markup=False)
        raise typer.Exit(stopped.exit_code if stopped is not None else 2)
    if stopped is not None:
        stderr.print(f"prove: {stopped.message}", soft_wrap=True, markup=False)
        raise typer.Exit(stopped.exit_code)
    _exit_for(result, file)


def _check_run_options(*, out: Path | None, write: bool, total_seconds: float | None, no_hammer: bool) -> None:
    """Refuse contradictory file options; --no-hammer is set for the backend and the workers."""
    if out is not None and write:
        raise InputError("--out and --write exclude each other: pick one")
    if total_seconds is not None and total_seconds <= 0:
        raise InputError("--total-seconds must be positive")
    if no_hammer:
        from prover.backends.coq import NO_HAMMER_ENV

        os.environ[NO_HAMMER_ENV] = "1"  # read by the backend and the portfolio, inherited by workers


def _search_file(
    file: Path, config: ProverConfig, result: FileResult, display: "_Display", **settings: Any
) -> "_Stopped | None":
    """Prove the file's theorems into `result` (`settings`: `prove_file`'s keyword options);
    how the run was stopped from outside (Ctrl-C, SIGTERM, a closed stdout), or None."""
    stopped: _Stopped | None = None
    try:
        prove_file(
            file, config, on_theorem_start=display.start, on_step=display.step, on_theorem_done=display.done,
            result=result, **settings,
        )
    except KeyboardInterrupt as interrupt:
        stopped = interrupt if isinstance(interrupt, _Stopped) else _Stopped()
    finally:
        display.stop()
    if stopped is None and display.stdout_closed:  # closed while the last results came in
        stopped = _StdoutClosed()
    return stopped


def _finish(
    result: FileResult, stopped: "_Stopped | None", file: Path, *,
    json_output: bool, out: Path | None, write: bool, save_tree: Path | None,
) -> "tuple[_Stopped | None, str | None]":
    """Save the trees, write the completed file and print the verdicts (also after an interrupt):
    how the run was stopped (a stdout closed while printing counts) and why writing failed, if so."""
    if stopped is not None:
        result.interrupted, result.stop_reason = True, stopped.reason
    if save_tree is not None and result.results:
        _save_trees(save_tree, result.results)
    write_failure: str | None = None
    if result.parsed is not None:
        try:
            write_failure = _report(
                result, json_output=json_output, out=out, write=write, file=file,
                stdout_closed=isinstance(stopped, _StdoutClosed),
            )
        except _StdoutClosed as closed:
            stopped = stopped or closed
            result.interrupted, result.stop_reason = True, closed.reason
    return stopped, write_failure


def _exit_for(result: FileResult, file: Path) -> None:
    """The exit code of a run that ended by itself, with a one-line stderr message for failures:
    2 for an invalid statement, 1 for anything else not proved, 0 when all is kernel-checked."""
    invalid = [r for r in result.results if r.status == "invalid"]
    if invalid:
        # coqc's shape: the location first, then (once) the theorem's name and the reason.
        located = re.match(r'(File "[^"]*"(?:, line \d+, characters \d+-\d+)?): (.*)', invalid[0].error or "", re.S)
        where, why = located.groups() if located else (str(file), invalid[0].error)
        stderr.print(f"prove: {where}: {invalid[0].theorem}: invalid statement: {why}", soft_wrap=True, markup=False)
        raise typer.Exit(2)
    errors = [r for r in result.results if r.status == "error"]
    if errors:
        stderr.print(f"prove: {errors[0].theorem}: {errors[0].error}", soft_wrap=True, markup=False)
        raise typer.Exit(1)
    unsupported = [r for r in result.results if r.status == "unsupported"]
    if unsupported:
        more = f" (and {len(unsupported) - 1} more)" if len(unsupported) > 1 else ""
        stderr.print(
            f"prove: {unsupported[0].theorem}: unsupported open proof: {unsupported[0].error}{more}",
            soft_wrap=True,
            markup=False,
        )
        raise typer.Exit(1)
    if not result.results:
        stderr.print(f"prove: {file}: no open theorem (no Admitted/sorry) to prove", soft_wrap=True)
        raise typer.Exit(0)
    raise typer.Exit(0 if result.all_proved else 1)


def _project_options(load_paths: list[str], coq_args: list[str], *, use_project_file: bool) -> ProjectOptions:
    """The command line's Coq load-path options (`-Q`/`-R` arrive folded by `_fold_load_paths`)."""
    paths = []
    for folded in load_paths:
        flag, directory, library = json.loads(folded)
        paths.append(LoadPath(flag, Path(directory).absolute(), library))
    return ProjectOptions(use_project_file=use_project_file, load_paths=tuple(paths), extra_args=tuple(coq_args))


def _fold_load_paths(argv: list[str]) -> list[str]:
    """`-Q DIR LIB` / `-R DIR LIB` as coqc spells them take two values, which typer options cannot:
    fold each into one hidden `--load-path` option (JSON, so any path survives)."""
    folded: list[str] = []
    index = 0
    while index < len(argv):
        word = argv[index]
        if word in ("-Q", "-R") and (index == 0 or argv[index - 1] != "--coq-arg"):
            if index + 2 >= len(argv):
                raise InputError(f"{word} needs two values: {word} DIR LIB")
            folded += ["--load-path", json.dumps([word, argv[index + 1], argv[index + 2]])]
            index += 3
            continue
        folded.append(word)
        index += 1
    return folded


def _report(
    result: FileResult, *, json_output: bool, out: Path | None, write: bool, file: Path, stdout_closed: bool = False
) -> str | None:
    """Write the completed file where asked, then print the verdicts (also after an interrupt).

    --write leaves FILE untouched when no proof was found; --out always writes. Returns why the
    file could not be written (the verdicts are printed all the same), or None."""
    from prover.backends import get_backend

    backend = result.tool if result.tool is not None else get_backend(result.backend)
    target = out if out is not None else file if write else None
    write_failure = None
    if target is not None and (out is not None or result.proofs):
        try:
            write_completed(target, result.completed_text(backend), result.source_format)
            result.written = str(target)
        except OSError as failure:
            write_failure = f"cannot write the completed file {target}: {failure.strerror or failure}"
    if stdout_closed:
        return write_failure
    if json_output:
        _echo(json.dumps(result.to_json(), indent=2))
        return write_failure
    proved = sum(r.status == "proved" for r in result.results)
    line = f"{proved}/{len(result.results)} theorems proved and kernel-checked in {result.file}"
    if result.selected < result.total_open:
        line += f" ({result.selected} of {result.total_open} open theorems selected by --only)"
    _echo(line)
    if result.written is not None:
        _echo(f"completed file written to {result.written}")
    elif write and not result.proofs:
        _echo(f"nothing proved: {file} left unchanged")
    needing = sorted({need for needs in result.requirements.values() for need in needs})
    for need in needing:
        names = ", ".join(name for name, needs in result.requirements.items() if need in needs)
        _echo(f"note: the proofs of {names} need `{need}` (CoqHammer) to compile; --no-hammer avoids it")
    return write_failure


def _save_trees(path: Path, results: list[TheoremResult]) -> None:
    """Write the search graphs. JSON: one theorem's graph as is; several in one file
    {"format": "neuroprove-trees/1", "trees": {qualified name: graph}} that `prove tree` reads.
    GraphML/DOT hold one graph each: with several theorems the name goes before the suffix."""
    with_graphs = [r for r in results if r.search_graph is not None]
    if not with_graphs:
        return
    if path.suffix not in (".graphml", ".dot") and len(with_graphs) > 1:
        path.parent.mkdir(parents=True, exist_ok=True)
        trees = {r.theorem: r.search_graph.to_json() for r in with_graphs if r.search_graph is not None}
        write_atomically(path, json.dumps({"format": _TREES_FORMAT, "trees": trees}, indent=1))
        return
    for outcome in with_graphs:
        target = path if len(with_graphs) == 1 else path.with_name(f"{path.stem}.{outcome.theorem}{path.suffix}")
        if outcome.search_graph is not None:
            _export_graph(outcome.search_graph, target)


_TREES_FORMAT = "neuroprove-trees/1"


def _export_graph(graph: ProofGraph, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".graphml":
        graph.to_graphml(target)
    elif target.suffix == ".dot":
        target.write_text(graph.to_dot())
    else:
        graph.save_json(target)


def _load_trees(saved: Path) -> dict[str, ProofGraph]:
    """The graphs of a --save-tree JSON file by theorem name ("" for a file holding one graph)."""
    from search.tree import ProofGraph

    try:
        data = json.loads(saved.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("format") == _TREES_FORMAT:
            return {name: ProofGraph.from_json(graph) for name, graph in data["trees"].items()}
        return {"": ProofGraph.from_json(data)}
    except (ValueError, KeyError, TypeError, AttributeError, OSError) as broken:
        raise InputError(f"{saved}: not a saved search graph: {broken}") from broken


@app.command("tree")
def tree_command(
    saved: Annotated[Path, typer.Argument(help="A search graph saved with --save-tree PATH.json.")],
    theorem: Annotated[
        Optional[str], typer.Option("--theorem", help="The theorem to show, when the file holds several.")
    ] = None,
    dot: Annotated[Optional[Path], typer.Option(help="Also write it as Graphviz DOT here.")] = None,
    graphml: Annotated[Optional[Path], typer.Option(help="Also write it as GraphML here.")] = None,
) -> None:
    """Inspect a saved search graph: its size, node statuses and the proof it holds; convert it."""
    if not saved.is_file():
        raise InputError(f"{saved}: no such file")
    trees = _load_trees(saved)
    if theorem is not None:
        picked = {name: graph for name, graph in trees.items() if name == theorem or name.rsplit(".", 1)[-1] == theorem}
        if not picked:
            raise InputError(f"{saved}: no tree for theorem {theorem!r} (it has: {', '.join(trees) or 'one unnamed tree'})")
        trees = picked
    if (dot is not None or graphml is not None) and len(trees) > 1:
        raise InputError(f"{saved}: holds {len(trees)} trees; pick one with --theorem NAME to convert it")
    for name, graph in trees.items():
        statuses: dict[str, int] = {}
        for key in graph.keys():
            status = graph.status(key).value
            statuses[status] = statuses.get(status, 0) + 1
        label = f"{saved} [{name}]" if name else f"{saved}"
        typer.echo(f"{label}: {sum(statuses.values())} states, " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
        proof = graph.extract_proof()
        typer.echo("proof: " + (" ; ".join(proof) if proof else "none found"))
        if dot is not None:
            _export_graph(graph, dot.with_suffix(".dot"))
        if graphml is not None:
            _export_graph(graph, graphml.with_suffix(".graphml"))


def _summary_line(outcome: TheoremResult) -> str:
    if outcome.status in ("unsupported", "skipped"):
        return f"{outcome.status:<9} {outcome.theorem}: {outcome.error}"
    detail = f"{outcome.seconds:.1f}s, {outcome.expansions} steps"
    if outcome.status == "proved":
        return f"proved    {outcome.theorem} ({detail}, kernel-checked)"
    reason = f": {outcome.error}" if outcome.error else ""
    return f"{outcome.status:<9} {outcome.theorem} ({detail}){reason}"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


class _Display:
    """Progress: a live status line on a terminal (rich, on stderr), and one plain line per finished
    theorem on stdout as soon as it finishes, so pipes and logs see progress too.

    Results may arrive from other threads (the kernel checker's, `-j` searches): a closed stdout
    is remembered there (`stdout_closed`) and the run is stopped from the searches' own callbacks
    (`start`, `step`) or the main thread, never by an exception in the checker's thread."""

    def __init__(self, *, live: bool, lines: bool, result: FileResult | None = None) -> None:
        self.live, self.lines, self.result = live, lines, result
        self.stdout_closed = False
        self._status = None
        self._name = ""
        self._index = (0, 0)
        self._started = 0.0
        self._last_refresh = 0.0

    def start(self, name: str, index: int, total: int) -> None:
        if self.stdout_closed:
            raise _StdoutClosed()
        self._name, self._index, self._started = name, (index + 1, total), time.monotonic()
        if self.live:
            if self._status is None:
                self._status = stderr.status("")
                self._status.start()
            self._status.update(self._line(0))

    def step(self, expansions: int) -> None:
        if self.stdout_closed:
            raise _StdoutClosed()
        now = time.monotonic()
        if self._status is not None and now - self._last_refresh > 0.1:
            self._last_refresh = now
            self._status.update(self._line(expansions))

    def done(self, outcome: TheoremResult) -> None:
        if not self.lines:
            return
        text = _summary_line(outcome)
        if outcome.status in ("proved", "disproved") and outcome.proof:
            needs = self.result.requirements.get(outcome.theorem, ()) if self.result is not None else ()
            if needs:
                text += f" [needs {' '.join(needs)}]"
            text += "\n" + _indent(outcome.proof)
        if self.stdout_closed:
            return
        try:
            _echo(text)  # rich's live status redirects stdout, so this lands above the status line
        except _StdoutClosed:
            self.stdout_closed = True
            if threading.current_thread() is threading.main_thread():
                raise

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _line(self, expansions: int) -> str:
        index, total = self._index
        elapsed = time.monotonic() - self._started
        return f"[{index}/{total}] {self._name}: {expansions} steps, {elapsed:.0f}s"


def _register_commands() -> None:
    for module_name in _COMMAND_MODULES:
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as missing:
            # Only an absent optional module is skipped; a broken import inside one is a bug.
            if missing.name is None or not module_name.startswith(missing.name):
                raise
            continue
        module.register(app)


def _route_file_argument(argv: list[str]) -> list[str]:
    """Send `prove FILE ...` to the hidden file command; leave `prove COMMAND ...` alone."""
    commands = {command.name for command in app.registered_commands}
    commands |= {group.name for group in app.registered_groups}
    for index, word in enumerate(argv):
        if word in ("--version", "--help", "-h"):
            return argv
        if word in ("--verbose", "-v"):
            continue
        if word in commands:
            return argv
        return argv[:index] + [_FILE_COMMAND] + argv[index:]
    return argv


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `prove` console script: returns the exit code."""
    _register_commands()
    args = _route_file_argument(list(sys.argv[1:] if argv is None else argv))
    try:
        if _FILE_COMMAND in args:
            args = _fold_load_paths(args)
        returned = app(args=args, prog_name="prove", standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except ProverError as failure:
        stderr.print(f"prove: {failure}", soft_wrap=True, markup=False)
        return failure.exit_code
    except (KeyboardInterrupt, typer.Abort):
        stderr.print("prove: interrupted", soft_wrap=True)
        return 130
    except BrokenPipeError:  # stdout closed while a command other than `prove FILE` printed
        _silence_stdout()
        stderr.print("prove: stdout was closed", soft_wrap=True)
        return 141
    except typer.TyperException as usage:  # typer's bundled click: bad options, missing arguments
        message = usage.format_message() if hasattr(usage, "format_message") else str(usage)
        if not message:  # `prove` alone: the help was printed
            return 2
        stderr.print(f"prove: {message} (see 'prove --help')", soft_wrap=True, markup=False)
        return int(getattr(usage, "exit_code", 2))
    # Without standalone mode click returns a command's exit code instead of raising SystemExit.
    return returned if isinstance(returned, int) else 0


if __name__ == "__main__":
    sys.exit(main())
