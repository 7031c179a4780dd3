"""Whole-proof models inside a tree search: the model writes a complete proof, its verified prefix becomes a node.

A whole-proof model (DeepSeek-Prover-V2, Goedel-Prover-V2, Kimina-Prover) proposes complete proof
scripts. `TruncateAndResumeEnvironment` steps such a script sentence by sentence; when a step
fails after at least one succeeded, the state after the longest verified prefix is returned as
`Progress`, so the prefix becomes a node of the search tree and the model is asked again from there
(its prompt then contains the prefix). This is the truncate-and-resume mechanism of
DeepSeek-Prover-V1.5's RMaxTS (Xin et al., "DeepSeek-Prover-V1.5: Harnessing Proof Assistant
Feedback for Reinforcement Learning and Monte-Carlo Tree Search", arXiv:2408.08152, section 3.1).

Wiring (what `Prover` does with a backend): `env = attach_whole_proof(env, policy, backend.split_proof)`.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from search.types import Environment, Failed, FailureKind, Outcome, Policy, Progress, Proved, State, Theorem, Verdict

from prover import budget
from prover.budget import MAX_CANDIDATE_CHARS, MAX_CANDIDATE_SENTENCES
from prover.policies.generation import ModelPolicy, TextGenerator, TheoremSlot
from prover.policies.prompts import Language, PromptTemplate

__all__ = ["WholeProofPolicy", "TruncateAndResumeEnvironment", "attach_whole_proof", "model_policies"]

log = logging.getLogger(__name__)


class WholeProofPolicy(ModelPolicy):
    """A `ModelPolicy` whose template is a whole-proof one: each candidate is a proof script (the rest of the proof).

    It reads the current theorem's statement from `theorem_slot` (filled by the environment wrapper);
    without it, prompts state the first goal as a theorem.
    """

    def __init__(
        self,
        generator: TextGenerator,
        template: PromptTemplate,
        *,
        language: Language = "lean",
        source: str | None = None,
        theorem_slot: TheoremSlot | None = None,
    ) -> None:
        if template.kind != "whole_proof":
            raise ValueError(f"template {template.name!r} proposes single tactics, not whole proofs")
        super().__init__(
            generator, template, language=language, source=source, theorem_slot=theorem_slot or TheoremSlot()
        )


class TruncateAndResumeEnvironment:
    """An `Environment` that steps multi-step candidates one sentence at a time and keeps the verified prefix.

    env: the wrapped environment (one step = one tactic sentence).
    split_proof: the backend's `split_proof` (script -> sentences).
    theorem_slot: told the theorem on `start`, for whole-proof prompts.
    A one-sentence candidate goes straight to the wrapped environment, unchanged; one over the
    size limits of `prover.budget` is refused unread.
    """

    def __init__(
        self,
        env: Environment,
        split_proof: Callable[[str], list[str]],
        *,
        theorem_slot: TheoremSlot | None = None,
    ) -> None:
        self.env = env
        self.split_proof = split_proof
        self.theorem_slot = theorem_slot

    def start(self, theorem: Theorem) -> State:
        """Start the wrapped environment on `theorem` and record it for the policy's prompts."""
        if self.theorem_slot is not None:
            self.theorem_slot.set(theorem)
        return self.env.start(theorem)

    def step(self, state: State, tactic: str) -> Outcome:
        """Apply `tactic`; a script is applied sentence by sentence, truncated at its first failing sentence."""
        if len(tactic) > MAX_CANDIDATE_CHARS:
            return Failed(f"refused: the candidate is {len(tactic)} characters long (limit {MAX_CANDIDATE_CHARS})",
                          FailureKind.REFUSED)
        sentences = [sentence for sentence in self.split_proof(tactic) if sentence.strip()]
        if len(sentences) <= 1:
            return self.env.step(state, tactic)
        if len(sentences) > MAX_CANDIDATE_SENTENCES:
            return Failed(f"refused: the candidate has {len(sentences)} sentences (limit {MAX_CANDIDATE_SENTENCES})",
                          FailureKind.REFUSED)
        current = state
        for index, sentence in enumerate(sentences):
            if index and budget.expired():
                return Progress(current)  # the theorem's time is up: keep the verified prefix
            outcome = self.env.step(current, sentence)
            if isinstance(outcome, Proved):
                # The script closed the proof early; any remaining sentences are surplus.
                return outcome
            if isinstance(outcome, Failed):
                if index == 0:
                    return outcome
                log.debug(
                    "truncated a %d-step script after %d verified steps: %s",
                    len(sentences), index, outcome.message,
                )
                return Progress(current)
            current = outcome.state
        return Progress(current)

    def verify(self, theorem: Theorem, proof: Sequence[str]) -> Verdict:
        """The wrapped environment's from-scratch kernel check."""
        return self.env.verify(theorem, proof)

    def close(self) -> None:
        """Close the wrapped environment (when it has a `close`)."""
        close = getattr(self.env, "close", None)
        if close is not None:
            close()

    def __getattr__(self, name: str) -> Any:
        # Anything else (backend-specific helpers) is the wrapped environment's.
        return getattr(self.env, name)


def model_policies(policy: Policy) -> list[ModelPolicy]:
    """The `ModelPolicy` objects inside `policy` (itself, or a mixture's components, recursively)."""
    if isinstance(policy, ModelPolicy):
        return [policy]
    found: list[ModelPolicy] = []
    for inner in getattr(policy, "policies", ()):
        found.extend(model_policies(inner))
    return found


def attach_whole_proof(
    env: Environment, policy: Policy, split_proof: Callable[[str], list[str]]
) -> TruncateAndResumeEnvironment:
    """Wrap `env` for truncate-and-resume and give every whole-proof part of `policy` the theorem slot.

    Harmless for step-level policies: one-sentence tactics pass straight through.
    """
    slot = TheoremSlot()
    for part in model_policies(policy):
        if part.writes_whole_proofs or part.theorem_slot is None:
            part.theorem_slot = slot
    return TruncateAndResumeEnvironment(env, split_proof, theorem_slot=slot)
