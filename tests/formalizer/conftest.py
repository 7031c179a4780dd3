"""Fixtures for the formalizer tests: a scripted OpenAI-compatible chat server on loopback.

The server answers /v1/chat/completions the way a formalizer model would, from a script the test
sets: drafts for the first request, repairs when the request carries the proof assistant's error,
back-translations, and judge answers. Every request payload is recorded for assertions.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest


@dataclass
class FormalizerScript:
    """What the scripted model answers.

    drafts: replies to the drafting prompt (the first n are sent; cycled when n is larger).
    repair: reply to a repair request, from the error text it carries (None: repeat the last draft).
    back_translations: (substring of the statement, natural-language reading) pairs; first match wins.
    scores: (substring of the back-translation, judge reply) pairs; first match wins.
    requests: every payload received, in order.
    ignore_n: answer one choice whatever `n` asks (servers that ignore `n`).
    raw_reply: when set, the JSON body of every reply (HTTP 200), e.g. `{"error": ...}` or no choices.
    """

    drafts: list[str] = field(default_factory=list)
    repair: Callable[[str], str] | None = None
    back_translations: list[tuple[str, str]] = field(default_factory=list)
    scores: list[tuple[str, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    ignore_n: bool = False
    raw_reply: dict[str, Any] | None = None

    def kind(self, messages: list[dict[str, str]]) -> str:
        """Which of the formalizer's prompts `messages` is."""
        last = messages[-1]["content"]
        if messages[0]["content"].startswith("You check whether two math problems"):
            return "judge"
        if last.startswith("Translate the following"):
            return "back_translation"
        if "rejected this statement" in last:
            return "repair"
        return "draft"

    def answer(self, messages: list[dict[str, str]], n: int) -> list[str]:
        kind = self.kind(messages)
        last = messages[-1]["content"]
        if kind == "draft":
            return [self.drafts[index % len(self.drafts)] for index in range(n)]
        if kind == "repair":
            reply = self.repair(last) if self.repair is not None else messages[-2]["content"]
            return [reply] * n
        if kind == "back_translation":
            reading = next((text for key, text in self.back_translations if key in last), "Some problem.")
            return [reading] * n
        reply = next((text for key, text in self.scores if key in last), "They look unrelated. Score: 0.1")
        return [reply] * n

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """The recorded payloads of one kind ("draft", "repair", "back_translation", "judge")."""
        return [payload for payload in self.requests if self.kind(payload["messages"]) == kind]


@dataclass
class ScriptedServer:
    url: str
    script: FormalizerScript

    @property
    def spec(self) -> str:
        """A `--model` spec for this server (retries off: a failure should show at once)."""
        return f"openai:{self.url}?model=scripted-formalizer&retries=0&timeout=30"


def _handler(script: FormalizerScript) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            return

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length))
            if self.path != "/v1/chat/completions":
                self.send_error(404, "only chat completions are scripted")
                return
            script.requests.append(payload)
            n = 1 if script.ignore_n else int(payload.get("n", 1))
            texts = script.answer(payload["messages"], n) if script.raw_reply is None else []
            body = json.dumps(script.raw_reply).encode() if script.raw_reply is not None else json.dumps(
                {
                    "id": "scripted",
                    "object": "chat.completion",
                    "choices": [
                        {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                        for i, text in enumerate(texts)
                    ],
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """A scripted formalizer model on 127.0.0.1 (random port), served from a thread for one test."""
    script = FormalizerScript()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ScriptedServer(f"http://127.0.0.1:{server.server_address[1]}/v1", script)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
