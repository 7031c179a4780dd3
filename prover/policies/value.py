"""A learned value function for MCTS: a critic model that scores proof states.

(The hand-written, constant and policy-confidence values live in `search.values`.)

`LearnedValue` scores states with a model, as InternLM2.5-StepProver's critic does
(huggingface.co/internlm/internlm2_5-step-prover-critic: the chat [user: "Which state is closer to
'no goals'?", assistant: STATE] is scored by a reward head). Here any sequence-classification
model works: one output is a logit (mapped by a sigmoid), two or more are classes (softmax, the
last class meaning "provable"); remote-code reward models exposing `get_scores` (the InternLM
critic) are used through it, their unbounded score mapped by a sigmoid. With `head="lm"` a causal
language model is the judge: asked whether the state can be proved, the value is its probability of
answering `positive` rather than `negative` as the next token. States are scored in batches; scores
are cached by state key.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any, Literal, Sequence

from search.types import State

from prover.policies.hf import LoadedModel, load_model

__all__ = ["LearnedValue", "CRITIC_QUESTION", "JUDGE_QUESTION"]

# The question InternLM2.5-StepProver's critic was trained with (its model card's example).
CRITIC_QUESTION = "Which state is closer to 'no goals'?"

# What an LM-head judge is asked (head="lm").
JUDGE_QUESTION = "Can the following proof state be proved? Answer Yes or No.\n\n{state}"


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


class _Cache:
    """A small thread-safe LRU map from state keys to values."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> float | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: str, value: float) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class LearnedValue:
    """A critic model behind `search.types.ValueFunction`: `value(state)` in [0, 1], `values(states)` batched.

    model_id: a Hub id or local directory of a sequence-classification model, or (with
        trust_remote_code) a reward model exposing `get_scores(tokenizer, chats)`, or (head="lm")
        a causal language model.
    head: "classification" (default) or "lm".
    positive / negative: the answers compared by an LM head (their first tokens).
    """

    def __init__(
        self,
        model_id: str,
        *,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 16,
        max_input_tokens: int = 2048,
        cache_size: int = 100_000,
        trust_remote_code: bool = False,
        head: Literal["classification", "lm"] = "classification",
        positive: str = "Yes",
        negative: str = "No",
        loaded: LoadedModel | None = None,
    ) -> None:
        if head not in ("classification", "lm"):
            raise ValueError(f"head must be classification or lm, not {head!r}")
        self.model_id = model_id
        self.head = head
        self.batch_size = max(1, batch_size)
        self.max_input_tokens = max_input_tokens
        kind = "generate" if head == "lm" else ("auto-model" if trust_remote_code else "classify")
        self.loaded = loaded or load_model(
            model_id, kind=kind, device=device, dtype=dtype, trust_remote_code=trust_remote_code  # type: ignore[arg-type]
        )
        tokenizer = self.loaded.tokenizer
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._answer_ids: tuple[int, int] | None = None
        if head == "lm":
            tokenizer.padding_side = "left"  # the next-token logits are read at the last position
            ids = [tokenizer.encode(word, add_special_tokens=False) for word in (positive, negative)]
            if not ids[0] or not ids[1] or ids[0][0] == ids[1][0]:
                raise ValueError(f"answers {positive!r} and {negative!r} need distinct first tokens")
            self._answer_ids = (ids[0][0], ids[1][0])
        self._cache = _Cache(cache_size)
        self._lock = threading.Lock()

    @staticmethod
    def chat(state: State) -> list[dict[str, str]]:
        """The critic's input for `state`, in InternLM2.5-StepProver-critic's format."""
        text = state.key if state.goals else "no goals"
        return [
            {"role": "user", "content": CRITIC_QUESTION},
            {"role": "assistant", "content": text},
        ]

    def _text(self, state: State) -> str:
        tokenizer = self.loaded.tokenizer
        if self.head == "lm":
            question = JUDGE_QUESTION.format(state=state.key if state.goals else "no goals")
            if getattr(tokenizer, "chat_template", None):
                return tokenizer.apply_chat_template(
                    [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
                )
            return f"{question}\nAnswer:"
        chat = self.chat(state)
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(chat, tokenize=False)
        return "".join(f"{message['role']}: {message['content']}\n" for message in chat)

    def value(self, state: State) -> float:
        """The estimated probability that `state` can be proved."""
        return self.values([state])[0]

    def values(self, states: Sequence[State]) -> list[float]:
        """Values of many states, the uncached ones scored in batches of `batch_size`."""
        results: list[float | None] = [self._cache.get(state.key) for state in states]
        missing = [index for index, value in enumerate(results) if value is None]
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start : start + self.batch_size]
            scores = self._score([states[index] for index in chunk])
            for index, score in zip(chunk, scores):
                results[index] = score
                self._cache.put(states[index].key, score)
        return [float(value) for value in results]  # type: ignore[arg-type]

    def _score(self, states: Sequence[State]) -> list[float]:
        import torch

        model: Any = self.loaded.model
        tokenizer = self.loaded.tokenizer
        with self._lock, torch.inference_mode():
            if hasattr(model, "get_scores"):
                raw = model.get_scores(tokenizer, [self.chat(state) for state in states])
                return [_sigmoid(float(score)) for score in raw]
            encoded = tokenizer(
                [self._text(state) for state in states],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_input_tokens,
            ).to(self.loaded.device)
            logits = model(**encoded).logits.float()
        if self._answer_ids is not None:
            last = logits[:, -1, list(self._answer_ids)]
            return [float(value) for value in torch.softmax(last, dim=-1)[:, 0]]
        if logits.shape[-1] == 1:
            return [_sigmoid(float(value)) for value in logits[:, 0]]
        probabilities = torch.softmax(logits, dim=-1)[:, -1]
        return [float(value) for value in probabilities]
