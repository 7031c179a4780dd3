"""Run an experiment into a run directory, and compare run directories side by side.

A run directory holds:
  config.toml / config.json   the experiment as given and as validated
  eval/ or round-N/           the evaluation runner's output (results.jsonl, summary.json, report.md)
  summary.json                the experiment's numbers (per round for expert iteration)
  table.md                    the same as a table
  solved_vs_time.png          problems solved within t seconds (one curve per round)
  new_rows.jsonl, value_examples.jsonl   (expert iteration) the rows traced from new proofs, and
                              states labelled by search outcome (on a found proof: discounted 1;
                              root of an unsolved problem: 0) for `prove train value`
The search over the problem set is `prover.eval.runner.run_evaluation`; this module adds the
policy composition (portfolio + kNN + a trained model), the learning loop and the comparison.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from prover.agent import Prover, TheoremResult
from prover.backends import get_backend
from prover.config import ProverConfig
from prover.data.replay import ReplayFailed, rows_from_proof
from prover.data.rows import TraceRow, read_rows, split_of, write_rows
from prover.errors import InputError, ProverCrashed, ProverTimeout
from prover.eval.datasets import Problem, dataset_label, load_dataset, select_problems

from prover.eval.results import ResultRow, read_rows as read_result_rows
from prover.eval.runner import ProgressSink, run_evaluation
from prover.experiments.config import EvalFigures, ExperimentConfig, ExperimentSummary, KnnConfig
from prover.jsonl import read_jsonl
from prover.policies.knn import KNNPolicy
from search.types import Policy, Theorem

if TYPE_CHECKING:
    from prover.training.trainer import Example

__all__ = [
    "ExperimentOutcome",
    "run_experiment",
    "load_problems",
    "trace_problems",
    "compare_runs",
    "ExperimentPolicy",
    "FileContext",
]

log = logging.getLogger(__name__)


@dataclass
class ExperimentOutcome:
    """What a run produced: its directory and summary (with `rounds` for expert iteration)."""

    out_dir: Path
    summary: dict[str, Any]
    rounds: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- problems
def trace_problems(trace_dir: str | Path, split: str) -> list[Problem]:
    """The traced theorems of the files in `split` (by file) of a `prove trace` output, as problems.

    Only theorem-like declarations whose proof was traced are kept (they are known to be provable);
    the header is the file's text before the statement.
    """
    from prover.backends.coq_parse import THEOREM_KEYWORDS
    from prover.data.coq_trace import declaration_keyword

    listing = Path(trace_dir) / "theorems.jsonl"
    if not listing.exists():
        raise InputError(f"{trace_dir}: no theorems.jsonl (not a `prove trace` output)")
    texts: dict[str, str] = {}
    problems: list[Problem] = []
    seen: set[str] = set()
    for entry in read_jsonl(listing):
        if entry["status"] != "traced" or declaration_keyword(entry["statement"]) not in THEOREM_KEYWORDS:
            continue
        if split != "all" and split_of({"source": entry["source"], "theorem": entry["theorem"]}, by="file") != split:
            continue
        path = entry.get("path") or entry["source"]
        if path not in texts:
            try:
                texts[path] = Path(path).read_text()
            except OSError as missing:
                raise InputError(f"{path}: cannot read the traced file ({missing.strerror})") from None
        header = texts[path][: entry["header_end"]]
        theorem = Theorem(entry["theorem"], entry["statement"], header=header, source=path)
        problems.append(Problem(_problem_id(entry, header, seen), "coq", theorem, "stdlib", source=path))
    return problems


def _problem_id(entry: dict, header: str, seen: set[str]) -> str:
    """`source::Module.theorem`: qualified by the modules open at the statement, so `Module A.
    Lemma foo` and `Module B. Lemma foo` are two problems (a short-name id counted them as one);
    a name a file still repeats gets its statement's offset."""
    from prover.backends.coq_parse import open_blocks

    modules = [name for kind, name in open_blocks(header) if kind in ("Module", "Functor")]
    identifier = f"{entry['source']}::{'.'.join([*modules, entry['theorem']])}"
    if identifier in seen:
        identifier = f"{identifier}@{entry['header_end']}"
    seen.add(identifier)
    return identifier


def _drop_preloaded(problems: list[Problem], config: ExperimentConfig) -> tuple[list[Problem], list[str]]:
    """Leave out held-out problems of trace datasets whose module the search preamble loads
    (`From Coq Require Import Lia Lra Psatz` loads some stdlib files, theorems and hints
    included): each theorem must see only what precedes it and what its file requires."""
    if not config.dataset.name.startswith("trace:") or config.prover.backend == "lean":
        return problems, []
    from prover.data.leakfree import preamble_loaded_modules, search_preamble

    loaded = preamble_loaded_modules(search_preamble())
    kept = [p for p in problems if p.id.partition("::")[0] not in loaded]
    dropped = sorted({p.id.partition("::")[0] for p in problems} & loaded)
    if dropped:
        log.warning("left out the problems of %d module(s) the search preamble loads: %s", len(dropped), ", ".join(dropped))
    if not kept:
        raise InputError(f"every selected problem comes from a module the search preamble loads ({', '.join(dropped)})")
    return kept, dropped


def evaluated_theorems(problems: Sequence[Problem]) -> set[tuple[str, str]]:
    """(source, theorem) of each problem, as trace rows name them (`source::theorem` ids)."""
    found: set[tuple[str, str]] = set()
    for problem in problems:
        source, sep, qualified = problem.id.partition("::")
        name = problem.theorem.name if problem.theorem is not None else qualified.rsplit(".", 1)[-1]
        found.add((source, name) if sep else (problem.source, name))
    return found


def refuse_overlap(rows_path: str | None, problems: Sequence[Problem], what: str) -> None:
    """`InputError` when rows at `rows_path` come from an evaluated theorem or its file: learning
    from them would leak the evaluation split into the policy."""
    if not rows_path:
        return
    from prover.data.leakfree import overlapping_rows

    leaked = overlapping_rows(read_rows(rows_path), evaluated_theorems(problems))
    if leaked:
        files = sorted({row.source for row in leaked})
        raise InputError(
            f"{what} {rows_path} overlaps the evaluation split: {len(leaked)} rows from {len(files)} evaluated "
            f"file(s) ({', '.join(files[:3])}{', ...' if len(files) > 3 else ''}); use rows from the training split"
        )


def load_problems(config: ExperimentConfig) -> tuple[list[Problem], str]:
    """The selected problems and the dataset's label."""
    dataset = config.dataset
    if dataset.name.startswith("trace:"):
        trace_dir = dataset.name[len("trace:"):]
        problems = trace_problems(trace_dir, dataset.split)
        label = f"trace:{Path(trace_dir).resolve()}"
    else:
        backend = config.prover.backend
        problems = load_dataset(dataset.name, split=dataset.split, backend=backend, data_dir=dataset.data_dir)
        label = dataset_label(dataset.name, backend)
    chosen = select_problems(problems, only=dataset.only, limit=dataset.limit)
    if not chosen:
        raise InputError(f"{dataset.name}: no problem selected")
    return chosen, label


# ---------------------------------------------------------------- policies
class ExperimentPolicy:
    """The prover's policy spec, plus a kNN over traced rows and a trained model, as one mixture.

    The kNN is kept so expert iteration can add rows online; `set_model` swaps the trained model in.
    """

    def __init__(self, config: ExperimentConfig, backend: str) -> None:
        from prover.policies import build_policy

        self.backend = backend
        self.base = build_policy(config.prover.policy, backend=backend, seed=config.seed)
        self.knn: KNNPolicy | None = None
        self.knn_weight = 0.0
        self.online = False
        self.file_context: FileContext | None = None
        # Proofs found online, per attempt (keyed by the attempt's seed): see `_LearningProver`.
        self.online_rows: dict[int, list[TraceRow]] = {}
        # States the searches proved unprovable (value-training negatives; expert iteration).
        self.failed_states: list[str] = []
        if config.knn is not None:
            rows = read_rows(config.knn.rows) if config.knn.rows else ()
            self.knn = KNNPolicy(rows, k=config.knn.k, temperature=config.knn.temperature)
            self.knn_weight = config.knn.weight
            self.online = config.knn.online
            if config.knn.file_context and config.dataset.name.startswith("trace:"):
                self.file_context = FileContext(config.dataset.name[len("trace:"):])
        self.model: Policy | None = None
        self.model_weight = 0.0
        self.seed = config.seed
        self._policy = self._compose()

    def set_model(self, checkpoint: Path, weight: float) -> None:
        """Mix in the tactic model saved at `checkpoint` (loaded with beam search)."""
        from prover.policies import build_policy

        self.model = build_policy(f"hf:{checkpoint}?decoding=beam&max_input_tokens=512&max_new_tokens=48", backend=self.backend, seed=self.seed)
        self.model_weight = weight
        self.refresh()

    def refresh(self) -> None:
        """Recompose the mixture after a component or weight changed."""
        self._policy = self._compose()

    def _compose(self) -> Policy:
        from prover.policies.mixture import MixturePolicy

        extras = [(p, w) for p, w in ((self.knn, self.knn_weight), (self.model, self.model_weight)) if p is not None]
        if not extras:
            return self.base
        rest = max(0.0, 1.0 - sum(w for _, w in extras))
        return MixturePolicy([self.base, *(p for p, _ in extras)], [rest or 1e-6, *(w for _, w in extras)])

    @property
    def policy(self) -> Policy:
        """The composed policy."""
        return self._policy


class FileContext:
    """The traced proofs that precede each theorem of a `prove trace` output in its own file.

    A theorem's header is its file's text up to its statement, so these proofs are part of what
    the prover is given; Tactician learns from them the same way.
    """

    def __init__(self, trace_dir: str | Path) -> None:
        directory = Path(trace_dir)
        self._theorems: dict[str, list[tuple[int, str]]] = {}  # file path -> (header_end, theorem)
        paths: dict[str, str] = {}  # a row's `source` -> the file path problems carry
        for entry in read_jsonl(directory / "theorems.jsonl"):
            path = paths.setdefault(entry["source"], entry.get("path") or entry["source"])
            if entry.get("status") == "traced":
                self._theorems.setdefault(path, []).append((entry["header_end"], entry["theorem"]))
        self._rows: dict[tuple[str, str], list[TraceRow]] = {}
        for row in read_rows(directory / "rows.jsonl"):
            self._rows.setdefault((paths.get(row.source, row.source), row.theorem), []).append(row)

    def rows_before(self, theorem: Theorem) -> list[TraceRow]:
        """Rows of the theorems whose statements end before `theorem`'s header does (a name the
        file reuses later is left out: its rows could belong to the later one)."""
        path = str(theorem.source or "")
        end = len(theorem.header)
        entries = self._theorems.get(path, [])
        later = {name for start, name in entries if start >= end}
        earlier = [name for start, name in sorted(entries) if start < end and name not in later]
        return [row for name in dict.fromkeys(earlier) for row in self._rows.get((path, name), [])]


def failed_states(result: TheoremResult) -> list[str]:
    """The states a search showed to be dead ends (status FAILED: every candidate failed below
    them): what value training learns 0 from, next to the proofs' states it learns 1 from."""
    from search.tree import NodeStatus

    graph = result.search_graph
    if graph is None:
        return []
    return [key for key in graph.keys() if graph.status(key) is NodeStatus.FAILED]  # type: ignore[attr-defined]


def _proof_rows(result: TheoremResult, theorem: Theorem) -> list[TraceRow]:
    """The (state, tactic) rows of a proved result, read off its search graph."""
    graph = result.search_graph
    if graph is None or not result.tactics:
        return []
    rows: list[TraceRow] = []
    node = graph.root  # type: ignore[attr-defined]
    for step, tactic in enumerate(result.tactics):
        child = next((c for c in graph.children(node) if graph.graph.edges[node, c].get("tactic") == tactic), None)  # type: ignore[attr-defined]
        if child is None:
            break  # a step the search graph does not hold (e.g. a whole-proof suffix): keep what is there
        rows.append(TraceRow("search", theorem.name, step, node, tactic, child))
        node = child
    return rows


class _LearningProver:
    """A `Prover` whose kNN is given each theorem's file context and the proofs this attempt found.

    Online learning is per attempt (`attempt_key`: the attempt's seed): attempt 1 of a problem
    never sees attempt 0's proof of it, so pass@k counts independent attempts. The proofs stay in
    the kNN's local set; the main index changes only between expert-iteration rounds.
    """

    def __init__(self, prover: Prover, policy: ExperimentPolicy, attempt_key: int = 0) -> None:
        self.prover = prover
        self.policy = policy
        self.attempt_key = attempt_key

    def prove_theorem(self, theorem: Theorem, *, on_step: Callable[[int], None] | None = None) -> TheoremResult:
        knn = self.policy.knn
        learned = self.policy.online_rows.setdefault(self.attempt_key, [])
        if knn is not None:
            context = self.policy.file_context.rows_before(theorem) if self.policy.file_context is not None else []
            knn.use_local([*context, *learned])
        result = self.prover.prove_theorem(theorem, on_step=on_step) if on_step else self.prover.prove_theorem(theorem)
        if knn is not None and self.policy.online and result.status == "proved" and result.kernel_checked:
            learned.extend(_proof_rows(result, theorem))
        self.policy.failed_states.extend(failed_states(result))
        return result

    def close(self) -> None:
        self.prover.close()


@dataclass(frozen=True)
class _SharedPolicyProver:
    """A prover factory for the evaluation runner that gives every prover the experiment's policy."""

    backend: str
    policy: ExperimentPolicy

    def __call__(self, config: ProverConfig) -> _LearningProver:
        prover = Prover(config, get_backend(self.backend), policy=self.policy.policy)
        return _LearningProver(prover, self.policy, attempt_key=config.seed)


# ---------------------------------------------------------------- running
def _prover_config(config: ExperimentConfig, backend: str, label: str) -> ProverConfig:
    return config.prover.model_copy(update={"backend": backend, "policy": label, "seed": config.seed})


def _evaluate(
    config: ExperimentConfig,
    problems: Sequence[Problem],
    label: str,
    policy: ExperimentPolicy,
    out_dir: Path,
    policy_label: str,
    progress: ProgressSink | None,
) -> tuple[list[ResultRow], dict[str, Any]]:
    backend = problems[0].backend
    outcome = run_evaluation(
        problems,
        config=_prover_config(config, backend, policy_label),
        out_dir=out_dir,
        dataset=label,
        split=config.dataset.split,
        attempts=config.attempts,
        # With more workers each Ray actor gets a copy of the policy: the kNN then learns online
        # within each worker, and the driver's copy learns at the end of each expert-iteration round.
        workers=config.workers,
        prover_factory=_SharedPolicyProver(backend, policy),
        progress=progress,
    )
    return outcome.rows, outcome.summary


def _solve_times(rows: Sequence[ResultRow]) -> list[float]:
    return sorted(row.seconds for row in rows if row.status == "proved" and row.attempt == 0)


def run_experiment(
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    config_text: str | None = None,
    progress: ProgressSink | None = None,
) -> ExperimentOutcome:
    """Run `config` into `out_dir` (see the module docstring); rerunning resumes finished problems."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config_text is not None:
        (out / "config.toml").write_text(config_text)
    (out / "config.json").write_text(json.dumps(config.model_dump(mode="json"), indent=2) + "\n")
    problems, label = load_problems(config)
    problems, preloaded = _drop_preloaded(problems, config)
    refuse_overlap(config.knn.rows if config.knn else None, problems, "[knn].rows")
    refuse_overlap(config.expert_iteration.base_rows if config.kind == "expert_iteration" else None, problems,
                   "[expert_iteration].base_rows")
    backend = problems[0].backend
    policy = ExperimentPolicy(config, backend)
    started = time.monotonic()
    if config.kind == "evaluate":
        rows, eval_summary = _evaluate(config, problems, label, policy, out / "eval", config.policy_label, progress)
        summary = _summary_of(config, label, problems, rows, time.monotonic() - started)
        summary["preloaded_modules_left_out"] = preloaded
        summary["eval"] = EvalFigures.model_validate(eval_summary)
        summary = ExperimentSummary.model_validate(summary).model_dump(mode="json")
        _write_outputs(out, config, summary, [("run", _solve_times(rows))], rounds=[])
        return ExperimentOutcome(out, summary)
    return _expert_iteration(config, problems, label, policy, out, progress, started)


def _summary_of(
    config: ExperimentConfig, label: str, problems: Sequence[Problem], rows: Sequence[ResultRow], seconds: float
) -> dict[str, Any]:
    first = [r for r in rows if r.attempt == 0]
    proved = [r for r in first if r.status == "proved"]
    return {
        "name": config.name,
        "kind": config.kind,
        "dataset": label,
        "split": config.dataset.split,
        "policy": config.policy_label,
        "search": config.prover.search,
        "budget_seconds": config.prover.budget_seconds,
        "problems": len(problems),
        "solved": len(proved),
        "unproved": sum(r.status == "unproved" for r in first),
        "invalid": sum(r.status == "invalid" for r in first),
        "errors": sum(r.status == "error" for r in first),
        "solve_rate": len(proved) / len(problems) if problems else 0.0,
        "mean_seconds_solved": (sum(r.seconds for r in proved) / len(proved)) if proved else None,
        "expansions": sum(r.expansions for r in first),
        "seconds": round(seconds, 2),
        "header_seconds": round(sum(r.header_seconds for r in first), 3),
        "search_seconds": round(sum(r.search_seconds for r in first), 3),
        "verify_seconds": round(sum(r.verify_seconds for r in first), 3),
        "solved_problems": sorted(r.problem for r in proved),
    }


def _expert_iteration(
    config: ExperimentConfig,
    problems: Sequence[Problem],
    label: str,
    policy: ExperimentPolicy,
    out: Path,
    progress: ProgressSink | None,
    started: float,
) -> ExperimentOutcome:
    """Rounds of: evaluate, learn the new proofs (kNN rows, value examples, optionally a retrained
    model), score on the held-out problems; then the summary over the rounds."""
    from prover.training.trainer import Example, write_value_examples

    settings = config.expert_iteration
    config = _with_learning_knn(config, policy)
    scored, problems = _heldout_split(problems, settings.heldout)
    by_id = {p.id: p for p in problems}
    ever_solved: set[str] = set()
    valued: set[str] = set()  # states already written as value examples (no duplicates across rounds)
    rounds: list[dict[str, Any]] = []
    curves: list[tuple[str, list[float]]] = []
    new_rows_path = out / "new_rows.jsonl"
    values_path = out / "value_examples.jsonl"
    for path in (new_rows_path, values_path):
        path.unlink(missing_ok=True)
    backend = get_backend(problems[0].backend)
    for round_index in range(settings.rounds):
        round_started = time.monotonic()
        policy.online_rows.clear()  # each round is a fresh attempt; what it learns enters the index below
        policy.failed_states.clear()
        rows, _ = _evaluate(
            config, problems, label, policy, out / f"round-{round_index}",
            f"{config.policy_label}@round{round_index}", progress,
        )
        solved = {r.problem: r for r in rows if r.status == "proved" and r.kernel_checked and r.tactics and r.attempt == 0}
        new = sorted(set(solved) - ever_solved)
        learned = _learn_round(backend, config, by_id, solved, new, round_index)
        learned.values.extend(Example(state, "", 0.0) for state in policy.failed_states)
        learned.values = _unseen_examples(learned.values, valued)
        added = policy.knn.add(learned.traced) if policy.knn is not None else 0
        write_rows(new_rows_path, learned.traced, append=True)
        write_value_examples(values_path, learned.values, append=True)
        model_dir = None
        if settings.train_model:
            model_dir = _retrain_model(config, out, round_index, new_rows_path)
            policy.set_model(model_dir, settings.model_weight)
        ever_solved |= set(solved)
        heldout_solved = _score_heldout(config, scored, label, policy, out, round_index, progress)
        rounds.append({
            "round": round_index,
            "problems": len(problems),
            "solved": len(solved),
            "heldout_problems": len(scored),
            "heldout_solved": heldout_solved,
            "value_examples": len(learned.values),
            "new_proofs": len(new),
            "cumulative_solved": len(ever_solved),
            "rows_added": added,
            "knn_rows": len(policy.knn) if policy.knn is not None else 0,
            "replay_failures": learned.replay_failures,
            "model": str(model_dir) if model_dir else None,
            "seconds": round(time.monotonic() - round_started, 2),
            "proofs": {pid: list(solved[pid].tactics or ()) for pid in new},
        })
        (out / "rounds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rounds))
        curves.append((f"round {round_index}", _solve_times(rows)))
    summary = _expert_iteration_summary(config, label, problems, rounds, ever_solved, time.monotonic() - started)
    _write_outputs(out, config, summary, curves, rounds=rounds)
    return ExperimentOutcome(out, summary, rounds)


def _with_learning_knn(config: ExperimentConfig, policy: ExperimentPolicy) -> ExperimentConfig:
    """Expert iteration learns into a kNN: start an empty one (in `policy` and the config) when the config has none."""
    if policy.knn is not None:
        return config
    config = config.model_copy(update={"knn": KnnConfig()})
    policy.knn, policy.knn_weight = KNNPolicy(), config.knn.weight  # type: ignore[union-attr]
    policy.online = config.knn.online  # type: ignore[union-attr]
    policy.refresh()
    return config


@dataclass
class _RoundLearning:
    """What one round teaches: rows traced from its new proofs, value examples, proofs that did not replay."""

    traced: list[TraceRow] = field(default_factory=list)
    values: list[Example] = field(default_factory=list)
    replay_failures: dict[str, str] = field(default_factory=dict)


def _learn_round(
    backend: Any,
    config: ExperimentConfig,
    by_id: dict[str, Problem],
    solved: dict[str, ResultRow],
    new: Sequence[str],
    round_index: int,
) -> _RoundLearning:
    """Trace the round's new proofs into rows and value examples (discounted 1 along a proof), and
    label the root of each unsolved problem 0."""
    from prover.training.trainer import Example

    learned = _RoundLearning()
    with backend.open_environment(step_timeout=config.prover.step_timeout) as env:
        # Only proofs not learned in an earlier round: re-appending each round duplicated rows.
        for problem_id in sorted(new):
            theorem = by_id[problem_id].theorem
            assert theorem is not None
            try:
                proof_rows, _ = rows_from_proof(env, theorem, solved[problem_id].tactics or (), source=f"round-{round_index}")
            except (ReplayFailed, ProverCrashed, ProverTimeout, InputError) as failed:
                learned.replay_failures[problem_id] = str(failed)[:200]
                continue
            learned.traced.extend(proof_rows)
            learned.values.extend(Example(r.state_before, "", 0.9 ** (len(proof_rows) - r.step - 1)) for r in proof_rows)
        for problem_id in sorted(set(by_id) - set(solved)):
            theorem = by_id[problem_id].theorem
            if theorem is None:
                continue
            try:
                learned.values.append(Example(env.start(theorem).key, "", 0.0))
            except (InputError, ProverCrashed, ProverTimeout) as failed:
                log.info("%s: no root state for the value data: %s", problem_id, failed)
    return learned


def _unseen_examples(values: Sequence[Example], valued: set[str]) -> list[Example]:
    """The examples whose state no earlier example had (first one wins); `valued` records the states."""
    fresh: list[Example] = []
    for example in values:
        if example.state not in valued:
            valued.add(example.state)
            fresh.append(example)
    return fresh


def _score_heldout(
    config: ExperimentConfig,
    scored: Sequence[Problem],
    label: str,
    policy: ExperimentPolicy,
    out: Path,
    round_index: int,
    progress: ProgressSink | None,
) -> int | None:
    """Problems solved among those it never learns from (None without a held-out set): the learning
    rounds' own solve counts say how well it memorises, this says how well it generalises."""
    if not scored:
        return None
    policy.online_rows.clear()
    heldout_rows, _ = _evaluate(
        config, scored, label, policy, out / f"round-{round_index}-heldout",
        f"{config.policy_label}@round{round_index}-heldout", progress,
    )
    return sum(r.status == "proved" and r.kernel_checked and r.attempt == 0 for r in heldout_rows)


def _expert_iteration_summary(
    config: ExperimentConfig,
    label: str,
    problems: Sequence[Problem],
    rounds: Sequence[dict[str, Any]],
    ever_solved: set[str],
    seconds: float,
) -> dict[str, Any]:
    return {
        "name": config.name,
        "kind": config.kind,
        "dataset": label,
        "split": config.dataset.split,
        "policy": config.policy_label,
        "search": config.prover.search,
        "budget_seconds": config.prover.budget_seconds,
        "problems": len(problems),
        "solved": rounds[-1]["solved"],
        "solved_per_round": [r["solved"] for r in rounds],
        "heldout_problems": rounds[-1]["heldout_problems"],
        "heldout_solved_per_round": [r["heldout_solved"] for r in rounds],
        "cumulative_solved": len(ever_solved),
        "seconds": round(seconds, 2),
        "solved_problems": sorted(ever_solved),
    }


def _heldout_split(problems: Sequence[Problem], fraction: float) -> tuple[list[Problem], list[Problem]]:
    """(scored, learned on): the problems whose id hashes below `fraction` are held out for scoring."""
    import hashlib

    def share(problem: Problem) -> float:
        return int.from_bytes(hashlib.sha256(problem.id.encode()).digest()[:8], "big") / 2**64

    if fraction <= 0:
        return [], list(problems)
    if len(problems) < 2:
        raise InputError("expert iteration with [expert_iteration].heldout > 0 needs at least two problems")
    ranked = sorted(problems, key=share)
    # At least one problem on each side, whatever the fraction and the hashes.
    cut = min(max(1, sum(share(p) < fraction for p in problems)), len(problems) - 1)
    scored = {p.id for p in ranked[:cut]}
    return [p for p in problems if p.id in scored], [p for p in problems if p.id not in scored]


def _retrain_model(config: ExperimentConfig, out: Path, round_index: int, new_rows: Path) -> Path:
    from prover.training.trainer import TrainConfig, train

    settings = config.expert_iteration
    combined = out / f"train_rows_round{round_index}.jsonl"
    base = settings.base_rows or (config.knn.rows if config.knn else None)
    rows: list[TraceRow] = list(read_rows(base)) if base else []
    if new_rows.exists():
        rows.extend(read_rows(new_rows))
    write_rows(combined, rows)
    model_dir = out / f"model-round{round_index}"
    train(TrainConfig(data=str(combined), out_dir=str(model_dir), split="all", steps=settings.train_steps, seed=config.seed))
    return model_dir


# ---------------------------------------------------------------- outputs
def _table(summary: dict[str, Any], rounds: Sequence[dict[str, Any]]) -> str:
    lines = [
        f"# {summary['name']}",
        "",
        f"dataset `{summary['dataset']}` ({summary['split']}), policy `{summary['policy']}`, "
        f"search {summary['search']}, {summary['budget_seconds']:g} s per problem",
        "",
    ]
    if rounds:
        lines += ["| round | solved | new proofs | cumulative | kNN rows | seconds |", "| --- | --- | --- | --- | --- | --- |"]
        for r in rounds:
            lines.append(
                f"| {r['round']} | {r['solved']}/{r['problems']} | {r['new_proofs']} | {r['cumulative_solved']} | {r['knn_rows']} | {r['seconds']:.0f} |"
            )
    else:
        lines += ["| problems | solved | rate | mean s (solved) | errors |", "| --- | --- | --- | --- | --- |"]
        mean = summary.get("mean_seconds_solved")
        lines.append(
            f"| {summary['problems']} | {summary['solved']} | {summary['solve_rate']:.1%} | "
            f"{'-' if mean is None else f'{mean:.1f}'} | {summary['errors']} |"
        )
    return "\n".join(lines) + "\n"


def _plot(path: Path, curves: Sequence[tuple[str, Sequence[float]]], title: str, budget: float | None) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, times in curves:
        xs = [0.0, *times] + ([budget] if budget else [])
        ys = list(range(len(times) + 1)) + ([len(times)] if budget else [])
        axes.step(xs, ys, where="post", label=name)
    axes.set_xlabel("seconds per problem")
    axes.set_ylabel("problems solved")
    axes.set_title(title)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)


def _write_outputs(
    out: Path, config: ExperimentConfig, summary: dict[str, Any], curves: Sequence[tuple[str, Sequence[float]]], *, rounds: Sequence[dict[str, Any]]
) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "table.md").write_text(_table(summary, rounds))
    _plot(out / "solved_vs_time.png", curves, config.name, config.prover.budget_seconds)


def compare_runs(run_dirs: Sequence[str | Path], *, plot: str | Path | None = None) -> str:
    """A markdown table of several run directories side by side (and a joint solved-vs-time plot)."""
    lines = [
        "| run | dataset | policy | search | budget s | problems | solved | per round |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    curves: list[tuple[str, list[float]]] = []
    for run in run_dirs:
        directory = Path(run)
        summary_file = directory / "summary.json"
        if not summary_file.exists():
            raise InputError(f"{directory}: no summary.json (not a finished experiment run)")
        summary = json.loads(summary_file.read_text())
        per_round = summary.get("solved_per_round")
        lines.append(
            f"| {directory.name} | {Path(summary['dataset']).name} | {summary['policy']} | {summary['search']} | "
            f"{summary['budget_seconds']:g} | {summary['problems']} | {summary['solved']} | "
            f"{', '.join(map(str, per_round)) if per_round else '-'} |"
        )
        results = sorted(directory.glob("*/results.jsonl"))
        if results:
            rows = read_result_rows(results[-1])
            curves.append((directory.name, _solve_times(rows)))
    if plot is not None and curves:
        _plot(Path(plot), curves, "solved within t seconds", None)
    return "\n".join(lines) + "\n"
