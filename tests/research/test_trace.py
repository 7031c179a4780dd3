"""Tracing proofs into rows: real Coq replay (rows reach state_after from state_before through the
backend), failures reported, structure (bullets, braces, sections, modules) handled, LeanDojo JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prover.data.lean_trace import read_leandojo_benchmark, trace_lean_repository
from prover.data.rows import NO_GOALS, TraceRow, read_rows, split_of
from prover.data.trace import convert_leandojo, trace_coq
from prover.errors import ToolchainMissing
from search.types import Progress, Proved, Theorem

from research_helpers import require_coq, stdlib_file

STRUCTURED = """\
Require Import Arith.

Module M.
Section S.
Variable n : nat.

Lemma add_zero_r : n + 0 = n.
Proof using n.
  induction n as [|k IH].
  - reflexivity.
  - simpl. rewrite IH. reflexivity.
Qed.

Definition pick : {m : nat | m = n}.
Proof.
  exists n.
  { reflexivity. }
Defined.
End S.
End M.

Lemma skipped : 1 = 1.
Proof. Admitted.

Lemma both : True /\\ 2 = 2.
Proof.
  split.
  + exact I.
  + reflexivity.
Qed.
"""

BROKEN = """\
Lemma fine : 1 = 1.
Proof. reflexivity. Qed.

Lemma broken : 2 = 2.
Proof. no_such_tactic. Qed.

Lemma after_broken : 3 = 3.
Proof. reflexivity. Qed.

Definition bad := no_such_constant.

Lemma never_reached : 4 = 4.
Proof. reflexivity. Qed.

Theorem never_reached_either : 5 = 5.
Proof. reflexivity. Qed.
"""


def _replay_theorem(env, text: str, theorem: dict, rows: list[TraceRow]) -> None:
    """Start the theorem with the file's text before it and check every row's tactic reaches its state_after."""
    state = env.start(Theorem(theorem["theorem"], theorem["statement"], header=text[: theorem["header_end"]]))
    assert state.key == rows[0].state_before
    for row in rows:
        assert state.key == row.state_before
        outcome = env.step(state, row.tactic)
        if isinstance(outcome, Proved):
            assert row.state_after == NO_GOALS
            return
        assert isinstance(outcome, Progress), (row.tactic, outcome)
        assert outcome.state.key == row.state_after
        state = outcome.state
    pytest.fail(f"{theorem['theorem']}: the traced rows did not close the proof")


@pytest.mark.coq
def test_traced_rows_replay_through_the_backend_and_failures_are_reported(tmp_path: Path) -> None:
    require_coq()
    from prover.backends.coq import CoqBackend

    structured = tmp_path / "Structured.v"
    structured.write_text(STRUCTURED)
    broken = tmp_path / "Broken.v"
    broken.write_text(BROKEN)
    between = stdlib_file("Arith/Between.v")
    backend = CoqBackend()
    report = trace_coq(
        [(structured, "Structured.v"), (broken, "Broken.v"), (between, "theories/Arith/Between.v")],
        tmp_path / "out",
        hammer=backend.hammer,
    )
    rows = list(read_rows(tmp_path / "out"))
    theorems = [json.loads(line) for line in (tmp_path / "out" / "theorems.jsonl").read_text().splitlines()]
    status = {(t["source"], t["theorem"]): t["status"] for t in theorems}

    # Sections, modules, `Proof using`, bullets, braces and `Defined` are traced; Admitted is counted.
    assert status[("Structured.v", "add_zero_r")] == "traced"
    assert status[("Structured.v", "pick")] == "traced"
    assert status[("Structured.v", "both")] == "traced"
    assert status[("Structured.v", "skipped")] == "admitted"
    assert status[("theories/Arith/Between.v", "between_le")] == "traced"
    # `Proof exists_le_S.` is a whole proof: one `exact` row, and the lemma after it is not swallowed.
    assert status[("theories/Arith/Between.v", "exists_lt")] == "traced"
    assert status[("theories/Arith/Between.v", "exists_S_le")] == "traced"
    # The broken file: a failing tactic admits its theorem and the file goes on; a failing
    # command stops the file, and the theorems it still held are counted, not dropped.
    assert status[("Broken.v", "fine")] == "traced"
    assert status[("Broken.v", "broken")] == "tactic failed in replay"
    assert status[("Broken.v", "after_broken")] == "traced"
    assert report.replay_errors["Broken.v"][0].startswith("broken (line 5)")
    assert report.failed_files["Broken.v"].startswith("error: line 10:")
    assert report.theorems_skipped.get("file failed: error") == 2  # never_reached, never_reached_either
    assert report.theorems_skipped.get("tactic failed in replay") == 1
    assert report.theorems_skipped.get("admitted") == 1
    assert report.steps == len(rows) and report.files == 3 and report.files_replayed == 2
    structured_tactics = {r.tactic for r in rows if r.source == "Structured.v"}
    assert {"-", "+"} <= structured_tactics
    # `{` on the only goal changes nothing the search sees, so it travels with the next tactic.
    assert "{ reflexivity." in structured_tactics
    assert all(r.imports == ("Require Import Arith.",) for r in rows if r.source == "Structured.v")

    texts = {"Structured.v": STRUCTURED, "theories/Arith/Between.v": between.read_text()}
    to_replay = [
        t for t in theorems
        if t["status"] == "traced" and (t["source"] == "Structured.v" or t["theorem"] in ("between_le", "exists_lt"))
    ]
    with backend.open_environment(step_timeout=10) as env:
        for theorem in to_replay:
            own = [r for r in rows if r.source == theorem["source"] and r.theorem == theorem["theorem"]]
            _replay_theorem(env, texts[theorem["source"]], theorem, own)

    # Splits are deterministic and whole files land in one split.
    split_rows = {
        name: [TraceRow.from_json(json.loads(line)) for line in (tmp_path / "out" / "splits" / "by_file" / f"{name}.jsonl").read_text().splitlines()]
        for name in ("train", "valid", "test")
    }
    assert sum(len(v) for v in split_rows.values()) == len(rows)
    novel = json.loads((tmp_path / "out" / "splits" / "novel" / "report.json").read_text())
    assert novel["train_rows"]["before"] == len(split_rows["train"]) >= novel["train_rows"]["after"]
    for name, bucket in split_rows.items():
        assert all(split_of(r, by="file") == name for r in bucket)


def test_splits_keep_whole_files_together_and_are_deterministic() -> None:
    rows = [TraceRow(f"file{f}.v", f"thm{t}", 0, "goal", "auto.", NO_GOALS) for f in range(40) for t in range(10)]
    by_file = {}
    for row in rows:
        by_file.setdefault(row.source, set()).add(split_of(row, by="file"))
    assert all(len(splits) == 1 for splits in by_file.values())
    by_theorem = {split_of(r, by="theorem") for r in rows}
    assert by_theorem == {"train", "valid", "test"}
    assert [split_of(r) for r in rows] == [split_of(r) for r in rows]


def _write_leandojo(path: Path) -> None:
    path.write_text(json.dumps([
        {
            "url": "https://github.com/leanprover-community/mathlib4",
            "commit": "29dcec074de168ac2bf835a77ef68bbe069194c5",
            "file_path": "Mathlib/Algebra/Group/Basic.lean",
            "full_name": "mul_left_cancel_iff",
            "start": [10, 1],
            "end": [12, 20],
            "traced_tactics": [
                {"tactic": "constructor", "annotated_tactic": ["constructor", []],
                 "state_before": "G : Type u_1\n⊢ a * b = a * c ↔ b = c",
                 "state_after": "case mp\nG : Type u_1\n⊢ a * b = a * c → b = c\n\ncase mpr\nG : Type u_1\n⊢ b = c → a * b = a * c"},
                {"tactic": "exact mul_left_cancel", "annotated_tactic": ["exact mul_left_cancel", []],
                 "state_before": "case mp\nG : Type u_1\n⊢ a * b = a * c → b = c",
                 "state_after": "no goals"},
            ],
        },
        {"url": "u", "commit": "c", "file_path": "Mathlib/Logic/Basic.lean", "full_name": "not_not_intro",
         "start": [1, 1], "end": [1, 9], "traced_tactics": []},
    ]))


def test_leandojo_benchmark_json_converts_to_the_same_rows(tmp_path: Path) -> None:
    source = tmp_path / "train.json"
    _write_leandojo(source)
    rows = list(read_leandojo_benchmark(source))
    assert [(r.theorem, r.step, r.tactic) for r in rows] == [
        ("mul_left_cancel_iff", 0, "constructor"),
        ("mul_left_cancel_iff", 1, "exact mul_left_cancel"),
    ]
    assert rows[1].state_after == NO_GOALS and rows[0].state_after.startswith("case mp")
    report = convert_leandojo([source], tmp_path / "out")
    assert report.steps == 2 and report.theorems_traced == 1
    assert [r.tactic for r in read_rows(tmp_path / "out")] == ["constructor", "exact mul_left_cancel"]


def test_lean_repository_tracing_without_a_toolchain_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolchainMissing, match="elan"):
        list(trace_lean_repository("https://github.com/yangky11/lean4-example", "7b6ecb9"))


def test_prove_trace_command_converts_leandojo_json_and_prints_the_report(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from prover.data.cli import register

    app = typer.Typer()
    app.callback()(lambda: None)  # a group, so the command is called by its name as under `prove`
    register(app)
    source = tmp_path / "test.json"
    _write_leandojo(source)
    result = CliRunner().invoke(app, ["trace", str(source), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"] == 2
    # A benchmark split file keeps its own split (not re-split by hash).
    assert [r.theorem for r in read_rows(tmp_path / "out" / "splits" / "official" / "test.jsonl")] == ["mul_left_cancel_iff"] * 2
    assert not (tmp_path / "out" / "splits" / "by_theorem").exists()
