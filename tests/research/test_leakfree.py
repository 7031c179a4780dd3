"""Leak-free data: splits by logical module path, near-duplicates kept out of training, LeanDojo's
own splits kept, and experiments that refuse training data overlapping what they evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prover.data.leakfree import logical_module_path, normalise_statement, novel_split
from prover.data.lean_trace import read_leandojo_benchmark
from prover.data.rows import NO_GOALS, TraceRow, read_rows, split_of, write_rows
from prover.data.trace import convert_leandojo, find_coq_files
from prover.errors import InputError

from research_helpers import STDLIB, stdlib_file


def test_a_stdlib_file_has_one_label_and_one_split_whichever_folder_is_traced() -> None:
    stdlib_file("Arith/PeanoNat.v")
    narrow = dict(find_coq_files([STDLIB / "Arith"]))
    wide = dict(find_coq_files([STDLIB]))
    single = dict(find_coq_files([STDLIB / "Arith" / "PeanoNat.v"]))
    path = STDLIB / "Arith" / "PeanoNat.v"
    assert narrow[path] == wide[path] == single[path] == "Coq.Arith.PeanoNat"
    assert all(wide[p] == label for p, label in narrow.items())
    row = {"source": narrow[path], "theorem": "add_comm"}
    assert split_of(row, by="file") == split_of({"source": wide[path], "theorem": "x"}, by="file")


def test_a_project_file_is_named_by_its_coqproject_mapping(tmp_path: Path) -> None:
    (tmp_path / "_CoqProject").write_text("-Q src MyLib\n")
    (tmp_path / "src" / "Algebra").mkdir(parents=True)
    source = tmp_path / "src" / "Algebra" / "Group.v"
    source.write_text("Lemma x : True. Proof. exact I. Qed.\n")
    assert logical_module_path(source) == "MyLib.Algebra.Group"
    assert dict(find_coq_files([tmp_path / "src" / "Algebra"]))[source] == "MyLib.Algebra.Group"
    assert dict(find_coq_files([tmp_path]))[source] == "MyLib.Algebra.Group"


def _rows(source: str, theorem: str, steps: list[tuple[str, str]]) -> list[TraceRow]:
    return [TraceRow(source, theorem, i, state, tactic, NO_GOALS if i == len(steps) - 1 else "next")
            for i, (state, tactic) in enumerate(steps)]


LONG_STEP = "induction d; simpl; intro d'; [ now rewrite N.mul_1_r | .. ]; unfold rev; simpl revapp; ring."


def test_the_novel_split_drops_every_kind_of_near_duplicate_from_training_and_reports_it() -> None:
    held = _rows("Coq.Numbers.NLcm", "lcm_comm", [("a b : N\n====\nlcm a b = lcm b a", "intros."),
                                                  ("s1", "rewrite gcd_comm."), ("s2", "ring.")])
    held += _rows("Coq.Numbers.NLcm", "lcm_assoc", [("t1", "intros."), ("t2", "auto.")])
    held += _rows("Coq.Numbers.DecimalPos", "revapp", [("r1", "revert d'."), ("r2", LONG_STEP)])
    train = (
        _rows("Coq.Z.Stmt", "same_statement", [("u1", "auto.")])
        + _rows("Coq.Z.Goal", "same_root", [("a b : N\n====\nlcm a b = lcm b a", "apply Z.lcm_comm.")])
        + _rows("Coq.Z.Script", "same_script", [("v1", "intros."), ("v2", "rewrite gcd_comm."), ("v3", "ring.")])
        # Two steps only, but a long one: copied, as HexadecimalPos copies DecimalPos's proofs.
        + _rows("Coq.Z.Hexa", "same_long_script", [("h1", "revert d'."), ("h2", LONG_STEP)])
        + _rows("Coq.Z.Short", "same_short_script", [("k1", "intros."), ("k2", "auto.")])  # idiom: kept
        + _rows("Coq.Z.ZLcm", "twin", [("z0", "intros."), ("t1", "intros."), ("t2", "auto.")])  # 2 of NLcm's 5 pairs
        + _rows("Coq.Z.Unrelated", "fine", [("w1", "lia.")])
    )
    statements = {("Coq.Numbers.NLcm", "lcm_comm"): "Lemma lcm_comm a b : lcm a b == lcm b a.",
                  ("Coq.Z.Stmt", "same_statement"): "Theorem same_statement  a b :\n lcm a b == lcm b a."}
    split = novel_split({"train": train, "valid": [], "test": held}, statements)
    assert {r.theorem for r in split.rows["train"]} == {"fine", "same_short_script"}
    assert split.rows["test"] == held  # evaluation problems are kept as they are
    report = split.report
    assert report["dropped_identical_statement"] == 1
    assert report["dropped_identical_root_goal"] == 1
    assert report["dropped_identical_proof_script"] == 2
    assert [(t["evaluated"], t["twin"]) for t in report["twin_files"]] == [("Coq.Numbers.NLcm", "Coq.Z.ZLcm")]
    assert report["train_rows"] == {"before": len(train), "after": 3}


def test_statements_are_compared_without_name_keyword_comments_or_layout() -> None:
    assert normalise_statement("Lemma foo (n : nat) :\n  n + 0 = n.") == normalise_statement(
        "Theorem bar (* same *) (n : nat) : n + 0 = n.")
    assert normalise_statement("Definition x := 1.") is None


def _write_benchmark(path: Path, names: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([
        {"url": "u", "commit": "c", "file_path": f"Mathlib/{name}.lean", "full_name": name, "start": [1, 1], "end": [2, 1],
         "traced_tactics": [{"tactic": "simp [foo]", "state_before": f"⊢ {name}", "state_after": "no goals",
                             "annotated_tactic": ["simp [<a>foo</a>]", [{"full_name": "Mathlib.foo", "def_path": "Mathlib/Foo.lean"}]]}]}
        for name in names
    ]))


def test_leandojo_official_splits_are_kept_with_their_premises(tmp_path: Path) -> None:
    root = tmp_path / "leandojo_benchmark_4" / "novel_premises"
    _write_benchmark(root / "train.json", ["t1", "t2", "t3"])
    _write_benchmark(root / "test.json", [f"e{i}" for i in range(40)])
    report = convert_leandojo([root / "train.json", root / "test.json"], tmp_path / "out")
    assert report.splits == {"novel_premises": {"train": 3, "test": 40}}
    test_rows = list(read_rows(tmp_path / "out" / "splits" / "novel_premises" / "test.jsonl"))
    assert {r.theorem for r in test_rows} == {f"e{i}" for i in range(40)}  # none re-split into train
    assert not (tmp_path / "out" / "splits" / "by_theorem").exists()
    assert all(r.premises == ("Mathlib.foo",) for r in read_leandojo_benchmark(root / "train.json"))
    assert all(r.premises == ("Mathlib.foo",) for r in read_rows(tmp_path / "out"))  # survives JSONL


def _trace_dir(tmp_path: Path) -> Path:
    source = tmp_path / "Lib.v"
    text = ("Module A.\nLemma foo : 1 = 1.\nProof. reflexivity. Qed.\nEnd A.\n"
            "Module B.\nLemma foo : 2 = 2.\nProof. reflexivity. Qed.\nEnd B.\n")
    source.write_text(text)
    trace = tmp_path / "trace"
    trace.mkdir()
    entries = [{"source": "Top.Lib", "path": str(source), "theorem": "foo", "statement": f"Lemma foo : {n} = {n}.",
                "header_end": text.index(f"Lemma foo : {n}"), "status": "traced", "steps": 1} for n in (1, 2)]
    (trace / "theorems.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    write_rows(trace / "rows.jsonl", [TraceRow("Top.Lib", "foo", 0, "====\n1 = 1", "reflexivity.", NO_GOALS)])
    return trace


def test_two_modules_with_a_lemma_of_the_same_name_are_two_problems(tmp_path: Path) -> None:
    from prover.experiments.runner import trace_problems

    problems = trace_problems(_trace_dir(tmp_path), "all")
    assert [p.id for p in problems] == ["Top.Lib::A.foo", "Top.Lib::B.foo"]


def test_an_experiment_refuses_knn_rows_from_the_files_it_evaluates(tmp_path: Path) -> None:
    from prover.experiments.config import load_experiment
    from prover.experiments.runner import run_experiment

    trace = _trace_dir(tmp_path)
    config = tmp_path / "x.toml"
    config.write_text(f'[dataset]\nname = "trace:{trace}"\nsplit = "all"\n[prover]\nbackend = "coq"\n'
                      f'[knn]\nrows = "{trace / "rows.jsonl"}"\n')
    with pytest.raises(InputError, match="overlaps the evaluation split: 1 rows from 1 evaluated file"):
        run_experiment(load_experiment(config), tmp_path / "run")


@pytest.mark.coq
def test_held_out_problems_from_modules_the_search_preamble_loads_are_left_out(tmp_path: Path) -> None:
    from research_helpers import require_coq

    from prover.experiments.config import load_experiment
    from prover.experiments.runner import _drop_preloaded, trace_problems

    require_coq()
    trace = _trace_dir(tmp_path)
    entries = [json.loads(line) for line in (trace / "theorems.jsonl").read_text().splitlines()]
    preloaded = dict(entries[0], source="Coq.micromega.Lia", theorem="lia_lemma")  # Lia is in the preamble
    (trace / "theorems.jsonl").write_text("".join(json.dumps(e) + "\n" for e in [*entries, preloaded]))
    config = tmp_path / "x.toml"
    config.write_text(f'[dataset]\nname = "trace:{trace}"\nsplit = "all"\n[prover]\nbackend = "coq"\n')
    problems = trace_problems(trace, "all")
    kept, dropped = _drop_preloaded(problems, load_experiment(config))
    assert dropped == ["Coq.micromega.Lia"]
    assert [p.id for p in kept] == ["Top.Lib::A.foo", "Top.Lib::B.foo"]
