"""Text generators (local transformers, OpenAI-compatible servers) and the policy that puts a prompt template on one.

A `TextGenerator` turns prompts into n generations with log-probabilities; it knows nothing about
proofs. `ModelPolicy` renders states with a `PromptTemplate`, asks the generator, parses the outputs
into tactics (or whole-proof scripts), removes duplicates and orders them best first.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence, runtime_checkable

from search.types import Candidate, State, Theorem

from prover.policies.prompts import Language, Message, PromptContext, PromptTemplate, normalize_tactic

__all__ = ["Generation", "Prompt", "TextGenerator", "ModelPolicy", "TheoremSlot", "rank_prior"]


Prompt = str | list[Message]


@dataclass(frozen=True)
class Generation:
    """One generated text.

    text: the generated continuation only (not the prompt).
    log_prob: the sum of the log-probabilities of its tokens under the model, or None when the
        generator cannot tell (a server that returns no log-probabilities).
    token_ids: the generated token ids that `log_prob` covers (up to and including end-of-sequence),
        when the generator is local; for inspection and tests, not compared.
    """

    text: str
    log_prob: float | None
    token_ids: tuple[int, ...] = field(default=(), compare=False, repr=False)


@runtime_checkable
class TextGenerator(Protocol):
    """Generates n continuations for each of several prompts, in one batch where it can."""

    name: str

    def generate(self, prompts: Sequence[Prompt], n: int) -> list[list[Generation]]:
        """For each prompt (raw text, or chat messages), up to `n` generations."""
        ...


class TheoremSlot:
    """The theorem now being proved, shared between a whole-proof policy and its environment wrapper.

    Whole-proof prompts need the theorem's statement, which a `State` does not carry; the
    environment wrapper records it on `start` (see `prover.policies.whole_proof`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._theorem: Theorem | None = None

    def set(self, theorem: Theorem | None) -> None:
        """Record the theorem a search has started on."""
        with self._lock:
            self._theorem = theorem

    def get(self) -> Theorem | None:
        """The theorem recorded last, if any."""
        with self._lock:
            return self._theorem


def rank_prior(count: int) -> list[float]:
    """Log-probabilities for `count` candidates known only by rank: p(rank r) ∝ 1/(r+1), normalised."""
    if count <= 0:
        return []
    harmonic = sum(1.0 / (rank + 1) for rank in range(count))
    return [math.log(1.0 / (rank + 1) / harmonic) for rank in range(count)]


class ModelPolicy:
    """A `search.types.Policy` made of a text generator and a prompt template.

    Duplicates (same text after whitespace normalisation) are merged, keeping the highest
    log-probability. When the generator gives no log-probabilities, candidates are ranked by how
    often they were sampled (then by first appearance) and given `rank_prior` log-probabilities.
    num_samples: generations drawn per state (default: as many as the caller asks candidates for);
        at most the caller's number of candidates is returned.
    transform: applied to each parsed tactic (e.g. to strip a model's habits) before deduplication.
    """

    def __init__(
        self,
        generator: TextGenerator,
        template: PromptTemplate,
        *,
        language: Language = "lean",
        source: str | None = None,
        theorem_slot: TheoremSlot | None = None,
        transform: Callable[[str], str] | None = None,
        num_samples: int | None = None,
    ) -> None:
        self.generator = generator
        self.num_samples = num_samples
        self.template = template
        self.language: Language = language
        self.source = source or generator.name
        self.theorem_slot = theorem_slot
        self._transform = transform

    @property
    def writes_whole_proofs(self) -> bool:
        """True when candidates are multi-step scripts (the environment must truncate and resume)."""
        return self.template.kind == "whole_proof"

    def context(self, state: State) -> PromptContext:
        """The prompt context of `state` (with the current theorem when a slot is attached)."""
        theorem = self.theorem_slot.get() if self.theorem_slot is not None else None
        return PromptContext.from_state(state, theorem=theorem, language=self.language)

    def propose(self, state: State, n: int) -> list[Candidate]:
        """Up to `n` distinct candidates for `state`, best first."""
        return self.propose_batch([state], n)[0]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        """Candidates for every state from one generator call."""
        if not states or n <= 0:
            return [[] for _ in states]
        contexts = [self.context(state) for state in states]
        prompts = [self.template.prompt(context) for context in contexts]
        outputs = self.generator.generate(prompts, self.num_samples or n)
        return [
            self._candidates(generations, context, n)
            for generations, context in zip(outputs, contexts, strict=True)
        ]

    def _candidates(
        self, generations: Sequence[Generation], context: PromptContext, n: int
    ) -> list[Candidate]:
        best: dict[str, tuple[str, float | None, int]] = {}  # key -> (tactic, log_prob, count)
        order: list[str] = []
        for generation in generations:
            tactic = self.template.parse(generation.text, context)
            if self._transform is not None:
                tactic = self._transform(tactic)
            key = normalize_tactic(tactic)
            if not key:
                continue
            if key not in best:
                best[key] = (tactic.strip(), generation.log_prob, 1)
                order.append(key)
                continue
            kept, log_prob, count = best[key]
            if generation.log_prob is not None and (log_prob is None or generation.log_prob > log_prob):
                log_prob = generation.log_prob
            best[key] = (kept, log_prob, count + 1)
        if not order:
            return []
        if all(best[key][1] is not None for key in order):
            ranked = sorted(order, key=lambda key: -float(best[key][1]))  # stable: ties keep first appearance
            scored = [(best[key][0], float(best[key][1])) for key in ranked]
        else:
            ranked = sorted(order, key=lambda key: -best[key][2])
            scored = list(zip([best[key][0] for key in ranked], rank_prior(len(ranked))))
        return [
            Candidate(tactic=tactic, log_prob=min(log_prob, 0.0), source=self.source)
            for tactic, log_prob in scored[:n]
        ]
