"""The contract scenarios against real Lean (v4.24.0 + Mathlib + REPL, built by `prove setup`).

Skipped with a reason where `lake` is not on PATH or the project is not built. They repeat what the
transcript tests check on the stand-in, so a drift between Lean and the transcripts shows up here.
"""

from __future__ import annotations

import json

import pytest
from lean_fakes import lake_on_path, recorded

from prover.backends.lean import LeanBackend, LeanOptions
from prover.errors import ToolchainMissing
from prover.policies.lean_portfolio import LeanPortfolioPolicy
from search import best_first_search
from search.types import Budget, Failed, Progress, Proved, SearchStatus, Theorem

pytestmark = pytest.mark.lean

MATHLIB_HEADER = "import Mathlib\nopen BigOperators\nopen Real\nopen Nat"


@pytest.fixture(scope="module")
def backend() -> LeanBackend:
    """The installed Lean backend; skips when Lean is not installed or not built."""
    if lake_on_path() is None:
        pytest.skip("`lake` is not on PATH: install elan and run `prove setup` to run the real-Lean tests")
    lean = LeanBackend()
    try:
        lean.check_toolchain()
    except ToolchainMissing as missing:
        pytest.skip(f"the Lean project is not built: {missing}")
    return lean


def test_real_branching_twice_and_proving(backend: LeanBackend) -> None:
    """Two tactics on the root, then the proof closes from the second branch."""
    with backend.open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="f", statement="def f : Nat :="))
        assert isinstance(env.step(root, "apply Int.natAbs"), Progress)
        second = env.step(root, "have t : Nat := 42")
        assert isinstance(second, Progress)
        assert env.step(second.state, "exact t") == Proved(("have t : Nat := 42", "exact t"))


def test_real_error_with_empty_goals_is_failed(backend: LeanBackend) -> None:
    """An unknown identifier leaves goals [] with an error: Failed."""
    with backend.open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="my_theorem", statement="theorem my_theorem (x : Nat) : x = x :="))
        assert isinstance(env.step(root, "exact my_fake_premise"), Failed)


def test_real_leftover_metavariables_and_kernel_failure_are_failed(backend: LeanBackend) -> None:
    """`apply ?succ` leaves metavariables; `exact ex` fails the REPL's kernel check: both Failed."""
    lean = LeanBackend(options=LeanOptions(root_sorry="sorry"))
    with lean.open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="example_L1", statement="example : 1 = 0 :="))
        split = env.step(root, "cases 1")
        assert isinstance(split, Progress)
        one = env.step(split.state, "rfl")
        assert isinstance(one, Progress)
        assert isinstance(env.step(one.state, "apply ?succ"), Failed)
        ex = env.start(Theorem(name="ex", statement="theorem ex : False :="))
        assert isinstance(env.step(ex, "exact ex"), Failed)


def test_real_restart_replays_the_path(backend: LeanBackend) -> None:
    """After the REPL is killed, an old state is rebuilt by replay and the search goes on."""
    with backend.open_environment(step_timeout=60) as env:
        root = env.start(Theorem(name="f", statement="def f : Nat :="))
        middle = env.step(root, "have t : Nat := 42")
        assert isinstance(middle, Progress)
        env._repl._server.kill()  # as a timeout or the OOM killer would
        assert env.step(middle.state, "exact t") == Proved(("have t : Nat := 42", "exact t"))


def test_real_verify_accepts_and_refuses(backend: LeanBackend) -> None:
    """The final check accepts a clean Mathlib proof with standard axioms, refuses the kernel-rejected and native_decide ones."""
    theorem = Theorem(
        name="mathd_algebra_182",
        statement="theorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 :=",
        header="import Mathlib\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n",
    )
    with backend.open_environment(step_timeout=60) as env:
        verdict = env.verify(theorem, ["ring"])
        assert verdict.accepted, verdict.reason
        assert set(verdict.axioms) <= {"propext", "Classical.choice", "Quot.sound"}
        assert not env.verify(Theorem(name="example_L1", statement="example : 1 = 0 :="), ["cases 1", "rfl", "apply ?succ"]).accepted
        native = Theorem(name="big_mod", statement="theorem big_mod : 1000003 % 7 = 4 :=", header="theorem native_fact : 1000003 % 7 = 4 := by native_decide")
        refused = env.verify(native, ["exact native_fact"])
        assert not refused.accepted and "Lean.ofReduceBool" in refused.reason


def test_real_minif2f_problem_is_proved_by_the_portfolio(backend: LeanBackend) -> None:
    """One miniF2F valid problem (mathd_algebra_182) found by best-first search with the portfolio and kernel-checked."""
    rows = [json.loads(line) for line in recorded("..", "..", "data", "minif2f-lean4", "minif2f_valid.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["name"] == "mathd_algebra_182")
    (open_theorem,) = backend.parse_file("m.lean", row["header"] + row["formal_statement"] + "\n").theorems
    with backend.open_environment(step_timeout=60) as env:
        root = env.start(open_theorem.theorem)
        result = best_first_search(env, LeanPortfolioPolicy(), root, budget=Budget(max_expansions=40, max_seconds=600))
        assert result.status is SearchStatus.PROVED and result.proof
        assert env.verify(open_theorem.theorem, result.proof).accepted
