"""`prove FILE.lean` end to end on the stand-in Lean: parse, search with the Lean portfolio, kernel re-check, write.

Source: WRITTEN transcript minif2f_mathd_algebra_182 (a miniF2F statement under its real Mathlib
header; Lean's answers written by this project in the REPL's format, see written_transcripts/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lean_fakes import WRITTEN, FakeLean, recorded

from prover.cli import main


def _minif2f_row(name: str) -> dict:
    path = recorded("..", "..", "data", "minif2f-lean4", "minif2f_valid.jsonl")
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["name"] == name:
            return row
    pytest.skip(f"{name} is not in {path}")


def test_prove_lean_file_proves_writes_and_reports_kernel_checked(
    fake_lean: FakeLean, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The miniF2F file's `sorry` is replaced by a proof the final check accepted; exit 0; --json says kernel_checked."""
    row = _minif2f_row("mathd_algebra_182")
    source = tmp_path / "mathd_algebra_182.lean"
    source.write_text(row["header"] + row["formal_statement"] + "\n", encoding="utf-8")
    out = tmp_path / "solved.lean"
    monkeypatch.setenv("NEUROPROVE_LAKE", str(fake_lean.lake))
    monkeypatch.setenv("NEUROPROVE_LEAN_PROJECT", str(fake_lean.project_dir))
    fake_lean.use(WRITTEN)

    code = main([str(source), "--json", "--max-expansions", "10", "--budget-seconds", "60", "--out", str(out)])

    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    (result,) = report["results"]
    assert result["theorem"] == "mathd_algebra_182" and result["status"] == "proved" and result["kernel_checked"]
    written = out.read_text(encoding="utf-8")
    assert written.startswith(row["header"])
    assert "sorry" not in written and result["proof"] in written
    # The final check re-ran the whole theorem on the (heartbeat-bounded) header env and read its axioms.
    commands = [r["cmd"] for r in fake_lean.requests() if "cmd" in r]
    assert commands[-1] == "#print axioms _root_.mathd_algebra_182"
    assert commands[-2].startswith(row["formal_statement"].removesuffix(" by sorry"))
    assert "set_option maxHeartbeats 0" not in commands[0] and "set_option maxHeartbeats 200000" in commands[0]
