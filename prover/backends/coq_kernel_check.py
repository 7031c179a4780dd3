"""The Coq kernel check of one proof: `coqc` compiles the theorem with its proof from scratch
(`Qed`), and `Print Assumptions` is judged by fully qualified kernel names (`coq_verdict`).

The check file is preamble + header + statement + proof, with the sections and modules the header
leaves open closed (coqc insists); `Print Assumptions` and the `Locate` answers are written with
`Redirect`, where no tactic's output can reach. Each printed name is resolved by `Locate` at the
same point of the same file: first for the names an acceptable assumption may print as, then, in
a second compilation with the proof admitted, for any other. `whole_file_judgement` judges the
reports of the whole-file check (`coq_file_check`) the same way.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

from prover.backends.coq_parse import normalise_for_coq816, open_blocks_with_parameters
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

__all__ = ["PROOF_OPENING", "kernel_check", "run_coqc", "whole_file_judgement"]

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

    def check_file(proof_text: str, assumptions: Path | None, locate: Sequence[tuple[str, Path]]) -> str:
        return (
            "".join(f"{sentence}\n" for sentence in preamble)
            + f"{header.rstrip()}\n"
            + f"{theorem.statement.strip()}\n{proof_text}\n"
            + "".join(f"End {name}.\n" for _, name, _ in reversed(inner))
            + (f'Redirect "{assumptions}" Print Assumptions {qualified}.\n' if assumptions is not None else "")
            + "".join(f'Redirect "{out}" Locate {name}.\n' for name, out in locate)
            + "".join(f"End {name}.\n" for _, name, _ in reversed(outer))
        )

    def compile_(folder: Path, text: str) -> Verdict | None:
        return run_coqc(folder, text, coq_args=coq_args, environment=sandbox.environment(), timeout=timeout)

    with tempfile.TemporaryDirectory(prefix="check-", dir=sandbox.root()) as workdir:
        folder = Path(workdir)
        assumptions = folder / "assumptions"
        expected = [(name, folder / f"expected{index}") for index, name in enumerate(names_to_locate(header))]
        failed = compile_(folder, check_file(f"{opening}\n{body}\nQed.", assumptions, expected))
        if failed is not None:
            return failed
        report = assumptions.with_suffix(".out")
        if not report.exists():
            return Verdict(False, "Print Assumptions produced no report")
        printed, problems = parse_assumptions(report.read_text())
        if problems:
            shown = tuple(AssumptionJudge.display(name) for name in printed)
            return Verdict(False, f"Print Assumptions reports: {_one_line('; '.join(problems), 300)}", shown)
        resolved = {name: _kernel_name_in(out) for name, out in expected if name in printed}
        unknown = [name for name in printed if name not in resolved]
        if unknown:
            # Names no acceptable assumption prints as (an admitted lemma, a parameter's field):
            # ask Coq what they denote, at the same point, with the proof admitted (the names
            # in scope do not depend on it, and the proof need not run twice).
            asked = [(name, folder / f"unknown{index}") for index, name in enumerate(unknown) if _QUALID.fullmatch(name)]
            failed = compile_(folder, check_file(f"{opening}\nAdmitted.", None, asked))
            if failed is not None:
                return failed
            resolved.update({name: _kernel_name_in(out) for name, out in asked})
        return judge.judge(printed, resolved)


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
        return Verdict(False, f"coqc rejects the proof: {_one_line(run.stderr or run.stdout)}")
    return None


def whole_file_judgement(report: str, theorem: Theorem, located: Mapping[str, str]) -> Verdict | None:
    """The whole-file check's judgement of a `Print Assumptions` report, by full kernel names from
    the `Locate` answers asked at the file's end; None (the per-theorem check decides) when a
    printed name was not located there."""
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
