"""Local Hugging Face transformers models as tactic generators: seq2seq (ByT5, as ReProver) and causal LMs.

Many states are batched into one `generate` call (padded: left for causal LMs, right for
encoder-decoders). Beam search returns the n best distinct beams; sampling returns n samples.
Each generation's log-probability is the sum of its tokens' log-probabilities under the model
(from `compute_transition_scores`), up to and including the end-of-sequence token.

Device and dtype are chosen automatically: CUDA with bfloat16 when a GPU is present, else CPU with
float32. Weights come from a local directory (`save_pretrained`) or the Hub cache; with
`HF_HUB_OFFLINE=1` (or `TRANSFORMERS_OFFLINE=1`) the network is never tried. Missing weights raise
`ModelUnavailable` with one line saying how to get them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence
from urllib.parse import urlparse

from prover.errors import ModelUnavailable
from prover.policies.generation import Generation, Prompt

__all__ = ["HFGenerator", "load_model", "pick_device", "LoadedModel"]

log = logging.getLogger(__name__)

Decoding = Literal["beam", "sample", "greedy"]


def pick_device(device: str | None = None, dtype: str | None = None) -> tuple[Any, Any]:
    """(torch.device, torch.dtype): the ones asked for, else CUDA+bfloat16 when available, else CPU+float32."""
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch_device = torch.device(device)
    if dtype is None:
        if torch_device.type == "cuda":
            torch_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            torch_dtype = torch.float32
    else:
        torch_dtype = getattr(torch, dtype)
    return torch_device, torch_dtype


def _offline() -> bool:
    return any(os.environ.get(flag, "").lower() in {"1", "true", "yes"} for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub's host accepts a TCP connection within `timeout` seconds.

    Checked before any download so that a machine without network fails in seconds instead of
    waiting through the Hub client's retries.
    """
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class LoadedModel:
    """A model with its tokenizer, on its device."""

    model: Any
    tokenizer: Any
    device: Any
    dtype: Any
    is_encoder_decoder: bool


_LOADED: dict[tuple, "LoadedModel"] = {}
_LOADED_LOCK = threading.Lock()


def load_model(
    model_id: str,
    *,
    kind: Literal["generate", "classify", "auto-model"] = "generate",
    device: str | None = None,
    dtype: str | None = None,
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Load `model_id` (a Hub id or a local directory) with its tokenizer, or raise `ModelUnavailable`.

    kind: "generate" picks AutoModelForSeq2SeqLM or AutoModelForCausalLM from the config;
        "classify" loads AutoModelForSequenceClassification; "auto-model" loads AutoModel (for
        remote-code reward models such as InternLM2.5-StepProver's critic).
    The local cache is tried first; the network only when not offline (the Hub's own timeouts apply).
    Loaded models are kept for the process's life: building several policies over one model
    (a mixture, a prover per theorem) loads its weights once.
    """
    key = (str(model_id), kind, device, dtype, trust_remote_code)
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load_model(model_id, kind=kind, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        return _LOADED[key]


def _load_model(
    model_id: str,
    *,
    kind: str,
    device: str | None,
    dtype: str | None,
    trust_remote_code: bool,
) -> LoadedModel:
    try:
        import transformers
    except ImportError as missing:  # the `models` extra is not installed
        raise ModelUnavailable(
            f"model {model_id!r} needs transformers and torch: pip install 'neuroprove[models]' torch"
        ) from missing

    local = Path(model_id).expanduser()
    source = str(local) if local.exists() else model_id
    offline = _offline()
    attempts = [True] if (local.exists() or offline) else [True, False]
    last_error: Exception | None = None
    for local_only in attempts:
        if not local_only and not _hub_reachable():
            offline = True
            break
        try:
            config = transformers.AutoConfig.from_pretrained(
                source, local_files_only=local_only, trust_remote_code=trust_remote_code
            )
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                source, local_files_only=local_only, trust_remote_code=trust_remote_code
            )
            torch_device, torch_dtype = pick_device(device, dtype)
            is_encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
            if kind == "classify":
                auto = transformers.AutoModelForSequenceClassification
            elif kind == "auto-model":
                auto = transformers.AutoModel
            elif is_encoder_decoder:
                auto = transformers.AutoModelForSeq2SeqLM
            else:
                auto = transformers.AutoModelForCausalLM
            model = auto.from_pretrained(
                source,
                config=config,
                dtype=torch_dtype,
                local_files_only=local_only,
                trust_remote_code=trust_remote_code,
            )
            model.to(torch_device)
            model.eval()
            log.info("loaded %s (%s) on %s as %s", model_id, type(model).__name__, torch_device, torch_dtype)
            return LoadedModel(model, tokenizer, torch_device, torch_dtype, is_encoder_decoder)
        except (OSError, ValueError) as error:  # missing files, unreachable Hub, unknown architecture
            last_error = error
    first_line = str(last_error).strip().splitlines()[0][:200] if last_error else ""
    if local.exists():
        message = f"model directory {str(local)!r} does not load: {first_line}"
    elif offline:
        message = (
            f"model {model_id!r} is not in the local Hugging Face cache and the Hub cannot be reached: "
            f"download it where there is network (huggingface-cli download {model_id}) or give a local directory"
        )
    else:
        message = f"model {model_id!r} could not be loaded or downloaded: {first_line}"
    raise ModelUnavailable(message) from last_error


class HFGenerator:
    """A `TextGenerator` over a local transformers model (seq2seq or causal LM).

    decoding: "beam" (n best beams, deterministic; ReProver's choice), "sample" (n samples at
        `temperature`/`top_p`), or "greedy" (one sequence). Default: beam for seq2seq, sample for causal.
    max_input_tokens: prompts are truncated to this many tokens (from the left for causal models, so
        the end of the prompt, where the model continues, is kept).
    stop: strings that end a generation (the prompt template's, e.g. a blank line after one
        tactic): generation stops there, and the text and its log-probability end before the
        first one, as a server's `stop` does.
    Thread-safe: one generate call at a time (several searches may share one generator).
    """

    def __init__(
        self,
        model_id: str,
        *,
        decoding: Decoding | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 128,
        max_input_tokens: int = 2048,
        device: str | None = None,
        dtype: str | None = None,
        seed: int = 0,
        trust_remote_code: bool = False,
        loaded: LoadedModel | None = None,
        stop: Sequence[str] = (),
    ) -> None:
        self.model_id = model_id
        self.stop = tuple(text for text in stop if text)
        self.name = f"hf:{model_id}"
        self.loaded = loaded or load_model(
            model_id, device=device, dtype=dtype, trust_remote_code=trust_remote_code
        )
        self.decoding: Decoding = decoding or ("beam" if self.loaded.is_encoder_decoder else "sample")
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.max_input_tokens = max_input_tokens
        self.seed = seed
        self._lock = threading.Lock()
        self._calls = 0
        tokenizer = self.loaded.tokenizer
        if tokenizer.pad_token is None:
            # Causal LMs often ship without a pad token; EOS is the usual stand-in for padding.
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "right" if self.loaded.is_encoder_decoder else "left"
        tokenizer.truncation_side = "right" if self.loaded.is_encoder_decoder else "left"

    @property
    def is_encoder_decoder(self) -> bool:
        """True for seq2seq models (ByT5)."""
        return self.loaded.is_encoder_decoder

    def _text(self, prompt: Prompt) -> str:
        if isinstance(prompt, str):
            return prompt
        tokenizer = self.loaded.tokenizer
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        # No chat template (a base model): a plain transcript the model can continue.
        return "".join(f"{message['role']}: {message['content']}\n" for message in prompt) + "assistant: "

    def generate(self, prompts: Sequence[Prompt], n: int) -> list[list[Generation]]:
        """n generations for each prompt, from one padded `generate` call."""
        if not prompts or n <= 0:
            return [[] for _ in prompts]
        import torch

        texts = [self._text(prompt) for prompt in prompts]
        tokenizer = self.loaded.tokenizer
        model = self.loaded.model
        encoded = tokenizer(
            texts,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_input_tokens,
            # Raw prompts get the tokenizer's BOS as in training; a rendered chat template has its own.
            add_special_tokens=self.is_encoder_decoder or not any(
                isinstance(prompt, list) and getattr(tokenizer, "chat_template", None) for prompt in prompts
            ),
        ).to(self.loaded.device)
        count = 1 if self.decoding == "greedy" else n
        options: dict[str, Any] = dict(
            max_new_tokens=self.max_new_tokens,
            num_return_sequences=count,
            return_dict_in_generate=True,
            pad_token_id=tokenizer.pad_token_id,
        )
        if self.stop:
            # transformers stops a sequence once its text contains a stop string (saves tokens);
            # the cut below makes the text and log-probability end at the first one.
            options.update(stop_strings=list(self.stop), tokenizer=tokenizer)
        # One beam is greedy search (transformers then returns no beam indices).
        beam = self.decoding == "beam" and count > 1
        if beam:
            # length_penalty=0: beams ranked by the plain sum of log-probabilities (as ReProver).
            options.update(do_sample=False, num_beams=max(count, 1), length_penalty=0.0, early_stopping=True, output_scores=True)
        elif self.decoding == "sample":
            options.update(do_sample=True, temperature=self.temperature, top_p=self.top_p, output_logits=True)
        else:
            options.update(do_sample=False, num_beams=1, output_logits=True)
        with self._lock, torch.inference_mode():
            # Each call gets its own seed derived from the policy seed: same seed, same samples.
            torch.manual_seed(self.seed + self._calls)
            self._calls += 1
            output = model.generate(**encoded, **options)
            sequences = output.sequences
            if beam:
                transition = model.compute_transition_scores(
                    sequences, output.scores, output.beam_indices, normalize_logits=False
                )
            else:
                transition = model.compute_transition_scores(sequences, output.logits, normalize_logits=True)
        prompt_length = 0 if self.is_encoder_decoder else encoded["input_ids"].shape[1]
        generated = sequences[:, prompt_length:]
        if self.is_encoder_decoder:
            generated = generated[:, 1:]  # the decoder start token is not generated
        generated = generated[:, -transition.shape[1]:] if generated.shape[1] >= transition.shape[1] else generated
        token_scores, mask = _scores_until_eos(generated, transition, model.generation_config.eos_token_id)
        token_rows = [
            tuple(int(token) for token, keep in zip(row, row_mask) if keep)
            for row, row_mask in zip(generated[:, : mask.shape[1]].tolist(), mask.tolist())
        ]
        # Decode exactly the tokens the log-probability covers (nothing after the first EOS).
        decoded = tokenizer.batch_decode([list(row) for row in token_rows], skip_special_tokens=True)
        scores = token_scores.tolist()
        generations: list[Generation] = []
        for text, tokens, row_scores in zip(decoded, token_rows, scores):
            if self.stop:
                text, tokens = self._cut_at_stop(text, tokens)
            generations.append(Generation(text, float(sum(row_scores[: len(tokens)])), tokens))
        return [generations[index * count : (index + 1) * count] for index in range(len(prompts))]

    def _cut_at_stop(self, text: str, tokens: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
        """The text before the first stop string, and the fewest tokens whose text contains it
        (the stop's tokens count, as an EOS does); unchanged when no stop string occurs."""
        found = [text.find(stop) for stop in self.stop if stop in text]
        if not found:
            return text, tokens
        decode = self.loaded.tokenizer.decode

        def has_stop(length: int) -> bool:
            prefix = decode(list(tokens[:length]), skip_special_tokens=True)
            return any(stop in prefix for stop in self.stop)

        low, high = 1, len(tokens)  # has_stop(high) holds; find the least such length
        while low < high:
            middle = (low + high) // 2
            if has_stop(middle):
                high = middle
            else:
                low = middle + 1
        return text[: min(found)], tokens[:high]


def _scores_until_eos(generated: Any, transition: Any, eos_token_id: Any) -> tuple[Any, Any]:
    """Per-token transition scores over tokens up to and including each row's first EOS (0 after
    it), and the mask of those tokens."""
    import torch

    eos_ids = eos_token_id if isinstance(eos_token_id, (list, tuple)) else [eos_token_id]
    eos_ids = [token for token in eos_ids if token is not None]
    width = min(generated.shape[1], transition.shape[1])
    tokens = generated[:, :width]
    scores = transition[:, :width].float()
    if eos_ids:
        is_eos = torch.isin(tokens, torch.tensor(eos_ids, device=tokens.device))
        # A token counts when no EOS came strictly before it.
        before = torch.cumsum(is_eos.int(), dim=1) - is_eos.int()
        mask = before == 0
    else:
        mask = torch.ones_like(tokens, dtype=torch.bool)
    # Beam search marks finished positions with 0 scores; -inf can appear for impossible tokens.
    scores = torch.where(mask & torch.isfinite(scores), scores, torch.zeros_like(scores))
    return scores.cpu(), mask.cpu()
