"""A `.lean` file inside a Lake project runs in that project (stand-in Lean); `prove doctor FILE` says which.

Source: WRITTEN transcript minif2f_mathd_algebra_182 (see written_transcripts/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lean_fakes import WRITTEN, FakeLean, recorded

from prover.backends.lean_toolchain import LeanProjectLayout, find_lake_project, layout_for_file
from prover.cli import main


def _user_project(root: Path, toolchain: str = "leanprover/lean4:v4.24.0") -> Path:
    root.mkdir(parents=True)
    (root / "lakefile.toml").write_text('name = "user"\n', encoding="utf-8")
    (root / "lean-toolchain").write_text(toolchain + "\n", encoding="utf-8")
    (root / "User").mkdir()
    return root


def test_the_nearest_lakefile_above_the_file_is_its_project(tmp_path: Path) -> None:
    project = _user_project(tmp_path / "proj")
    nested = project / "User" / "Deep"
    nested.mkdir()
    assert find_lake_project(nested / "A.lean") == project.resolve()
    assert find_lake_project(tmp_path / "loose.lean") is None


def test_layout_choice_own_repl_same_toolchain_or_a_reason(tmp_path: Path, fake_lean: FakeLean) -> None:
    default = LeanProjectLayout(fake_lean.project_dir, fake_lean.repl_dir)
    same = _user_project(tmp_path / "same")
    layout, reason = layout_for_file(same / "User" / "A.lean", default)
    assert layout.project_dir == same.resolve() and layout.repl_dir == fake_lean.repl_dir
    assert "same toolchain" in reason and layout.missing() == []
    other = _user_project(tmp_path / "other", "leanprover/lean4:v4.9.0")
    layout, reason = layout_for_file(other / "User" / "A.lean", default)
    assert layout.project_dir == other.resolve() and layout.missing() and "needs its own" in reason
    outside, reason = layout_for_file(tmp_path / "loose.lean", default)
    assert outside == default and "not in a Lake project" in reason


def test_prove_runs_the_repl_in_the_files_lake_project(
    fake_lean: FakeLean, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = next(
        json.loads(line)
        for line in recorded("..", "..", "data", "minif2f-lean4", "minif2f_valid.jsonl").read_text().splitlines()
        if json.loads(line)["name"] == "mathd_algebra_182"
    )
    project = _user_project(tmp_path / "userproj")
    source = project / "User" / "Algebra.lean"
    source.write_text(row["header"] + row["formal_statement"] + "\n", encoding="utf-8")
    monkeypatch.setenv("NEUROPROVE_LAKE", str(fake_lean.lake))
    monkeypatch.setenv("NEUROPROVE_LEAN_PROJECT", str(fake_lean.project_dir))
    fake_lean.use(WRITTEN)
    code = main([str(source), "--json", "--max-expansions", "10", "--budget-seconds", "60"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    starts = [event for event in fake_lean.events() if "start" in event]
    assert starts and all(Path(event["cwd"]).resolve() == project.resolve() for event in starts)

    code = main(["doctor", str(source)])
    shown = capsys.readouterr().out
    assert "project for Algebra.lean" in shown and "userproj" in shown
