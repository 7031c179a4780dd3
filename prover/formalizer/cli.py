"""The formalizer's commands: `prove formalize`, `prove solve`, `prove eval-formalizer` (added by `register(app)`).

Exit codes follow `prove FILE`: 0 success (solve: proved, and the statement is not vacuous),
1 unproved, disproved (the statement is false: its negation is kernel-checked) or unfaithful
(faithfulness below --min-faithfulness), 2 bad input, a missing toolchain or model, or no
statement that elaborates.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from prover.cli_options import ProverOptions, prover_options
from prover.config import ProverConfig
from prover.errors import InputError
from prover.formalizer.checking import comment

__all__ = ["register"]

log = logging.getLogger(__name__)

_MODEL_HELP = (
    "The formalizer model: openai:URL?model=NAME[&template=...] (an OpenAI-compatible server) or "
    "hf:MODEL_ID_OR_DIR (local transformers). Default: $PROVE_FORMALIZER_MODEL."
)
_TEMPLATE_HELP = (
    "Prompt template: kimina-autoformalizer, goedel-formalizer-v2, herald (Lean), chat-lean, chat-coq. "
    "Default: the model's own (recognised from its name), else chat-lean/chat-coq."
)

ModelOption = Annotated[Optional[str], typer.Option("--model", envvar="PROVE_FORMALIZER_MODEL", help=_MODEL_HELP)]
TemplateOption = Annotated[Optional[str], typer.Option("--template", help=_TEMPLATE_HELP)]
TargetOption = Annotated[
    Optional[str], typer.Option("--target", help="lean or coq (default: from -o's extension, else lean).")
]
SamplesOption = Annotated[int, typer.Option("--samples", min=1, help="Statements drafted (N).")]
RepairsOption = Annotated[int, typer.Option("--repairs", min=0, help="Repair rounds with the proof assistant's error (R).")]
NameOption = Annotated[str, typer.Option("--name", help="The theorem's name.")]
JudgeOption = Annotated[bool, typer.Option("--judge/--no-judge", help="Score faithfulness by back-translation.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document with every candidate.")]
# The prover options (--step-timeout, --seed, --policy, ...) come from `prover.cli_options`; here
# the step timeout also bounds each elaboration and check, and the seed also drives the sampling.
_FORMALIZER_HELP = {
    "step_timeout": "Seconds one elaboration, check or tactic may take.",
    "seed": "Seed for sampling and search.",
}
DisproveOption = Annotated[
    bool, typer.Option("--disprove/--no-disprove", help="Look for a counterexample (Coq); a false statement is reported 'disproved'.")
]


def _read_problem(path: Path) -> str:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a problem text file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as failure:
        raise InputError(f"{path}: cannot read: {failure}") from failure
    if not text.strip():
        raise InputError(f"{path}: the problem text is empty")
    return text.strip()


def _resolve_target(target: str | None, out: Path | None) -> str:
    if target is not None:
        if target not in ("lean", "coq"):
            raise InputError(f"--target must be lean or coq, not {target!r}")
        chosen = target
    elif out is not None and out.suffix in (".v", ".lean"):
        chosen = "coq" if out.suffix == ".v" else "lean"
    else:
        chosen = "lean"
    if out is not None and out.suffix not in ("", ".v" if chosen == "coq" else ".lean"):
        raise InputError(f"-o {out}: a {chosen} statement goes in a {'.v' if chosen == 'coq' else '.lean'} file")
    return chosen


def _formalizer(
    *,
    model: str | None,
    config: ProverConfig,
    template: str | None,
    samples: int,
    repairs: int,
    name: str,
    judge: bool,
    disprove: bool = True,
) -> tuple[Any, Any, Any]:
    """(formalizer, backend, model) ready to run for `config`'s backend, step timeout and seed;
    the caller closes the formalizer and the model."""
    from prover.backends import get_backend
    from prover.formalizer.drafting import Formalizer, FormalizerSettings
    from prover.formalizer.models import build_formalizer_model
    from prover.formalizer.templates import get_template

    if not model:
        raise InputError(
            "no formalizer model: pass --model openai:URL?model=NAME or --model hf:MODEL "
            "(or set PROVE_FORMALIZER_MODEL)"
        )
    target = config.backend
    if target == "auto":
        raise InputError("the formalizer needs a target: lean or coq")
    if template is not None:
        get_template(template, target)  # fail before loading anything
    backend = get_backend(target)
    backend.check_toolchain()
    built = build_formalizer_model(model, seed=config.seed)
    settings = FormalizerSettings(
        target=target,
        template=template,
        samples=samples,
        repairs=repairs,
        theorem_name=name,
        step_timeout=config.step_timeout,
        judge=judge,
        disprove=disprove,
    )
    formalizer = Formalizer(
        built.drafter, backend, settings, judge=built.judge, model_template=built.template, model_name=built.name
    )
    return formalizer, backend, built


def _summary(result: Any) -> str:
    best = result.best
    line = f"{result.elaborated}/{len(result.candidates)} samples elaborated"
    if best is None:
        return line
    score = "not judged" if best.score is None else f"{best.score:.2f}"
    vacuity = best.vacuity.describe() if best.vacuity is not None else "not checked"
    disproof = f"; DISPROVED: {best.disproof.describe()}" if best.disproof is not None else ""
    return f"{line}; best: {best.theorem.name}, faithfulness {score}; {vacuity}{disproof}"


def _warn(result: Any) -> None:
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)


@prover_options(only=("step_timeout", "seed"), help=_FORMALIZER_HELP)
def formalize_command(
    problem: Annotated[Path, typer.Argument(help="A text file with the problem in natural language.")],
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Write the statement here (.lean or .v).")] = None,
    target: TargetOption = None,
    model: ModelOption = None,
    template: TemplateOption = None,
    samples: SamplesOption = 4,
    repairs: RepairsOption = 2,
    name: NameOption = "problem",
    judge: JudgeOption = True,
    json_output: JsonOption = False,
    disprove: DisproveOption = True,
    *,
    prover: ProverOptions,
) -> None:
    """Turn a natural-language problem into a formal statement the proof assistant accepts."""
    from prover.files import write_atomically

    text = _read_problem(problem)
    config = prover.config(backend=_resolve_target(target, out))
    formalizer, _, built = _formalizer(
        model=model, config=config, template=template, samples=samples, repairs=repairs,
        name=name, judge=judge, disprove=disprove,
    )
    try:
        with formalizer:
            result = formalizer.formalize(text)
    finally:
        built.close()
    _warn(result)
    if json_output:
        document = result.to_json()
        document["output"] = str(out) if out is not None and result.best is not None else None
        typer.echo(json.dumps(document, indent=2))
    if result.best is None:
        raise InputError(f"{problem}: {result.failure_summary()}")
    rendered = result.render()
    if out is not None:
        write_atomically(out, rendered)
    elif not json_output:
        typer.echo(rendered, nl=False)
    typer.echo(f"prove formalize: {_summary(result)}", err=True)


@prover_options(exclude=("backend",), help={**_FORMALIZER_HELP, "budget_seconds": "Search seconds for the proof."})
def solve_command(
    problem: Annotated[Path, typer.Argument(help="A text file with the problem in natural language.")],
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Write the statement (with its proof, when found) here.")] = None,
    target: TargetOption = None,
    model: ModelOption = None,
    template: TemplateOption = None,
    samples: SamplesOption = 4,
    repairs: RepairsOption = 2,
    name: NameOption = "problem",
    judge: JudgeOption = True,
    json_output: JsonOption = False,
    disprove: DisproveOption = True,
    min_faithfulness: Annotated[
        float,
        typer.Option("--min-faithfulness", min=0.0, max=1.0, help="Below this judged faithfulness the statement is reported 'unfaithful' (exit 1) and not proved."),
    ] = 0.5,
    *,
    prover: ProverOptions,
) -> None:
    """Formalize the problem, then prove the best statement (or disprove it); one report with the verdicts.

    Status: proved, unproved, disproved (the statement is false), unfaithful (judged below
    --min-faithfulness), vacuous (proved, but the statement says nothing).
    """
    from prover.files import write_atomically

    text = _read_problem(problem)
    config = prover.config(backend=_resolve_target(target, out))
    formalizer, backend, built = _formalizer(
        model=model, config=config, template=template, samples=samples, repairs=repairs,
        name=name, judge=judge, disprove=disprove,
    )
    try:
        with formalizer:
            result = formalizer.formalize(text)
    finally:
        built.close()
    _warn(result)
    best = result.best
    if best is None:
        if json_output:
            typer.echo(json.dumps({"formalization": result.to_json(), "proof": None, "solved": False, "status": "invalid"}, indent=2))
        raise InputError(f"{problem}: {result.failure_summary()}")
    solved = _Solution(best=best, min_faithfulness=min_faithfulness, disproof=best.disproof)
    if solved.disproof is None and not solved.unfaithful:
        solved.proof, solved.disproof = _prove_or_disprove(best, config, backend, disprove=disprove)
    rendered = _solved_file(result, solved, backend, path=out or problem.with_suffix(".v" if config.backend == "coq" else ".lean"))
    if out is not None:
        write_atomically(out, rendered)
    if json_output:
        typer.echo(json.dumps(
            {"formalization": result.to_json(), "statement": best.source(result.target),
             "proof": solved.proof.to_json() if solved.proof is not None else None, "status": solved.status,
             "disproof": solved.disproof.to_json() if solved.disproof is not None else None,
             "min_faithfulness": min_faithfulness, "vacuous": solved.vacuous, "solved": solved.solved,
             "output": str(out) if out is not None else None},
            indent=2,
        ))
    else:
        _print_solution(result, solved)
    raise typer.Exit(0 if solved.solved and solved.status == "proved" else 1)


@dataclass
class _Solution:
    """What `prove solve` found for the best statement: its proof (kernel-checked or not), its
    disproof, and the verdict they make with its faithfulness score and vacuity."""

    best: Any
    min_faithfulness: float
    proof: Any = None
    disproof: Any = None

    @property
    def unfaithful(self) -> bool:
        return self.best.score is not None and self.best.score < self.min_faithfulness

    @property
    def vacuous(self) -> bool:
        return self.best.vacuity is not None and self.best.vacuity.vacuous

    @property
    def proved(self) -> bool:
        return self.proof is not None and self.proof.status == "proved" and self.proof.kernel_checked

    @property
    def solved(self) -> bool:
        return self.proved and not self.vacuous

    @property
    def status(self) -> str:
        if self.disproof is not None:
            return "disproved"
        if self.unfaithful:
            return "unfaithful"
        if self.proved:
            return "vacuous" if self.vacuous else "proved"
        return self.proof.status if self.proof is not None else "unproved"


def _prove_or_disprove(best: Any, config: ProverConfig, backend: Any, *, disprove: bool) -> tuple[Any, Any]:
    """(the prover's result on the statement, a kernel-checked disproof or None): Coq statements
    left unproved get a search on their negation, which may find what Python's evaluation did not."""
    from prover.agent import Prover

    with Prover(config, backend) as prover:
        proof = prover.prove_theorem(best.theorem)
        if disprove and config.backend == "coq" and proof.status == "unproved" and best.statement is not None:
            from prover.disprove import disprove as disprove_theorem

            return proof, disprove_theorem(best.theorem, best.statement.statement, prover._environment(), prover=prover)
    return proof, None


def _solved_file(result: Any, solved: _Solution, backend: Any, *, path: Path) -> str:
    """The statement file as written: with its proof when proved, its negation's when disproved."""
    rendered = result.render()
    if solved.proved and solved.proof.tactics:
        parsed = backend.parse_file(str(path), rendered)
        rendered = backend.complete_file(parsed, {solved.best.theorem.name: solved.proof.tactics})
    if solved.disproof is not None:
        note = comment("The statement is false; its negation, kernel-checked:", result.target)
        rendered = f"{rendered.rstrip()}\n\n{note}\n{_negation_block(solved.disproof.source)}\n"
    return rendered


def _print_solution(result: Any, solved: _Solution) -> None:
    best, proof, disproof = solved.best, solved.proof, solved.disproof
    score = "not judged" if best.score is None else f"{best.score:.2f}"
    vacuity = best.vacuity.describe() if best.vacuity is not None else "not checked"
    typer.echo(f"statement ({result.elaborated}/{len(result.candidates)} samples elaborated):")
    typer.echo(_indent(best.source(result.target) or ""))
    typer.echo(f"faithfulness: {score}")
    typer.echo(f"vacuity: {vacuity}")
    if disproof is not None:
        typer.echo(f"verdict: disproved {best.theorem.name}: {disproof.describe()}")
        typer.echo(_indent(disproof.source))
    elif solved.unfaithful:
        typer.echo(
            f"verdict: unfaithful {best.theorem.name}: faithfulness {best.score:.2f} is below "
            f"--min-faithfulness {solved.min_faithfulness:.2f}; the statement was not proved"
        )
    elif solved.proved:
        typer.echo(f"verdict: proved {best.theorem.name} ({proof.seconds:.1f}s, {proof.expansions} steps, kernel-checked)")
        typer.echo(_indent(proof.proof or ""))
        if solved.vacuous:
            typer.echo("warning: the statement is vacuous, so its proof says nothing about the problem")
    elif proof is not None:
        reason = f": {proof.error}" if proof.error else ""
        typer.echo(f"verdict: {proof.status} {best.theorem.name} ({proof.seconds:.1f}s, {proof.expansions} steps){reason}")


def _negation_block(source: str) -> str:
    """The negation's theorem and proof, without its header (the file already has one), for the output file."""
    from prover.disprove import COQ_AUTOMATION

    match = re.search(r"(?m)^Theorem ", source)
    return f"{COQ_AUTOMATION}\n" + (source[match.start():].rstrip() if match else source.rstrip())


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def _shared_default(*parts: str) -> Path | None:
    """A path under ../shared beside the repository (development checkouts), when it exists."""
    candidate = Path(__file__).resolve().parents[2].parent / "shared" / Path(*parts)
    return candidate if candidate.exists() else None


@prover_options(
    exclude=("backend",),
    defaults={"budget_seconds": 20.0},  # two implications per problem: shorter than a theorem's search
    help={**_FORMALIZER_HELP, "budget_seconds": "Search seconds per implication.", "policy": "Policy spec for the equivalence proofs."},
)
def eval_formalizer_command(
    data: Annotated[Optional[Path], typer.Option("--data", help="miniF2F JSONL with informal statements (minif2f_valid.jsonl).")] = None,
    references: Annotated[Optional[Path], typer.Option("--references", help="Directory of miniF2F Coq statements (NAME.v) for --target coq.")] = None,
    target: TargetOption = None,
    model: ModelOption = None,
    template: TemplateOption = None,
    samples: SamplesOption = 4,
    repairs: RepairsOption = 2,
    judge: JudgeOption = True,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N problems (by name).")] = None,
    names: Annotated[Optional[str], typer.Option("--names", help="Comma-separated problem names.")] = None,
    equivalence: Annotated[bool, typer.Option("--equivalence/--no-equivalence", help="Try to prove candidate and reference equivalent.")] = True,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write one JSON line per problem here.")] = None,
    json_output: JsonOption = False,
    *,
    prover: ProverOptions,
) -> None:
    """Formalize miniF2F's informal statements: elaboration rate, and equivalence with the reference statements."""
    from prover.agent import Prover
    from prover.formalizer.evaluation import evaluate_formalizer, load_informal_problems, summarize

    config = prover.config(backend=_resolve_target(target, None))
    data = data or _shared_default("data", "minif2f-lean4", "minif2f_valid.jsonl")
    if data is None:
        raise InputError("--data: give miniF2F's minif2f_valid.jsonl (rows with informal_statement)")
    problems = load_informal_problems(data)
    if names:
        wanted = {name.strip() for name in names.split(",") if name.strip()}
        problems = [problem for problem in problems if problem.name in wanted]
    if limit is not None:
        problems = problems[:limit]
    if not problems:
        raise InputError(f"{data}: no problem with an informal statement matches")
    if config.backend == "coq":
        references = references or _shared_default("data", "minif2f-coq", "valid")
    formalizer, backend, built = _formalizer(
        model=model, config=config, template=template, samples=samples, repairs=repairs, name="problem", judge=judge,
    )
    equivalence_prover = Prover(config, backend) if equivalence else None
    handle = out.open("w", encoding="utf-8") if out is not None else None
    rows = []
    try:
        with formalizer:
            for row in evaluate_formalizer(problems, formalizer, backend, prover=equivalence_prover, coq_references=references):
                rows.append(row)
                if handle is not None:
                    handle.write(json.dumps(row.to_json()) + "\n")
                    handle.flush()
                if not json_output:
                    typer.echo(f"{row.name}: {'elaborated' if row.elaborated else 'not elaborated'}; {row.equivalence}", err=True)
    finally:
        if handle is not None:
            handle.close()
        if equivalence_prover is not None:
            equivalence_prover.close()
        built.close()
    summary = summarize(rows)
    if json_output:
        typer.echo(json.dumps({"summary": summary, "rows": [row.to_json() for row in rows]}, indent=2))
        return
    typer.echo(
        f"elaborated {summary['elaborated']}/{summary['problems']} ({100 * summary['elaboration_rate']:.0f}%); "
        f"with a reference: {summary['with_reference']}, equivalent {summary['equivalent']}, "
        f"one direction {summary['one_direction']}, trivial {summary['trivial']}, "
        f"different shape {summary['different_shape']}, equivalence not shown {summary['not_shown']}; "
        f"vacuous best statements: {summary['vacuous_best']}, disproved: {summary['disproved_best']}"
    )


def register(app: typer.Typer) -> None:
    """Add `formalize`, `solve` and `eval-formalizer` to the `prove` command."""
    app.command("formalize")(formalize_command)
    app.command("solve")(solve_command)
    app.command("eval-formalizer")(eval_formalizer_command)

