"""Fixtures for the policy tests: tiny random-weight models saved once per session, and a loopback OpenAI server.

Also makes tests/policies/policy_fakes.py importable as `policy_test_fakes`.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

if "policy_test_fakes" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("policy_test_fakes", Path(__file__).with_name("policy_fakes.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["policy_test_fakes"] = _module
    _spec.loader.exec_module(_module)


def _require_models() -> None:
    pytest.importorskip("torch", reason="the model tests need torch (pip install torch)")
    pytest.importorskip("transformers", reason="the model tests need transformers (neuroprove[models])")


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Run tiny models on one thread: on a shared 2-core machine, OpenMP threads spin-waiting for a busy
    core make a 64-wide matmul take milliseconds instead of microseconds."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_seq2seq(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved 2-layer T5 with the ByT5 tokenizer."""
    _require_models()
    from prover.policies.tiny import save_tiny_seq2seq

    return save_tiny_seq2seq(tmp_path_factory.mktemp("tiny") / "seq2seq")


@pytest.fixture(scope="session")
def tiny_causal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved 2-layer LLaMA-architecture causal LM with a byte-level tokenizer and a chat template."""
    _require_models()
    from prover.policies.tiny import save_tiny_causal

    return save_tiny_causal(tmp_path_factory.mktemp("tiny") / "causal")


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved 2-layer sequence classifier with one output (a critic)."""
    _require_models()
    from prover.policies.tiny import save_tiny_classifier

    return save_tiny_classifier(tmp_path_factory.mktemp("tiny") / "critic")


@dataclass
class ServerScript:
    """How the fake server behaves, and what it saw.

    fail_first: answer this many requests with HTTP `fail_status` (500) before answering normally.
    status: when set, answer every request with this status (after fail_first).
    retry_after: when set, failed answers carry this `Retry-After` header.
    delay: seconds to wait before answering.
    logprobs: include token log-probabilities in the answers.
    texts: the texts of the choices, in order (n choices are cycled from it).
    """

    fail_first: int = 0
    fail_status: int = 500
    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    logprobs: bool = True
    texts: list[str] = field(default_factory=lambda: ["simp", "ring", "simp", "linarith"])
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each request
    lock: threading.Lock = field(default_factory=threading.Lock)


def _choice(script: ServerScript, path: str, index: int, text: str) -> dict[str, Any]:
    # A deterministic log-probability per text: shorter texts are more likely.
    token_logprobs = [-0.1 * (position + 1) for position in range(len(text.split()) + len(text) // 4)]
    if path.endswith("/chat/completions"):
        choice: dict[str, Any] = {"index": index, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        choice["logprobs"] = (
            {"content": [{"token": "t", "logprob": value} for value in token_logprobs]} if script.logprobs else None
        )
    else:
        choice = {"index": index, "text": text, "finish_reason": "stop"}
        choice["logprobs"] = {"token_logprobs": token_logprobs, "tokens": ["t"] * len(token_logprobs)} if script.logprobs else None
    return choice


class _Handler(BaseHTTPRequestHandler):
    script: ServerScript

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length) or b"{}")
        script = self.server.script  # type: ignore[attr-defined]
        with script.lock:
            script.requests.append((self.path, payload))
            script.arrivals.append(time.monotonic())
            failing = len(script.requests) <= script.fail_first
        if script.delay:
            time.sleep(script.delay)
        if failing or script.status is not None:
            status = script.fail_status if failing else int(script.status)  # type: ignore[arg-type]
            body = json.dumps({"error": {"message": f"scripted failure {status}"}}).encode()
            self.send_response(status)
            if script.retry_after is not None:
                self.send_header("Retry-After", script.retry_after)
        else:
            n = int(payload.get("n", 1))
            texts = [script.texts[index % len(script.texts)] for index in range(n)]
            choices = [_choice(script, self.path, index, text) for index, text in enumerate(texts)]
            body = json.dumps({"id": "x", "object": "text_completion", "choices": choices}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass


@dataclass
class FakeServer:
    """A running loopback server: `url` is its /v1 root, `script` drives it."""

    url: str
    script: ServerScript


@pytest.fixture
def openai_server() -> Iterator[FakeServer]:
    """An OpenAI-compatible server on 127.0.0.1 at a free port, stopped after the test."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.script = ServerScript()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield FakeServer(f"http://{host}:{port}/v1", server.script)  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
