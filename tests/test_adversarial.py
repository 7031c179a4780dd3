"""Hostile candidates in both searches on both backends: every one ends "unproved" (refused or rejected),
with no traceback and the user's file byte-identical (issue 13).

Coq runs on the real kernel: a scripted policy proposes one hostile candidate at a time to a shared
`Prover` per search (one coqidetop per search for the whole module), and an end-to-end run of the
`prove` command takes every candidate at once from a scripted OpenAI-compatible server on loopback.
Lean has no toolchain here: its hostile steps go through both searches on a `LeanEnvironment` whose
REPL is never started (the step filter must refuse each before any request).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from prover.agent import Prover
from prover.backends.coq import CoqBackend
from prover.config import ProverConfig
from search.types import Candidate, State
from tests.conftest import require_coq

# Files whose theorem is false (`1 = 2`): nothing may prove it. A: an admitted Definition named like
# the stdlib's `classic`, an admitted `M.helper` beside a top-level `Axiom helper : True`; B: a
# section variable and an admitted lemma both named `helper` (issue 13's reproductions).
FILE_A = (
    "Require Import Classical.\n"
    "Definition classic : 1 = 2.\nProof.\nAdmitted.\n"
    "Axiom helper : True.\n"
    "Module M.\nLemma helper : 1 = 2.\nAdmitted.\nEnd M.\n"
    "Theorem false_thm : 1 = 2.\nProof.\nAdmitted.\n"
)
FILE_B = (
    "Section S.\nVariable helper : nat.\nEnd S.\n"
    "Lemma helper : 1 = 2.\nProof.\nAdmitted.\n"
    "Theorem false_thm : 1 = 2.\nProof.\nAdmitted.\n"
)

COQ_HOSTILE_A = [
    "exact classic.",
    "apply classic.",
    "pose proof classic as H; exact H.",
    "exact M.helper.",
    "apply M.helper.",
    "now apply M.helper.",
    "exact (M.helper).",
    "exact ltac:(exact classic).",
    "admit.",
    "Admitted.",
    "Abort.",
    "Qed.",
    "give_up.",
    "all: admit.",
    "abstract admit.",
    "exact ltac:(admit).",
    "exact_no_check eq_refl.",
    "change_no_check (1 = 1); reflexivity.",
    "vm_cast_no_check eq_refl.",
    "Axiom cheat : 1 = 2. exact cheat.",
    "Local Axiom cheat : 1 = 2.",
    "#[local] Axiom cheat : 1 = 2.",
    "Unset Guard Checking.",
    "fix f 1. exact f.",
    "cofix f. exact f.",
    "exact (let f := fix f (n : nat) : 1 = 2 := f n in f 0).",
    "Require Import Classical.",
    'Load "/etc/passwd".',
    'Redirect "/tmp/neuroprove-hostile" Print Assumptions false_thm.',
    "Drop.",
    "Quit.",
    "Back.",
    "Reset Initial.",
    "Ltac t := admit. t.",
    'Tactic Notation "t" := admit.',
    "exact I. Qed. Theorem false_thm2 : True. Proof. exact I.",
    "} admit.",
    "Timeout 1 admit.",
    "lia (* cut off",
    'idtac "unfinished',
    'idtac "\u0001".',
    "idtac \"\x0b\"; reflexivity.",
    'idtac "hammer"; reflexivity.',
    "idtac. " * 2000,
    "cheat.",
]
COQ_HOSTILE_B = ["exact helper.", "apply helper.", "exact (helper).", "now apply helper."]
# Each Coq candidate runs in one of the two searches, alternately (the kernel checks make each
# step-level "proof" cost a coqc run); both searches see every kind of cheat.
COQ_CASES = [
    (("best_first", "mcts")[index % 2], file, tactic)
    for index, (file, tactic) in enumerate([("A", t) for t in COQ_HOSTILE_A] + [("B", t) for t in COQ_HOSTILE_B])
]

LEAN_HOSTILE = [
    "sorry",
    "admit",
    "exact sorry",
    "native_decide",
    "decide +native",
    "run_tac Lean.Elab.Tactic.evalTactic (← `(tactic| sorry))",
    "set_option debug.skipKernelTC true in rfl",
    "set_option maxHeartbeats 0 in decide",
    "run_cmd pure ()",
    "by_elab pure default",
    "rfl\ntheorem cheat : False := sorry",
    "omega\n#eval 1",
    "exact (sorryAx _ false)",
    "",
    "x" * 40_000,
]


class ScriptedPolicy:
    """Proposes exactly its `tactics`, best first (the test sets them before each theorem)."""

    def __init__(self) -> None:
        self.tactics: list[str] = []

    def propose(self, state: State, n: int) -> list[Candidate]:
        return [Candidate(t, -0.1 * i, "hostile") for i, t in enumerate(self.tactics[:n])]

    def propose_batch(self, states: Sequence[State], n: int) -> list[list[Candidate]]:
        return [self.propose(state, n) for state in states]


BUDGET = 6.0


@pytest.fixture(scope="module")
def coq_provers() -> Iterator[dict[str, tuple[Prover, ScriptedPolicy]]]:
    """One Prover (one coqidetop) per search for the whole module, each with a scripted policy."""
    require_coq()
    provers: dict[str, tuple[Prover, ScriptedPolicy]] = {}
    for search in ("best_first", "mcts"):
        policy = ScriptedPolicy()
        config = ProverConfig(backend="coq", search=search, budget_seconds=BUDGET, step_timeout=3, candidates=4)
        provers[search] = (Prover(config, CoqBackend(hammer=False), policy=policy), policy)
    yield provers
    for prover, _ in provers.values():
        prover.close()


def false_theorem(text: str):
    (open_theorem,) = [t for t in CoqBackend(hammer=False).parse_file("f.v", text).theorems if t.theorem.name == "false_thm"]
    return open_theorem.theorem


@pytest.mark.coq
@pytest.mark.slow
@pytest.mark.parametrize("case", COQ_CASES, ids=lambda case: f"{case[0]}-{case[1]}:{case[2][:40]!r}")
def test_a_hostile_coq_candidate_ends_unproved(coq_provers, case: tuple[str, str, str]) -> None:
    search, file, tactic = case
    prover, policy = coq_provers[search]
    policy.tactics = [tactic]
    started = time.monotonic()
    result = prover.prove_theorem(false_theorem(FILE_A if file == "A" else FILE_B))
    assert result.status == "unproved" and not result.kernel_checked and result.proof is None, result
    assert time.monotonic() - started < BUDGET + 10  # the budget is a promise, whatever the candidate


@pytest.mark.coq
@pytest.mark.parametrize("search", ["best_first", "mcts"])
def test_a_proof_the_kernel_rejects_is_reported_with_the_reason(coq_provers, search: str) -> None:
    prover, policy = coq_provers[search]
    policy.tactics = ["exact classic."]
    result = prover.prove_theorem(false_theorem(FILE_A))
    assert result.status == "unproved"
    assert "kernel rejected" in (result.error or "") and "classic" in (result.error or "")
    assert result.verify_seconds > 0 and result.search_seconds >= 0
    row = result.to_json()
    assert {"search_seconds", "verify_seconds"} <= set(row)


# ----------------------------------------------------------------------------- Lean (no toolchain)


def lean_environment(tmp_path: Path):
    from prover.backends.lean import LeanEnvironment, LeanSettings
    from prover.backends.lean_toolchain import project_layout

    layout = project_layout(tmp_path / "project", tmp_path / "repl")
    return LeanEnvironment(LeanSettings(layout=layout, lake_path=tmp_path / "no-lake", step_timeout=10.0))


@pytest.mark.parametrize("search", ["best_first", "mcts"])
@pytest.mark.parametrize("tactic", LEAN_HOSTILE, ids=lambda t: repr(t[:40]))
def test_a_hostile_lean_step_is_refused_before_any_request(tmp_path: Path, search: str, tactic: str) -> None:
    import search as searches
    from search.types import Budget, SearchStatus

    env = lean_environment(tmp_path)
    policy = ScriptedPolicy()
    policy.tactics = [tactic]
    root = State(goals=("⊢ 1 = 2",))
    # A step that got past the filter would need a REPL, and there is none: it would raise.
    result = searches.ALGORITHMS[search](env, policy, root, budget=Budget(max_expansions=5, max_seconds=5))
    assert result.status is SearchStatus.EXHAUSTED and result.proof is None
    assert env.process_id is None, "no REPL was started"
    if tactic:
        attempt = result.graph.attempt(result.graph.root, tactic)
        assert attempt.failure_kind == "refused"


def test_lean_verify_refuses_a_file_that_turns_the_kernel_check_off(tmp_path: Path) -> None:
    from search.types import Theorem

    env = lean_environment(tmp_path)
    theorem = Theorem(name="t", statement="theorem t : 1 = 2 :=", header="set_option debug.skipKernelTC true\n")
    verdict = env.verify(theorem, ["decide"])
    assert not verdict.accepted and "debug.skipKernelTC" in verdict.reason
    inline = Theorem(name="t", statement="set_option debug.skipKernelTC true in theorem t : 1 = 2 :=")
    assert not env.verify(inline, ["decide"]).accepted
    assert env.process_id is None


# ----------------------------------------------------------------------------- end to end, on loopback


class _HostileServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible /completions endpoint serving `texts` (cycled), or stalling `stall` seconds."""

    texts: list[str] = []
    stall: float = 0.0

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length) or b"{}")
        if self.server.stall:  # type: ignore[attr-defined]
            time.sleep(self.server.stall)  # type: ignore[attr-defined]
        texts = self.server.texts  # type: ignore[attr-defined]
        n = int(payload.get("n", 1))
        choices = [{"index": i, "text": texts[i % len(texts)], "finish_reason": "stop"} for i in range(n)]
        body = json.dumps({"choices": choices}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def hostile_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileServer)
    server.daemon_threads = True
    server.texts = ["admit."]  # type: ignore[attr-defined]
    server.stall = 0.0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stall = 0.0  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
        thread.join()


def _url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/v1"


@pytest.mark.coq
@pytest.mark.slow
@pytest.mark.parametrize("search", ["best_first", "mcts"])
def test_prove_with_a_hostile_model_server_proves_nothing_and_leaves_the_file_as_it_was(
    hostile_server: ThreadingHTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], search: str
) -> None:
    require_coq()
    from prover.cli import main

    hostile_server.texts = [t for t in COQ_HOSTILE_A + COQ_HOSTILE_B if len(t) < 2000]  # type: ignore[attr-defined]
    target = tmp_path / "false.v"
    target.write_bytes((FILE_A.replace("false_thm", "false_a") + FILE_B.replace("helper", "helper2").replace("false_thm", "false_b")).encode())
    before = target.read_bytes()
    spec = f"openai:{_url(hostile_server)}?model=hostile&n=64&retries=0"
    code = main([str(target), "--policy", spec, "--search", search, "--budget-seconds", "4", "--step-timeout", "2",
                 "--write", "--json"])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    report = json.loads(captured.out)
    statuses = [row["status"] for row in report["results"]]
    assert statuses and set(statuses) == {"unproved"}
    assert all(row["verify_seconds"] >= 0 and row["search_seconds"] >= 0 for row in report["results"])
    assert target.read_bytes() == before


@pytest.mark.coq
def test_a_stalled_model_server_with_default_settings_ends_within_the_budget(
    hostile_server: ThreadingHTTPServer,
) -> None:
    require_coq()
    from prover.policies import build_policy

    hostile_server.stall = 60.0  # type: ignore[attr-defined]
    budget = 2.0
    policy = build_policy(f"openai:{_url(hostile_server)}?model=stalled", backend="coq")
    config = ProverConfig(backend="coq", search="best_first", budget_seconds=budget, step_timeout=3)
    started = time.monotonic()
    with Prover(config, CoqBackend(hammer=False), policy=policy) as prover:
        result = prover.prove_theorem(false_theorem(FILE_B))
    assert result.status == "unproved"
    assert time.monotonic() - started < budget + 10
