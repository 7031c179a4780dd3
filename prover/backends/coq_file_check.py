"""The kernel check of a whole completed Coq file at once: one `coqc` run instead of one per theorem.

Checking each proof found with its own `coqc` of preamble + header + theorem costs about a second
per theorem whatever the proof (loading the preamble's libraries, re-running the header). Here the
completed file, exactly as it would be written (proofs rendered by `complete_file`, every theorem
without a proof closed by `Admitted.`), is compiled once as the check module, and `Print
Assumptions` of a tuple of every proof is asked at its end (one walk of their dependencies; one
report per theorem when that one does not pass); reports are judged by the same judgement the
per-theorem check uses. A theorem the whole-file check cannot judge (an anonymous
`Goal`, a theorem inside a functor or module type, a file that does not compile) is left to the
per-theorem check, and a theorem whose proof breaks the compilation is taken out (admitted) and the
rest checked again, so one bad proof costs one more run, not a check per theorem.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

from prover.backends.base import OpenTheorem, ParsedFile
from prover.backends.coq_parse import normalise_for_coq816, open_blocks_with_parameters
from prover.backends.coq_tactics import TacticRefused, tactic_sentences
from prover.backends.coq_xml import HAMMER_LIBEXEC
from prover.errors import ToolchainMissing
from search.types import Theorem, Verdict

__all__ = ["CHECK_MODULE", "FileCheckResult", "check_completed_file", "admit_unproved"]

log = logging.getLogger(__name__)

CHECK_MODULE = "NeuroproveCheck"  # the per-theorem check's module name too: the judgement expects it
_MAX_ROUNDS = 4  # compilations before giving the remaining theorems to the per-theorem check
_BUNDLE = "neuroprove_all_proofs_"  # the tuple of every proof, defined at the end of the check
_ERROR_LINE = re.compile(r'File "[^"]*", line (\d+), characters (\d+)-(\d+):')

Judge = Callable[[str, Theorem, Mapping[str, str]], "Verdict | None"]
"""The per-theorem check's judgement of a `Print Assumptions` report, for a theorem, given Coq's
`Locate` answers (name -> answer text) asked at the same point; None when it cannot judge there."""


@dataclass(frozen=True)
class FileCheckResult:
    """verdicts: by qualified name, for the theorems the whole-file check judged; every other
    theorem it was given needs the per-theorem check. compilations: coqc runs made."""

    verdicts: dict[str, Verdict]
    compilations: int


def admit_unproved(parsed: ParsedFile, proved: Sequence[str]) -> ParsedFile:
    """The file with every open proof not in `proved` (qualified names) closed by `Admitted.`, the
    others' spans shifted to match: the text the completed file is compiled from."""
    keep = set(proved)
    pieces: list[str] = []
    cursor = shift = 0
    theorems: list[OpenTheorem] = []
    for open_theorem in sorted(parsed.theorems, key=lambda t: t.span[0]):
        start, end = open_theorem.span
        moved_start = open_theorem.statement_start + shift if open_theorem.statement_start >= 0 else -1
        if open_theorem.name in keep:
            theorems.append(replace(open_theorem, span=(start + shift, end + shift), statement_start=moved_start))
            continue
        admitted = "Admitted." if start != end else "\nAdmitted."
        pieces += [parsed.text[cursor:start], admitted]
        cursor = end
        shift += len(admitted) - (end - start)
    pieces.append(parsed.text[cursor:])
    return replace(parsed, text="".join(pieces), theorems=tuple(theorems))


def _coq_path(open_theorem: OpenTheorem) -> str | None:
    """The theorem's name as `Print Assumptions` takes it at the end of the check module, or None
    when it has none there (an anonymous Goal; a theorem inside a functor or module type)."""
    name = open_theorem.name
    if name.startswith("goal@") or not re.fullmatch(r"[^\W\d][\w']*(?:\.[^\W\d][\w']*)*", name):
        return None
    blocks = open_blocks_with_parameters(normalise_for_coq816(open_theorem.theorem.header))
    if any(kind == "Functor" for kind, _, _ in blocks):
        return None
    return f"{CHECK_MODULE}.{name}"


def check_completed_file(
    parsed: ParsedFile,
    proofs: Mapping[str, Sequence[str]],
    *,
    complete: Callable[[ParsedFile, Mapping[str, Sequence[str]]], str],
    judge: Judge,
    names_to_locate: Callable[[Theorem], Sequence[str]] = lambda theorem: (),
    accepted: Mapping[str, Sequence[str]] | None = None,
    coq_args: Sequence[str] = (),
    timeout: float = 300.0,
    environment: Mapping[str, str] | None = None,
) -> FileCheckResult:
    """Kernel-check every proof of `proofs` (qualified name -> tactics) in one compilation of the
    completed file; `complete` renders the file as it will be written (`CoqBackend.complete_file`).
    `accepted`: proofs already kernel-checked, written into the file as well but not judged again.
    `names_to_locate`: names whose `Locate` answers the judgement needs, asked at the file's end."""
    accepted = {name: tactics for name, tactics in (accepted or {}).items() if name not in proofs}
    by_name = {t.name: t for t in parsed.theorems}
    verdicts, candidates = _refused_and_candidates(proofs, by_name)
    compilations = 0
    with tempfile.TemporaryDirectory(prefix="neuroprove-file-check-") as workdir:
        folder = Path(workdir)
        # First one report for all (`Print Assumptions` of a tuple of every proof: one walk of the
        # shared dependencies, where one per theorem costs a walk each); only when that report
        # does not pass for every theorem, one report per theorem.
        one_report = True
        while candidates and compilations < _MAX_ROUNDS:
            chosen = {**accepted, **{name: proofs[name] for name in candidates}}
            completed = complete(admit_unproved(parsed, list(chosen)), chosen)
            reports = {name: folder / f"assumptions{index}" for index, name in enumerate(candidates)}
            bundle = folder / "assumptions_all"
            last = max(candidates, key=lambda name: by_name[name].span[0])
            judged = [last] if one_report else list(candidates)
            names = list(dict.fromkeys(n for name in judged for n in names_to_locate(by_name[name].theorem)))
            answers = {name: folder / f"locate{index}" for index, name in enumerate(names)}
            asked = _queries(candidates, bundle if one_report else None, reports, answers)
            compilations += 1
            failure = _compile(folder, completed.rstrip("\n") + "\n" + asked, coq_args, timeout, environment)
            if failure is None:
                located = {name: _read(out) for name, out in answers.items()}
                if one_report:
                    shared = _read(bundle)
                    verdict = judge(shared, by_name[last].theorem, located) if shared else None
                    if verdict is not None and verdict.accepted:
                        # Each theorem's assumptions are among the tuple's, and the judgement rejects
                        # by single assumptions; judged where the last theorem stands, everything the
                        # earlier ones may use is in scope and each earlier open theorem left admitted
                        # counts as unproved, so passing there passes for each.
                        verdicts.update({name: verdict for name in candidates})
                        return FileCheckResult(verdicts, compilations)
                    one_report = False
                    continue
                for name in candidates:
                    report = _read(reports[name])
                    verdict = judge(report, by_name[name].theorem, located) if report else None
                    if verdict is not None:
                        verdicts[name] = verdict
                return FileCheckResult(verdicts, compilations)
            if failure[0] >= len(completed.rstrip("\n")) and one_report:
                one_report = False  # the tuple itself failed (universes?): ask theorem by theorem
                continue
            culprit = _theorem_at(completed, failure, parsed, candidates)
            if culprit is None:
                log.info("the completed file does not compile (%s); checking theorem by theorem", failure[1])
                break
            # Its proof breaks the file: the per-theorem check decides on it; the rest go on.
            log.info("%s breaks the completed file (%s); checking the others again", culprit, failure[1])
            del candidates[culprit]
    return FileCheckResult(verdicts, compilations)


def _refused_and_candidates(
    proofs: Mapping[str, Sequence[str]], by_name: Mapping[str, OpenTheorem]
) -> tuple[dict[str, Verdict], dict[str, str]]:
    """Verdicts for the proofs whose steps the tactic filter refuses, and for each other proof
    the whole-file check can judge, its name for `Print Assumptions` (qualified name -> path)."""
    verdicts: dict[str, Verdict] = {}
    candidates: dict[str, str] = {}
    for name, tactics in proofs.items():
        try:
            for step in tactics:
                tactic_sentences(step)
        except TacticRefused as refused:
            verdicts[name] = Verdict(False, str(refused))
            continue
        path = _coq_path(by_name[name]) if name in by_name else None
        if path is not None:
            candidates[name] = path
    return verdicts, candidates


def _queries(
    candidates: Mapping[str, str], bundle: Path | None, reports: Mapping[str, Path], answers: Mapping[str, Path]
) -> str:
    """The commands appended to the completed file: `Print Assumptions` of the tuple of every
    proof into `bundle` (when given) or of each candidate into its report, then the `Locate`s."""
    if bundle is not None:
        asked = (
            f"Definition {_BUNDLE} := ({', '.join('@' + path for path in candidates.values())}).\n"
            f'Redirect "{bundle}" Print Assumptions {_BUNDLE}.\n'
        )
    else:
        asked = "".join(f'Redirect "{reports[name]}" Print Assumptions {path}.\n' for name, path in candidates.items())
    return asked + "".join(f'Redirect "{out}" Locate {name}.\n' for name, out in answers.items())


def _read(redirected: Path) -> str:
    """What a `Redirect "path" ...` command wrote (to path.out); "" when it wrote nothing."""
    out = redirected.with_suffix(".out")
    return out.read_text() if out.exists() else ""


def _compile(
    folder: Path, text: str, coq_args: Sequence[str], timeout: float, environment: Mapping[str, str] | None
) -> tuple[int, str] | None:
    """Compile `text` as the check module; None when coqc accepts it, else (error offset, message)."""
    source = folder / f"{CHECK_MODULE}.v"
    source.write_text(text)
    env = dict(environment if environment is not None else os.environ)
    env["PATH"] = HAMMER_LIBEXEC + os.pathsep + env.get("PATH", "")
    try:
        run = subprocess.run(
            ["coqc", "-q", *coq_args, source.name], cwd=folder, capture_output=True, text=True, timeout=timeout, env=env
        )
    except FileNotFoundError:
        raise ToolchainMissing("coqc not found: install Coq 8.16 (apt-get install coq)") from None
    except subprocess.TimeoutExpired:
        return (-1, f"coqc did not finish within {timeout:.0f} s")
    if run.returncode == 0:
        return None
    output = run.stderr or run.stdout
    located = _ERROR_LINE.search(output)
    message = " ".join(output.split())[:300]
    if located is None:
        return (-1, message)
    line, column = int(located.group(1)), int(located.group(2))
    offsets = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
    # coqc counts characters in bytes; a column past the line still names the line.
    offset = offsets[line - 1] + column if line - 1 < len(offsets) else len(text)
    return (offset, message)


def _theorem_at(
    completed: str, failure: tuple[int, str], parsed: ParsedFile, candidates: Mapping[str, str]
) -> str | None:
    """The candidate whose statement and proof hold the failure's offset, if any."""
    offset = failure[0]
    if offset < 0 or offset >= len(completed):
        return None  # in the appended Print Assumptions, or not located
    owner: str | None = None
    cursor = 0
    for open_theorem in sorted(parsed.theorems, key=lambda t: t.span[0]):
        statement = open_theorem.theorem.statement.strip()
        found = completed.find(statement, cursor) if statement else -1
        if found < 0:
            continue
        if found > offset:
            break
        owner = open_theorem.name
        cursor = found + len(statement)
    return owner if owner in candidates else None
