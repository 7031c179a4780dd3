"""The formalizer: draft N statements, repair the ones that do not elaborate, check vacuity and faithfulness, rank.

    drafts  = model(template(problem)) x N            one batched call, N samples
    repeat R times: for each draft that does not elaborate,
            draft = model(conversation + draft + proof assistant's error)
    for each elaborated statement: vacuity checks (proof assistant), disproof (Coq: a counterexample
            found in Python, its negation kernel-checked), back-translation + judge (model)
    rank: elaborated first, then not vacuous, not disproved, faithfulness (high first), not trivial

The proof assistant decides elaboration and vacuity; the model only proposes and judges.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from search.types import Environment, Theorem

from prover.backends.base import Backend
from prover.config import PROVER_DEFAULTS
from prover.disprove import Disproof, disprove
from prover.errors import ModelUnavailable, ProverError, ToolchainMissing
from prover.formalizer.checking import Elaboration, Statement, elaborate
from prover.formalizer.faithfulness import Faithfulness, assess_faithfulness
from prover.formalizer.templates import (
    FormalizerTemplate,
    Message,
    Target,
    get_template,
    repair_messages,
    strip_reasoning,
)
from prover.formalizer.vacuity import VacuityReport, check_vacuity
from prover.policies.generation import TextGenerator

__all__ = ["FormalizerSettings", "Attempt", "FormalCandidate", "FormalizationResult", "Formalizer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FormalizerSettings:
    """How one problem is formalized.

    target: "lean" or "coq". template: a `templates.TEMPLATES` name (None: the model's, else the
    target's chat template). samples: statements drafted (N). repairs: feedback rounds (R) for a
    draft that does not elaborate. theorem_name: the name the prompt asks for. step_timeout: seconds
    one elaboration or vacuity tactic may take. judge: run the faithfulness round trip.
    judge_samples: judge answers averaged per statement. vacuity: run the vacuity checks.
    disprove: look for a counterexample to each statement (Coq; `prover.disprove`).
    """

    target: Target = "lean"
    template: str | None = None
    samples: int = 4
    repairs: int = 2
    theorem_name: str = "problem"
    step_timeout: float = PROVER_DEFAULTS.step_timeout
    judge: bool = True
    judge_samples: int = 1
    vacuity: bool = True
    disprove: bool = True


@dataclass(frozen=True)
class Attempt:
    """One draft or repair: the model's reply, the code taken from it, and the elaboration error (None: accepted)."""

    round: int
    reply: str
    code: str
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {"round": self.round, "code": self.code, "error": self.error}


@dataclass(frozen=True)
class FormalCandidate:
    """One sample's fate.

    sample: its index among the N drafts. attempts: the draft then each repair, in order.
    statement / theorem: the elaborated statement (None when no attempt elaborated).
    faithfulness / vacuity: the checks' results (None when not run or not elaborated).
    disproof: a kernel-checked proof that the statement is false (None: none found or not run).
    """

    sample: int
    attempts: tuple[Attempt, ...]
    statement: Statement | None = None
    theorem: Theorem | None = None
    faithfulness: Faithfulness | None = None
    vacuity: VacuityReport | None = None
    disproof: Disproof | None = None

    @property
    def elaborated(self) -> bool:
        return self.theorem is not None

    @property
    def error(self) -> str | None:
        """The last elaboration error, when none of the attempts elaborated."""
        return None if self.elaborated else (self.attempts[-1].error if self.attempts else "no reply")

    @property
    def score(self) -> float | None:
        return self.faithfulness.score if self.faithfulness is not None else None

    def rank_key(self) -> tuple[Any, ...]:
        """Sort key, best first: elaborated, not vacuous, not disproved, more faithful, not trivial, earlier sample."""
        vacuous = self.vacuity.vacuous if self.vacuity is not None else False
        trivial = self.vacuity.trivial if self.vacuity is not None else False
        disproved = self.disproof is not None
        return (not self.elaborated, vacuous, disproved, -(self.score or 0.0), trivial, self.sample)

    def source(self, target: Target, note: str | None = None) -> str | None:
        """The file text with this statement open, or None when it did not elaborate."""
        return self.statement.source(target, note) if self.statement is not None and self.elaborated else None

    def to_json(self, target: Target) -> dict[str, Any]:
        """A JSON-ready dict (the `--json` candidate record)."""
        return {
            "sample": self.sample,
            "elaborated": self.elaborated,
            "theorem": self.theorem.name if self.theorem is not None else None,
            "statement": self.source(target),
            "error": self.error,
            "repairs": max(len(self.attempts) - 1, 0),
            "faithfulness": self.score,
            "back_translation": self.faithfulness.back_translation if self.faithfulness else None,
            "judge_reply": self.faithfulness.judge_reply if self.faithfulness else None,
            "vacuity": self.vacuity.to_json() if self.vacuity is not None else None,
            "disproved": self.disproof is not None,
            "disproof": self.disproof.to_json() if self.disproof is not None else None,
            "attempts": [attempt.to_json() for attempt in self.attempts],
        }


@dataclass(frozen=True)
class FormalizationResult:
    """All candidates for one problem, best first; `best` is None when nothing elaborated.

    warnings: what the user should know that is no candidate's fault (e.g. the server returned
    fewer samples than asked for).
    """

    problem: str
    target: Target
    template: str
    model: str
    candidates: tuple[FormalCandidate, ...]
    warnings: tuple[str, ...] = ()

    @property
    def best(self) -> FormalCandidate | None:
        first = self.candidates[0] if self.candidates else None
        return first if first is not None and first.elaborated else None

    @property
    def elaborated(self) -> int:
        return sum(candidate.elaborated for candidate in self.candidates)

    def failure_summary(self) -> str:
        """One line: why no candidate elaborated (the last error of the first sample)."""
        if not self.candidates:
            return "the model returned no sample (an empty reply or an error in an HTTP 200 reply)"
        errors = [c.error for c in self.candidates if c.error]
        first = (errors[0] if errors else "").strip().splitlines()
        detail = first[0][:300] if first else "no reply"
        return f"no statement elaborated in {len(self.candidates)} samples; last error: {detail}"

    def describe(self, candidate: FormalCandidate) -> str:
        """The note written above the statement: the problem and what the checks said."""
        score = "not judged" if candidate.score is None else f"{candidate.score:.2f}"
        vacuity = candidate.vacuity.describe() if candidate.vacuity is not None else "not checked"
        disproof = f"\nDISPROVED: {candidate.disproof.describe()}" if candidate.disproof is not None else ""
        return (
            f"Formalized by neuroprove ({self.model}, template {self.template}).\n"
            f"Problem:\n{self.problem.strip()}\n"
            f"Faithfulness (back-translation judged against the problem): {score}\n"
            f"Vacuity: {vacuity}{disproof}"
        )

    def render(self) -> str:
        """The output file: the best statement, open, with the problem and the checks in a comment."""
        best = self.best
        if best is None:
            raise ValueError("no candidate elaborated")
        text = best.source(self.target, self.describe(best))
        assert text is not None
        return text

    def to_json(self) -> dict[str, Any]:
        """The `--json` document: every candidate, best first, with scores and errors."""
        return {
            "problem": self.problem,
            "target": self.target,
            "template": self.template,
            "model": self.model,
            "elaborated": self.elaborated,
            "samples": len(self.candidates),
            "best": 0 if self.best is not None else None,
            "warnings": list(self.warnings),
            "candidates": [candidate.to_json(self.target) for candidate in self.candidates],
        }


@dataclass
class _Draft:
    """A sample being worked on (mutable while drafting)."""

    sample: int
    conversation: list[Message]
    attempts: list[Attempt] = field(default_factory=list)
    elaboration: Elaboration | None = None


class Formalizer:
    """Drafts, repairs, checks and ranks formal statements of natural-language problems.

    drafter samples statements; judge (greedy; defaults to the drafter) back-translates and scores.
    The backend's environment is opened on first use and reopened after a crash; close() stops it.
    """

    def __init__(
        self,
        drafter: TextGenerator,
        backend: Backend,
        settings: FormalizerSettings = FormalizerSettings(),
        *,
        judge: TextGenerator | None = None,
        model_template: str | None = None,
        model_name: str | None = None,
    ) -> None:
        self.drafter = drafter
        self.judge = judge if judge is not None else drafter
        self.backend = backend
        self.settings = settings
        # An explicit template wins; the model's own (from its spec or name) applies when it writes the target.
        name = settings.template
        if name is None and model_template is not None and _writes(model_template, settings.target):
            name = model_template
        self.template: FormalizerTemplate = get_template(name, settings.target)
        self.model_name = model_name or getattr(drafter, "name", "model")
        self._env: Environment | None = None

    def __enter__(self) -> "Formalizer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the proof-assistant process, if one is running."""
        env, self._env = self._env, None
        if env is not None and hasattr(env, "close"):
            env.close()

    def _environment(self) -> Environment:
        if self._env is None:
            self._env = self.backend.open_environment(step_timeout=self.settings.step_timeout)
        return self._env

    def _discard_environment(self) -> None:
        try:
            self.close()
        except ProverError as failure:  # closing a dead process can fail; it is gone either way
            log.debug("closing a failed environment: %s", failure)
        self._env = None

    def _with_environment(self, action: Callable[[Environment], Any], what: str) -> tuple[Any, str | None]:
        """Run `action(env)`; after a crash or hang, restart the prover and report the failure instead."""
        try:
            return action(self._environment()), None
        except (ToolchainMissing, ModelUnavailable):
            raise
        except ProverError as failure:  # crashed, hung, or lost its state: this check fails, the next gets a fresh prover
            log.warning("%s: proof assistant failed (%s); restarting it", what, failure)
            self._discard_environment()
            return None, f"proof assistant failed: {failure}"

    def formalize(self, problem: str) -> FormalizationResult:
        """Formalize `problem` (see the module docstring); never raises for a statement that does not elaborate."""
        settings = self.settings
        conversation = self.template.messages(problem, settings.theorem_name)
        asked = max(1, settings.samples)
        batches = self.drafter.generate([conversation], asked)
        replies = batches[0] if batches else []
        warnings: list[str] = []
        if len(replies) < asked:
            # Servers that ignore `n` answer once: the user asked for a choice among N.
            warnings.append(f"the model returned {len(replies)} of the {asked} samples asked for")
            log.warning("%s", warnings[-1])
        drafts = [_Draft(index, conversation) for index in range(len(replies))]
        for draft, reply in zip(drafts, replies, strict=True):
            self._check(draft, reply.text, 0)
        for round_ in range(1, settings.repairs + 1):
            failing = [draft for draft in drafts if draft.elaboration is None or not draft.elaboration.ok]
            if not failing:
                break
            prompts = []
            for draft in failing:
                last = draft.attempts[-1]
                # A reasoning model's thoughts are left out of the history: the answer and the error suffice.
                draft.conversation = repair_messages(
                    draft.conversation, strip_reasoning(last.reply).strip(), last.error or "", settings.target
                )
                prompts.append(draft.conversation)
            outputs = self.drafter.generate(prompts, 1)
            for draft, output in zip(failing, outputs, strict=True):
                self._check(draft, output[0].text if output else "", round_)
        candidates = [self._candidate(draft) for draft in drafts]
        candidates = self._assess(problem, candidates)
        ranked = tuple(sorted(candidates, key=FormalCandidate.rank_key))
        return FormalizationResult(problem, settings.target, self.template.name, self.model_name, ranked, tuple(warnings))

    def _check(self, draft: _Draft, reply: str, round_: int) -> None:
        code = self.template.extract(reply)
        elaboration, failure = self._with_environment(
            lambda env: elaborate(code, self.settings.target, self.backend, env, self.settings.theorem_name), f"sample {draft.sample}"
        )
        if elaboration is None:
            elaboration = Elaboration(None, None, failure)
        draft.elaboration = elaboration
        draft.attempts.append(Attempt(round_, reply, code, elaboration.error))

    def _candidate(self, draft: _Draft) -> FormalCandidate:
        elaboration = draft.elaboration
        ok = elaboration is not None and elaboration.ok
        return FormalCandidate(
            sample=draft.sample,
            attempts=tuple(draft.attempts),
            statement=elaboration.statement if ok and elaboration is not None else None,
            theorem=elaboration.theorem if ok and elaboration is not None else None,
        )

    def _assess(self, problem: str, candidates: list[FormalCandidate]) -> list[FormalCandidate]:
        """Vacuity and faithfulness for each distinct elaborated statement (duplicates share the results)."""
        target = self.settings.target
        unique: dict[str, FormalCandidate] = {}
        for candidate in candidates:
            source = candidate.source(target)
            if source is not None:
                unique.setdefault(" ".join(source.split()), candidate)
        vacuity: dict[str, VacuityReport | None] = {}
        for key, candidate in unique.items():
            if not self.settings.vacuity or candidate.theorem is None:
                vacuity[key] = None
                continue
            theorem = candidate.theorem
            report, failure = self._with_environment(
                lambda env: check_vacuity(env, theorem, target), f"vacuity of sample {candidate.sample}"
            )
            vacuity[key] = report if report is not None else VacuityReport(incomplete=failure or "")
        disproofs: dict[str, Disproof | None] = dict.fromkeys(unique)
        if self.settings.disprove and target == "coq":
            for key, candidate in unique.items():
                theorem, statement = candidate.theorem, candidate.statement
                if theorem is None or statement is None:
                    continue
                disproofs[key], _ = self._with_environment(
                    lambda env: disprove(theorem, statement.statement, env), f"disproof of sample {candidate.sample}"
                )
        faithfulness: dict[str, Faithfulness | None] = dict.fromkeys(unique)
        if self.settings.judge and unique:
            keys = list(unique)
            codes = [unique[key].source(target) or "" for key in keys]
            results = assess_faithfulness(
                self.judge, problem, codes, target, judge_samples=self.settings.judge_samples
            )
            faithfulness.update(zip(keys, results, strict=True))
        assessed = []
        for candidate in candidates:
            source = candidate.source(target)
            if source is None:
                assessed.append(candidate)
                continue
            key = " ".join(source.split())
            assessed.append(
                replace(candidate, vacuity=vacuity[key], faithfulness=faithfulness[key], disproof=disproofs[key])
            )
        return assessed


def _writes(template_name: str, target: Target) -> bool:
    from prover.formalizer.templates import TEMPLATES

    template = TEMPLATES.get(template_name)
    return template is not None and template.target == target
