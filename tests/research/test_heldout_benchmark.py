"""The held-out stdlib benchmark's statistics and its fixed file set."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "stdlib_heldout.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("stdlib_heldout", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wilson_interval_and_exact_mcnemar_match_known_values() -> None:
    bench = _benchmark()
    low, high = bench.wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = bench.wilson(28, 60)
    assert (low, high) == (pytest.approx(0.3463, abs=1e-3), pytest.approx(0.5911, abs=1e-3))
    assert bench.mcnemar_exact(6, 0) == pytest.approx(0.03125)  # 2 * (1/2)^6
    assert bench.mcnemar_exact(3, 3) == 1.0 and bench.mcnemar_exact(0, 0) == 1.0


def test_the_held_out_set_is_fixed_large_enough_and_the_reduced_set_is_part_of_it() -> None:
    bench = _benchmark()
    assert len(bench.HELDOUT_FILES) == len(set(bench.HELDOUT_FILES)) == 48
    assert bench.REDUCED_FILES == bench.HELDOUT_FILES[::4] and len(bench.REDUCED_FILES) == 12
    assert all(m.startswith("Coq.") for m in bench.HELDOUT_FILES)


def test_problems_go_round_robin_over_files_and_figures_cover_the_prefix_every_arm_finished(tmp_path: Path) -> None:
    """Any prefix of the order spans the files; shards write their own outcome files and the figures
    take the longest prefix of the fixed order that every arm finished, never a chosen subset."""
    import json

    from search.types import Theorem

    bench = _benchmark()
    problems = [bench.HeldOut(f"{file}::{name}", Theorem(name, "", source=file)) for file, name in
                [("F", "a"), ("F", "b"), ("F", "c"), ("G", "x"), ("H", "p"), ("H", "q")]]
    order = [p.id for p in bench.round_robin(problems)]
    assert order == ["F::a", "G::x", "H::p", "F::b", "H::q", "F::c"]
    shard0 = [{"arm": arm, "problem": p, "proved": True, "seconds": 1.0} for p in order[0::2] for arm in ("portfolio", "all")]
    shard1 = [{"arm": "portfolio", "problem": p, "proved": False, "seconds": 30.0} for p in order[1::2]]
    shard1 += [{"arm": "all", "problem": "G::x", "proved": True, "seconds": 9.0}]
    (tmp_path / "outcomes-0of2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in shard0))
    (tmp_path / "outcomes-1of2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in shard1) + '{"arm": "al')  # cut
    outcomes = bench.read_outcomes(tmp_path)
    ordered = bench.round_robin(problems)
    # `all` has not finished F::b (shard 1): the figures stop before it even though H::p and H::q are done.
    assert bench.finished_prefix(ordered, outcomes, ["portfolio", "all"]) == ["F::a", "G::x", "H::p"]
    assert bench.finished_prefix(ordered, outcomes, ["portfolio"]) == order
    table, paired = bench.summary({arm: [outcomes[arm][p] for p in order[:3]] for arm in ("portfolio", "all")},
                                  ["portfolio", "all"], 3)
    assert table["portfolio"]["solved"] == 2 and table["all"]["solved"] == 3
    assert paired["all vs portfolio"] == {"only_arm": 1, "only_portfolio": 0, "mcnemar_p": 1.0}


def test_an_edges_arm_is_its_policy_searched_one_tactic_per_pop_and_is_paired_with_it() -> None:
    bench = _benchmark()
    assert bench.arm_parts("all@edges") == ("all", "best_first_edges")
    assert bench.arm_parts("+knn") == ("+knn", "best_first")
    assert "unknown" in bench.arm_parts("all@dfs")[1]
    assert bench.KNN_ARMS.count(bench.arm_parts("+knn@edges")[0]) == 1  # its copies count against it too

    def rows(*proved: bool) -> list[dict]:
        return [{"proved": p, "seconds": 1.0 if p else 30.0} for p in proved]

    arms = ["portfolio", "all", "all@edges"]
    _, paired = bench.summary({"portfolio": rows(True, False, False), "all": rows(False, True, False),
                               "all@edges": rows(True, True, True)}, arms, 3)
    assert paired["all@edges vs all"] == {"only_arm": 2, "only_all": 0, "mcnemar_p": 0.5}
    assert paired["all@edges vs portfolio"]["only_arm"] == 2 and "portfolio vs all" not in paired


def test_a_resumed_run_must_have_the_same_problems_and_settings(tmp_path: Path) -> None:
    bench = _benchmark()
    identity = {"problems": ["F::a"], "budget_seconds": 30.0}
    bench.check_run_identity(tmp_path, identity, fresh=False)
    (tmp_path / "outcomes-0of1.jsonl").write_text('{"arm": "portfolio", "problem": "F::a", "proved": true}\n')
    bench.check_run_identity(tmp_path, dict(identity), fresh=False)  # the same run: resumed
    with pytest.raises(SystemExit, match="other budget_seconds"):
        bench.check_run_identity(tmp_path, {**identity, "budget_seconds": 10.0}, fresh=False)
    bench.check_run_identity(tmp_path, {**identity, "budget_seconds": 10.0}, fresh=True)
    assert not list(tmp_path.glob("outcomes*.jsonl"))
    (tmp_path / "run.json").unlink()
    (tmp_path / "outcomes-0of1.jsonl").write_text("{}\n")
    with pytest.raises(SystemExit, match="unidentified run"):
        bench.check_run_identity(tmp_path, identity, fresh=False)


def test_the_knn_context_of_a_theorem_is_only_the_proofs_before_it_in_its_file() -> None:
    """Even a theorem with no traced steps of its own must not see the proofs after it."""
    from prover.data.rows import TraceRow

    from search.types import Theorem

    bench = _benchmark()
    rows = {("F", "a"): [TraceRow("F", "a", 0, "s", "auto.", "")], ("G", "z"): [TraceRow("G", "z", 0, "s", "lia.", "")],
            ("F", "b"): [], ("F", "c"): [TraceRow("F", "c", 0, "s", "ring.", "")]}

    def problem(name: str) -> object:
        return bench.HeldOut(f"F::{name}", Theorem(name.split("@")[0], "", source="F"))

    assert bench.rows_before(problem("b"), rows) == [rows[("F", "a")]]
    assert bench.rows_before(problem("a"), rows) == []
    assert bench.rows_before(problem("c"), rows) == [rows[("F", "a")], []]


def test_two_theorems_of_one_name_in_a_file_are_two_problems_with_their_own_proofs(tmp_path: Path) -> None:
    """`Module Unsigned. Lemma of_to` and `Module Signed. Lemma of_to` in one file: two problems, and
    the proof of the second is not in the context of the theorems between them."""
    import argparse
    import json

    from prover.data.rows import TraceRow, write_rows

    bench = _benchmark()
    theorems = [("of_to", 1), ("mid", 1), ("skipped", 0), ("of_to", 2)]
    (tmp_path / "theorems.jsonl").write_text("".join(
        json.dumps({"source": "Coq.Bool.Bool", "theorem": name, "statement": f"Lemma {name} : True.",
                    "header_end": 0, "status": "traced" if steps else "skipped", "steps": steps}) + "\n"
        for name, steps in theorems))
    rows = [("of_to", 0, "first."), ("mid", 0, "middle."), ("of_to", 0, "second."), ("of_to", 1, "second_end.")]
    write_rows(tmp_path / "rows.jsonl", [TraceRow("Coq.Bool.Bool", name, step, "s", tactic, "") for name, step, tactic in rows])
    args = argparse.Namespace(work=tmp_path, reuse_trace=True)
    problems, by_theorem = bench.held_out_problems(args, ("Coq.Bool.Bool",), None)
    assert [p.id for p in problems] == ["Coq.Bool.Bool::of_to", "Coq.Bool.Bool::mid", "Coq.Bool.Bool::of_to@2"]
    assert [r.tactic for r in by_theorem[("Coq.Bool.Bool", "of_to@2")]] == ["second.", "second_end."]
    context = [r.tactic for proof in bench.rows_before(problems[1], by_theorem) for r in proof]
    assert context == ["first."]
    assert problems[2].theorem.name == "of_to"  # proved under its own name


def test_proofs_that_copy_an_index_proof_are_listed_per_arm() -> None:
    from prover.data.rows import NO_GOALS, TraceRow

    bench = _benchmark()
    index = [TraceRow("Coq.Numbers.HexadecimalPos", "of_lu_revapp", 0, "s0", "revert d'.", "s1"),
             TraceRow("Coq.Numbers.HexadecimalPos", "of_lu_revapp", 1, "s1",
                      "induction d; simpl; intro d';\n  [ now rewrite N.mul_1_r | .. ]; ring.", NO_GOALS),
             TraceRow("Coq.Bool.Bool", "short", 0, "b0", "auto.", NO_GOALS)]
    outcomes = {"all": [
        {"problem": "Coq.Numbers.DecimalPos::of_lu_revapp", "proved": True,
         "proof": "Proof.\n  revert d'.\n  induction d; simpl; intro d'; [ now rewrite N.mul_1_r | .. ]; ring.\nQed."},
        {"problem": "Coq.Numbers.DecimalPos::other", "proved": True, "proof": "Proof.\n  revert d'.\nQed."},
        {"problem": "Coq.Bool.BoolOrder::le_refl", "proved": True, "proof": "Proof.\n  auto.\nQed."},  # idiom
        {"problem": "Coq.Numbers.DecimalPos::failed", "proved": False, "proof": None},
    ]}
    assert bench.copied_proofs(outcomes, index) == {"all": ["Coq.Numbers.DecimalPos::of_lu_revapp"]}
    # A short script is a copy when the index's theorem of the same name has it (a twin file's lemma).
    twin = {"all": [{"problem": "Coq.Bool.BoolOrder::short", "proved": True, "proof": "Proof.\n  auto.\nQed."},
                    {"problem": "Coq.Bool.BoolOrder::short@2", "proved": True, "proof": "Proof. auto. Qed."}],
            "portfolio": [{"problem": "Coq.Bool.BoolOrder::short", "proved": False, "proof": None},
                          {"problem": "Coq.Bool.BoolOrder::short@2", "proved": True, "proof": "Proof. auto. Qed."}]}
    copied = bench.copied_proofs(twin, index)
    assert copied == {"all": ["Coq.Bool.BoolOrder::short", "Coq.Bool.BoolOrder::short@2"],
                      "portfolio": ["Coq.Bool.BoolOrder::short@2"]}
    honest = bench.without_copies(twin, copied)
    assert [o["proved"] for o in honest["all"]] == [False, False] and twin["all"][0]["proved"]  # the input kept
    assert [o["proved"] for o in honest["portfolio"]] == [False, True]  # no kNN: its proof was found, not copied


def test_the_knn_index_files_are_the_held_out_files_neighbours_never_held_out_ones() -> None:
    from prover.data.coq_trace import COQ_STDLIB

    if not COQ_STDLIB.is_dir():
        pytest.skip("the Coq standard library sources are not installed")
    bench = _benchmark()
    siblings = [module for _, module in bench.sibling_files(bench.REDUCED_FILES)]
    assert siblings and not set(siblings) & set(bench.HELDOUT_FILES)
    folders = {module.rsplit(".", 1)[0] for module in bench.REDUCED_FILES}
    assert all(module.rsplit(".", 1)[0] in folders for module in siblings)
    assert "Coq.Numbers.HexadecimalPos" in siblings  # DecimalPos's twin: novel_split must clean it


def test_after_a_verdict_change_only_outcomes_with_rejected_claims_run_again(tmp_path: Path) -> None:
    """A search that claimed no proof never met the verdict, and one whose claim was accepted stays
    proved under a verdict that accepts more: only rows with rejected claims are run again, and a
    row run again replaces the earlier one (the result counts them)."""
    bench = _benchmark()
    rows = [
        {"arm": "portfolio", "problem": "A::p", "proved": False, "verify_seconds": 0.0},  # claimed nothing
        {"arm": "portfolio", "problem": "A::q", "proved": False, "verify_seconds": 4.2},  # every claim rejected
        {"arm": "portfolio", "problem": "A::r", "proved": True, "verify_seconds": 1.0},
    ]
    assert [bench.claims_rejected(row) for row in rows] == [False, True, False]
    again = {"arm": "portfolio", "problem": "A::q", "proved": True, "verify_seconds": 1.1}
    (tmp_path / "outcomes-0of1.jsonl").write_text("".join(json.dumps(row) + "\n" for row in [*rows, again]))
    assert bench.read_outcomes(tmp_path)["portfolio"]["A::q"]["proved"] is True
    assert bench.rerun_outcomes(tmp_path) == 1
