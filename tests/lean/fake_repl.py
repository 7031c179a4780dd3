#!/usr/bin/env python3
"""A stand-in for the Lean REPL binary (`repl`, started as `lake env .../repl`) that replays transcripts.

It speaks the REPL's wire protocol as REPL/Main.lean does (v4.24.0, commit 8fff8552):
  * a request is read line by line until a blank line; each line is trimmed on the right and the
    lines are concatenated (so a raw newline inside a JSON string vanishes); empty input/EOF ends
    the process; a query starting with `#` or `--` is skipped; unparseable JSON throws (exit 1);
  * the request kind is the first that fits, in the REPL's order: ProofStep, PickleEnvironment,
    UnpickleEnvironment, PickleProofState, UnpickleProofState, Command, File;
  * each answer is one (pretty-printed, possibly multi-line) JSON value followed by one empty line;
  * `env` ids and `proofState` ids are two per-process counters from 0, never freed; an id that was
    never handed out gets `{"message": "Unknown environment."}` / `"Unknown proof state."`
    (`"Unknown proof State."` for pickling).

What it answers comes from transcripts: pairs `X.in` / `X.expected.out` as upstream's test.sh uses
them. The recorded upstream ones are read from ../shared/fixtures/lean-repl; the ones this project
wrote (tests/lean/written_transcripts) use the same format. Loading a transcript replays it
symbolically: every recorded env/proof-state id gets an *identity*, the chain of requests that
created it (e.g. "the state after tactic T in the state at sorry 0 of command C run on top of the
env of command H"). At run time a request is matched by the identity of the state it names (not by
its number), and the recorded answer is sent with its ids renumbered to this process's counters.
So a client may run requests in another order, branch, restart the process or interleave
theorems, and still gets exactly the recorded bytes (modulo ids). A request that no transcript
covers makes the stand-in fail loudly: it prints why on stderr and exits with status 3, which the
client sees as a crashed REPL.

Answers written by this project may also be one of these directives instead of JSON:
  !hang      never answer (a tactic that runs past every timeout);
  !crash     die at once without answering (a segfault or the kernel's OOM killer).

Environment:
  FAKE_REPL_TRANSCRIPTS  os.pathsep-separated transcript directories (their `*.in`, in C-locale
                         order, as upstream runs them) or single `.in` files; loaded in order, the
                         first transcript to answer a request wins.
  FAKE_REPL_LOG          if set, one JSON line per event is appended: {"start": pid} when the
                         process starts, then {"request": ..., "pid": pid} for every request read.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

Identity = tuple  # nested tuples of str/int: hashable, and JSON-serialisable through lists

UNKNOWN_ENV = '{"message": "Unknown environment."}'
UNKNOWN_PROOF_STATE = '{"message": "Unknown proof state."}'
UNKNOWN_PROOF_STATE_PICKLE = '{"message": "Unknown proof State."}'

_PROOF_STATE_FIELD = re.compile(r'("proofState":\s*)(\d+)')
_ENV_FIELD = re.compile(r'("env":\s*)(\d+)')


class TranscriptError(Exception):
    """A transcript that cannot be replayed (unpaired requests, an id used before it exists)."""


def split_requests(text: str) -> list[str]:
    """The queries of a `.in` file, framed exactly as REPL/Main.lean's `getLines` frames stdin."""
    queries: list[str] = []
    current = ""
    for line in text.splitlines():
        if line.strip() == "":
            if current:
                queries.append(current)
            current = ""
            continue
        current += line.rstrip()
    if current:
        queries.append(current)
    return [q for q in queries if not (q.startswith("#") or q.startswith("--"))]


def split_responses(text: str) -> list[str]:
    """The answers of an `.expected.out` file: JSON values separated by one empty line."""
    return [block.strip("\n") for block in re.split(r"\n\s*\n", text) if block.strip()]


def classify(request: dict[str, Any]) -> str:
    """The REPL's dispatch: the first request type whose required fields are all present."""
    if isinstance(request.get("proofState"), int) and isinstance(request.get("tactic"), str):
        return "proof_step"
    if isinstance(request.get("env"), int) and isinstance(request.get("pickleTo"), str):
        return "pickle_env"
    if isinstance(request.get("unpickleEnvFrom"), str):
        return "unpickle_env"
    if isinstance(request.get("proofState"), int) and isinstance(request.get("pickleTo"), str):
        return "pickle_proof_state"
    if isinstance(request.get("unpickleProofStateFrom"), str):
        return "unpickle_proof_state"
    if isinstance(request.get("cmd"), str):
        return "command"
    if isinstance(request.get("path"), str):
        return "file"
    return "invalid"


def _command_options(request: dict[str, Any]) -> Identity:
    """The options that change a command's answer; fields the REPL does not read are ignored, as it does."""
    options = []
    if request.get("allTactics") is True:
        options.append(("allTactics", True))
    if request.get("rootGoals") is True:
        options.append(("rootGoals", True))
    if isinstance(request.get("infotree"), str):
        options.append(("infotree", request["infotree"]))
    return tuple(options)


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _proof_state_ids(answer: Any) -> list[int]:
    """Every proof-state id an answer hands out (its own, its sorries', its tactics')."""
    if not isinstance(answer, dict):
        return []
    ids = []
    if isinstance(answer.get("proofState"), int):
        ids.append(answer["proofState"])
    for item in answer.get("sorries", []) + answer.get("tactics", []):
        if isinstance(item.get("proofState"), int):
            ids.append(item["proofState"])
    return ids


class Knowledge:
    """Recorded answers keyed by request identity, built by replaying transcripts symbolically."""

    def __init__(self) -> None:
        self.answers: dict[Identity, str] = {}
        self.conflicts: list[tuple[Identity, str, str]] = []
        self._pickled: dict[str, Identity] = {}  # recorded pickle path -> identity written there

    def load(self, location: Path) -> None:
        """Load one `.in` file with its `.expected.out`, or every `*.in` of a directory (C-locale order)."""
        if location.is_dir():
            for transcript in sorted(location.glob("*.in"), key=lambda p: p.name.encode()):
                self.load(transcript)
            return
        expected = location.with_name(location.name[: -len(".in")] + ".expected.out")
        requests = split_requests(location.read_text(encoding="utf-8"))
        answers = split_responses(expected.read_text(encoding="utf-8"))
        if len(requests) != len(answers):
            raise TranscriptError(f"{location}: {len(requests)} requests but {len(answers)} answers")
        self._replay(location, requests, answers)

    def _replay(self, location: Path, requests: list[str], answers: list[str]) -> None:
        envs: dict[int, Identity] = {}
        states: dict[int, Identity] = {}
        for raw_request, raw_answer in zip(requests, answers):
            request = json.loads(raw_request)
            answer = None if raw_answer.startswith("!") else json.loads(raw_answer)
            kind = classify(request)
            key: Identity | None = None
            if kind in ("command", "file"):
                parent: Identity = ("fresh",)
                if "env" in request and request["env"] is not None:
                    if request["env"] not in envs:
                        continue  # an "Unknown environment." case: answered generically at run time
                    parent = envs[request["env"]]
                text = request["cmd"] if kind == "command" else request["path"]
                key = (kind, text, parent, _command_options(request))
                if isinstance(answer, dict) and isinstance(answer.get("env"), int):
                    envs[answer["env"]] = ("env", key)
                self._name_states(answer, key, states)
            elif kind == "proof_step":
                if request["proofState"] not in states:
                    continue  # an "Unknown proof state." case
                key = ("step", states[request["proofState"]], request["tactic"])
                self._name_states(answer, key, states)
            elif kind == "pickle_proof_state":
                if request["proofState"] not in states:
                    continue
                identity = states[request["proofState"]]
                self._pickled[request["pickleTo"]] = ("proof_state", identity)
                key = ("pickle_proof_state", identity)
                if isinstance(answer, dict) and isinstance(answer.get("proofState"), int):
                    states[answer["proofState"]] = identity  # a new id for the same state
            elif kind == "unpickle_proof_state":
                pickled = self._pickled.get(request["unpickleProofStateFrom"])
                if pickled is None or pickled[0] != "proof_state":
                    raise TranscriptError(f"{location}: unpickles {request['unpickleProofStateFrom']} before any pickle")
                key = ("unpickle_proof_state", pickled[1])
                if isinstance(answer, dict) and isinstance(answer.get("proofState"), int):
                    states[answer["proofState"]] = pickled[1]
            elif kind == "pickle_env":
                if request["env"] not in envs:
                    continue
                self._pickled[request["pickleTo"]] = ("env", envs[request["env"]])
                continue  # the answer is always `{"env": n}`: synthesised at run time
            elif kind == "unpickle_env":
                pickled = self._pickled.get(request["unpickleEnvFrom"])
                if pickled is None or pickled[0] != "env":
                    raise TranscriptError(f"{location}: unpickles {request['unpickleEnvFrom']} before any pickle")
                if isinstance(answer, dict) and isinstance(answer.get("env"), int):
                    envs[answer["env"]] = pickled[1]
                continue  # the answer is always `{"env": m}`: synthesised at run time
            if key is None:
                continue
            if key in self.answers:
                if _normalise(self.answers[key]) != _normalise(raw_answer):
                    self.conflicts.append((key, self.answers[key], raw_answer))
                continue
            self.answers[key] = raw_answer

    @staticmethod
    def _name_states(answer: Any, key: Identity, states: dict[int, Identity]) -> None:
        if not isinstance(answer, dict):
            return
        if isinstance(answer.get("proofState"), int):
            states[answer["proofState"]] = ("after", key)
        for group in ("sorries", "tactics"):
            for index, item in enumerate(answer.get(group, [])):
                if isinstance(item.get("proofState"), int):
                    states[item["proofState"]] = (group, key, index)


def _normalise(raw: str) -> str:
    return _ENV_FIELD.sub(r"\1#", _PROOF_STATE_FIELD.sub(r"\1#", raw))


class FakeRepl:
    """The REPL's state (two id counters) over a `Knowledge` of recorded answers."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.envs: list[Identity] = []
        self.states: list[Identity] = []

    def answer(self, request: dict[str, Any]) -> str:
        """The answer text for one request (without the trailing blank line)."""
        kind = classify(request)
        if kind in ("command", "file"):
            parent: Identity = ("fresh",)
            if request.get("env") is not None:
                if not self._known_env(request["env"]):
                    return UNKNOWN_ENV
                parent = self.envs[request["env"]]
            text = request["cmd"] if kind == "command" else request["path"]
            key = (kind, text, parent, _command_options(request))
            return self._replay(key, request, env_identity=("env", key))
        if kind == "proof_step":
            if not self._known_state(request["proofState"]):
                return UNKNOWN_PROOF_STATE
            key = ("step", self.states[request["proofState"]], request["tactic"])
            return self._replay(key, request)
        if kind == "pickle_proof_state":
            if not self._known_state(request["proofState"]):
                return UNKNOWN_PROOF_STATE_PICKLE
            identity = self.states[request["proofState"]]
            _write_pickle(request["pickleTo"], "proof_state", identity)
            return self._replay(("pickle_proof_state", identity), request, same_state=identity)
        if kind == "unpickle_proof_state":
            if request.get("env") is not None and not self._known_env(request["env"]):
                return UNKNOWN_ENV
            identity = _read_pickle(request["unpickleProofStateFrom"], "proof_state")
            return self._replay(("unpickle_proof_state", identity), request, same_state=identity)
        if kind == "pickle_env":
            if not self._known_env(request["env"]):
                return UNKNOWN_ENV
            _write_pickle(request["pickleTo"], "env", self.envs[request["env"]])
            return json.dumps({"env": request["env"]})
        if kind == "unpickle_env":
            identity = _read_pickle(request["unpickleEnvFrom"], "env")
            self.envs.append(identity)
            return json.dumps({"env": len(self.envs) - 1})
        fail(f"request fits no REPL request type: {json.dumps(request)}")

    def _known_env(self, env: Any) -> bool:
        return isinstance(env, int) and 0 <= env < len(self.envs)

    def _known_state(self, state: Any) -> bool:
        return isinstance(state, int) and 0 <= state < len(self.states)

    def _replay(
        self,
        key: Identity,
        request: dict[str, Any],
        *,
        env_identity: Identity | None = None,
        same_state: Identity | None = None,
    ) -> str:
        raw = self.knowledge.answers.get(key)
        if raw is None:
            fail(f"no transcript answers this request: {json.dumps(request, ensure_ascii=False)}")
        if raw.startswith("!hang"):
            time.sleep(3600)
            fail("hung for an hour")
        if raw.startswith("!crash"):
            sys.stderr.write("fake_repl: simulated crash\n")
            sys.stderr.flush()
            os._exit(139)
        answer = json.loads(raw)
        state_ids: dict[int, int] = {}
        recorded_ids = sorted(set(_proof_state_ids(answer)))
        identities = self._state_identities(answer, key, same_state)
        for recorded in recorded_ids:  # the REPL numbers in creation order; recorded order is that order
            state_ids[recorded] = len(self.states)
            self.states.append(identities[recorded])
        env_ids: dict[int, int] = {}
        if isinstance(answer, dict) and isinstance(answer.get("env"), int) and env_identity is not None:
            env_ids[answer["env"]] = len(self.envs)
            self.envs.append(env_identity)
        raw = _PROOF_STATE_FIELD.sub(lambda m: m.group(1) + str(state_ids.get(int(m.group(2)), m.group(2))), raw)
        return _ENV_FIELD.sub(lambda m: m.group(1) + str(env_ids.get(int(m.group(2)), m.group(2))), raw)

    @staticmethod
    def _state_identities(answer: Any, key: Identity, same_state: Identity | None) -> dict[int, Identity]:
        identities: dict[int, Identity] = {}
        if not isinstance(answer, dict):
            return identities
        if isinstance(answer.get("proofState"), int):
            identities[answer["proofState"]] = same_state if same_state is not None else ("after", key)
        for group in ("sorries", "tactics"):
            for index, item in enumerate(answer.get(group, [])):
                if isinstance(item.get("proofState"), int):
                    identities[item["proofState"]] = (group, key, index)
        return identities


def _write_pickle(path: str, kind: str, identity: Identity) -> None:
    # Not an .olean: the stand-in only needs to find the state again when the file is unpickled.
    Path(path).write_text(json.dumps({"fake_repl_pickle": kind, "identity": identity}), encoding="utf-8")


def _read_pickle(path: str, kind: str) -> Identity:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        # The REPL does not catch this: the exception ends the process.
        sys.stderr.write(f"uncaught exception: no such file or directory (error code: 2)\n  file: {path}\n")
        sys.stderr.flush()
        sys.exit(1)
    if data.get("fake_repl_pickle") != kind:
        fail(f"{path} holds no pickled {kind}")
    return _freeze(data["identity"])


def fail(reason: str) -> None:
    """Fail loudly: the client sees a REPL that died without answering."""
    sys.stderr.write(f"fake_repl: {reason}\n")
    sys.stderr.flush()
    sys.exit(3)


def read_query(stdin) -> str:
    """One query, framed like REPL/Main.lean's getLines: lines until a blank one, right-trimmed and joined."""
    query = ""
    while True:
        raw = stdin.readline()
        if not raw:
            return query  # EOF
        line = raw.decode("utf-8")
        if line.strip() == "":
            return query if query else line
        query += line.rstrip()


def _log(event: dict[str, Any]) -> None:
    log_path = os.environ.get("FAKE_REPL_LOG")
    if log_path:
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(event, ensure_ascii=False) + "\n")


def main() -> int:
    knowledge = Knowledge()
    for location in filter(None, os.environ.get("FAKE_REPL_TRANSCRIPTS", "").split(os.pathsep)):
        knowledge.load(Path(location))
    repl = FakeRepl(knowledge)
    _log({"start": os.getpid(), "cwd": os.getcwd()})
    stdin = sys.stdin.buffer
    while True:
        query = read_query(stdin)
        if query == "":
            return 0
        if query.startswith("#") or query.startswith("--"):
            continue
        try:
            request = json.loads(query)
        except json.JSONDecodeError as error:
            sys.stderr.write(f'uncaught exception: {{"message": "Could not parse JSON:\\n{error}"}}\n')
            return 1
        _log({"request": request, "pid": os.getpid()})
        sys.stdout.buffer.write((repl.answer(request) + "\n\n").encode("utf-8"))
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
