"""The OpenAI-compatible policy against a real HTTP server on loopback: endpoints, log-probs, retries, timeouts."""

from __future__ import annotations

import math
import time

import pytest

from prover import budget
from prover.errors import ModelUnavailable
from prover.policies import build_policy
from prover.policies.generation import ModelPolicy, rank_prior
from prover.policies.openai_compat import OpenAIGenerator
from prover.policies.prompts import get_template
from search.types import State

STATE = State(goals=("x : ℕ\n⊢ x + 0 = x",))


def generator(url: str, **options: object) -> OpenAIGenerator:
    defaults: dict[str, object] = dict(model="tiny", timeout=5.0, max_retries=2, backoff=0.01)
    defaults.update(options)
    return OpenAIGenerator(url, **defaults)  # type: ignore[arg-type]


def test_completions_endpoint_sends_the_raw_prompt_and_sums_token_logprobs(openai_server) -> None:
    with generator(openai_server.url) as gen:
        generations = gen.generate(["⊢ True:::"], 4)[0]
    path, payload = openai_server.script.requests[0]
    assert path == "/v1/completions"
    assert payload["prompt"] == "⊢ True:::" and payload["n"] == 4 and payload["logprobs"] == 1
    assert [g.text for g in generations] == ["simp", "ring", "simp", "linarith"]
    # The server's log-probs for "simp": -0.1 and -0.2 (see the fake server), summed.
    assert generations[0].log_prob == pytest.approx(-0.3)


def test_chat_endpoint_sends_messages_and_reads_chat_logprobs(openai_server) -> None:
    policy = ModelPolicy(generator(openai_server.url, endpoint="chat"), get_template("chat"))
    openai_server.script.texts = ["```lean4\nomega\n```", "Here: ```lean4\nsimp\n```"]
    candidates = policy.propose(STATE, 2)
    path, payload = openai_server.script.requests[0]
    assert path == "/v1/chat/completions"
    assert [m["role"] for m in payload["messages"]] == ["system", "user"]
    assert payload["logprobs"] is True
    assert {c.tactic for c in candidates} == {"omega", "simp"}
    assert all(math.isfinite(c.log_prob) and c.log_prob < 0 for c in candidates)


def test_without_logprobs_candidates_get_a_rank_prior_by_sample_frequency(openai_server) -> None:
    openai_server.script.logprobs = False
    openai_server.script.texts = ["ring", "simp", "simp", "omega", "simp", "ring"]
    policy = ModelPolicy(generator(openai_server.url), get_template("bfs"))
    candidates = policy.propose(STATE, 6)
    assert [c.tactic for c in candidates] == ["simp", "ring", "omega"]
    assert [c.log_prob for c in candidates] == pytest.approx(rank_prior(3))


def test_server_error_then_success_is_retried(openai_server) -> None:
    openai_server.script.fail_first = 2
    with generator(openai_server.url, max_retries=2) as gen:
        generations = gen.generate(["⊢ a:::"], 1)[0]
    assert generations[0].text == "simp"
    assert len(openai_server.script.requests) == 3


def test_persistent_server_errors_become_model_unavailable_after_retries(openai_server) -> None:
    openai_server.script.status = 503
    with generator(openai_server.url, max_retries=1) as gen, pytest.raises(ModelUnavailable, match="2 attempts"):
        gen.generate(["⊢ a:::"], 1)
    assert len(openai_server.script.requests) == 2


def test_a_client_error_is_not_retried(openai_server) -> None:
    openai_server.script.status = 404
    with generator(openai_server.url, max_retries=3) as gen, pytest.raises(ModelUnavailable, match="HTTP 404"):
        gen.generate(["⊢ a:::"], 1)
    assert len(openai_server.script.requests) == 1


def test_a_429_with_retry_after_is_retried_after_the_servers_wait(openai_server) -> None:
    openai_server.script.fail_first, openai_server.script.fail_status = 1, 429
    openai_server.script.retry_after = "0.4"
    with generator(openai_server.url, max_retries=2, backoff=0.01) as gen:
        assert gen.generate(["⊢ a:::"], 1)[0][0].text == "simp"
    first, second = openai_server.script.arrivals
    assert second - first >= 0.4  # the server's wait, not the 0.01 s backoff


def test_a_503_is_retried_with_jittered_backoff(openai_server) -> None:
    openai_server.script.fail_first, openai_server.script.fail_status = 2, 503
    with generator(openai_server.url, max_retries=2, backoff=0.05) as gen:
        assert gen.generate(["⊢ a:::"], 1)[0][0].text == "simp"
    arrivals = openai_server.script.arrivals
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    # backoff * 2**k plus up to backoff of jitter: at least 0.05 then 0.1.
    assert len(gaps) == 2 and gaps[0] >= 0.05 and gaps[1] >= 0.1


@pytest.mark.parametrize("status", [400, 401, 422])
def test_other_client_errors_are_not_retried(openai_server, status: int) -> None:
    openai_server.script.status = status
    with generator(openai_server.url, max_retries=3) as gen, pytest.raises(ModelUnavailable, match=f"HTTP {status}"):
        gen.generate(["⊢ a:::"], 1)
    assert len(openai_server.script.requests) == 1


def test_a_retry_after_past_the_deadline_is_not_waited_for(openai_server) -> None:
    openai_server.script.status, openai_server.script.retry_after = 429, "30"
    with generator(openai_server.url, max_retries=5) as gen, budget.deadline_scope(1.0):
        started = time.monotonic()
        assert gen.generate(["⊢ a:::"], 1) == [[]]  # no samples: the search ends on its budget
        elapsed = time.monotonic() - started
    assert len(openai_server.script.requests) == 1 and elapsed < 1.0


def test_the_deadline_bounds_retries_of_a_failing_server(openai_server) -> None:
    openai_server.script.status = 500
    with generator(openai_server.url, max_retries=1000, backoff=0.05) as gen, budget.deadline_scope(0.8):
        started = time.monotonic()
        assert gen.generate(["⊢ a:::"], 1) == [[]]
        elapsed = time.monotonic() - started
    assert 2 <= len(openai_server.script.requests) < 1000
    assert elapsed <= 0.8 + budget.DEADLINE_GRACE_SECONDS


def test_the_deadline_cuts_a_stalled_request(openai_server) -> None:
    openai_server.script.delay = 5.0
    with generator(openai_server.url, timeout=60.0, max_retries=3) as gen, budget.deadline_scope(0.3):
        started = time.monotonic()
        assert gen.generate(["⊢ a:::"], 1) == [[]]
        elapsed = time.monotonic() - started
    assert elapsed <= 0.3 + budget.DEADLINE_GRACE_SECONDS + 0.5


def test_slow_server_times_out_into_model_unavailable(openai_server) -> None:
    openai_server.script.delay = 0.5
    with generator(openai_server.url, timeout=0.05, max_retries=1) as gen:
        with pytest.raises(ModelUnavailable, match="timed out"):
            gen.generate(["⊢ a:::"], 1)


def test_slow_server_within_the_timeout_answers(openai_server) -> None:
    openai_server.script.delay = 0.05
    with generator(openai_server.url, timeout=5.0) as gen:
        assert gen.generate(["⊢ a:::"], 1)[0][0].text == "simp"


def test_no_server_listening_is_model_unavailable() -> None:
    with generator("http://127.0.0.1:9/v1", max_retries=0) as gen, pytest.raises(ModelUnavailable, match="cannot connect"):
        gen.generate(["⊢ a:::"], 1)


def test_many_prompts_each_get_their_own_request_and_answers_keep_prompt_order(openai_server) -> None:
    prompts = [f"⊢ goal{index}:::" for index in range(6)]
    with generator(openai_server.url, max_concurrency=3) as gen:
        outputs = gen.generate(prompts, 2)
    assert len(outputs) == 6 and all(len(row) == 2 for row in outputs)
    assert sorted(payload["prompt"] for _, payload in openai_server.script.requests) == sorted(prompts)


def test_factory_builds_an_openai_policy_from_a_spec(openai_server) -> None:
    policy = build_policy(f"openai:{openai_server.url}?model=bfs-like&template=bfs&n=3&retries=0", backend="lean")
    candidates = policy.propose(STATE, 8)
    _, payload = openai_server.script.requests[0]
    assert payload["model"] == "bfs-like" and payload["n"] == 3
    assert payload["prompt"] == STATE.goals[0] + ":::"
    assert {c.tactic for c in candidates} == {"simp", "ring"}
    assert all(c.source == "openai:bfs-like" for c in candidates)


def test_factory_whole_proof_spec_uses_chat_with_the_deepseek_prompt(openai_server) -> None:
    openai_server.script.texts = ["Plan.\n```lean4\ntheorem t : P := by\n  intro x\n  simp\n```"]
    policy = build_policy(
        f"whole:openai:{openai_server.url}?model=deepseek-ai/DeepSeek-Prover-V2-7B&retries=0", backend="lean"
    )
    candidates = policy.propose(STATE, 1)
    path, payload = openai_server.script.requests[0]
    assert path == "/v1/chat/completions"
    assert payload["messages"][0]["content"].startswith("Complete the following Lean 4 code:")
    assert [c.tactic for c in candidates] == ["intro x\nsimp"]


def test_retry_after_is_read_in_seconds_milliseconds_or_as_an_http_date() -> None:
    import email.utils

    import httpx

    from prover.policies.openai_compat import _retry_after_seconds

    def wait(**headers: str) -> float | None:
        return _retry_after_seconds(httpx.Response(429, headers=headers))

    assert wait() is None and wait(**{"retry-after": "soon"}) is None
    assert wait(**{"retry-after": "2"}) == 2.0 and wait(**{"retry-after": "-5"}) == 0.0
    assert wait(**{"retry-after-ms": "250", "retry-after": "9"}) == 0.25  # the finer header wins
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= wait(**{"retry-after": in_ten}) <= 10.0  # type: ignore[operator]
