"""Ray: the prover pool (2 workers, a worker killed mid-problem) and the parallel-rollout executor."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval_fakes import CountingPolicy, FakeProverFactory, counting_environment, fake_problem
from prover.config import ProverConfig
from prover.eval.runner import run_evaluation
from search.executor import InProcessExecutor, Job
from search.types import Budget, Progress, Proved, SearchStatus, Theorem

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]


def test_two_workers_prove_in_parallel_and_a_killed_worker_is_restarted_and_retried_once(tmp_path: Path) -> None:
    problems = [fake_problem(n) for n in ("easy_1", "hard_2", "die_once_3", "die_always_4", "easy_5", "easy_6")]
    calls = tmp_path / "calls"
    outcome = run_evaluation(
        problems,
        config=ProverConfig(budget_seconds=30),
        out_dir=tmp_path / "run",
        dataset="fake",
        split="valid",
        workers=2,
        prover_factory=FakeProverFactory(marker_dir=str(tmp_path), calls_file=str(calls)),
    )
    rows = {r.problem: r for r in outcome.rows}
    assert sorted(rows) == sorted(p.id for p in problems) and len(outcome.rows) == 6
    assert {n: rows[n].status for n in ("easy_1", "hard_2", "easy_5", "easy_6")} == {
        "easy_1": "proved", "hard_2": "unproved", "easy_5": "proved", "easy_6": "proved",
    }
    # Killed once: the worker came back and the retry proved it.
    assert rows["die_once_3"].status == "proved" and rows["die_once_3"].worker_restarts == 1
    # Killed on the retry too: recorded as an error, and the run went on.
    assert rows["die_always_4"].status == "error" and "worker died 2 times" in rows["die_always_4"].error
    lines = calls.read_text().splitlines()
    assert sum(line.split()[1] == "die_always_4" for line in lines) == 2
    assert len({line.split()[0] for line in lines}) >= 2  # more than one worker process did the work


def test_ray_rollout_executor_matches_the_in_process_one_and_replays_paths_across_workers() -> None:
    from prover.distributed.rollouts import RayRolloutExecutor

    theorem = Theorem(name="count", statement="count to three")
    local_env = counting_environment()
    local = InProcessExecutor(local_env)
    with RayRolloutExecutor(counting_environment, workers=2) as remote:
        root = remote.start(theorem)
        assert root.goals == ("n=0",) and root.handle is None
        # Walk down the chain; each step's state is handed back as a path only.
        state, local_state = root, local_env.start(theorem)
        for number, tactic in enumerate(["inc", "bad", "inc", "inc", "done"]):
            remote.submit(Job(number, state, tactic))
            local.submit(Job(number, local_state, tactic))
            (job, outcome), (_, expected) = remote.collect(), local.collect()
            assert job.id == number and type(outcome) is type(expected)
            if isinstance(outcome, Progress):
                assert outcome.state == expected.state and outcome.state.handle is None
                state, local_state = outcome.state, expected.state
        assert isinstance(outcome, Proved) and outcome.path == ("inc", "inc", "inc", "done")
        # Two jobs on a deep state at once: one lands on the worker without it, which replays the path.
        remote.submit(Job(10, state, "done"))
        remote.submit(Job(11, state, "done"))
        outcomes = [remote.collect()[1] for _ in range(2)]
        assert all(isinstance(o, Proved) for o in outcomes)
        stats = remote.stats()
        assert sum(s["steps"] for s in stats) == 7
        assert sum(s["replayed_steps"] for s in stats) == 3  # the path inc, inc, inc rebuilt once


def test_mcts_with_ray_rollouts_finds_the_proof() -> None:
    from search.mcts import mcts_search

    from prover.distributed.rollouts import RayRolloutExecutor

    theorem = Theorem(name="count", statement="count to three")
    with RayRolloutExecutor(counting_environment, workers=2) as executor:
        root = executor.start(theorem)
        result = mcts_search(
            counting_environment(), CountingPolicy(), root, budget=Budget(max_expansions=200), executor=executor
        )
    assert result.status is SearchStatus.PROVED
    assert counting_environment().verify(theorem, result.proof).accepted
