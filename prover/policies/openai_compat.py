"""A model behind an OpenAI-compatible HTTP API (vLLM, SGLang, llama.cpp server, hosted APIs) as a text generator.

Both endpoints are spoken: `/completions` (raw prompt, e.g. BFS-Prover's `"{state}:::"`) and
`/chat/completions` (chat messages, e.g. DeepSeek-Prover-V2). One request per prompt asks for `n`
samples; requests run concurrently up to `max_concurrency`. Transport errors, timeouts, HTTP 429
and 5xx are retried (tenacity) with jittered exponential backoff, or after the server's
`Retry-After` when it sends one; after the last retry, or at once on another 4xx,
`ModelUnavailable` says which server failed and why. Within a theorem's deadline
(`prover.budget`), no request or retry waits past it: a stalled server costs the theorem its
remaining budget, not the client's full timeout times its retries, and a wait that would end past
the deadline is not started (the prompt gets no samples). Token log-probabilities are requested and
summed when the server returns them; otherwise the policy ranks candidates (`rank_prior`).
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, Sequence

import httpx
from pydantic import BaseModel, ConfigDict, Field
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential, wait_random

from prover import budget
from prover.errors import ModelUnavailable
from prover.policies.generation import Generation, Prompt

__all__ = ["OpenAIGenerator"]

log = logging.getLogger(__name__)

Endpoint = Literal["completions", "chat"]


# Wire models: only the fields we read; servers add many others (ignored).
class _ChatTokenLogprob(BaseModel):
    model_config = ConfigDict(extra="ignore")
    logprob: float


class _Logprobs(BaseModel):
    """`token_logprobs` in /completions replies, `content` in /chat/completions replies."""

    model_config = ConfigDict(extra="ignore")
    token_logprobs: list[float | None] | None = None
    content: list[_ChatTokenLogprob] | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str | None = None


class _Choice(BaseModel):
    model_config = ConfigDict(extra="ignore")
    index: int = 0
    text: str | None = None  # completions
    message: _Message | None = None  # chat
    logprobs: _Logprobs | None = None


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")
    choices: list[_Choice] = Field(default_factory=list)
    error: Any = None  # some servers answer HTTP 200 with {"error": {...}} instead of choices


MAX_RETRY_AFTER_SECONDS = 300.0
"""The longest `Retry-After` honoured outside a theorem's deadline (inside one, the deadline caps it)."""


class _RetryableError(Exception):
    """A failure worth retrying (transport, timeout, 429, 5xx); `retry_after`: the server's requested wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after_seconds(response: httpx.Response) -> float | None:
    """The wait a 429/503 reply asks for: `retry-after-ms`, or `Retry-After` in seconds or as an HTTP date."""
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _WaitRetryAfterOrBackoff(wait_base):
    """The server's `Retry-After` when the last failure carried one, else jittered exponential backoff."""

    def __init__(self, backoff: float) -> None:
        # backoff * 2**k plus up to `backoff` of random jitter, so many clients do not retry in step.
        self.backoff = wait_exponential(multiplier=backoff, max=60.0) + wait_random(0, backoff)

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome is not None else None
        if isinstance(error, _RetryableError) and error.retry_after is not None:
            return min(error.retry_after, MAX_RETRY_AFTER_SECONDS)
        return float(self.backoff(retry_state))


class _StopAtDeadline(stop_base):
    """Stop retrying when the coming wait would end at or past the theorem's deadline (remembered in `hit`)."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.hit = False

    def __call__(self, retry_state: RetryCallState) -> bool:
        left = budget.remaining(self.deadline)
        if left is not None and left <= retry_state.upcoming_sleep:
            self.hit = True
        return self.hit


class OpenAIGenerator:
    """A `TextGenerator` over an OpenAI-compatible server.

    base_url: the API root, e.g. `http://localhost:8000/v1`.
    model: the served model's name. endpoint: "completions" or "chat".
    api_key: sent as a bearer token; defaults to $OPENAI_API_KEY (none sent when unset).
    timeout: seconds for one request (connect, read, write); max_retries: retries after the first try;
    backoff: seconds before the first retry, doubled each time (at most 60), plus up to `backoff` of
    random jitter; a `Retry-After` from the server replaces it.
    logprobs: ask the server for token log-probabilities.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        endpoint: Endpoint = "completions",
        api_key: str | None = None,
        temperature: float = 1.0,
        top_p: float = 0.95,
        max_tokens: int = 256,
        stop: Sequence[str] = (),
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_concurrency: int = 8,
        logprobs: bool = True,
        seed: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.endpoint: Endpoint = endpoint
        self.name = f"openai:{model}"
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.stop = list(stop)
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_concurrency = max(1, max_concurrency)
        self.logprobs = logprobs
        self.seed = seed
        self.timeout = timeout
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout))

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> "OpenAIGenerator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def generate(self, prompts: Sequence[Prompt], n: int) -> list[list[Generation]]:
        """n samples for each prompt, the requests running concurrently (at most `max_concurrency`)."""
        if not prompts or n <= 0:
            return [[] for _ in prompts]
        deadline = budget.current_deadline()  # read here: worker threads do not see the caller's context
        if len(prompts) == 1:
            return [self._generate_one(prompts[0], n, deadline)]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(prompts))) as pool:
            return list(pool.map(lambda prompt: self._generate_one(prompt, n, deadline), prompts))

    def _payload(self, prompt: Prompt, n: int) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {
            "model": self.model,
            "n": n,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
        }
        if self.stop:
            payload["stop"] = self.stop
        if self.seed is not None:
            payload["seed"] = self.seed
        if self.endpoint == "chat":
            messages = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
            payload["messages"] = messages
            if self.logprobs:
                payload["logprobs"] = True
            return "/chat/completions", payload
        if not isinstance(prompt, str):
            raise ModelUnavailable(
                f"{self.name}: a chat prompt needs endpoint=chat (this template renders chat messages)"
            )
        payload["prompt"] = prompt
        if self.logprobs:
            payload["logprobs"] = 1
        return "/completions", payload

    def _generate_one(self, prompt: Prompt, n: int, deadline: float | None = None) -> list[Generation]:
        """One prompt's samples; each request (and retry) waits no longer than what is left of the
        theorem's `deadline`, past which the prompt gets no samples (the search ends on its budget)."""
        path, payload = self._payload(prompt, n)
        at_deadline = _StopAtDeadline(deadline)
        retrying = Retrying(
            retry=retry_if_exception_type(_RetryableError),  # ModelUnavailable (other 4xx) is raised at once
            stop=stop_after_attempt(self.max_retries + 1) | at_deadline,
            wait=_WaitRetryAfterOrBackoff(self.backoff),
            before_sleep=self._log_retry,
        )
        try:
            return retrying(self._attempt, path, payload, deadline)
        except RetryError as failed:
            error, attempts = failed.last_attempt.exception(), failed.last_attempt.attempt_number
        if at_deadline.hit or budget.expired(deadline):
            log.warning("%s: no samples before the theorem's deadline (%s)", self.name, error)
            return []
        raise ModelUnavailable(f"{self.name} at {self.base_url} failed after {attempts} attempts: {error}")

    def _attempt(self, path: str, payload: dict[str, Any], deadline: float | None) -> list[Generation]:
        if budget.expired(deadline):
            raise _RetryableError("the theorem's deadline passed")
        return self._request(path, payload, timeout=budget.capped(self.timeout, deadline))

    def _log_retry(self, retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome is not None else None
        log.info("%s: retry %d in %.2fs after %s", self.name, retry_state.attempt_number, retry_state.upcoming_sleep, error)

    def _request(self, path: str, payload: dict[str, Any], *, timeout: float | None = None) -> list[Generation]:
        try:
            response = self._client.post(path, json=payload, timeout=timeout if timeout is not None else self.timeout)
        except httpx.TimeoutException as error:
            raise _RetryableError(f"timed out ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise _RetryableError(f"cannot connect ({error})") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise _RetryableError(
                f"HTTP {response.status_code}: {response.text[:200]}", retry_after=_retry_after_seconds(response)
            )
        if response.status_code >= 400:
            raise ModelUnavailable(
                f"{self.name} at {self.base_url} refused the request: HTTP {response.status_code}: "
                f"{response.text[:200]}"
            )
        try:
            parsed = _Response.model_validate_json(response.content)
        except ValueError as error:
            raise _RetryableError(f"malformed reply ({str(error).splitlines()[0]})") from error
        if parsed.error is not None and not parsed.choices:
            raise _RetryableError(f"the server answered an error: {str(parsed.error)[:200]}")
        return [self._generation(choice) for choice in sorted(parsed.choices, key=lambda c: c.index)]

    def _generation(self, choice: _Choice) -> Generation:
        text = choice.message.content if choice.message is not None else choice.text
        log_prob: float | None = None
        logprobs = choice.logprobs
        if logprobs is not None and logprobs.token_logprobs:
            log_prob = sum(value for value in logprobs.token_logprobs if value is not None)
        elif logprobs is not None and logprobs.content:
            log_prob = sum(token.logprob for token in logprobs.content)
        return Generation(text or "", log_prob)
