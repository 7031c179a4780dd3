"""LeanBackend/LeanEnvironment through real lean-interact on the stand-in REPL.

Each test names its source: RECORDED (upstream's REPL v4.24.0 transcripts and the v4.19.0 /
v4.33.0-rc2 variants, ../shared/fixtures/lean-repl) or WRITTEN (tests/lean/written_transcripts,
exchanges this project wrote in the REPL's format: `#print axioms`, miniF2F headers, hangs, crashes).
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from lean_fakes import RECORDED_MAIN, RECORDED_MATHLIB, WRITTEN, FakeLean, recorded

from prover.backends.lean import LeanHandle, command_rejection, step_outcome
from prover.errors import InputError
from search.types import Failed, Progress, Proved, State, Theorem

MATHLIB_HEADER = "import Mathlib\nopen BigOperators\nopen Real\nopen Nat"


def _wait_for_exit(pid: int) -> None:
    """Until the killed REPL is gone (it is lean-interact's child: reaped once it exits)."""
    import psutil

    try:
        psutil.Process(pid).wait(timeout=10)
    except psutil.NoSuchProcess:
        pass


def _proof_steps(fake_lean: FakeLean) -> list[dict]:
    return [r for r in fake_lean.requests() if "tactic" in r]


# -- RECORDED: branching, errors with empty goals, metavariables, kernel check, drift ----------


def test_branching_from_one_state_twice_then_proving(fake_lean: FakeLean) -> None:
    """RECORDED proof_step: two tactics on the root state, then the proof closes from the second branch."""
    fake_lean.use(recorded(*RECORDED_MAIN))
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="f", statement="def f : Nat :="))
        assert root.goals == ("⊢ Nat",)
        first = env.step(root, "apply Int.natAbs")
        second = env.step(root, "have t : Nat := 42")
        assert isinstance(first, Progress) and first.state.goals == ("⊢ Int",)
        assert isinstance(second, Progress) and second.state.goals == ("t : Nat\n⊢ Nat",)
        done = env.step(second.state, "exact t")
    assert done == Proved(("have t : Nat := 42", "exact t"))
    steps = _proof_steps(fake_lean)
    assert [s["proofState"] for s in steps[:2]] == [0, 0]  # the same REPL state, stepped twice


@pytest.mark.parametrize("variant", [RECORDED_MAIN, ("variants", "v4.19.0", "test"), ("variants", "v4.33.0-rc2-HEAD", "test")])
def test_an_error_with_empty_goals_is_a_failure_in_every_recorded_lean_version(fake_lean: FakeLean, variant: tuple[str, ...]) -> None:
    """RECORDED invalid_tactic (v4.19 `unknown identifier 'x'`, v4.24+ ``Unknown identifier `x` ``): goals [] with an error is Failed, never Proved."""
    fake_lean.use(recorded(*variant))
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="my_theorem", statement="theorem my_theorem (x : Nat) : x = x :="))
        outcome = env.step(root, "exact my_fake_premise")
    assert isinstance(outcome, Failed)
    assert "my_fake_premise" in outcome.message and "dentifier" in outcome.message


def test_unsolved_goals_error_with_empty_goals_is_a_failure(fake_lean: FakeLean) -> None:
    """RECORDED Mathlib/20240209: `simpa using show False by done` answers goals [] + error "unsolved goals"."""
    fake_lean.use(recorded(*RECORDED_MATHLIB))
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="example_L1", statement="example : False :="))
        outcome = env.step(root, "simpa using show False by done")
    assert isinstance(outcome, Failed) and outcome.message.startswith("unsolved goals")


def test_leftover_metavariables_with_empty_goals_is_a_failure(fake_lean: FakeLean) -> None:
    """RECORDED app_type_mismatch (term-mode root): `apply ?succ` leaves goals [] but `Incomplete: contains metavariable(s)`."""
    fake_lean.use(recorded(*RECORDED_MAIN))
    with fake_lean.backend(root_sorry="sorry").open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="example_L1", statement="example : 1 = 0 :="))
        split = env.step(root, "cases 1")
        assert isinstance(split, Progress) and len(split.state.goals) == 2
        one_left = env.step(split.state, "rfl")
        assert isinstance(one_left, Progress) and one_left.state.goals == ("case succ\nn✝ : Nat\n⊢ n✝ + 1 = 0",)
        outcome = env.step(one_left.state, "apply ?succ")
    assert isinstance(outcome, Failed) and "metavariable" in outcome.message


def test_mathlib_placeholder_leftover_metavariables_is_a_failure(fake_lean: FakeLean) -> None:
    """RECORDED Mathlib/placeholder_synthesis: under `import Mathlib`, `simpa [] using h _` leaves metavariables."""
    fake_lean.use(recorded(*RECORDED_MATHLIB))
    with fake_lean.backend(root_sorry="sorry").open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="example_L2", statement="example : 1 = 0 :=", header="import Mathlib"))
        step = env.step(root, "cases' exists_ne 2 with n h")
        assert isinstance(step, Progress)
        outcome = env.step(step.state, "simpa [] using h _")
    assert isinstance(outcome, Failed) and "contains metavariable" in outcome.message


def test_a_failed_kernel_check_with_no_error_message_is_a_failure(fake_lean: FakeLean) -> None:
    """RECORDED self_proof_exact_check: `exact ex` gives goals [], no messages, `Error: kernel type check failed`."""
    fake_lean.use(recorded(*RECORDED_MAIN))
    with fake_lean.backend(root_sorry="sorry").open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="ex", statement="theorem ex : False :="))
        outcome = env.step(root, "exact ex")
    assert isinstance(outcome, Failed) and "kernel type check failed" in outcome.message


def test_a_repl_level_lean_error_is_a_failure(fake_lean: FakeLean) -> None:
    """RECORDED unknown_tactic: `{"message": "Lean error:\\n<input>:1:1: unknown tactic"}` is Failed with the reason."""
    fake_lean.use(recorded(*RECORDED_MAIN))
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="f", statement="def f : Nat :="))
        outcome = env.step(root, "exat 42")
    assert outcome == Failed("<input>:1:1: unknown tactic")


def test_multiple_goals_keep_lean_order_and_case_tags(fake_lean: FakeLean) -> None:
    """RECORDED by_cases: branching the same two-goal state twice; goals keep their `case` tags in Lean's order."""
    fake_lean.use(recorded(*RECORDED_MAIN))
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="foo", statement="theorem foo (x : Int) : x = x :="))
        split = env.step(root, "by_cases h : x < 0")
        assert isinstance(split, Progress)
        assert [g.split("\n")[0] for g in split.state.goals] == ["case pos", "case neg"]
        closed_pos = env.step(split.state, "case pos => rfl")
        assert isinstance(closed_pos, Progress) and closed_pos.state.goals == ("case neg\nx : Int\nh : ¬x < 0\n⊢ x = x",)


def test_mathlib_tactic_with_two_goals(fake_lean: FakeLean) -> None:
    """RECORDED Mathlib/H20231115: `induction'` under `import Mathlib.Tactic.Cases` gives the zero and succ goals; the env is an Environment."""
    from search.types import Environment

    fake_lean.use(recorded(*RECORDED_MATHLIB))
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        assert isinstance(env, Environment)
        root = env.start(Theorem(name="example_L1", statement="example {x : Nat} : x + 1 > x :=", header="import Mathlib.Tactic.Cases"))
        outcome = env.step(root, "induction' x with x hx")
    assert isinstance(outcome, Progress)
    assert outcome.state.goals == ("case zero\n⊢ 0 + 1 > 0", "case succ\nx : Nat\nhx : x + 1 > x\n⊢ x + 1 + 1 > x + 1")


@pytest.mark.parametrize(
    ("session", "tactic"),
    [("by_cases", "all_goals sorry"), ("have_by_sorry", "have h : x = 1 := by sorry"), ("tactic_mode_sorry", "sorry")],
)
def test_answers_with_nested_sorries_are_failures(fake_lean: FakeLean, session: str, tactic: str) -> None:
    """RECORDED by_cases/have_by_sorry/tactic_mode_sorry answers (through lean-interact) with new sorries are never progress or proof."""
    from lean_interact import Command, LeanREPLConfig, LeanServer, LocalProject, ProofStep

    fake_lean.use(recorded(*RECORDED_MAIN, f"{session}.in"))
    lines = [json.loads(line) for line in recorded(*RECORDED_MAIN, f"{session}.in").read_text().split("\n\n") if line.strip()]
    config = LeanREPLConfig(
        project=LocalProject(directory=str(fake_lean.project_dir), lake_path=str(fake_lean.lake), auto_build=False),
        local_repl_path=str(fake_lean.repl_dir), build_repl=False, lake_path=str(fake_lean.lake),
        enable_incremental_optimization=False, enable_parallel_elaboration=False,
    )
    server = LeanServer(config)
    try:
        answer = None
        for request in lines:
            if "cmd" in request:
                answer = server.run(Command(cmd=request["cmd"]), timeout=30)
            else:
                answer = server.run(ProofStep(proof_state=request["proofState"], tactic=request["tactic"]), timeout=30)
        assert answer is not None and answer.sorries  # the recorded answer really carries sorries
        outcome = step_outcome(answer, (tactic,))
    finally:
        server.kill()
    assert isinstance(outcome, Failed) and "sorry" in outcome.message


def test_sorry_tactics_are_refused_without_asking_lean(fake_lean: FakeLean) -> None:
    """RECORDED by_cases root; a tactic containing `sorry`/`admit` is Failed before it reaches the REPL."""
    fake_lean.use(recorded(*RECORDED_MAIN))
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="foo", statement="theorem foo (x : Int) : x = x :="))
        outcomes = [env.step(root, t) for t in ("all_goals sorry", "admit", "native_decide", "skip\ntheorem cheat : False := sorry")]
    assert all(isinstance(o, Failed) for o in outcomes)
    assert _proof_steps(fake_lean) == []


@pytest.mark.parametrize("variant", [RECORDED_MAIN, ("variants", "v4.33.0-rc2-HEAD", "test")])
def test_declaration_uses_sorry_is_rejected_in_both_wordings(fake_lean: FakeLean, variant: tuple[str, ...]) -> None:
    """RECORDED invalid_tactic command answer: `declaration uses 'sorry'` (v4.24) and ``declaration uses `sorry` `` (v4.28+) both reject."""
    from lean_interact import Command, LeanREPLConfig, LeanServer, LocalProject

    fake_lean.use(recorded(*variant))
    config = LeanREPLConfig(
        project=LocalProject(directory=str(fake_lean.project_dir), lake_path=str(fake_lean.lake), auto_build=False),
        local_repl_path=str(fake_lean.repl_dir), build_repl=False, lake_path=str(fake_lean.lake),
        enable_incremental_optimization=False, enable_parallel_elaboration=False,
    )
    server = LeanServer(config)
    try:
        answer = server.run(Command(cmd="theorem my_theorem (x : Nat) : x = x := by sorry"), timeout=30)
    finally:
        server.kill()
    assert command_rejection(answer) == "the proof contains sorry"
    # Without the sorries list (as a file-level check would see it), the warning alone still rejects.
    assert command_rejection(answer.model_copy(update={"sorries": []})) == "the proof contains sorry"


@pytest.mark.parametrize("variant", [RECORDED_MAIN, ("variants", "v4.19.0", "test"), ("variants", "v4.33.0-rc2-HEAD", "test")])
def test_verify_rejects_an_unfinished_proof_in_every_recorded_version(fake_lean: FakeLean, variant: tuple[str, ...]) -> None:
    """RECORDED unfinished_tactic_block: the final check of `def f : Nat := by` with no tactic is rejected (v4.19 adds a parse error with endPos null)."""
    fake_lean.use(recorded(*variant))
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        verdict = env.verify(Theorem(name="f", statement="def f : Nat :="), [])
    assert not verdict.accepted and "Lean rejects the proof" in verdict.reason


def test_verify_rejects_a_proof_the_kernel_refuses(fake_lean: FakeLean) -> None:
    """RECORDED app_type_mismatch: the whole proof as one command gets `(kernel) declaration has metavariables`."""
    fake_lean.use(recorded(*RECORDED_MAIN))
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        verdict = env.verify(Theorem(name="example_L1", statement="example : 1 = 0 :="), ["cases 1", "rfl", "apply ?succ"])
    assert not verdict.accepted and "(kernel) declaration has metavariables" in verdict.reason


def test_the_header_is_elaborated_once_and_its_env_reused(fake_lean: FakeLean) -> None:
    """RECORDED Mathlib/pickle + H20231215_2: two theorems under one Mathlib header; the header command is sent once."""
    fake_lean.use(recorded(*RECORDED_MATHLIB))
    first = Theorem(
        name="mathd_algebra_455",
        statement="theorem mathd_algebra_455\n  (x : Nat)\n  (h : 2 * (2 * (2 * (2 * x))) = 48) :\n  x = 3 :=",
        header=MATHLIB_HEADER,
    )
    second = Theorem(name="mathd_numbertheory_739", statement="theorem mathd_numbertheory_739 :\n  9! % 10 = 0 :=", header=MATHLIB_HEADER)
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        root1 = env.start(first)
        root2 = env.start(second)
    assert root1.goals == ("x : ℕ\nh : 2 * (2 * (2 * (2 * x))) = 48\n⊢ x = 3",)
    assert root2.goals == ("⊢ 9! % 10 = 0",)
    commands = [r for r in fake_lean.requests() if "cmd" in r]
    assert [c["cmd"] for c in commands].count(MATHLIB_HEADER) == 1
    assert commands[1]["env"] == commands[2]["env"] == 0


def test_a_statement_that_does_not_elaborate_is_input_error(fake_lean: FakeLean) -> None:
    """RECORDED invalid_line_break: `theorem foo : 1 = 1 := bysorry` errors; start raises InputError naming the theorem."""
    fake_lean.use(recorded(*RECORDED_MAIN))
    with fake_lean.backend(root_sorry="bysorry").open_environment(step_timeout=60) as env:
        with pytest.raises(InputError, match="foo: the statement does not elaborate: Unknown identifier `bysorry`"):
            env.start(Theorem(name="foo", statement="theorem foo : 1 = 1 :="))


# -- restarts and stale ids -------------------------------------------------------------------


def test_a_state_survives_a_restart_by_replaying_its_path(fake_lean: FakeLean) -> None:
    """RECORDED proof_step: after the REPL dies, an old state is rebuilt in the new process by replaying its tactics; no stale id is sent."""
    fake_lean.use(recorded(*RECORDED_MAIN))
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="f", statement="def f : Nat :="))
        middle = env.step(root, "have t : Nat := 42")
        assert isinstance(middle, Progress)
        pid = env.process_id
        assert pid is not None
        os.killpg(os.getpgid(pid), signal.SIGKILL)  # the REPL dies between steps
        _wait_for_exit(pid)
        done = env.step(middle.state, "exact t")
    assert done == Proved(("have t : Nat := 42", "exact t"))
    assert fake_lean.starts() == 2
    after_restart = fake_lean.requests()[2:]
    assert after_restart[0] == {"cmd": "def f : Nat := by sorry"}
    assert [(r["proofState"], r["tactic"]) for r in after_restart[1:]] == [(0, "have t : Nat := 42"), (1, "exact t")]


def test_a_state_from_another_process_is_replayed_not_trusted(fake_lean: FakeLean) -> None:
    """RECORDED proof_step: a State whose handle names another process (another worker) is rebuilt from its path."""
    fake_lean.use(recorded(*RECORDED_MAIN))
    theorem = Theorem(name="f", statement="def f : Nat :=")
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        env.start(theorem)
        foreign = State(
            goals=("t : Nat\n⊢ Nat",),
            path=("have t : Nat := 42",),
            handle=LeanHandle("another-process", 7, ("", theorem.statement)),
        )
        done = env.step(foreign, "exact t")
    assert done == Proved(("have t : Nat := 42", "exact t"))
    assert 7 not in [r["proofState"] for r in _proof_steps(fake_lean)]


def test_an_unknown_proof_state_answer_triggers_a_rebuild(fake_lean: FakeLean) -> None:
    """RECORDED unknown_proof_state wording: if the REPL ever answers `Unknown proof state.`, the state is rebuilt in a new process."""
    fake_lean.use(recorded(*RECORDED_MAIN))
    theorem = Theorem(name="f", statement="def f : Nat :=")
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        root = env.start(theorem)
        forged = State(goals=root.goals, path=(), handle=LeanHandle(root.handle.generation, 99, root.handle.theorem))
        outcome = env.step(forged, "apply Int.natAbs")
    assert isinstance(outcome, Progress) and outcome.state.goals == ("⊢ Int",)
    assert fake_lean.starts() == 2


# -- WRITTEN: hangs, crashes, axioms, miniF2F header ------------------------------------------


def test_a_hanging_tactic_fails_and_the_search_goes_on_in_a_new_process(fake_lean: FakeLean) -> None:
    """WRITTEN written_hang_and_crash: a tactic past the step timeout is Failed, the REPL is restarted, and older states still work."""
    fake_lean.use(WRITTEN / "written_hang_and_crash.in")
    with fake_lean.backend().open_environment(step_timeout=5.0) as env:
        root = env.start(Theorem(name="add_zero'", statement="theorem add_zero' (n : Nat) : n + 0 = n :="))
        skipped = env.step(root, "skip")
        assert isinstance(skipped, Progress)
        first = env.process_id
        hung = env.step(skipped.state, "nlinarith [sq_nonneg (n - 1), sq_nonneg (n + 1)]")
        assert isinstance(hung, Failed) and hung.message.startswith("timeout")
        done = env.step(skipped.state, "simp")
        assert done == Proved(("skip", "simp"))
        after_hang = env.process_id
        crashed = env.step(skipped.state, "omega")
        assert isinstance(crashed, Failed) and "crashed" in crashed.message
        again = env.step(skipped.state, "simp")
        assert again == Proved(("skip", "simp"))
        assert len({first, after_hang, env.process_id}) == 3  # each failure left its process behind


def test_verify_accepts_a_clean_proof_and_reports_its_axioms(fake_lean: FakeLean) -> None:
    """WRITTEN minif2f_mathd_algebra_182: the final check re-runs the theorem on the header env and reads `#print axioms`."""
    fake_lean.use(WRITTEN)
    theorem = Theorem(
        name="mathd_algebra_182",
        statement="theorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 :=",
        header="import Mathlib\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n",
    )
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        verdict = env.verify(theorem, ["ring"])
    assert verdict.accepted, verdict.reason
    assert verdict.axioms == ("propext", "Classical.choice", "Quot.sound")
    sent = [r["cmd"] for r in fake_lean.requests()]
    assert sent[0] == "import Mathlib\n\nset_option maxHeartbeats 200000\n\nopen BigOperators Real Nat Topology Rat"
    assert sent[1].endswith(":= by\n  ring") and sent[2] == "#print axioms _root_.mathd_algebra_182"


def test_verify_refuses_sorry_reached_through_a_lemma(fake_lean: FakeLean) -> None:
    """WRITTEN written_verify_axioms: no error and no sorry warning, but `#print axioms` lists sorryAx: rejected."""
    fake_lean.use(WRITTEN)
    theorem = Theorem(
        name="uses_helper", statement="theorem uses_helper : (2 : Nat) + 2 = 5 :=", header="theorem helper : (2 : Nat) + 2 = 5 := sorry"
    )
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        verdict = env.verify(theorem, ["exact helper"])
    assert not verdict.accepted and "sorryAx" in verdict.reason


@pytest.mark.parametrize("allow", [False, True])
def test_verify_refuses_native_decide_axioms_unless_allowed(fake_lean: FakeLean, allow: bool) -> None:
    """WRITTEN written_verify_axioms: `Lean.ofReduceBool` (native_decide) is refused by default and accepted only when allowed."""
    fake_lean.use(WRITTEN)
    theorem = Theorem(
        name="big_mod", statement="theorem big_mod : 1000003 % 7 = 4 :=", header="theorem native_fact : 1000003 % 7 = 4 := by native_decide"
    )
    with fake_lean.backend(allow_native_decide=allow).open_environment(step_timeout=60) as env:
        verdict = env.verify(theorem, ["exact native_fact"])
    assert verdict.accepted is allow
    assert verdict.axioms == ("Lean.ofReduceBool",)


def test_verify_checks_an_example_under_a_fresh_name(fake_lean: FakeLean) -> None:
    """WRITTEN written_verify_axioms: an `example` has no name for `#print axioms`; the same text is checked as a named theorem."""
    fake_lean.use(WRITTEN)
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        verdict = env.verify(Theorem(name="example_L1", statement="example : (3 : Nat) ∣ 12 :="), ["decide"])
    assert verdict.accepted and verdict.axioms == ()


def test_verify_refuses_smuggled_commands_and_sorry_before_asking_lean(fake_lean: FakeLean) -> None:
    """WRITTEN (no exchange needed): a proof step that opens a new declaration, or says sorry, is rejected without a REPL call."""
    fake_lean.use(WRITTEN)
    theorem = Theorem(name="t", statement="theorem t : True :=")
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        smuggled = env.verify(theorem, ["trivial", "axiom cheat : False"])
        sorried = env.verify(theorem, ["sorry"])
        native = env.verify(theorem, ["native_decide"])
    assert not smuggled.accepted and "new command" in smuggled.reason
    assert not sorried.accepted and not native.accepted
    assert fake_lean.requests() == []


# -- memory limits ----------------------------------------------------------------------------


def test_the_hard_memory_limit_reaches_the_repl_process(fake_lean: FakeLean) -> None:
    """RECORDED proof_step: `memory_limit_mb` becomes the REPL process's RLIMIT_AS (set by lean-interact before exec)."""
    limits = "/proc/self/limits"
    if not os.path.exists(limits):
        pytest.skip("no /proc/<pid>/limits on this platform")
    fake_lean.use(recorded(*RECORDED_MAIN))
    with fake_lean.backend(memory_limit_mb=4096).open_environment(step_timeout=60) as env:
        env.start(Theorem(name="f", statement="def f : Nat :="))
        text = open(f"/proc/{env.process_id}/limits", encoding="utf-8").read()
    line = next(row for row in text.splitlines() if row.startswith("Max address space"))
    assert line.split()[3] == str(4096 * 1024 * 1024)


def test_over_the_soft_memory_limit_lean_interact_restarts_the_repl_and_the_state_is_replayed(
    fake_lean: FakeLean, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RECORDED proof_step: `AutoLeanServer` finds the REPL past 80% of its hard limit before a step
    and restarts it; the step's id meant nothing in the new process, so the state is replayed there."""
    import lean_interact.server

    measured: list[int] = []

    def memory_meter(process: object) -> int:
        measured.append(1)  # the second request (the first step) finds the process too big
        return 4096 * 1024**2 if len(measured) == 2 else 0

    monkeypatch.setattr(lean_interact.server, "get_total_memory_usage", memory_meter)
    fake_lean.use(recorded(*RECORDED_MAIN))
    with fake_lean.backend(memory_limit_mb=4096).open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="f", statement="def f : Nat :="))
        first = env.process_id
        middle = env.step(root, "have t : Nat := 42")
        assert isinstance(middle, Progress) and env.process_id != first
        done = env.step(middle.state, "exact t")
        assert done == Proved(("have t : Nat := 42", "exact t"))
        assert env.restarts == 1
    assert fake_lean.starts() == 2
    assert [r.get("cmd", r.get("tactic")) for r in fake_lean.requests()] == [
        "def f : Nat := by sorry",
        "have t : Nat := 42",  # sent to the new process: `Unknown proof state.`
        "def f : Nat := by sorry",  # so the state is rebuilt there
        "have t : Nat := 42",
        "exact t",
    ]


def test_after_a_timeout_a_standby_repl_with_the_header_elaborated_replaces_the_killed_one(fake_lean: FakeLean) -> None:
    """WRITTEN written_timeout_under_a_header: the timeout kills the REPL; a standby started in the
    background elaborates the header while the search does other work, so the next step re-imports
    nothing inside the search's time: the process that answers it had the header before it was asked."""
    fake_lean.use(WRITTEN / "written_timeout_under_a_header.in")
    theorem = Theorem(name="double_two", statement="theorem double_two : double 2 = 4 :=", header="def double (n : Nat) : Nat := 2 * n\n\n")
    with fake_lean.backend().open_environment(step_timeout=2.0) as env:
        root = env.start(theorem)
        hung = env.step(root, "nlinarith [sq_nonneg (double 2 - 4)]")
        assert isinstance(hung, Failed) and hung.message.startswith("timeout")
        for _ in range(600):  # the policy's turn: the standby gets ready meanwhile
            if env.standby_ready():
                break
            time.sleep(0.05)
        asked = len(fake_lean.requests())
        done = env.step(root, "rfl")
        assert done == Proved(("rfl",))
        answering = env.process_id
    sent = fake_lean.requests_by_process()
    to_answering = [(index, request) for index, (pid, request) in enumerate(sent) if pid == answering]
    assert [request.get("cmd", request.get("tactic")) for _, request in to_answering] == [
        "def double (n : Nat) : Nat := 2 * n",
        "theorem double_two : double 2 = 4 := by sorry",
        "rfl",
    ]
    assert to_answering[0][0] < asked  # the header was elaborated before the step was asked


def _is_running_repl(process: "psutil.Process") -> bool:  # noqa: F821
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE and "fake_repl.py" in " ".join(process.cmdline())
    except psutil.NoSuchProcess:
        return False


def test_closing_the_environment_stops_the_standby_repl_too(fake_lean: FakeLean) -> None:
    """WRITTEN written_timeout_under_a_header: closed right after a timeout, while its standby may still
    be starting, the environment leaves no REPL process running."""
    import psutil

    fake_lean.use(WRITTEN / "written_timeout_under_a_header.in")
    theorem = Theorem(name="double_two", statement="theorem double_two : double 2 = 4 :=", header="def double (n : Nat) : Nat := 2 * n\n\n")
    with fake_lean.backend().open_environment(step_timeout=1.0) as env:
        root = env.start(theorem)
        assert isinstance(env.step(root, "nlinarith [sq_nonneg (double 2 - 4)]"), Failed)
        standby = env._repl._standby  # held here: only an explicit stop ends its process, not garbage collection
        assert standby is not None  # the timeout started one
    for _ in range(200):  # a standby caught while starting is stopped as soon as it has started
        running = [child for child in psutil.Process().children(recursive=True) if _is_running_repl(child)]
        if not running:
            break
        time.sleep(0.05)
    assert running == [] and standby is not None


def test_verify_asks_the_axioms_of_a_protected_theorem_in_a_namespace_by_its_full_name(fake_lean: FakeLean) -> None:
    """WRITTEN written_verify_namespaced: inside `namespace Arith` the short name would find the root's
    sorried `two_add_two` (a protected `Arith.two_add_two` is not found by it); verify asks `_root_.Arith.two_add_two`."""
    fake_lean.use(WRITTEN / "written_verify_namespaced.in")
    theorem = Theorem(
        name="two_add_two",
        statement="protected theorem two_add_two : 2 + 2 = 4 :=",
        header="theorem two_add_two : 2 + 2 = 5 := sorry\n\nnamespace Arith\n\n",
    )
    with fake_lean.backend().open_environment(step_timeout=60) as env:
        verdict = env.verify(theorem, ["rfl"])
    assert verdict.accepted and verdict.axioms == ()
    assert fake_lean.requests()[-1] == {"cmd": "#print axioms _root_.Arith.two_add_two", "env": 1}


def test_a_later_theorem_extends_the_earlier_header_env_instead_of_reimporting(fake_lean: FakeLean) -> None:
    """WRITTEN written_two_theorems: theorem 2's header (header 1 + theorem 1) is elaborated as the extension only, on header 1's env."""
    fake_lean.use(WRITTEN / "written_two_theorems.in")
    text = "def double (n : Nat) : Nat := 2 * n\n\ntheorem first : double 1 = 2 := by sorry\n\ntheorem second : double 2 = 4 := by sorry\n"
    backend = fake_lean.backend()
    first, second = (t.theorem for t in backend.parse_file("two.lean", text).theorems)
    with backend.open_environment(step_timeout=60) as env:
        assert env.start(first).goals == ("⊢ double 1 = 2",)
        assert env.start(second).goals == ("⊢ double 2 = 4",)
    commands = [(r["cmd"], r.get("env")) for r in fake_lean.requests()]
    assert commands == [
        ("def double (n : Nat) : Nat := 2 * n", None),
        ("theorem first : double 1 = 2 := by sorry", 0),
        ("theorem first : double 1 = 2 := by sorry", 0),  # the extension of the header, on env 0
        ("theorem second : double 2 = 4 := by sorry", 2),
    ]


def test_close_survives_a_repl_whose_pipe_broke_as_it_was_killed() -> None:
    """lean-interact's `kill` flushes stdin last; a process that died with a request still buffered
    raises BrokenPipeError there (seen after a timeout). Closing must still stop every process."""
    from prover.backends.lean_repl import LeanRepl

    class PipeBrokenServer:
        killed = 0

        def kill(self) -> None:
            PipeBrokenServer.killed += 1
            raise BrokenPipeError(32, "Broken pipe")

    repl = LeanRepl(None, "lake", memory_limit_mb=None, memory_restart_fraction=None, command_timeout=5.0)  # type: ignore[arg-type]
    repl._server = PipeBrokenServer()  # type: ignore[assignment]
    repl.close()
    assert PipeBrokenServer.killed == 1 and repl._server is None
