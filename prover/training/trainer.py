"""Train a tactic policy (state -> tactic) and a value model (state -> chance of proof) on this CPU.

Both are plain PyTorch loops over transformers models, small enough to read:
- the policy is a causal LM trained on `"{state}:::" + " {tactic}</s>"` (the loss on the tactic
  only), BFS-Prover's prompt format, so the saved directory loads with `hf:DIR` (template `bfs`,
  chosen for causal models) through `prover.policies.hf`;
- the value model is a one-logit sequence classifier on the critic's chat format
  (`prover.policies.value.LearnedValue.chat`), trained with binary cross-entropy on labels in
  [0, 1], so the directory loads with `hf-critic:DIR`.
`model="tiny"` builds a small LLaMA-architecture model from a config and a BPE tokenizer trained
on the corpus (`prover.training.tokenizer`); any other value is a model id or directory to
fine-tune (for users with a GPU; nothing is downloaded here unless the Hub is reachable).

Runs are reproducible and resumable: batch `s` is a pure function of (seed, s), and every
`save_every` steps the model, optimizer, step and RNG state go to `checkpoints/step-N/`;
rerunning the same config resumes from the newest one. The final model is saved in `out_dir`.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from prover.data.rows import NO_GOALS, TraceRow, read_rows, split_of, strip_structure
from prover.errors import InputError, ModelUnavailable
from prover.jsonl import read_jsonl

__all__ = [
    "TrainConfig",
    "TrainResult",
    "Example",
    "PROMPT_SEPARATOR",
    "policy_examples",
    "value_examples_from_rows",
    "read_value_examples",
    "write_value_examples",
    "train",
    "batch_loss",
]

log = logging.getLogger(__name__)

PROMPT_SEPARATOR = ":::"  # BFS-Prover's: the tactic follows it (prover.policies.prompts, template "bfs")
_STATE_FILE = "trainer_state.json"


class TrainConfig(BaseModel):
    """Everything a training run depends on (saved as `train_config.json` in `out_dir`).

    kind: "policy" (state -> tactic) or "value" (state -> probability of a proof).
    data: trace rows (a trace folder or rows JSONL) for a policy; value examples JSONL
        (`{"state", "label"}`) or trace rows for a value model.
    split, split_by: which deterministic split of the rows to train on ("all" for every row).
    model: "tiny" (a small LLaMA built from this config) or a model id/directory to fine-tune.
    vocab_size: BPE vocabulary of the corpus tokenizer (tiny models only).
    hidden_size, layers, heads: the tiny model's shape.
    max_state_tokens, max_tactic_tokens: truncation of inputs and targets.
    steps, batch_size, learning_rate, warmup_steps: the optimisation.
    save_every: steps between resumable checkpoints (the last one is always saved).
    max_examples: use only the first N examples (after the split), for quick runs.
    seed: fixes initial weights and batch order: same config, same model.
    device: "cpu", "cuda" or None (cuda when available).
    threads: CPU threads for torch (None: torch's default); 1 is fastest for tiny models on a
        busy machine, where more threads only contend.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["policy", "value"] = "policy"
    data: str
    out_dir: str
    split: Literal["train", "valid", "test", "all"] = "train"
    split_by: Literal["theorem", "file"] = "file"
    model: str = "tiny"
    vocab_size: int = Field(4000, ge=300)
    hidden_size: int = Field(128, ge=8)
    layers: int = Field(2, ge=1)
    heads: int = Field(4, ge=1)
    max_state_tokens: int = Field(384, ge=8)
    max_tactic_tokens: int = Field(64, ge=4)
    steps: int = Field(500, ge=0)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    warmup_steps: int = Field(20, ge=0)
    save_every: int = Field(100, ge=1)
    max_examples: int | None = None
    seed: int = 0
    device: str | None = None
    threads: int | None = Field(default=None, ge=1)


@dataclass(frozen=True)
class Example:
    """One training example: the state text and the target (a tactic, or a value label as text)."""

    state: str
    target: str
    label: float = 0.0


@dataclass
class TrainResult:
    """What a run did: steps (total, and resumed from), the loss per step, where the model is."""

    out_dir: Path
    steps: int
    resumed_from: int
    losses: list[float] = field(default_factory=list)
    examples: int = 0

    @property
    def final_loss(self) -> float:
        """Mean loss over the last 10 steps (nan when no step ran)."""
        tail = self.losses[-10:]
        return float(np.mean(tail)) if tail else math.nan


# ---------------------------------------------------------------- data
def policy_examples(rows: Sequence[TraceRow]) -> list[Example]:
    """(state, tactic) pairs to learn from: leading bullets/braces dropped, bare ones skipped."""
    examples = []
    for row in rows:
        tactic = strip_structure(row.tactic)
        if tactic and row.state_before != NO_GOALS:
            examples.append(Example(row.state_before, tactic))
    return examples


def value_examples_from_rows(rows: Sequence[TraceRow], *, discount: float = 0.9) -> list[Example]:
    """States on real proofs labelled `discount ** (steps left)`: 1 near the end, lower far from it.
    (States where search failed, label 0, come from experiments: see `write_value_examples`.)"""
    length: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.source, row.theorem)
        length[key] = max(length.get(key, 0), row.step + 1)
    return [
        Example(row.state_before, "", discount ** (length[(row.source, row.theorem)] - row.step - 1))
        for row in rows
        if row.state_before != NO_GOALS
    ]


def write_value_examples(path: str | Path, examples: Sequence[Example], *, append: bool = False) -> None:
    """Write value examples as JSONL `{"state", "label"}`."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a" if append else "w") as handle:
        for example in examples:
            handle.write(json.dumps({"state": example.state, "label": example.label}, ensure_ascii=False) + "\n")


def read_value_examples(path: str | Path) -> list[Example]:
    """Read `{"state", "label"}` JSONL (labels in [0, 1])."""
    return list(read_jsonl(path, _value_example))


def _value_example(data: dict) -> Example:
    """One `{"state", "label"}` row, the label clamped to [0, 1]."""
    return Example(str(data["state"]), "", min(1.0, max(0.0, float(data["label"]))))


def _load_examples(config: TrainConfig) -> list[Example]:
    path = Path(config.data)
    if config.kind == "value" and path.is_file() and _looks_like_value_file(path):
        examples = read_value_examples(path)
    else:
        rows = [r for r in read_rows(path) if config.split == "all" or split_of(r, by=config.split_by) == config.split]
        examples = policy_examples(rows) if config.kind == "policy" else value_examples_from_rows(rows)
    if config.max_examples is not None:
        examples = examples[: config.max_examples]
    if not examples:
        raise InputError(f"{config.data}: no {config.kind} examples in split {config.split!r}")
    return examples


def _looks_like_value_file(path: Path) -> bool:
    with path.open() as handle:
        first = handle.readline()
    try:
        return "label" in json.loads(first)
    except json.JSONDecodeError:
        return False


# ---------------------------------------------------------------- model
def _value_text(tokenizer: Any, state: str) -> str:
    from prover.policies.value import LearnedValue
    from search.types import State

    goals = () if state == NO_GOALS else tuple(state.split("\n\n"))
    chat = LearnedValue.chat(State(goals=goals))
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(chat, tokenize=False)
    return "".join(f"{message['role']}: {message['content']}\n" for message in chat)


def _build_model(config: TrainConfig, examples: Sequence[Example], out: Path) -> tuple[Any, Any]:
    import torch
    import transformers

    if config.model != "tiny":
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(config.model)
            auto = (
                transformers.AutoModelForCausalLM
                if config.kind == "policy"
                else transformers.AutoModelForSequenceClassification
            )
            options = {"num_labels": 1} if config.kind == "value" else {}
            model = auto.from_pretrained(config.model, **options)
        except (OSError, ValueError) as missing:
            raise ModelUnavailable(f"cannot load {config.model!r} to fine-tune: {str(missing).splitlines()[0][:200]}") from missing
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
            model.config.pad_token_id = tokenizer.pad_token_id
        return model, tokenizer
    from prover.training.tokenizer import train_tokenizer

    texts = [e.state for e in examples] + [e.target for e in examples if e.target]
    tokenizer = train_tokenizer(texts, vocab_size=config.vocab_size)
    shape = dict(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=2 * config.hidden_size,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        num_key_value_heads=config.heads,
        max_position_embeddings=config.max_state_tokens + config.max_tactic_tokens + 64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(config.seed)
    if config.kind == "policy":
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**shape))
    else:
        model = transformers.LlamaForSequenceClassification(transformers.LlamaConfig(**shape, num_labels=1))
    return model, tokenizer


def _encode_policy(tokenizer: Any, batch: Sequence[Example], config: TrainConfig) -> dict[str, Any]:
    import torch

    eos = tokenizer.eos_token_id
    sequences: list[list[int]] = []
    targets: list[list[int]] = []
    for example in batch:
        # The generator truncates prompts from the left, keeping the `:::` the model continues.
        prompt = tokenizer(example.state + PROMPT_SEPARATOR, add_special_tokens=False)["input_ids"][-config.max_state_tokens:]
        answer = tokenizer(" " + example.target, add_special_tokens=False)["input_ids"][: config.max_tactic_tokens - 1] + [eos]
        sequences.append(prompt + answer)
        targets.append([-100] * len(prompt) + answer)
    width = max(len(s) for s in sequences)
    pad = tokenizer.pad_token_id
    # Left padding, as the generator pads prompts.
    input_ids = torch.tensor([[pad] * (width - len(s)) + s for s in sequences])
    attention = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences])
    labels = torch.tensor([[-100] * (width - len(t)) + t for t in targets])
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def _encode_value(tokenizer: Any, batch: Sequence[Example], config: TrainConfig) -> dict[str, Any]:
    import torch

    tokenizer.padding_side = "right"
    tokenizer.truncation_side = "right"
    encoded = tokenizer(
        [_value_text(tokenizer, e.state) for e in batch],
        return_tensors="pt",
        padding=True,
        truncation=True,
        max_length=config.max_state_tokens + 32,
        add_special_tokens=False,
    )
    encoded["labels"] = torch.tensor([e.label for e in batch], dtype=torch.float32)
    return dict(encoded)


def batch_loss(model: Any, tokenizer: Any, batch: Sequence[Example], config: TrainConfig) -> Any:
    """The training loss of `model` on `batch` (cross-entropy on tactic tokens, or BCE on labels)."""
    import torch

    device = next(model.parameters()).device
    if config.kind == "policy":
        encoded = {k: v.to(device) for k, v in _encode_policy(tokenizer, batch, config).items()}
        return model(**encoded).loss
    encoded = {k: v.to(device) for k, v in _encode_value(tokenizer, batch, config).items()}
    labels = encoded.pop("labels")
    logits = model(**encoded).logits.squeeze(-1).float()
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)


def _batch_indices(count: int, step: int, batch_size: int, seed: int) -> list[int]:
    """Indices of batch `step`: a pure function of (seed, step), so a resumed run sees the same data."""
    indices: list[int] = []
    position = step * batch_size
    while len(indices) < batch_size:
        epoch, offset = divmod(position, count)
        order = np.random.default_rng([seed, epoch]).permutation(count)
        take = min(batch_size - len(indices), count - offset)
        indices.extend(int(i) for i in order[offset : offset + take])
        position += take
    return indices


def _latest_checkpoint(out: Path) -> Path | None:
    candidates = sorted(
        (p for p in (out / "checkpoints").glob("step-*") if (p / _STATE_FILE).exists()),
        key=lambda p: int(p.name.split("-")[1]),
    )
    return candidates[-1] if candidates else None


def _save_checkpoint(out: Path, model: Any, tokenizer: Any, optimizer: Any, step: int, losses: list[float]) -> None:
    import torch

    target = out / "checkpoints" / f"step-{step}"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    torch.save(optimizer.state_dict(), partial / "optimizer.pt")
    (partial / _STATE_FILE).write_text(json.dumps({"step": step, "losses": losses}))
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # a checkpoint exists whole or not at all
    for old in (out / "checkpoints").glob("step-*"):
        if old != target and not old.name.endswith(".partial"):
            shutil.rmtree(old, ignore_errors=True)


def train(
    config: TrainConfig, *, on_step: Callable[[int, float], None] | None = None, stop_after: int | None = None
) -> TrainResult:
    """Train (or resume training) as `config` says; the model and tokenizer end up in `out_dir`.

    stop_after: end this call after that step (saving a checkpoint), as an interruption would;
        calling again with the same config resumes where it stopped.
    """
    import torch
    import transformers

    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "train_config.json"
    # Raising `steps` (or changing how often to save) continues a run; anything else is another run.
    ignored = {"steps", "save_every", "threads"}
    same = lambda a, b: {k: v for k, v in a.items() if k not in ignored} == {k: v for k, v in b.items() if k not in ignored}  # noqa: E731
    if saved.exists() and not same(json.loads(saved.read_text()), config.model_dump()):
        checkpoint = _latest_checkpoint(out)
        if checkpoint is not None:
            raise InputError(f"{out} holds a run with a different config; use another --out or delete it")
    saved.write_text(json.dumps(config.model_dump(), indent=2) + "\n")
    examples = _load_examples(config)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    checkpoint = _latest_checkpoint(out)
    losses: list[float] = []
    start = 0
    if checkpoint is not None:
        auto = transformers.AutoModelForCausalLM if config.kind == "policy" else transformers.AutoModelForSequenceClassification
        model = auto.from_pretrained(checkpoint)
        tokenizer = transformers.AutoTokenizer.from_pretrained(checkpoint)
        state = json.loads((checkpoint / _STATE_FILE).read_text())
        start, losses = int(state["step"]), list(state["losses"])
    else:
        model, tokenizer = _build_model(config, examples, out)
    model.to(device)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    if checkpoint is not None:
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", map_location=device))

    def rate(step: int) -> float:
        warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
        decay = 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, config.steps))))
        return warm * max(0.1, decay)

    end = config.steps if stop_after is None else min(config.steps, stop_after)
    for step in range(start, end):
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * rate(step)
        # Dropout and any sampling inside the model draw from a generator seeded by (seed, step).
        torch.manual_seed(config.seed * 1_000_003 + step)
        batch = [examples[i] for i in _batch_indices(len(examples), step, config.batch_size, config.seed)]
        loss = batch_loss(model, tokenizer, batch, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step + 1, losses[-1])
        if (step + 1) % config.save_every == 0 or step + 1 == end:
            _save_checkpoint(out, model, tokenizer, optimizer, step + 1, losses)
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "losses.json").write_text(json.dumps(losses))
    return TrainResult(out, end, start, losses, len(examples))
