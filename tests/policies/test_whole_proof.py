"""Truncate-and-resume: a whole-proof script's verified prefix becomes a search node; the model resumes from it."""

from __future__ import annotations

from policy_test_fakes import CounterEnvironment, ScriptedPolicy, split_lines

from prover.policies.generation import Generation, ModelPolicy
from prover.policies.mixture import MixturePolicy
from prover.policies.prompts import get_template
from prover.policies.whole_proof import TruncateAndResumeEnvironment, WholeProofPolicy, attach_whole_proof
from search.types import Failed, Progress, Proved, State, Theorem

THEOREM = Theorem(name="countdown", statement="theorem countdown : Count 3 :=", header="import Toy")


def wrapped(start: int = 3) -> tuple[TruncateAndResumeEnvironment, CounterEnvironment]:
    inner = CounterEnvironment(start)
    return TruncateAndResumeEnvironment(inner, split_lines), inner


def test_a_failing_script_returns_the_state_after_its_longest_verified_prefix() -> None:
    env, inner = wrapped(5)
    root = env.start(THEOREM)
    outcome = env.step(root, "dec\ndec\nbogus\ndec")
    assert outcome == Progress(State(goals=("count=3",), path=("dec", "dec")))
    assert inner.steps == ["dec", "dec", "bogus"]  # stopped at the first failure


def test_a_script_failing_at_its_first_step_is_a_failure() -> None:
    env, _ = wrapped()
    outcome = env.step(env.start(THEOREM), "bogus\ndec")
    assert isinstance(outcome, Failed) and "bogus" in outcome.message


def test_a_complete_script_proves_and_surplus_steps_are_ignored() -> None:
    env, inner = wrapped(2)
    outcome = env.step(env.start(THEOREM), "dec\ndec\ndec")
    assert outcome == Proved(("dec", "dec"))
    assert inner.steps == ["dec", "dec"]


def test_a_script_that_runs_out_leaves_progress_with_every_step_in_the_path() -> None:
    env, _ = wrapped(4)
    assert env.step(env.start(THEOREM), "dec\ndec") == Progress(State(goals=("count=2",), path=("dec", "dec")))


def test_a_single_step_goes_through_unchanged() -> None:
    env, inner = wrapped()
    env.step(env.start(THEOREM), "  dec  ")
    assert inner.steps == ["  dec  "]


def test_resuming_from_the_prefix_finishes_the_proof_and_the_path_verifies() -> None:
    env, inner = wrapped(3)
    root = env.start(THEOREM)
    prefix = env.step(root, "dec\noops")
    assert isinstance(prefix, Progress)
    finished = env.step(prefix.state, "dec\ndec")
    assert isinstance(finished, Proved)
    assert env.verify(THEOREM, finished.path).accepted


class _RecordingGenerator:
    """Answers every prompt with a fixed whole-proof reply, recording the prompts."""

    name = "recording"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list = []

    def generate(self, prompts, n):
        self.prompts.extend(prompts)
        return [[Generation(self.reply, -1.0)] for _ in prompts]


def test_whole_proof_policy_prompts_with_the_theorem_and_the_verified_prefix() -> None:
    generator = _RecordingGenerator("```lean4\ntheorem countdown : Count 3 := by\n  dec\n  dec\n  dec\n```")
    policy = WholeProofPolicy(generator, get_template("deepseek-prover-v2"))
    inner = CounterEnvironment(3)
    env = attach_whole_proof(inner, policy, split_lines)
    root = env.start(THEOREM)
    # Resume after one verified step: the prompt shows it, and the repeated prefix is cut from the answer.
    state = env.step(root, "dec\nnope")
    assert isinstance(state, Progress)
    candidates = policy.propose(state.state, 4)
    content = generator.prompts[-1][0]["content"]
    assert "import Toy\n\ntheorem countdown : Count 3 := by\n  dec\n  sorry" in content
    assert [c.tactic for c in candidates] == ["dec\ndec"]
    assert isinstance(env.step(state.state, candidates[0].tactic), Proved)


def test_attach_gives_every_model_part_of_a_mixture_the_theorem() -> None:
    whole = WholeProofPolicy(_RecordingGenerator("x"), get_template("kimina-prover"))
    step = ModelPolicy(_RecordingGenerator("y"), get_template("internlm-step"))
    env = attach_whole_proof(CounterEnvironment(), MixturePolicy([ScriptedPolicy([("dec", 1.0)]), whole, step]), split_lines)
    env.start(THEOREM)
    assert whole.theorem_slot is step.theorem_slot is env.theorem_slot
    assert whole.context(State(goals=("count=3",))).theorem_name == "countdown"
    assert "NAME: countdown" in step.template.prompt(step.context(State(goals=("count=3",))))


def test_wrapper_delegates_verify_and_close() -> None:
    closed: list[bool] = []
    inner = CounterEnvironment(1)
    inner.close = lambda: closed.append(True)  # type: ignore[attr-defined]
    env = TruncateAndResumeEnvironment(inner, split_lines)
    assert env.verify(THEOREM, ["dec"]).accepted
    env.close()
    assert closed == [True]
    assert env.start_count == 1  # other attributes are the wrapped environment's


def _tiny_mixture(tiny_seq2seq):
    from prover.policies.hf import HFGenerator

    model = ModelPolicy(HFGenerator(str(tiny_seq2seq), decoding="beam", max_new_tokens=4), get_template("reprover"))
    return MixturePolicy([ScriptedPolicy([("dec", 0.9), ("nope", 0.1)], source="portfolio"), model], [0.5, 0.5])


def test_mixture_with_a_tiny_model_proves_inside_both_searches_what_the_portfolio_proves(tiny_seq2seq) -> None:
    import search
    from search.types import Budget, SearchStatus
    from search.values import HeuristicValue

    for name, run in search.ALGORITHMS.items():
        inner = CounterEnvironment(3)
        env = attach_whole_proof(inner, _tiny_mixture(tiny_seq2seq), split_lines)
        root = env.start(THEOREM)
        result = run(env, _tiny_mixture(tiny_seq2seq), root, budget=Budget(max_expansions=200), value=HeuristicValue(), seed=0)
        assert result.status is SearchStatus.PROVED, name
        assert env.verify(THEOREM, result.proof).accepted, name


def test_whole_proof_candidates_prove_in_one_expansion_through_the_wrapper() -> None:
    import search
    from search.types import Budget, SearchStatus

    policy = WholeProofPolicy(_RecordingGenerator("```lean4\ntheorem t : P := by\n  dec\n  dec\n  dec\n```"), get_template("goedel-prover-v2"))
    env = attach_whole_proof(CounterEnvironment(3), policy, split_lines)
    result = search.ALGORITHMS["best_first"](env, policy, env.start(THEOREM), budget=Budget(max_expansions=5))
    assert result.status is SearchStatus.PROVED and result.proof == ("dec", "dec", "dec")
    assert result.expansions == 1
