"""A byte-level BPE tokenizer trained on the traced corpus with the `tokenizers` library.

Proof states are full of notation (`<=`, `->`, `forall`, `Z.add`) that a general-purpose
vocabulary splits badly; a few thousand merges learned from the states and tactics themselves make
sequences several times shorter than bytes, which is what lets a small model train on a CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

__all__ = ["train_tokenizer", "CHAT_TEMPLATE", "SPECIAL_TOKENS"]

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>")
# A minimal ChatML-like template, so value models read `LearnedValue.chat(state)` messages.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def train_tokenizer(texts: Iterable[str], *, vocab_size: int = 4000, out_dir: str | Path | None = None):
    """Train a byte-level BPE tokenizer on `texts`; returns a `PreTrainedTokenizerFast` (saved to
    `out_dir` when given). Every byte is in the alphabet, so no text is ever out of vocabulary."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    if out_dir is not None:
        tokenizer.save_pretrained(out_dir)
    return tokenizer
