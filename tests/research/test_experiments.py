"""Experiments: the typed config, one expert-iteration round end to end on real Coq, held-out
problems from a trace, and side-by-side comparison of run directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prover.data.rows import read_rows
from prover.errors import InputError
from search.types import State
from prover.experiments.config import load_experiment
from prover.experiments.runner import FileContext, compare_runs, run_experiment, trace_problems

from research_helpers import require_coq

EASY = """\
Theorem easy_add : forall n : nat, n + 0 = n.
Proof.
Admitted.

Theorem easy_and : forall P Q : Prop, P /\\ Q -> Q /\\ P.
Proof.
Admitted.

Theorem easy_lt : forall n : nat, n < n + 1.
Proof.
Admitted.

Theorem not_easy : forall n : nat, exists m, m * m = n.
Proof.
Admitted.
"""


def _write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "experiment.toml"
    path.write_text(body)
    return path


def test_experiment_config_is_typed_and_names_the_bad_field(tmp_path: Path) -> None:
    good = load_experiment(_write_config(tmp_path, '[dataset]\nname = "minif2f-coq"\n[prover]\nbudget_seconds = 5\n[knn]\nweight = 0.3\n'))
    assert good.prover.budget_seconds == 5 and good.knn is not None and good.policy_label == "portfolio+0.3*knn"
    with pytest.raises(InputError, match="prover.budget_seconds"):
        load_experiment(_write_config(tmp_path, '[dataset]\nname = "x"\n[prover]\nbudget_seconds = -1\n'))
    with pytest.raises(InputError, match="search_rule"):
        load_experiment(_write_config(tmp_path, 'search_rule = "x"\n[dataset]\nname = "x"\n'))
    with pytest.raises(InputError, match="not valid TOML"):
        load_experiment(_write_config(tmp_path, "[dataset\n"))


@pytest.mark.coq
@pytest.mark.slow
def test_expert_iteration_learns_new_proofs_once_and_is_scored_on_problems_it_never_learns_from(tmp_path: Path) -> None:
    require_coq()
    problems = tmp_path / "problems"
    problems.mkdir()
    (problems / "easy.v").write_text(EASY)
    # heldout = 0.4 holds out easy/easy_and (the lowest hash of the four ids) for scoring.
    config_file = _write_config(
        tmp_path,
        f'name = "ei"\nkind = "expert_iteration"\n[dataset]\nname = "{problems}"\n'
        '[prover]\nbackend = "coq"\nbudget_seconds = 5\nstep_timeout = 3\nmax_expansions = 12\n'
        "[expert_iteration]\nrounds = 2\nheldout = 0.4\n",
    )
    config = load_experiment(config_file)
    outcome = run_experiment(config, tmp_path / "run", config_text=config_file.read_text())
    run = tmp_path / "run"
    first, second = outcome.rounds
    results = [json.loads(line) for line in (run / "round-0" / "results.jsonl").read_text().splitlines()]
    proved = {r["problem"] for r in results if r["status"] == "proved"}
    assert all(r["kernel_checked"] for r in results if r["status"] == "proved")
    assert {r["problem"] for r in results} == {"easy/easy_add", "easy/easy_lt", "easy/not_easy"}
    assert {"easy/easy_add", "easy/easy_lt"} <= proved and "easy/not_easy" not in proved
    assert first["solved"] == len(proved) and first["new_proofs"] == len(proved) and set(first["proofs"]) == proved
    # Scored on the held-out problem after each round; it never enters the rows or the kNN.
    assert first["heldout_problems"] == second["heldout_problems"] == 1
    assert first["heldout_solved"] == second["heldout_solved"] == 1
    held = [json.loads(line) for line in (run / "round-0-heldout" / "results.jsonl").read_text().splitlines()]
    assert [r["problem"] for r in held] == ["easy/easy_and"]
    rows = list(read_rows(run / "new_rows.jsonl"))
    assert {r.theorem for r in rows} == {p.split("/")[1] for p in proved}
    assert all(r.state_before.startswith("============================") or ":" in r.state_before for r in rows)
    assert rows[-1].state_after == "no goals"
    # Round 1 proves the same problems again: nothing new, so nothing is appended twice.
    assert second["new_proofs"] == 0 and second["rows_added"] == 0
    assert len(rows) == len({(r.theorem, r.step) for r in rows})
    assert first["rows_added"] == first["knn_rows"] == len({(r.state_before, r.tactic) for r in rows}) > 0
    # Search outcomes label states for the value model: the unsolved root is a 0, each state once.
    labels = [json.loads(line) for line in (run / "value_examples.jsonl").read_text().splitlines()]
    assert any(e["label"] == 0.0 and "m * m = n" in e["state"] for e in labels)
    assert any(e["label"] == 1.0 for e in labels)
    assert len(labels) == len({e["state"] for e in labels})
    table = (run / "table.md").read_text()
    assert f"| 0 | {len(proved)}/3 |" in table
    assert (run / "solved_vs_time.png").stat().st_size > 0 and (run / "config.toml").exists()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["solved_per_round"] == [len(proved), len(proved)] and summary["heldout_solved_per_round"] == [1, 1]


@pytest.mark.coq
@pytest.mark.ray
def test_expert_iteration_on_two_ray_workers_sends_each_its_policy_and_gathers_every_proof(tmp_path: Path) -> None:
    require_coq()
    pytest.importorskip("ray", reason="ray is not installed (pip install 'neuroprove[distributed]')")
    problems = tmp_path / "problems"
    problems.mkdir()
    (problems / "easy.v").write_text(EASY)
    config = load_experiment(_write_config(
        tmp_path,
        f'kind = "expert_iteration"\nworkers = 2\n[dataset]\nname = "{problems}"\n'
        '[prover]\nbackend = "coq"\nbudget_seconds = 5\nstep_timeout = 3\nmax_expansions = 12\n'
        "[knn]\nweight = 0.3\n[expert_iteration]\nrounds = 2\nheldout = 0\n",
    ))
    outcome = run_experiment(config, tmp_path / "run")
    first, second = outcome.rounds
    assert first["solved"] >= 3 and first["new_proofs"] == first["solved"]
    # The workers' online learning stayed in the workers: the driver learned the proofs at the
    # end of round 0, and round 1 (new actors, the updated policy) proves them again.
    assert first["rows_added"] > 0 and first["knn_rows"] == first["rows_added"]
    assert second["solved"] >= 3 and second["knn_rows"] >= first["knn_rows"]
    results = [json.loads(line) for line in (tmp_path / "run" / "round-1" / "results.jsonl").read_text().splitlines()]
    assert all(r["kernel_checked"] for r in results if r["status"] == "proved")


def test_held_out_problems_come_from_a_trace_with_the_file_prefix_as_header(tmp_path: Path) -> None:
    source = tmp_path / "Lib.v"
    text = "Require Import Arith.\nLemma a : 1 = 1.\nProof. reflexivity. Qed.\nLemma b : 2 = 2.\nProof. reflexivity. Qed.\n"
    source.write_text(text)
    trace = tmp_path / "trace"
    trace.mkdir()
    entries = [
        {"source": "Lib.v", "path": str(source), "theorem": "a", "statement": "Lemma a : 1 = 1.", "header_end": text.index("Lemma a"), "status": "traced", "steps": 1},
        {"source": "Lib.v", "path": str(source), "theorem": "b", "statement": "Lemma b : 2 = 2.", "header_end": text.index("Lemma b"), "status": "traced", "steps": 1},
        {"source": "Lib.v", "path": str(source), "theorem": "c", "statement": "Lemma c : 3 = 3.", "header_end": 0, "status": "admitted", "steps": 0},
    ]
    (trace / "theorems.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    problems = trace_problems(trace, "all")
    assert [p.id for p in problems] == ["Lib.v::a", "Lib.v::b"]
    assert problems[1].theorem.header.endswith("Proof. reflexivity. Qed.\n") and "Lemma b" not in problems[1].theorem.header
    split = {p.id for p in trace_problems(trace, "train")} | {p.id for p in trace_problems(trace, "test")} | {p.id for p in trace_problems(trace, "valid")}
    assert split == {"Lib.v::a", "Lib.v::b"}


def test_file_context_gives_only_the_proofs_before_the_theorem_in_its_own_file(tmp_path: Path) -> None:
    text = "Lemma a : 1 = 1.\nProof. reflexivity. Qed.\nLemma b : 2 = 2.\nProof. reflexivity. Qed.\nLemma c : 3 = 3.\nProof. reflexivity. Qed.\n"
    other_text = "Lemma z : 0 = 0.\nProof. reflexivity. Qed.\n"
    trace = tmp_path / "trace"
    trace.mkdir()
    entries, rows = [], []
    for source, body, names in (("Lib.v", text, "abc"), ("Other.v", other_text, "z")):
        (tmp_path / source).write_text(body)
        for name in names:
            entries.append({"source": source, "path": str(tmp_path / source), "theorem": name, "statement": f"Lemma {name}",
                            "header_end": body.index(f"Lemma {name}"), "status": "traced", "steps": 1})
            rows.append({"source": source, "theorem": name, "step": 0, "state_before": f"goal of {name}",
                         "tactic": "reflexivity.", "state_after": "no goals", "imports": []})
    (trace / "theorems.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    (trace / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    context = FileContext(trace)
    by_id = {p.id: p.theorem for p in trace_problems(trace, "all")}
    assert [r.theorem for r in context.rows_before(by_id["Lib.v::c"])] == ["a", "b"]
    assert [r.theorem for r in context.rows_before(by_id["Lib.v::a"])] == []
    assert context.rows_before(by_id["Other.v::z"]) == []


@pytest.mark.coq
def test_an_evaluation_with_online_knn_learns_each_kernel_checked_proof_it_finds(tmp_path: Path) -> None:
    require_coq()
    problems = tmp_path / "problems"
    problems.mkdir()
    (problems / "easy.v").write_text(EASY)
    body = (
        f'name = "online"\n[dataset]\nname = "{problems}"\n'
        '[prover]\nbackend = "coq"\nbudget_seconds = 5\nstep_timeout = 3\nmax_expansions = 12\n'
        "[knn]\nweight = 0.3\n"
    )
    from prover.experiments.runner import ExperimentPolicy, _SharedPolicyProver

    config = load_experiment(_write_config(tmp_path, body))
    assert config.knn is not None and config.knn.online
    policy = ExperimentPolicy(config, "coq")
    assert policy.knn is not None and len(policy.knn) == 0
    from prover.eval.datasets import load_dataset

    [easy_add] = [p for p in load_dataset(str(problems), backend="coq") if p.id.endswith("easy_add")]
    prover = _SharedPolicyProver("coq", policy)(config.prover)
    try:
        result = prover.prove_theorem(easy_add.theorem)
    finally:
        prover.close()
    assert result.status == "proved" and result.kernel_checked
    # Every step of the kernel-checked proof is now a row this attempt's kNN proposes for its own
    # state (kept apart from the main index, which stays as it was).
    learned = policy.online_rows[config.prover.seed]
    assert len(learned) == len(result.tactics) and len(policy.knn) == 0
    root = result.search_graph.root
    policy.knn.use_local(learned)  # what the attempt's next problem is given
    assert policy.knn.propose(State(goals=tuple(root.split("\n\n"))), 1)[0].tactic == result.tactics[0]


def test_runs_compare_side_by_side(tmp_path: Path) -> None:
    for name, policy, solved in (("base", "portfolio", 3), ("knn", "portfolio+0.5*knn", 5)):
        run = tmp_path / name
        run.mkdir()
        summary = {"dataset": "/x/minif2f", "policy": policy, "search": "best_first", "budget_seconds": 10,
                   "problems": 10, "solved": solved}
        (run / "summary.json").write_text(json.dumps(summary))
    table = compare_runs([tmp_path / "base", tmp_path / "knn"])
    assert "| base | minif2f | portfolio | best_first | 10 | 10 | 3 |" in table
    assert "| knn | minif2f | portfolio+0.5*knn | best_first | 10 | 10 | 5 |" in table
    with pytest.raises(InputError):
        compare_runs([tmp_path / "missing"])


def test_every_documented_experiment_config_loads(tmp_path: Path) -> None:
    from prover.experiments import config as config_module

    examples = config_module.documented_examples()
    assert examples, "the module docstring documents at least one config"
    for text in examples:
        loaded = load_experiment(_write_config(tmp_path, text))
        # Keys written after [expert_iteration] in the example are the experiment's own.
        assert loaded.attempts == 1 and loaded.workers == 1 and loaded.expert_iteration.rounds == 2


def test_the_experiment_summary_copies_the_runners_figures_under_their_own_names() -> None:
    from pydantic import ValidationError

    from prover.config import ProverConfig
    from prover.eval.datasets import Problem
    from prover.eval.report import summarize
    from prover.eval.results import ResultRow
    from prover.experiments.config import EvalFigures

    problems = [Problem("p1", "coq", None, "algebra"), Problem("p2", "coq", None, "algebra")]
    rows = [ResultRow(problem="p1", status="proved", kernel_checked=True, category="algebra"),
            ResultRow(problem="p2", status="unproved", category="algebra")]
    figures = EvalFigures.model_validate(summarize(rows, problems, attempts=1, config=ProverConfig(backend="coq"),
                                                   dataset="d", split="s"))
    assert figures.pass_at_k and figures.by_category  # the runner's names, copied
    with pytest.raises(ValidationError):
        EvalFigures.model_validate({"pass_at": {}, "categories": {}})  # a rename fails loudly


def _proved_result(theorem: str, state: str, tactic: str):
    from prover.agent import TheoremResult
    from search.tree import ProofGraph
    from search.types import Candidate, Failed, Proved

    root = State(goals=(state,))
    graph = ProofGraph(root)
    graph.add_candidates(root.key, [Candidate("bad", -1.0), Candidate(tactic, -0.1), Candidate("dead", -2.0)])
    graph.record(root.key, "bad", Failed("no"))
    dead_end = State(goals=("dead end",), path=("dead",))
    from search.types import Progress

    graph.record(root.key, "dead", Progress(dead_end))
    graph.mark_exhausted(dead_end.key)
    graph.record(root.key, tactic, Proved((tactic,)))
    return TheoremResult(theorem=theorem, status="proved", tactics=(tactic,), kernel_checked=True, search_graph=graph)


class _FakeProver:
    """Returns a fixed proof, and records what the kNN proposes for the goal when it is called."""

    def __init__(self, policy, goal: str) -> None:
        self.policy, self.goal, self.seen = policy, goal, []

    def prove_theorem(self, theorem):
        self.seen.append([c.tactic for c in self.policy.knn.propose(State(goals=(self.goal,)), 3)])
        return _proved_result(theorem.name, self.goal, "exact secret_lemma.")

    def close(self) -> None:
        pass


def test_online_learning_is_reset_per_attempt_and_value_negatives_come_from_failed_nodes(tmp_path: Path) -> None:
    from prover.experiments.runner import ExperimentPolicy, _LearningProver, failed_states
    from search.types import Theorem

    config = load_experiment(_write_config(tmp_path, '[dataset]\nname = "x"\n[prover]\nbackend = "coq"\n[knn]\nweight = 0.3\n'))
    policy = ExperimentPolicy(config, "coq")
    goal = "n : nat\n============================\nsecret n"
    theorem = Theorem("t", "Lemma t : secret 0.")
    attempt0 = _LearningProver(_FakeProver(policy, goal), policy, attempt_key=0)
    attempt0.prove_theorem(theorem)
    attempt0.prove_theorem(theorem)  # later problems of the same attempt see its proofs
    assert attempt0.prover.seen == [[], ["exact secret_lemma."]]
    attempt1 = _LearningProver(_FakeProver(policy, goal), policy, attempt_key=1)
    attempt1.prove_theorem(theorem)
    assert attempt1.prover.seen == [[]]  # attempt 1 never sees attempt 0's proof
    # Value training's negatives: the dead end the search proved unprovable, not the proved root.
    result = _proved_result("t", goal, "exact secret_lemma.")
    assert failed_states(result) == ["dead end"]
    assert "dead end" in policy.failed_states and goal not in policy.failed_states
