"""The held-out stdlib benchmark's statistics and its fixed file set."""

from __future__ import annotations

import importlib.util
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


def test_a_stopped_run_is_summarised_over_the_problems_every_arm_finished(tmp_path: Path, monkeypatch) -> None:
    """--summarize: a run stopped mid-way still gives paired figures, over the finished prefix only."""
    import argparse
    import json

    bench = _benchmark()
    rows = [
        {"arm": "portfolio", "problem": "F::a", "proved": True, "seconds": 2.0},
        {"arm": "all", "problem": "F::a", "proved": True, "seconds": 4.0},
        {"arm": "portfolio", "problem": "F::b", "proved": False, "seconds": 30.0},
        {"arm": "all", "problem": "F::b", "proved": True, "seconds": 12.0},
        {"arm": "portfolio", "problem": "F::c", "proved": True, "seconds": 1.0},  # `all` never ran it
    ]
    outcomes = tmp_path / "outcomes.jsonl"
    outcomes.write_text("".join(json.dumps(row) + "\n" for row in rows))
    written: list[tuple[dict, str]] = []
    monkeypatch.setattr(bench, "write_result", lambda result, kind: written.append((result, kind)))
    bench.summarize_progress(argparse.Namespace(summarize=outcomes, knn_rows=None), ["portfolio", "all"])
    ((result, kind),) = written
    assert kind == "summary" and result["partial"] is True and result["problems"] == 2
    assert result["arms"]["portfolio"]["solved"] == 1 and result["arms"]["all"]["solved"] == 2
    assert result["arms"]["all"]["mean_seconds"] == 8.0
    assert result["paired"]["all vs portfolio"] == {"only_arm": 1, "only_portfolio": 0, "mcnemar_p": 1.0}


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
