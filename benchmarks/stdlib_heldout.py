"""Held-out Coq standard-library files, Tactician's protocol: does premise selection and learning help?

    .venv/bin/python benchmarks/stdlib_heldout.py --knn-siblings       # the full protocol (hours)
    .venv/bin/python benchmarks/stdlib_heldout.py --reduced            # 12 files x 5 theorems
    # one process per core, resumable: rerun the same command after a stop and it goes on
    .venv/bin/python benchmarks/stdlib_heldout.py --knn-siblings --reuse-trace --shard 0/2 &
    .venv/bin/python benchmarks/stdlib_heldout.py --knn-siblings --reuse-trace --shard 1/2 &
    .venv/bin/python benchmarks/stdlib_heldout.py --knn-siblings --reuse-trace --summarize
                                               # figures over the prefix of the order every arm finished
    # a run stopped in another session: put its run.json and outcomes-*.jsonl (committed under
    # benchmarks/results/stdlib_heldout-full-run/) in --work and run the same commands again

Protocol (issue 16). The problems are the theorems of a fixed set of standard-library files
(`HELDOUT_FILES`, below), in file order; each theorem is stated with its file's text up to its
statement as the header (what precedes it in its file, the files it `Require`s compiled), and its
own proof removed. The order goes round the files (every file's first theorem, then every file's
second, ...), so that a stopped run's finished prefix spans the files. Every arm sees the same
problems, interleaved problem by problem so that load on the machine falls evenly on the arms.
Arms: `portfolio`; `+hammer` (CoqHammer's `hammer` with E and CVC4); `+retrieval` (BM25-ranked
`Search` premises); `+knn` (Tactician's kNN over the proofs earlier in the same file: Tactician's
online learning, from the file's proofs as they were written; nothing is learnt across held-out
files, so problems are independent: shards and resumed runs give the figures one run would); `all`
(the four together). Each arm also exists as `ARM@edges`: the same policy searched by
`best_first_edges` (one tactic per pop) instead of `best_first`, paired with its `best_first`
twin when both run. With `--knn-rows`, the kNN also indexes a trace of other files (the
full protocol: every stdlib file outside the held-out set, traced with `prove trace`), after the
held-out theorems' near-duplicates and twin files are dropped from it (`prover.data.leakfree`).
Reported: solved with a 95% Wilson interval per arm, a paired exact McNemar test between each arm
and the portfolio (both also with the kNN arms' copied proofs, see below, counted as unsolved),
solved against time, mean seconds per problem, and a duplicate report
(held-out statements that occur verbatim, after normalisation, in a library file outside the set;
what the leak filter dropped from the kNN index; and, as an audit, the proofs found that are a
whole proof of the index verbatim, a long one of any theorem or a short one of a theorem of the
same name: DecimalPos and HexadecimalPos share proofs word for word, HexadecimalNat and DecimalNat
share short ones under the same names).
After a change of the kernel check's verdict, `--rerun-rejected` runs again only the outcomes whose
search claimed proofs that the check rejected: no other outcome depends on the verdict (the
result says how many were run again).
Every step, a `hammer` call included, is cut at the theorem's deadline (the coqidetop call is
capped by it), so a `hammer` call that runs long costs the arm the rest of its budget; the time
figures show what it costs.

The held-out set. `HELDOUT_FILES` is every second file, by module path, of the stdlib files that
(a) the search preamble (`Lia Lra Psatz`, CoqHammer) does not load, checked at start from `Print
Libraries`: a held-out module the preamble loaded would put its own theorems, and hints, in scope;
(b) declare no functor or module type (their theorems cannot be stated alone); (c) have 8 to 60
theorem-like declarations. That gives 48 files and about 980 theorems. `--reduced` takes every
fourth of those files (12) and the first 5 traced theorems of each (60): chosen by this rule
before any run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prover.agent import Prover  # noqa: E402
from prover.backends.coq import CoqBackend  # noqa: E402
from prover.config import ProverConfig  # noqa: E402
from prover.data.coq_trace import COQ_STDLIB  # noqa: E402
from prover.data.leakfree import (  # noqa: E402
    MIN_SCRIPT_CHARACTERS,
    MIN_SCRIPT_STEPS,
    duplicate_statement_report,
    novel_split,
    preamble_loaded_modules,
    search_preamble,
)
from prover.data.rows import TraceRow, read_rows  # noqa: E402
from prover.data.trace import trace_coq  # noqa: E402
from prover.jsonl import read_jsonl  # noqa: E402
from prover.policies import build_policy  # noqa: E402
from prover.policies.knn import KNNPolicy  # noqa: E402
from prover.policies.mixture import MixturePolicy  # noqa: E402
from search.types import Theorem  # noqa: E402

# Every second file (by module path) of the eligible stdlib files, see the docstring.
HELDOUT_FILES = (
    "Coq.Bool.BoolOrder", "Coq.Lists.SetoidPermutation", "Coq.Logic.ClassicalFacts", "Coq.Logic.Diaconescu",
    "Coq.Logic.FinFun", "Coq.NArith.Ndec", "Coq.Numbers.Cyclic.Int63.Cyclic63", "Coq.Numbers.DecimalN",
    "Coq.Numbers.DecimalPos", "Coq.Numbers.DecimalR", "Coq.Numbers.DecimalZ", "Coq.Numbers.HexadecimalNat",
    "Coq.Numbers.HexadecimalQ", "Coq.Numbers.HexadecimalString", "Coq.Program.Wf",
    "Coq.Reals.Abstract.ConstructiveMinMax", "Coq.Reals.Abstract.ConstructiveRealsMorphisms", "Coq.Reals.Alembert",
    "Coq.Reals.ClassicalConstructiveReals", "Coq.Reals.MVT", "Coq.Reals.PSeries_reg", "Coq.Reals.RList",
    "Coq.Reals.Ranalysis2", "Coq.Reals.Ranalysis5", "Coq.Reals.Rgeom", "Coq.Reals.RiemannInt_SF",
    "Coq.Reals.Rpower", "Coq.Reals.Rseries", "Coq.Reals.Rtopology", "Coq.Reals.Rtrigo_def", "Coq.Reals.Rtrigo_reg",
    "Coq.Reals.SeqProp", "Coq.Sets.Constructive_sets", "Coq.Sets.Image", "Coq.Sets.Integers",
    "Coq.Sets.Powerset", "Coq.Sets.Powerset_facts", "Coq.Sets.Relations_2_facts", "Coq.Sorting.CPermutation",
    "Coq.Sorting.PermutEq", "Coq.Sorting.Permutation", "Coq.Wellfounded.Lexicographic_Exponentiation",
    "Coq.ZArith.Zdigits", "Coq.btauto.Algebra", "Coq.micromega.ZifySint63", "Coq.rtauto.Bintree",
    "Coq.setoid_ring.Ncring", "Coq.setoid_ring.Ncring_polynom",
)
REDUCED_FILES = HELDOUT_FILES[::4]
ARMS = ("portfolio", "+hammer", "+retrieval", "+knn", "all")
KNN_ARMS = ("+knn", "all")
# An arm named with the suffix "@edges" (`all@edges`) is that arm's policy searched by
# `best_first_edges` (one tactic per pop) instead of `best_first` (a popped state's every tactic).
SEARCHES = {"": "best_first", "edges": "best_first_edges"}


def arm_parts(arm: str) -> tuple[str, str]:
    """(policy arm, search) of an arm name: `all@edges` is ("all", "best_first_edges")."""
    policy_arm, _, suffix = arm.partition("@")
    return policy_arm, SEARCHES.get(suffix, f"unknown search {suffix!r}")
# Mixture weights (portfolio 1). Retrieval's candidates are spread over several premises and
# tactics. Hammer's one candidate (at the root only) gets its component's whole weight; a call
# costs 15-30 s where the portfolio's closers cost under a second, so by expected cost it goes
# after the portfolio's first dozen root candidates (0.02: just after `intros; sauto`) rather than
# third (0.1, where it took a 10 s budget's whole time before the cheap closers had run).
HAMMER_WEIGHT = 0.02
RETRIEVAL_WEIGHT = 0.5
KNN_WEIGHT = 0.3


def sibling_files(modules: tuple[str, ...]) -> list[tuple[Path, str]]:
    """The kNN index's files for `--knn-siblings`: every stdlib file in the folders of `modules`
    that is not held out, declares no functor or module type and has 8 to 60 theorem-like
    declarations (the held-out set's own rules, less the preamble's); fixed before any run."""
    folders = sorted({file_of(module).parent for module in modules})
    chosen = []
    for folder in folders:
        for path in sorted(folder.glob("*.v")):
            module = "Coq." + ".".join(path.relative_to(COQ_STDLIB).with_suffix("").parts)
            text = path.read_text()
            theorems = len(re.findall(r"^\s*(?:Lemma|Theorem|Corollary|Proposition|Fact|Remark)\s", text, re.MULTILINE))
            functor = re.search(r"^\s*Module\s+Type|Declare Module|^\s*Module\s+\w+\s*\(", text, re.MULTILINE)
            if module not in HELDOUT_FILES and 8 <= theorems <= 60 and not functor:
                chosen.append((path, module))
    return chosen


def file_of(module: str) -> Path:
    """`Coq.Reals.Rpower` -> .../theories/Reals/Rpower.v"""
    return COQ_STDLIB.joinpath(*module.split(".")[1:]).with_suffix(".v")


def wilson(solved: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion."""
    if total == 0:
        return (0.0, 0.0)
    p = solved / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value (binomial test on the discordant pairs)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def build_arm(arm: str, knn_rows: list[TraceRow]) -> tuple[object, KNNPolicy | None]:
    """The policy of an arm and its kNN (None when the arm has none); `knn_rows` is its main index."""
    spec = {"portfolio": "portfolio", "+hammer": f"portfolio+{HAMMER_WEIGHT}*hammer",
            "+retrieval": f"portfolio+{RETRIEVAL_WEIGHT}*retrieval", "+knn": "portfolio",
            "all": f"portfolio+{HAMMER_WEIGHT}*hammer+{RETRIEVAL_WEIGHT}*retrieval"}[arm_parts(arm)[0]]
    base = build_policy(spec, backend="coq")
    if arm_parts(arm)[0] not in KNN_ARMS:
        return base, None
    knn = KNNPolicy(knn_rows)  # plus, per theorem, the proofs before it in its file (`rows_before`)
    return MixturePolicy([base, knn], [1 - KNN_WEIGHT, KNN_WEIGHT]), knn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reduced", action="store_true", help="12 files x 5 theorems (see the docstring)")
    parser.add_argument("--per-file", type=int, default=None, help="first N theorems of each file (default: all; reduced: 5)")
    parser.add_argument("--budget-seconds", type=float, default=30.0)
    parser.add_argument("--step-timeout", type=float, default=10.0)
    parser.add_argument("--arms", default=",".join(ARMS),
                        help=f"comma-separated subset of {','.join(ARMS)}, each also with @edges (searched by best_first_edges)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/stdlib-heldout"), help="trace, outcomes and run folder")
    parser.add_argument("--reuse-trace", action="store_true",
                        help="keep the --work folder's trace when it traced exactly these files (the trace is deterministic)")
    parser.add_argument("--knn-siblings", action="store_true",
                        help="trace `sibling_files` into WORK/siblings and use their rows as the kNN's index")
    parser.add_argument("--summarize", action="store_true",
                        help="only summarise the outcomes in --work (of a stopped or sharded run): the longest prefix "
                             "of the problem order that every arm finished")
    parser.add_argument("--shard", default="0/1", help="I/N: run problems I, I+N, I+2N, ... of the order (one process per core)")
    parser.add_argument("--trace-jobs", type=int, default=2, help="processes tracing the files (the trace is the same)")
    parser.add_argument("--fresh", action="store_true", help="forget the outcomes in --work instead of resuming them")
    parser.add_argument("--rerun-rejected", action="store_true",
                        help="run again the outcomes whose search claimed proofs the kernel check rejected (after a "
                             "change of the verdict: no other outcome depends on it)")
    parser.add_argument("--knn-rows", type=Path, default=None,
                        help="the kNN's main index: rows of a `prove trace` of other files (refused if it holds a "
                             "held-out module; near-duplicates of held-out theorems and twin files are dropped)")
    args = parser.parse_args()
    # A stopped run closes its provers (and their coqidetop processes) on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = {arm for arm in arms if arm_parts(arm)[0] not in ARMS or arm_parts(arm)[1] not in SEARCHES.values()}
    if unknown:
        sys.exit(f"unknown arm(s) {sorted(unknown)}; expected {ARMS}")
    shard, shards = parse_shard(args.shard)
    modules = REDUCED_FILES if args.reduced else HELDOUT_FILES
    per_file = args.per_file or (5 if args.reduced else None)

    loaded = preamble_loaded_modules(search_preamble()) & set(modules)
    if loaded:
        sys.exit(f"the search preamble loads held-out modules {sorted(loaded)}: they cannot be held out")
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    problems, rows_by_theorem = held_out_problems(args, modules, per_file)
    trace_seconds = time.monotonic() - started
    duplicates = duplicate_statement_report([p.theorem for p in problems], COQ_STDLIB, exclude_modules=set(modules))
    knn_rows = knn_index(args, modules, problems, rows_by_theorem, duplicates)
    identity = {"files": list(modules), "per_file": per_file, "problems": [p.id for p in problems],
                "budget_seconds": args.budget_seconds, "step_timeout": args.step_timeout, "search": "best_first",
                "weights": {"hammer": HAMMER_WEIGHT, "retrieval": RETRIEVAL_WEIGHT, "knn": KNN_WEIGHT},
                "knn_index_rows": len(knn_rows)}
    check_run_identity(args.work, identity, fresh=args.fresh)
    if not args.summarize:
        run_arms(args, arms, problems[shard::shards], rows_by_theorem, knn_rows, f"{shard}of{shards}")
    outcomes = read_outcomes(args.work)
    finished = finished_prefix(problems, outcomes, arms)
    finished_outcomes = {arm: [outcomes[arm][p] for p in finished] for arm in arms}
    table, paired = summary(finished_outcomes, arms, len(finished))
    copied = duplicates["proofs_copied_from_knn_index"] = copied_proofs(finished_outcomes, knn_rows)
    honest_table, honest_paired = summary(without_copies(finished_outcomes, copied), arms, len(finished))
    result = {
        "command": " ".join(sys.argv), "reduced": args.reduced, "files": list(modules), "problems": len(problems),
        "problems_finished_by_every_arm": len(finished), "complete": len(finished) == len(problems),
        "files_in_finished": len({p.split("::")[0] for p in finished}), "per_file": per_file,
        "budget_seconds": args.budget_seconds, "step_timeout": args.step_timeout, "search": "best_first",
        "trace_seconds": round(trace_seconds, 1), "outcomes_run_again": rerun_outcomes(args.work),
        "arms": table, "paired": paired,
        "arms_without_copies": honest_table, "paired_without_copies": honest_paired, "duplicates": duplicates,
        "outcomes": finished_outcomes,
    }
    write_result(result, "reduced" if args.reduced else "full")


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` -> (I, N), with 0 <= I < N."""
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not int(match[1]) < int(match[2]):
        sys.exit(f"--shard {text!r}: expected I/N with 0 <= I < N")
    return int(match[1]), int(match[2])


class HeldOut(NamedTuple):
    """A held-out theorem and its id, `source::name`; a file's second theorem of a name (`Module
    Unsigned. Lemma of_to` then `Module Signed. Lemma of_to`) is `source::name@2`, its own problem."""

    id: str
    theorem: Theorem

    @property
    def source(self) -> str:
        return self.theorem.source or ""

    @property
    def key(self) -> tuple[str, str]:
        """(source, name or name@k): the key of its traced proof in `rows_by_theorem`."""
        source, name = self.id.split("::", 1)
        return source, name


def round_robin(problems: list[HeldOut]) -> list[HeldOut]:
    """The first theorem of every file (in `HELDOUT_FILES` order), then every file's second, ...: any
    prefix of the order spans the files evenly, so a stopped run's figures are not one folder's."""
    by_file: dict[str, list[HeldOut]] = {}
    for problem in problems:
        by_file.setdefault(problem.source, []).append(problem)
    depth = max((len(theorems) for theorems in by_file.values()), default=0)
    return [theorems[k] for k in range(depth) for theorems in by_file.values() if k < len(theorems)]


def held_out_problems(args: argparse.Namespace, modules: tuple[str, ...], per_file: int | None):
    """Trace the held-out files (reusing a trace of exactly them with --reuse-trace) and return their
    theorems in round-robin order, each stated with its file's text up to its statement as header,
    and the traced steps of every proof (the kNN's in-file context)."""
    if not (args.reuse_trace and traced_modules(args.work) == set(modules)):
        trace_coq([(file_of(m), m) for m in modules], args.work, jobs=args.trace_jobs, sentence_timeout=30.0)
    problems: list[HeldOut] = []
    texts: dict[str, str] = {}
    # Every traced theorem is a key, in file order, before any row: `rows_before` stops at its own key.
    rows_by_theorem: dict[tuple[str, str], list[TraceRow]] = {}
    seen: Counter[tuple[str, str]] = Counter()
    with_steps: dict[tuple[str, str], list[str]] = {}  # (source, name) -> keys of its occurrences that have rows
    for entry in read_jsonl(args.work / "theorems.jsonl"):
        module, name = entry["source"], entry["theorem"]
        seen[module, name] += 1
        key = name if seen[module, name] == 1 else f"{name}@{seen[module, name]}"
        if entry["status"] != "traced":
            continue
        rows_by_theorem[module, key] = []
        if entry.get("steps"):
            with_steps.setdefault((module, name), []).append(key)
        if per_file is not None and sum(1 for p in problems if p.source == module) >= per_file:
            continue
        text = texts.setdefault(module, file_of(module).read_text())
        theorem = Theorem(name, entry["statement"], header=text[: entry["header_end"]], source=module)
        problems.append(HeldOut(f"{module}::{key}", theorem))
    problems.sort(key=lambda p: modules.index(p.source))  # stable: file order within a file
    occurrence: Counter[tuple[str, str]] = Counter()
    for row in read_rows(args.work / "rows.jsonl"):  # file order; a proof's steps count from 0
        occurrence[row.source, row.theorem] += row.step == 0
        keys = with_steps.get((row.source, row.theorem), [])
        if 0 < occurrence[row.source, row.theorem] <= len(keys):
            rows_by_theorem[row.source, keys[occurrence[row.source, row.theorem] - 1]].append(row)
    return round_robin(problems), rows_by_theorem


def knn_index(args, modules, problems, rows_by_theorem, duplicates: dict) -> list[TraceRow]:
    """The kNN's main index (--knn-siblings or --knn-rows), refused if it holds a held-out module,
    with the held-out theorems' near-duplicates and twin files dropped (reported in `duplicates`)."""
    if args.knn_siblings:
        siblings = sibling_files(modules)
        if not (args.reuse_trace and traced_modules(args.work / "siblings") == {module for _, module in siblings}):
            trace_coq(siblings, args.work / "siblings", jobs=args.trace_jobs, sentence_timeout=30.0)
        args.knn_rows = args.work / "siblings" / "rows.jsonl"
    if args.knn_rows is None:
        return []
    knn_rows = list(read_rows(args.knn_rows))
    leaked = sorted({row.source for row in knn_rows} & set(modules))
    if leaked:
        sys.exit(f"--knn-rows holds held-out modules {leaked[:5]}: trace only files outside the held-out set")
    held_rows = [row for rows in rows_by_theorem.values() for row in rows]
    statements = {(p.source, p.theorem.name): p.theorem.statement for p in problems}
    cleaned = novel_split({"train": knn_rows, "test": held_rows}, statements)
    duplicates["knn_index_near_duplicates"] = cleaned.report
    return cleaned.rows["train"]


def check_run_identity(work: Path, identity: dict, *, fresh: bool) -> None:
    """Resume only a run of the same problems and settings: outcomes of another run are refused
    (or forgotten with --fresh), never mixed in."""
    run_file = work / "run.json"
    if fresh:
        run_file.unlink(missing_ok=True)
        for old in work.glob("outcomes*.jsonl"):
            old.unlink()
    if run_file.is_file():
        saved = json.loads(run_file.read_text())
        if saved != identity:
            changed = sorted(key for key in set(saved) | set(identity) if saved.get(key) != identity.get(key))
            sys.exit(f"{work} holds outcomes of a run with other {', '.join(changed)}: use --fresh or another --work")
    else:
        if any(work.glob("outcomes*.jsonl")):
            sys.exit(f"{work} holds outcomes of an unidentified run: use --fresh or another --work")
        run_file.write_text(json.dumps(identity, indent=1) + "\n")


def read_outcomes(work: Path) -> dict[str, dict[str, dict]]:
    """arm -> problem -> outcome, from every shard's outcomes file in `work` (a cut last line is
    skipped); an outcome run again (`--rerun-rejected`) replaces the earlier one."""
    outcomes: dict[str, dict[str, dict]] = {}
    for path in sorted(work.glob("outcomes*.jsonl")):
        for row in read_jsonl(path):
            outcomes.setdefault(row["arm"], {})[row["problem"]] = row
    return outcomes


def rerun_outcomes(work: Path) -> int:
    """How many outcomes in `work` replace an earlier one of the same arm and problem."""
    rows = [(row["arm"], row["problem"]) for path in sorted(work.glob("outcomes*.jsonl")) for row in read_jsonl(path)]
    return len(rows) - len(set(rows))


def claims_rejected(row: dict) -> bool:
    """Whether the search claimed at least one proof and the kernel check rejected every one: the
    only outcomes a change of the verdict can change (a search that claims nothing never reaches
    it; one whose claim was accepted stays proved under a verdict that accepts more)."""
    return not row["proved"] and (row.get("verify_seconds") or 0.0) > 0.0


def finished_prefix(problems: list[HeldOut], outcomes: dict[str, dict[str, dict]], arms: list[str]) -> list[str]:
    """The longest prefix of the problem order that every arm finished: chosen by the order fixed
    before the run, never by which problems happened to finish (shards finish unevenly)."""
    finished = []
    for problem in (p.id for p in problems):
        if not all(problem in outcomes.get(arm, {}) for arm in arms):
            break
        finished.append(problem)
    return finished


def run_arms(args, arms, problems: list[HeldOut], rows_by_theorem, knn_rows: list[TraceRow], shard: str) -> None:
    """Prove `problems` with every arm, problem by problem, skipping what --work already holds.

    Each problem's kNN sees its main index plus the traced proofs before the theorem in its own
    file (Tactician's online learning: it learns from the file's proofs as they are written). It
    does not learn across held-out files, so problems are independent and shards and resumed
    runs give the figures one uninterrupted run would.
    """
    done = read_outcomes(args.work)
    if args.rerun_rejected:
        again = [(arm, problem) for arm, rows in done.items() for problem, row in rows.items() if claims_rejected(row)]
        for arm, problem in again:
            del done[arm][problem]
        print(f"[{shard}] {len(again)} outcomes whose claimed proofs the kernel rejected are run again", flush=True)
    config = ProverConfig(backend="coq", policy="portfolio", search="best_first", budget_seconds=args.budget_seconds,
                          step_timeout=args.step_timeout)
    backend = CoqBackend()
    arm_policies = {arm: build_arm(arm, knn_rows) for arm in arms}
    provers = {arm: Prover(config.model_copy(update={"search": arm_parts(arm)[1]}), backend, policy=policy)
               for arm, (policy, _) in arm_policies.items()}
    order = {p.id: i for i, p in enumerate(problems)}
    try:
        with (args.work / f"outcomes-{shard}.jsonl").open("a") as progress_file:
            for problem in problems:
                theorem = problem.theorem
                context = [r for earlier in rows_before(problem, rows_by_theorem) for r in earlier]
                for arm in arms:
                    if problem.id in done.get(arm, {}):
                        continue
                    _, knn = arm_policies[arm]
                    if knn is not None:
                        knn.use_local(context)
                    result = provers[arm].prove_theorem(theorem)
                    outcome = {"arm": arm, "problem": problem.id,
                               "proved": result.status == "proved" and result.kernel_checked,
                               "seconds": round(result.seconds, 2), "search_seconds": result.search_seconds,
                               "header_seconds": result.header_seconds, "verify_seconds": result.verify_seconds,
                               "status": result.status, "proof": result.proof,
                               "error": (result.error or "")[:300] or None}  # why unproved: exhausted, budget, rejected
                    progress_file.write(json.dumps(outcome) + "\n")  # kept if the run stops
                    progress_file.flush()
                    print(f"[{shard} {order[problem.id] + 1}/{len(problems)}] {arm:<10} "
                          f"{problem.id} {result.status} {result.seconds:.1f}s", flush=True)
    finally:
        for prover in provers.values():
            prover.close()


def rows_before(problem: HeldOut, rows_by_theorem: dict[tuple[str, str], list[TraceRow]]) -> list[list[TraceRow]]:
    """The traced proofs of the theorems before `problem` in its file, in file order."""
    proofs: list[list[TraceRow]] = []
    for key, rows in rows_by_theorem.items():  # insertion order is the trace's file order
        if key[0] != problem.source:
            continue
        if key == problem.key:
            break
        proofs.append(rows)
    return proofs


def copied_proofs(outcomes: dict[str, list[dict]], index: list[TraceRow]) -> dict[str, list[str]]:
    """Per arm, the problems whose proof is, up to layout, the whole proof script of a theorem in the
    kNN's main index: an audit of what the leak filter let through. A long (non-idiomatic) script
    counts whatever theorem it proves; a short one counts when that theorem has the problem's name,
    which is how a twin file's copy looks (HexadecimalNat's `to_little_uint_succ` and DecimalNat's:
    other constants, so other states, and the same 38-character script)."""
    scripts: dict[tuple[str, str], list[TraceRow]] = {}
    for row in index:
        scripts.setdefault((row.source, row.theorem), []).append(row)
    known, by_name = set(), set()
    for (_, name), rows in scripts.items():
        script = [" ".join(r.tactic.split()) for r in sorted(rows, key=lambda r: r.step)]
        by_name.add((name, " ".join(script)))
        # Short scripts (`destruct b; simpl; auto.`) are idiom, found independently: as in `novel_split`.
        if len(script) >= MIN_SCRIPT_STEPS or sum(len(step) for step in script) >= MIN_SCRIPT_CHARACTERS:
            known.add(" ".join(script))
    copied: dict[str, list[str]] = {}
    for arm, rows in outcomes.items():
        for outcome in rows:
            body = (outcome.get("proof") or "").strip()
            body = " ".join(body.removeprefix("Proof.").removesuffix("Qed.").split())
            name = outcome["problem"].split("::", 1)[-1].split("@", 1)[0]
            if outcome["proved"] and (body in known or (name, body) in by_name):
                copied.setdefault(arm, []).append(outcome["problem"])
    return copied


def without_copies(outcomes: dict[str, list[dict]], copied: dict[str, list[str]]) -> dict[str, list[dict]]:
    """The outcomes with every copied proof of an arm that reads the kNN index counted as unsolved:
    the figures to believe. (An arm without the kNN never sees the index: its copies are found.)"""
    return {arm: [{**o, "proved": False} if arm_parts(arm)[0] in KNN_ARMS and o["problem"] in copied.get(arm, ()) else o
                  for o in rows]
            for arm, rows in outcomes.items()}


def traced_modules(work: Path) -> set[str]:
    """The modules the trace in `work` covers (empty when there is none)."""
    theorems = work / "theorems.jsonl"
    return {entry["source"] for entry in read_jsonl(theorems)} if theorems.is_file() else set()


def summary(outcomes: dict[str, list[dict]], arms: list[str], total: int) -> tuple[dict, dict]:
    """Per arm: solved, 95% interval, solved against time, mean seconds; and each arm paired with
    the portfolio (McNemar). `outcomes[arm]` lists the same problems in the same order for every arm."""
    table = {}
    for arm in arms:
        solved = sum(o["proved"] for o in outcomes[arm])
        low, high = wilson(solved, total)
        times = sorted(o["seconds"] for o in outcomes[arm] if o["proved"])
        curve = {str(t): sum(1 for s in times if s <= t) for t in (1, 2, 5, 10, 20, 30, 60)}
        table[arm] = {"solved": solved, "rate": round(solved / total, 4) if total else 0.0,
                      "ci95": [round(low, 4), round(high, 4)], "solved_by_seconds": curve,
                      "mean_seconds": round(sum(o["seconds"] for o in outcomes[arm]) / max(1, total), 2)}
    paired = {}
    # Each arm against the portfolio, and each @edges arm against the same policy searched by best_first.
    pairs = [(arm, "portfolio") for arm in arms if arm != "portfolio" and "portfolio" in arms]
    pairs += [(arm, arm_parts(arm)[0]) for arm in arms if "@" in arm and arm_parts(arm)[0] in arms]
    for arm, base in pairs:
        only_arm = sum(a["proved"] and not b["proved"] for a, b in zip(outcomes[arm], outcomes[base]))
        only_base = sum(b["proved"] and not a["proved"] for a, b in zip(outcomes[arm], outcomes[base]))
        paired[f"{arm} vs {base}"] = {"only_arm": only_arm, f"only_{base}": only_base,
                                      "mcnemar_p": round(mcnemar_exact(only_arm, only_base), 4)}
    return table, paired


def write_result(result: dict, kind: str) -> None:
    """Print the figures and write them, outcomes included, under benchmarks/results/."""
    print(json.dumps({k: v for k, v in result.items() if k != "outcomes"}, indent=2))
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = f"stdlib_heldout-{kind}-{stamp}.json"
    (results / name).write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to benchmarks/results/{name}")


if __name__ == "__main__":
    main()
