"""The Coq kernel check of one proof: `coqc` compiles the theorem with its proof from scratch
(`Qed`), and `Print Assumptions` is judged by fully qualified kernel names (`coq_verdict`).

The check file is preamble + header + statement + proof, with the sections and modules the header
leaves open closed (coqc insists); `Print Assumptions` and the `Locate` answers are written with
`Redirect`, where no tactic's output can reach. Each printed name is resolved by `Locate` at the
same point of the same file: first for the names an acceptable assumption may print as, then, in
a second compilation with the proof admitted, for any other. An assumption from a library is
accepted when it is an axiom the source of a library the header itself requires declares
(`library_axioms`: two small compilations of the header's `Require` sentences, once per process).
`whole_file_judgement` judges the reports of the whole-file check (`coq_file_check`) the same way.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping, Sequence

from prover.backends.coq_parse import normalise_for_coq816, open_blocks_with_parameters
from prover.backends.coq_sentences import SentenceSyntaxError, split_sentences, strip_comments
from prover.backends.coq_tactics import tactic_sentences
from prover.backends.coq_verdict import (
    CHECK_MODULE,
    AssumptionJudge,
    declared_axiom_paths,
    names_to_locate,
    parse_assumptions,
    parse_locate,
)
from prover.backends.coq_xml import HAMMER_LIBEXEC
from prover.backends.sandbox import ProcessSandbox, run_in_group
from prover.errors import ToolchainMissing
from search.types import Theorem, Verdict

__all__ = ["PROOF_OPENING", "kernel_check", "library_axioms", "run_coqc", "whole_file_judgement"]

PROOF_OPENING = "Proof."
"""How a proof opens when the file does not say (`Proof using ...`, `CoqTheorem.proof_opening`)."""

_QUALID = re.compile(r"[^\W\d][\w']*(?:\.[^\W\d][\w']*)*")
_MAX_MESSAGE = 600


def kernel_check(
    theorem: Theorem,
    proof: Sequence[str],
    *,
    preamble: Sequence[str],
    coq_args: Sequence[str],
    sandbox: ProcessSandbox,
    timeout: float,
) -> Verdict:
    """Compile `theorem` with `proof` (tactics) after `preamble` in a folder of `sandbox` within
    `timeout` seconds a compilation, and judge its `Print Assumptions` by full kernel names."""
    header = normalise_for_coq816(theorem.header)
    body = "\n".join("  " + s for step in proof for s in tactic_sentences(step))
    # Inside a functor or module type the theorem is no constant once the block ends, so its
    # assumptions are asked for inside the innermost one (they then include the functor's
    # parameters' fields, which are its hypotheses).
    blocks = open_blocks_with_parameters(header)
    functors = [index for index, (kind, _, _) in enumerate(blocks) if kind == "Functor"]
    split = functors[-1] + 1 if functors else 0
    inner, outer = blocks[split:], blocks[:split]
    qualified = ".".join([name for kind, name, _ in inner if kind == "Module"] + [theorem.name])
    judge = AssumptionJudge(
        theorem_path=".".join([CHECK_MODULE, *(name for kind, name, _ in blocks if kind != "Section"), theorem.name]),
        file_axioms=frozenset(f"{CHECK_MODULE}.{path}" for path in declared_axiom_paths(header)),
        parameters=frozenset(name for _, _, names in outer for name in names),
        library_roots=frozenset({"Coq", "Hammer", CHECK_MODULE, *_library_roots(header)}),
    )
    opening = getattr(theorem, "proof_opening", PROOF_OPENING)  # the file's own `Proof using ...`, if any

    def check_file(proof_text: str, assumptions: Path | None, locate: Sequence[tuple[str, Path]], listing: Path) -> str:
        return (
            "".join(f"{sentence}\n" for sentence in preamble)
            + f"{header.rstrip()}\n"
            + f"{theorem.statement.strip()}\n{proof_text}\n"
            + "".join(f"End {name}.\n" for _, name, _ in reversed(inner))
            + (f'Redirect "{assumptions}" Print Assumptions {qualified}.\n' if assumptions is not None else "")
            + f'Redirect "{listing}" Print Libraries.\n'
            + "".join(f'Redirect "{out}" Locate {name}.\n' for name, out in locate)
            + "".join(f"End {name}.\n" for _, name, _ in reversed(outer))
        )

    def compile_(folder: Path, text: str) -> Verdict | None:
        return run_coqc(folder, text, coq_args=coq_args, environment=sandbox.environment(), timeout=timeout)

    with tempfile.TemporaryDirectory(prefix="check-", dir=sandbox.root()) as workdir:
        folder = Path(workdir)
        assumptions = folder / "assumptions"
        failed, resolved = _locating(
            folder, names_to_locate(header), lambda locate, listing: compile_(
                folder, check_file(f"{opening}\n{body}\nQed.", assumptions, locate, listing)),
        )
        if failed is not None:
            return failed
        report = assumptions.with_suffix(".out")
        if not report.exists():
            return Verdict(False, "Print Assumptions produced no report")
        printed, problems = parse_assumptions(report.read_text())
        if problems:
            shown = tuple(AssumptionJudge.display(name) for name in printed)
            return Verdict(False, f"Print Assumptions reports: {_one_line('; '.join(problems), 300)}", shown)
        resolved = {name: resolved.get(name) for name in printed if name in resolved}
        unknown = [name for name in printed if name not in resolved]
        if unknown:
            # Names no acceptable assumption prints as (an admitted lemma, a parameter's field):
            # ask Coq what they denote, at the same point, with the proof admitted (the names
            # in scope do not depend on it, and the proof need not run twice).
            failed, more = _locating(
                folder, unknown, lambda locate, listing: compile_(
                    folder, check_file(f"{opening}\nAdmitted.", None, locate, listing)),
            )
            if failed is not None:
                return failed
            resolved.update(more)
        outside = judge.library_assumptions(printed, resolved)
        if outside:
            found = library_axioms(header, outside, coq_args=coq_args, sandbox=sandbox, timeout=timeout)
            judge = dataclasses.replace(judge, library_axioms=found)
        return judge.judge(printed, resolved)


def _locating(
    folder: Path, names: Sequence[str], compile_with: Callable[[list[tuple[str, Path]], Path], Verdict | None]
) -> tuple[Verdict | None, dict[str, str | None]]:
    """Kernel names of `names` by `Locate`, asked in a compilation `compile_with(locate, listing)`
    makes (the check file, with `Print Libraries` redirected to `listing` before the `Locate`s).

    A bare name that a notation made a keyword (`land`, once Uint63's `x land y` is in scope) is a
    syntax error after `Locate`: it is asked again as `L.name` for the check module and for each
    loaded library L, and denotes the one constant whose answer says it is called `name` here.
    Returns coqc's rejection if it rejects for another reason.
    """
    listing = folder / "libraries"
    keywords: dict[str, list[tuple[str, Path]]] = {}
    while True:
        plain = [(name, folder / f"locate{index}") for index, name in enumerate(names)
                 if name not in keywords and _QUALID.fullmatch(name)]
        locate = plain + [pair for pairs in keywords.values() for pair in pairs]
        failed = compile_with(locate, listing)
        if failed is None:
            break
        keyword = _keyword_after_locate(failed.reason, folder / f"{CHECK_MODULE}.v")
        if keyword is None or keyword not in names or keyword in keywords or "." in keyword:
            return failed, {}
        loaded = listing.with_suffix(".out")
        libraries = _loaded_libraries(loaded.read_text()) if loaded.exists() else []
        keywords[keyword] = [
            (f"{prefix}.{keyword}", folder / f"keyword{len(keywords)}_{index}")
            for index, prefix in enumerate([CHECK_MODULE, *libraries])
        ]
    resolved = {name: _kernel_name_in(out) for name, out in plain}
    for name, pairs in keywords.items():
        visible = {full for _, out in pairs if (full := _constant_called(out.with_suffix(".out"), name))}
        resolved[name] = visible.pop() if len(visible) == 1 else None
    return None, resolved


def _keyword_after_locate(reason: str, source: Path) -> str | None:
    """The name after `Locate` on the line of `source` that coqc's rejection points at, when the
    rejection is "[locatable] expected after 'Locate'" (a keyword there); None otherwise."""
    where = re.search(r"line (\d+), characters \d+-\d+: Error: Syntax error: \[locatable\] expected after 'Locate'", reason)
    if where is None or not source.exists():
        return None
    lines = source.read_text().splitlines()
    number = int(where.group(1))
    found = re.search(r"\bLocate (\S+)\.$", lines[number - 1].strip()) if 0 < number <= len(lines) else None
    return found.group(1) if found else None


def _constant_called(answer: Path, name: str) -> str | None:
    """The constant a `Locate L.name` answer names, when it says `name` alone refers to it here
    ("shorter name to refer to it in current context is name")."""
    if not answer.exists():
        return None
    text = answer.read_text()
    full = parse_locate(text)
    return full if full and f"shorter name to refer to it in current context is {name})" in " ".join(text.split()) else None


def library_axioms(
    header: str, assumed: Sequence[str], *, coq_args: Sequence[str], sandbox: ProcessSandbox, timeout: float
) -> frozenset[str]:
    """Which of `assumed` (full kernel names of library constants) are axioms that a library the
    header itself requires declares: `Axiom`/`Parameter`/`Conjecture`/`Primitive` in that
    library's source.

    The kernel shows a library's admitted lemma exactly like an axiom, so the source decides, and
    without a source nothing counts. Libraries are those the header's own `Require` sentences load
    (asked of Coq, `Print Libraries`), never the search preamble's.
    """
    requires = _required_sentences(header)
    if not requires:
        return frozenset()
    sources = _library_sources(requires, tuple(coq_args), sandbox, timeout)
    accepted = set()
    for full in assumed:
        library = max((name for name in sources if full.startswith(name + ".")), key=len, default=None)
        source = sources.get(library) if library else None
        if source is not None and full[len(library) + 1 :] in _declared_axioms_of(source):
            accepted.add(full)
    return frozenset(accepted)


_LIBRARY_SOURCES: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, Path | None]] = {}


def _library_sources(
    requires: tuple[str, ...], coq_args: tuple[str, ...], sandbox: ProcessSandbox, timeout: float
) -> dict[str, Path | None]:
    """Each library the `requires` sentences load -> its `.v` source (None when only the compiled
    file is there); asked of coqc once per process for each set of sentences and load paths."""
    key = (requires, coq_args)
    if key in _LIBRARY_SOURCES:
        return _LIBRARY_SOURCES[key]
    text = "".join(f"{sentence}\n" for sentence in requires)
    with tempfile.TemporaryDirectory(prefix="libraries-", dir=sandbox.root()) as workdir:
        folder = Path(workdir)

        def ask(commands: str) -> bool:
            failed = run_coqc(folder, text + commands, coq_args=coq_args, environment=sandbox.environment(), timeout=timeout)
            return failed is None

        listing = folder / "libraries"
        if not ask(f'Redirect "{listing}" Print Libraries.\n'):
            return {}  # not cached: a timeout on a busy machine should not stick
        loaded = _loaded_libraries(listing.with_suffix(".out").read_text())
        located = [(name, folder / f"library{index}") for index, name in enumerate(loaded)]
        if not ask("".join(f'Redirect "{out}" Locate Library {name}.\n' for name, out in located)):
            return {}
        sources = {name: _library_source(out.with_suffix(".out")) for name, out in located}
    _LIBRARY_SOURCES[key] = sources
    return sources


def _required_sentences(header: str) -> tuple[str, ...]:
    """The header's `Require` sentences (`From P Require Import X.` included), comments removed."""
    try:
        sentences = split_sentences(header, allow_unterminated=True)
    except SentenceSyntaxError:
        return ()
    found = []
    for sentence in sentences:
        text = " ".join(strip_comments(sentence.text).split())
        if re.match(r"(?:From\s+\S+\s+)?Require\b", text):
            found.append(text)
    return tuple(found)


def _loaded_libraries(listing: str) -> list[str]:
    """Library names from `Print Libraries` ("Loaded library files:" and one name a line)."""
    return [line.strip() for line in listing.splitlines()[1:] if _QUALID.fullmatch(line.strip())]


def _library_source(answer: Path) -> Path | None:
    """The `.v` beside the `.vo` a `Locate Library` answer names ("X has been loaded from file
    /path/X.vo"), when that source exists."""
    if not answer.exists():
        return None
    match = re.search(r"has been loaded from file (.+\.vo)$", " ".join(answer.read_text().split()))
    source = Path(match.group(1)).with_suffix(".v") if match else None
    return source if source is not None and source.is_file() else None


@lru_cache(maxsize=256)
def _declared_axioms_of(source: Path) -> frozenset[str]:
    """A library source's axiom declarations, by their names relative to the library."""
    try:
        return declared_axiom_paths(source.read_text(errors="replace"))
    except OSError:
        return frozenset()


def run_coqc(
    workdir: Path, text: str, *, coq_args: Sequence[str], environment: Mapping[str, str], timeout: float
) -> Verdict | None:
    """Compile `text` as the check module in `workdir` within `timeout` seconds; a rejecting
    Verdict, or None when coqc accepts it."""
    source = workdir / f"{CHECK_MODULE}.v"
    source.write_text(text)
    env = dict(environment)
    env["PATH"] = HAMMER_LIBEXEC + os.pathsep + env.get("PATH", "")
    try:
        run = run_in_group(["coqc", "-q", *coq_args, source.name], cwd=workdir, env=env, timeout=timeout)
    except FileNotFoundError:
        raise ToolchainMissing("coqc not found: install Coq 8.16 (apt-get install coq)") from None
    except subprocess.TimeoutExpired:
        return Verdict(False, f"coqc did not finish within {timeout:.0f} s")
    if run.returncode != 0:
        output = run.stderr or run.stdout
        # The error, not the warnings before it: from the last `File ..., line N, ...: Error:` on.
        errors = list(re.finditer(r'File "[^"]*", line \d+, characters \d+-\d+:\s*Error:', output))
        return Verdict(False, f"coqc rejects the proof: {_one_line(output[errors[-1].start():] if errors else output)}")
    return None


def whole_file_judgement(report: str, theorem: Theorem, located: Mapping[str, str]) -> Verdict | None:
    """The whole-file check's judgement of a `Print Assumptions` report, by full kernel names from
    the `Locate` answers asked at the file's end; None (the per-theorem check decides) when a
    printed name was not located there or is a library constant beyond the allowed axioms."""
    header = normalise_for_coq816(theorem.header)
    printed, problems = parse_assumptions(report)
    if problems:
        return Verdict(False, f"Print Assumptions reports: {_one_line('; '.join(problems), 300)}", printed)
    resolved = {name: parse_locate(located[name]) for name in printed if located.get(name)}
    if any(name not in resolved for name in printed):
        return None
    judge = AssumptionJudge(
        theorem_path=f"{CHECK_MODULE}.{theorem.name}",
        file_axioms=frozenset(f"{CHECK_MODULE}.{path}" for path in declared_axiom_paths(header)),
    )
    if judge.library_assumptions(printed, resolved):
        return None  # whether a library's axiom is the file's own theory: the per-theorem check asks
    return judge.judge(printed, resolved)


def _kernel_name_in(out: Path) -> str | None:
    """The kernel name in a redirected `Locate` answer (None when there is none)."""
    answer = out.with_suffix(".out")
    return parse_locate(answer.read_text()) if answer.exists() else None


def _library_roots(header: str) -> set[str]:
    """First components of the libraries the header loads (`From X Require`, `Require X.Y`)."""
    roots = set(re.findall(r"\bFrom\s+([^\W\d][\w']*)", header))
    roots.update(re.findall(r"\bRequire\s+(?:Import\s+|Export\s+)?([^\W\d][\w']*)\.", header))
    return roots


def _one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
