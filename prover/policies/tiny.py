"""Tiny random-weight models saved with `save_pretrained`: for tests, benchmarks and offline smoke runs.

Nothing is downloaded: the ByT5 tokenizer needs no files, and the causal model's byte-level
tokenizer is built with the `tokenizers` library. The models produce noise, but they run the real
loading, batching, generation and scoring path of `prover.policies.hf` in milliseconds.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["save_tiny_seq2seq", "save_tiny_causal", "save_tiny_classifier", "TINY_CHAT_TEMPLATE"]

# A minimal chat template (ChatML-like), so chat prompts go through `apply_chat_template`.
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def save_tiny_seq2seq(directory: str | Path, *, seed: int = 0, width: int = 32) -> Path:
    """A 2-layer T5 with the ByT5 byte vocabulary (ReProver's architecture, shrunk); returns the directory."""
    import torch
    from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration

    path = Path(directory)
    config = T5Config(
        vocab_size=384,  # 3 specials + 256 bytes + 125 extra ids, as ByT5
        d_model=width,
        d_ff=2 * width,
        d_kv=width // 4,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    torch.manual_seed(seed)
    T5ForConditionalGeneration(config).save_pretrained(path)
    ByT5Tokenizer().save_pretrained(path)
    return path


def _byte_level_tokenizer(chat_template: str | None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2}
    for symbol in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def save_tiny_causal(
    directory: str | Path, *, seed: int = 0, width: int = 32, chat_template: str | None = TINY_CHAT_TEMPLATE
) -> Path:
    """A 2-layer LLaMA-architecture causal LM with a byte-level tokenizer; returns the directory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(directory)
    tokenizer = _byte_level_tokenizer(chat_template)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def save_tiny_classifier(directory: str | Path, *, seed: int = 0, width: int = 32, num_labels: int = 1) -> Path:
    """A 2-layer LLaMA-architecture sequence classifier (a critic's shape) with a byte-level tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    path = Path(directory)
    tokenizer = _byte_level_tokenizer(TINY_CHAT_TEMPLATE)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        num_labels=num_labels,
    )
    torch.manual_seed(seed)
    LlamaForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
