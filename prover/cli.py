"""The `prove` command.

`prove FILE` proves the open theorems of a .v or .lean file; the other commands (`doctor`,
`setup`, `eval`, ...) are registered by the modules that own them. Every failure the user can
cause or meet ends in one line on stderr and a non-zero exit code: 1 when a run finished with
something unproved, 2 for bad input or a missing toolchain, 130 for Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from importlib import import_module
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

import prover
from prover.agent import TheoremResult
from prover.backends.coq_project import LoadPath, ProjectOptions
from prover.config import ProverConfig, make_config
from prover.errors import InputError, ProverError
from prover.files import FileResult, prove_file, write_atomically

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

    prove FILE [--budget-seconds S] [--json] [--out PATH | --write] [--search best_first|mcts]
    [--policy SPEC]: see `prove FILE --help` for every option.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command(_FILE_COMMAND, hidden=True)
def prove_file_command(
    file: Annotated[Path, typer.Argument(help="A .v (Coq) or .lean (Lean 4) file with open proofs.")],
    budget_seconds: Annotated[float, typer.Option(help="Search seconds per theorem.")] = ProverConfig().budget_seconds,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object with every result.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the completed file here.")] = None,
    write: Annotated[bool, typer.Option("--write", help="Complete FILE in place.")] = False,
    search: Annotated[str, typer.Option(help="Search algorithm: best_first or mcts.")] = ProverConfig().search,
    policy: Annotated[str, typer.Option(help="Policy spec, e.g. portfolio or portfolio+hf:MODEL.")] = ProverConfig().policy,
    value: Annotated[str, typer.Option(help="Value function spec for MCTS, e.g. heuristic.")] = ProverConfig().value,
    max_expansions: Annotated[Optional[int], typer.Option(help="Tactic steps per theorem.")] = None,
    step_timeout: Annotated[float, typer.Option(help="Seconds one tactic may run.")] = ProverConfig().step_timeout,
    seed: Annotated[int, typer.Option(help="Seed of the search's randomness.")] = 0,
    backend: Annotated[str, typer.Option(help="coq, lean, or auto (from the extension).")] = "auto",
    rollout_workers: Annotated[
        int, typer.Option(help="MCTS: run in-flight expansions on this many Ray workers (1: no Ray).")
    ] = ProverConfig().rollout_workers,
    save_tree: Annotated[
        Optional[Path],
        typer.Option(help="Save each theorem's search graph: .json (reloadable), .graphml or .dot by suffix."),
    ] = None,
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
) -> None:
    """Search for proofs of FILE's open theorems and report the kernel's verdicts.

    Coq files are checked with their project's load paths: the nearest _CoqProject above FILE
    (-Q/-R/-I and -arg), or a dune project's coq.theory stanzas; -Q DIR LIB, -R DIR LIB and
    --coq-arg ARG add to them, --no-coqproject ignores the project file.
    """
    if out is not None and write:
        raise InputError("--out and --write exclude each other: pick one")
    project = _project_options(load_path or [], coq_arg or [], use_project_file=not no_coqproject)
    config = make_config(
        backend=backend,
        policy=policy,
        value=value,
        search=search,
        budget_seconds=budget_seconds,
        max_expansions=max_expansions,
        step_timeout=step_timeout,
        seed=seed,
        rollout_workers=rollout_workers,
    )

    result = FileResult(file=str(file), backend=config.backend, parsed=None)  # type: ignore[arg-type]
    display = _Display(live=stderr.is_terminal and not json_output, lines=not json_output)
    try:
        prove_file(
            file,
            config,
            project=project,
            on_theorem_start=display.start,
            on_step=display.step,
            on_theorem_done=display.done,
            result=result,
        )
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        display.stop()

    if save_tree is not None and result.results:
        _save_trees(save_tree, result.results)
    if result.parsed is not None:
        _report(result, json_output=json_output, out=out, write=write, file=file)
    if result.interrupted:
        stderr.print("prove: interrupted; finished results kept", soft_wrap=True)
        raise typer.Exit(130)
    invalid = [r for r in result.results if r.status == "invalid"]
    if invalid:
        stderr.print(f"prove: {invalid[0].theorem}: invalid statement: {invalid[0].error}", soft_wrap=True, markup=False)
        raise typer.Exit(2)
    if not result.parsed.theorems:
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


def _report(result: FileResult, *, json_output: bool, out: Path | None, write: bool, file: Path) -> None:
    """Print the verdicts and write the completed file where asked (also after an interrupt)."""
    from prover.backends import get_backend

    backend = get_backend(result.backend)
    if out is not None or write:
        write_atomically(out if out is not None else file, result.completed_text(backend))
    if json_output:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    proved = sum(r.status == "proved" for r in result.results)
    typer.echo(f"{proved}/{len(result.parsed.theorems)} theorems proved and kernel-checked in {result.file}")


def _save_trees(path: Path, results: list[TheoremResult]) -> None:
    """Write each theorem's search graph; with several theorems the name goes before the suffix."""
    with_graphs = [r for r in results if r.search_graph is not None]
    for outcome in with_graphs:
        target = path if len(with_graphs) == 1 else path.with_name(f"{path.stem}.{outcome.theorem}{path.suffix}")
        _export_graph(outcome.search_graph, target)


def _export_graph(graph: object, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".graphml":
        graph.to_graphml(target)  # type: ignore[attr-defined]
    elif target.suffix == ".dot":
        target.write_text(graph.to_dot())  # type: ignore[attr-defined]
    else:
        graph.save_json(target)  # type: ignore[attr-defined]


@app.command("tree")
def tree_command(
    saved: Annotated[Path, typer.Argument(help="A search graph saved with --save-tree PATH.json.")],
    dot: Annotated[Optional[Path], typer.Option(help="Also write it as Graphviz DOT here.")] = None,
    graphml: Annotated[Optional[Path], typer.Option(help="Also write it as GraphML here.")] = None,
) -> None:
    """Inspect a saved search graph: its size, node statuses and the proof it holds; convert it."""
    from search.tree import ProofGraph

    if not saved.is_file():
        raise InputError(f"{saved}: no such file")
    try:
        graph = ProofGraph.load_json(saved)
    except (ValueError, KeyError, TypeError) as broken:
        raise InputError(f"{saved}: not a saved search graph: {broken}") from broken
    statuses: dict[str, int] = {}
    for key in graph.keys():
        status = graph.status(key).value
        statuses[status] = statuses.get(status, 0) + 1
    typer.echo(f"{saved}: {sum(statuses.values())} states, " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    proof = graph.extract_proof()
    typer.echo("proof: " + (" ; ".join(proof) if proof else "none found"))
    if dot is not None:
        _export_graph(graph, dot.with_suffix(".dot"))
    if graphml is not None:
        _export_graph(graph, graphml.with_suffix(".graphml"))


def _summary_line(outcome: TheoremResult) -> str:
    detail = f"{outcome.seconds:.1f}s, {outcome.expansions} steps"
    if outcome.status == "proved":
        return f"proved    {outcome.theorem} ({detail}, kernel-checked)"
    reason = f": {outcome.error}" if outcome.error else ""
    return f"{outcome.status:<9} {outcome.theorem} ({detail}){reason}"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


class _Display:
    """Progress: a live status line on a terminal (rich, on stderr), and one plain line per finished
    theorem on stdout as soon as it finishes, so pipes and logs see progress too."""

    def __init__(self, *, live: bool, lines: bool) -> None:
        self.live, self.lines = live, lines
        self._status = None
        self._name = ""
        self._index = (0, 0)
        self._started = 0.0
        self._last_refresh = 0.0

    def start(self, name: str, index: int, total: int) -> None:
        self._name, self._index, self._started = name, (index + 1, total), time.monotonic()
        if self.live:
            if self._status is None:
                self._status = stderr.status("")
                self._status.start()
            self._status.update(self._line(0))

    def step(self, expansions: int) -> None:
        now = time.monotonic()
        if self._status is not None and now - self._last_refresh > 0.1:
            self._last_refresh = now
            self._status.update(self._line(expansions))

    def done(self, outcome: TheoremResult) -> None:
        if not self.lines:
            return
        text = _summary_line(outcome)
        if outcome.status == "proved" and outcome.proof:
            text += "\n" + _indent(outcome.proof)
        typer.echo(text)  # rich's live status redirects stdout, so this lands above the status line
        sys.stdout.flush()

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
