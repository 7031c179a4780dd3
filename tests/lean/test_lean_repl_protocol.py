"""The stand-in REPL against upstream's recorded transcripts, and lean-interact's real code path on it.

Covered only by RECORDED upstream transcripts (../shared/fixtures/lean-repl, REPL v4.24.0 and the
v4.19.0 / v4.33.0-rc2 variants): everything in this file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lean_fakes import HERE, RECORDED_MAIN, RECORDED_MATHLIB, FakeLean, recorded
from fake_repl import Knowledge, split_requests, split_responses


def _sessions(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.in"), key=lambda p: p.name.encode())


def _all_groups() -> list[tuple[str, ...]]:
    return [RECORDED_MAIN, RECORDED_MATHLIB, ("variants", "v4.19.0", "test"), ("variants", "v4.33.0-rc2-HEAD", "test")]


@pytest.mark.parametrize("group", _all_groups(), ids=lambda g: "/".join(g))
def test_stand_in_replays_upstream_test_sh_byte_for_byte(group: tuple[str, ...], tmp_path: Path) -> None:
    """Feeding each recorded `.in` file raw to the stand-in gives its `.expected.out` exactly, as upstream's test.sh checks."""
    directory = recorded(*group)
    (tmp_path / "test").mkdir()
    env = dict(os.environ, FAKE_REPL_TRANSCRIPTS=str(directory), FAKE_REPL_LOG="")
    for session in _sessions(directory):
        completed = subprocess.run(
            [sys.executable, str(HERE / "fake_repl.py")],
            input=session.read_bytes(),
            capture_output=True,
            cwd=tmp_path,
            env=env,
            timeout=30,
        )
        expected = session.with_name(session.name[:-3] + ".expected.out").read_text(encoding="utf-8")
        assert completed.returncode == 0, completed.stderr.decode()
        # Upstream's files end with or without a final newline; the answers themselves must be identical.
        assert split_responses(completed.stdout.decode("utf-8")) == split_responses(expected), session.name


def test_recorded_transcripts_never_answer_one_request_two_ways() -> None:
    """Across the whole recorded v4.24.0 suite, a request on the same state always got the same answer (the replay key is sound)."""
    knowledge = Knowledge()
    knowledge.load(recorded(*RECORDED_MAIN))
    knowledge.load(recorded(*RECORDED_MATHLIB))
    assert knowledge.conflicts == []
    assert len(knowledge.answers) > 100


def test_framing_joins_lines_after_trimming_them_so_a_raw_newline_vanishes() -> None:
    """REPL framing: lines up to a blank one are right-trimmed and concatenated (invalid_line_break's `bysorry`)."""
    text = recorded(*RECORDED_MAIN, "invalid_line_break.in").read_text(encoding="utf-8")
    requests = [json.loads(r) for r in split_requests(text)]
    assert requests[0]["cmd"] == "theorem foo : 1 = 1 := bysorry"


@pytest.mark.slow
@pytest.mark.parametrize("group", _all_groups(), ids=lambda g: "/".join(g))
def test_lean_interact_reads_every_recorded_answer_into_its_models(
    group: tuple[str, ...], fake_lean: FakeLean, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lean-interact's LeanServer (real code: `lake env repl`, framing, parsing) replays every recorded session into its typed responses."""
    from lean_interact.interface import CommandResponse, LeanError, ProofStepResponse

    from fake_repl import classify

    directory = recorded(*group)
    fake_lean.use(directory)
    monkeypatch.chdir(fake_lean.project_dir)
    server = _server(fake_lean)
    try:
        for session in _sessions(directory):
            server.restart()  # test.sh runs each file in a fresh REPL
            requests = [json.loads(r) for r in split_requests(session.read_text(encoding="utf-8"))]
            expected = split_responses(session.with_name(session.name[:-3] + ".expected.out").read_text(encoding="utf-8"))
            for request, answer in zip(requests, expected):
                got = server.run_dict(request, timeout=30)
                assert got == json.loads(answer), (session.name, request)
                if set(got) == {"message"}:
                    LeanError.model_validate(got)
                elif classify(request) in ("proof_step", "pickle_proof_state", "unpickle_proof_state"):
                    ProofStepResponse.model_validate(got)
                else:
                    CommandResponse.model_validate(got)
    finally:
        server.kill()


def _server(fake_lean: FakeLean):
    from lean_interact import LeanREPLConfig, LeanServer, LocalProject

    config = LeanREPLConfig(
        project=LocalProject(directory=str(fake_lean.project_dir), lake_path=str(fake_lean.lake), auto_build=False),
        local_repl_path=str(fake_lean.repl_dir),
        build_repl=False,
        lake_path=str(fake_lean.lake),
        enable_incremental_optimization=False,
        enable_parallel_elaboration=False,
    )
    return LeanServer(config)


def test_lean_interact_starts_lake_env_repl_in_the_project_without_git(
    fake_lean: FakeLean, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """LocalProject(auto_build=False) + local_repl_path + build_repl=False: no git, no lake build/update; the REPL runs as `lake env <repl>` in the project."""
    lake_log = tmp_path / "lake-commands.log"
    monkeypatch.setenv("FAKE_LAKE_LOG", str(lake_log))
    fake_lean.use(recorded(*RECORDED_MAIN))
    server = _server(fake_lean)
    try:
        assert server.config.working_dir == str(fake_lean.project_dir.resolve())
        assert server.config.lean_version == "v4.24.0"
        assert server._proc.args == [str(fake_lean.lake), "env", str(fake_lean.repl_dir / ".lake" / "build" / "bin" / "repl")]
        from lean_interact import Command

        assert server.run(Command(cmd="def f : Nat := by sorry"), timeout=30).env == 0
    finally:
        server.kill()
    assert not lake_log.exists()  # only `lake env` ran: nothing was built, updated or fetched


def test_unknown_ids_are_repl_errors_not_crashes(fake_lean: FakeLean, monkeypatch: pytest.MonkeyPatch) -> None:
    """An id the process never handed out answers `Unknown proof state.` / `Unknown environment.` (LeanError), and the REPL lives on."""
    from lean_interact import Command, ProofStep
    from lean_interact.interface import CommandResponse, LeanError

    fake_lean.use(recorded(*RECORDED_MAIN))
    server = _server(fake_lean)
    try:
        first = server.run(Command(cmd="def f : Nat := by sorry"), timeout=30)
        assert isinstance(first, CommandResponse) and first.sorries[0].proof_state == 0
        unknown_state = server.run(ProofStep(proof_state=1, tactic="exact 42"), timeout=30)
        assert isinstance(unknown_state, LeanError) and unknown_state.message == "Unknown proof state."
        unknown_env = server.run(Command(cmd="example : 2 = 2 := rfl", env=3), timeout=30)
        assert isinstance(unknown_env, LeanError) and unknown_env.message == "Unknown environment."
        assert server.is_alive()
    finally:
        server.kill()


def test_ids_restart_from_zero_in_a_new_process(fake_lean: FakeLean) -> None:
    """Ids are per-process counters: after a restart the same command gets env 0 / proofState 0 again, so old ids are meaningless."""
    from lean_interact import Command

    fake_lean.use(recorded(*RECORDED_MAIN))
    server = _server(fake_lean)
    try:
        server.run(Command(cmd="def f : Nat := by sorry"), timeout=30)
        second = server.run(Command(cmd="def f : Nat := by sorry"), timeout=30)
        assert (second.env, second.sorries[0].proof_state) == (1, 1)
        server.restart()
        again = server.run(Command(cmd="def f : Nat := by sorry"), timeout=30)
        assert (again.env, again.sorries[0].proof_state) == (0, 0)
    finally:
        server.kill()


def test_a_pickled_proof_state_continues_in_another_process(fake_lean: FakeLean, monkeypatch: pytest.MonkeyPatch) -> None:
    """PickleProofState in one REPL, UnpickleProofState in a fresh one, then the proof completes there (pickle_proof_state_1/_2)."""
    from lean_interact import Command, PickleProofState, ProofStep, UnpickleProofState

    fake_lean.use(recorded(*RECORDED_MAIN))
    monkeypatch.chdir(fake_lean.project_dir)
    server = _server(fake_lean)
    try:
        env = server.run(Command(cmd="import Lean"), timeout=30).env
        root = server.run(Command(cmd="def f : Nat := by sorry", env=env), timeout=30).sorries[0].proof_state
        pickled = server.run(PickleProofState(proof_state=root, pickle_to="test/c.olean"), timeout=30)
        assert pickled.goals == ["⊢ Nat"]
        restored = server.run(UnpickleProofState(unpickle_proof_state_from="test/c.olean"), timeout=30)
        with_t = server.run(ProofStep(proof_state=restored.proof_state, tactic="have t : Nat := 42"), timeout=30)
        server.run(PickleProofState(proof_state=with_t.proof_state, pickle_to="test/d.olean"), timeout=30)
        server.restart()
        revived = server.run(UnpickleProofState(unpickle_proof_state_from="test/d.olean"), timeout=30)
        assert revived.proof_state == 0 and revived.goals == ["t : Nat\n⊢ Nat"]
        done = server.run(ProofStep(proof_state=revived.proof_state, tactic="exact t"), timeout=30)
        assert done.proof_status == "Completed" and done.goals == []
    finally:
        server.kill()


def test_stand_in_fails_loudly_on_a_request_no_transcript_covers(fake_lean: FakeLean) -> None:
    """An unrecorded request kills the stand-in with a reason on stderr; lean-interact reports a closed server."""
    from lean_interact import Command

    fake_lean.use(recorded(*RECORDED_MAIN))
    server = _server(fake_lean)
    try:
        with pytest.raises(ConnectionAbortedError, match="no transcript answers this request"):
            server.run(Command(cmd="theorem never_recorded : True := trivial"), timeout=30)
    finally:
        server.kill()
