"""A Coq file's project: its load paths (`_CoqProject` or dune), and whether its dependencies are built.

`prove theories/User.v` must see what `coqc` sees inside the user's project. As coq-lsp and VsCoq
do, the nearest `_CoqProject` above the file gives `-Q`/`-R`/`-I` and `-arg` options; paths in it
are relative to its folder and are made absolute here, because Coq runs in private working
directories. A dune project (`dune-project`, and `dune` files with `(coq.theory (name X))`) maps
each theory to `-Q <its folder under _build/default> X`, where dune puts the `.vo` files (the
source folder when nothing is built yet). The command line adds `--coq-arg`, `-Q` and `-R`.

Before any search, `check_dependencies` asks `coqdep` which of the project's libraries the file
needs (transitively) and turns the usual breakages into one line that says how to fix them: a
library that is not compiled, a dependency cycle, a `.vo` from another Coq version or one compiled
against an older version of its own dependencies.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal, Sequence

import networkx

from prover.errors import InputError, ToolchainMissing

__all__ = [
    "LoadPath",
    "CoqProject",
    "ProjectOptions",
    "parse_coqproject",
    "find_project_file",
    "dune_theories",
    "detect_project",
    "resolve_project",
    "check_dependencies",
]

log = logging.getLogger(__name__)

PROJECT_FILE = "_CoqProject"
_DUNE_PROJECT = "dune-project"
_DUNE_BUILD = Path("_build") / "default"
_LOGICAL_NAME = re.compile(r"[A-Za-z_][\w']*(?:\.[A-Za-z_][\w']*)*")


@dataclass(frozen=True)
class LoadPath:
    """One load-path binding: `-Q dir Lib`, `-R dir Lib` (recursive, short names visible) or `-I dir`
    (OCaml plugins). `directory` is absolute; `library` is "" for `-I`."""

    flag: Literal["-Q", "-R", "-I"]
    directory: Path
    library: str = ""

    def args(self, relative_to: Path | None = None) -> tuple[str, ...]:
        """The command-line words; with `relative_to`, the directory as seen from there (for messages)."""
        directory = str(_relative(self.directory, relative_to)) if relative_to is not None else str(self.directory)
        return (self.flag, directory) if self.flag == "-I" else (self.flag, directory, self.library)


@dataclass(frozen=True)
class CoqProject:
    """The load paths and extra options Coq needs for a file, and where they came from.

    root: the folder of the `_CoqProject` or `dune-project` (None when the file has no project).
    origin: "_CoqProject", "dune" or "" (no project file; command-line options may still be set).
    load_paths: the bindings, in order (Coq looks them up in this order).
    extra_args: other options for coqc/coqidetop (`-arg` values, `--coq-arg`), passed as they are.
    """

    root: Path | None = None
    origin: str = ""
    load_paths: tuple[LoadPath, ...] = ()
    extra_args: tuple[str, ...] = ()

    @property
    def coq_args(self) -> tuple[str, ...]:
        """Everything to put on coqc's and coqidetop's command line, paths absolute."""
        return tuple(word for path in self.load_paths for word in path.args()) + self.extra_args

    def describe(self) -> str:
        """One phrase for messages: `_CoqProject in /p` or `dune project in /p` or `command line`."""
        if self.origin == "dune":
            return f"dune project in {self.root}"
        if self.origin:
            return f"{self.origin} in {self.root}"
        return "the command line"

    def build_command(self, source: Path) -> str:
        """How to build `source`'s `.vo`, as the user would type it in the project's folder."""
        if self.origin == "dune":
            return f"`dune build` (in {self.root})"
        where = self.root if self.root is not None else Path.cwd()
        words = [word for path in self.load_paths for word in path.args(relative_to=where)]
        coqc = " ".join(shlex.quote(w) for w in ["coqc", *words, *self.extra_args, str(_relative(source, where))])
        make = any((where / name).exists() for name in ("Makefile", "makefile", "GNUmakefile"))
        return f"`{coqc}`" + (" or `make`" if make else "") + f" (in {where})"


@dataclass(frozen=True)
class ProjectOptions:
    """What the command line says about load paths.

    use_project_file: look for `_CoqProject`/dune above the file (`--no-coqproject` turns it off).
    load_paths: `-Q DIR LIB` / `-R DIR LIB` given on the command line (relative to the current folder).
    extra_args: `--coq-arg ARG` values, passed to Coq as they are.
    """

    use_project_file: bool = True
    load_paths: tuple[LoadPath, ...] = ()
    extra_args: tuple[str, ...] = field(default=())


def _relative(path: Path, base: Path | None) -> Path:
    if base is None:
        return path
    try:
        return path.relative_to(base)
    except ValueError:
        return path


# ---------------------------------------------------------------- _CoqProject
def _tokens(text: str) -> Iterator[str]:
    """The words of a `_CoqProject`: blanks separate them, `#` starts a comment, "..." quotes."""
    for match in re.finditer(r'"([^"]*)"|#[^\n]*|(\S+)', text):
        if match.group(0).startswith("#"):
            continue
        yield match.group(1) if match.group(1) is not None else match.group(2)


def parse_coqproject(text: str, folder: Path, *, name: str = PROJECT_FILE) -> CoqProject:
    """The load paths and `-arg` options of a `_CoqProject` whose folder is `folder`.

    Directories are resolved against `folder`; one that does not exist, or an option without its
    argument, is an `InputError` naming the file. File names and options that only matter to
    `coq_makefile` (`-o`, `-docroot`, `VAR = value`, ...) are skipped.
    """
    folder = folder.resolve()
    words = list(_tokens(text))
    load_paths: list[LoadPath] = []
    extra: list[str] = []
    where = folder / name

    def take(index: int, count: int, option: str) -> list[str]:
        if index + count >= len(words):
            raise InputError(f"{where}: {option} needs {count} argument{'s' if count > 1 else ''}")
        return words[index + 1 : index + 1 + count]

    index = 0
    while index < len(words):
        word = words[index]
        if word in ("-Q", "-R"):
            directory, library = take(index, 2, word)
            if not _LOGICAL_NAME.fullmatch(library):
                raise InputError(f"{where}: {word} {directory} {library}: {library!r} is not a logical name")
            load_paths.append(LoadPath(word, _existing_dir(folder, directory, where, f"{word} {directory} {library}"), library))
            index += 3
        elif word == "-I":
            (directory,) = take(index, 1, word)
            load_paths.append(LoadPath("-I", _existing_dir(folder, directory, where, f"-I {directory}")))
            index += 2
        elif word == "-arg":
            (value,) = take(index, 1, word)
            # `-arg "-w -notation-overridden"` carries several words, as the Makefile's shell splits them.
            extra.extend(shlex.split(value))
            index += 2
        elif word in ("-o", "-docroot", "-install", "-generate-meta-for-package", "-native-compiler",
                      "-exclude-dir", "-f"):
            if word == "-f":
                log.warning("%s: -f (include another project file) is not followed", where)
            index += 2
        elif word in ("-extra", "-extra-phony", "-custom"):
            index += 4  # target, dependencies, command: coq_makefile's business
        elif index + 1 < len(words) and words[index + 1] == "=":
            index += 3  # VAR = value
        else:
            index += 1  # a file name, or a flag without argument
    return CoqProject(root=folder, origin=name, load_paths=tuple(load_paths), extra_args=tuple(extra))


def _existing_dir(folder: Path, directory: str, where: Path, entry: str) -> Path:
    path = (folder / directory).resolve()
    if not path.is_dir():
        raise InputError(f"{where}: {entry}: no such directory {path}")
    return path


def find_project_file(start: Path) -> tuple[Path, str] | None:
    """The nearest `_CoqProject` or `dune-project` in `start`'s folder or above: (path, kind);
    `_CoqProject` wins when a folder has both (it states the flags outright)."""
    folder = start.resolve()
    if not folder.is_dir():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        if (candidate / PROJECT_FILE).is_file():
            return candidate / PROJECT_FILE, PROJECT_FILE
        if (candidate / _DUNE_PROJECT).is_file():
            return candidate / _DUNE_PROJECT, "dune"
    return None


# ---------------------------------------------------------------- dune
def _sexps(text: str) -> list[object]:
    """The s-expressions of a dune file: atoms as strings, lists as lists (`;` comments dropped)."""
    stack: list[list[object]] = [[]]
    for match in re.finditer(r'"((?:[^"\\]|\\.)*)"|;[^\n]*|\(|\)|[^\s();"]+', text):
        token = match.group(0)
        if token.startswith(";"):
            continue
        if token == "(":
            stack.append([])
        elif token == ")":
            if len(stack) > 1:
                done = stack.pop()
                stack[-1].append(done)
        else:
            stack[-1].append(match.group(1) if match.group(1) is not None else token)
    while len(stack) > 1:  # an unclosed list: keep what was read
        done = stack.pop()
        stack[-1].append(done)
    return stack[0]


def dune_theories(text: str) -> list[str]:
    """The names of the `(coq.theory (name X) ...)` stanzas of a `dune` file (also `rocq.theory`)."""
    names = []
    for stanza in _sexps(text):
        if isinstance(stanza, list) and stanza and stanza[0] in ("coq.theory", "rocq.theory"):
            for entry in stanza[1:]:
                if isinstance(entry, list) and len(entry) == 2 and entry[0] == "name" and isinstance(entry[1], str):
                    names.append(entry[1])
    return names


def _dune_project(root: Path) -> CoqProject:
    """Every Coq theory of the dune project at `root`, bound with -Q to where dune builds it."""
    load_paths = []
    for dune_file in sorted(root.rglob("dune")):
        relative = dune_file.parent.relative_to(root)
        if any(part.startswith((".", "_")) for part in relative.parts) or not dune_file.is_file():
            continue  # _build, _opam, .git: not sources
        try:
            names = dune_theories(dune_file.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        for name in names:
            built = root / _DUNE_BUILD / relative
            load_paths.append(LoadPath("-Q", built if built.is_dir() else dune_file.parent.resolve(), name))
    return CoqProject(root=root, origin="dune", load_paths=tuple(load_paths))


# ---------------------------------------------------------------- the project of a file
def detect_project(file: Path) -> CoqProject:
    """The project the file belongs to (nearest `_CoqProject` or dune project), or an empty one."""
    found = find_project_file(file)
    if found is None:
        return CoqProject()
    path, kind = found
    if kind == "dune":
        return _dune_project(path.parent.resolve())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as failure:
        raise InputError(f"{path}: cannot read: {failure}") from failure
    return parse_coqproject(text, path.parent)


def resolve_project(file: Path, options: ProjectOptions) -> CoqProject:
    """The file's project (unless `--no-coqproject`), with the command line's options added after it."""
    project = detect_project(file) if options.use_project_file else CoqProject()
    for path in options.load_paths:
        if not path.directory.is_dir():
            raise InputError(f"{path.flag} {path.directory} {path.library}: no such directory")
    return CoqProject(
        root=project.root,
        origin=project.origin,
        load_paths=project.load_paths + tuple(
            LoadPath(p.flag, p.directory.resolve(), p.library) for p in options.load_paths
        ),
        extra_args=project.extra_args + tuple(options.extra_args),
    )


# ---------------------------------------------------------------- dependencies
def _coqdep(files: Sequence[Path], project: CoqProject, timeout: float) -> dict[Path, list[Path]]:
    """For each file, the `.vo` files of the project's load paths it requires (coqdep's answer)."""
    coqdep = shutil.which("coqdep")
    if coqdep is None:
        raise ToolchainMissing("coqdep not found: install Coq 8.16 (apt-get install coq)")
    load_args = [word for path in project.load_paths for word in path.args()]
    try:
        run = subprocess.run(
            [coqdep, *load_args, *map(str, files)], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise InputError(f"coqdep did not finish within {timeout:.0f} s on {files[0]}") from None
    needs: dict[Path, list[Path]] = {Path(f): [] for f in files}
    for line in run.stdout.splitlines():
        targets, _, sources = line.partition(":")
        first = targets.split()[0] if targets.split() else ""
        if not first.endswith(".vo"):
            continue  # the .vio line repeats the .vo one
        words = sources.split()
        if not words:
            continue
        source = Path(words[0])
        needs.setdefault(source, []).extend(Path(w) for w in words[1:] if w.endswith(".vo"))
    return needs


def _dependency_graph(file: Path, project: CoqProject, timeout: float) -> networkx.DiGraph:
    """Edges source.v -> required.v over the project's sources, from `file` outwards."""
    graph = networkx.DiGraph()
    graph.add_node(file)
    frontier = [file]
    while frontier:
        needs = _coqdep(frontier, project, timeout)
        frontier = []
        for source, vos in needs.items():
            for vo in vos:
                required = vo.with_suffix(".v")
                if required not in graph and required.is_file():
                    frontier.append(required)
                graph.add_edge(source, required)
    return graph


def check_dependencies(file: Path, project: CoqProject, *, timeout: float = 120.0) -> None:
    """Raise one `InputError` when the file cannot be loaded as its project builds it.

    The cases: a dependency cycle; a required library of the project whose `.vo` is missing (the
    message names the file and the command that builds it, in build order: the first one to
    build); a `.vo` that Coq refuses to load (another Coq version, or compiled against an older
    version of its own dependencies: "makes inconsistent assumptions").
    """
    file = file.resolve()
    if not project.load_paths:
        return  # without load paths the file can require only installed libraries
    graph = _dependency_graph(file, project, timeout)
    try:
        cycle = networkx.find_cycle(graph, source=file)
    except networkx.NetworkXNoCycle:
        cycle = None
    if cycle:
        where = project.root
        chain = " -> ".join(str(_relative(edge[0], where)) for edge in cycle) + f" -> {_relative(cycle[0][0], where)}"
        raise InputError(f"{_relative(file, where)}: dependency cycle: {chain}")
    # Build order: dependencies before what needs them; the first missing one is the one to build.
    for source in reversed(list(networkx.topological_sort(graph))):
        if source == file:
            continue
        vo = source.with_suffix(".vo")
        if not vo.is_file():
            shown = _relative(file, project.root)
            raise InputError(
                f"{shown} needs {_relative(vo, project.root)}, which is not compiled: build it with "
                f"{project.build_command(source)}"
            )
        if source.is_file() and source.stat().st_mtime > vo.stat().st_mtime:
            log.warning("%s is older than its source %s: rebuild it if the source changed", vo, source)
    if graph.number_of_nodes() > 1:
        _check_requires_load(file, project, timeout)


_REQUIRE = re.compile(r"\s*(?:From\s+\S+\s+)?Require\b")


def _check_requires_load(file: Path, project: CoqProject, timeout: float) -> None:
    """Compile just the file's `Require` commands: the project's `.vo` files must load."""
    from prover.backends.coq_sentences import SentenceSyntaxError, split_sentences, strip_comments

    try:
        sentences = split_sentences(file.read_text(encoding="utf-8"), allow_unterminated=True)
    except (SentenceSyntaxError, OSError, UnicodeDecodeError):
        return  # reading the file is prove_file's job; it reports these itself
    requires = [s.text for s in sentences if s.terminated and _REQUIRE.match(strip_comments(s.text))]
    if not requires:
        return
    with tempfile.TemporaryDirectory(prefix="neuroprove-deps-") as workdir:
        check = Path(workdir) / "NeuroproveRequires.v"
        check.write_text("\n".join(requires) + "\n")
        try:
            run = subprocess.run(
                ["coqc", "-q", *project.coq_args, check.name],
                cwd=workdir, capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise InputError(f"{file}: loading its Require commands took over {timeout:.0f} s") from None
    if run.returncode == 0:
        return
    raise InputError(_load_failure(file, project, run.stderr or run.stdout))


def _load_failure(file: Path, project: CoqProject, output: str) -> str:
    """One line for a `Require` that coqc refused, with the fix when it is a known breakage."""
    message = " ".join(output.split("Error:", 1)[-1].split())
    shown = _relative(file, project.root)
    stale = re.search(r"Compiled library (\S+) \(in file (\S+?)\) makes inconsistent assumptions over library (\S+)", message)
    if stale:
        vo = Path(stale.group(2))
        return (
            f"{shown}: {_relative(vo, project.root)} was compiled against an older {stale.group(3)} "
            f"(Coq: compiled library {stale.group(1)} makes inconsistent assumptions): rebuild it with "
            f"{project.build_command(vo.with_suffix('.v'))}"
        )
    version = re.search(r"File (\S+?) has bad (?:version|magic) number", message)
    if version:
        vo = Path(version.group(1))
        return (
            f"{shown}: {_relative(vo, project.root)} was compiled by another version of Coq "
            f"({message}): rebuild it with {project.build_command(vo.with_suffix('.v'))}"
        )
    return f"{shown}: its Require commands fail with the project's load paths ({project.describe()}): {message}"
