"""The `prove` command's contract for bad input: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import prover
from prover.cli import main


def run_prove(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m prover` as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "prover", *args], capture_output=True, text=True, timeout=120
    )


def test_version_names_this_project(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"prove (neuroprove) {prover.__version__}"


def test_missing_file_is_one_line_and_exit_2() -> None:
    completed = run_prove("no/such/problem.v")
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == ["prove: no/such/problem.v: no such file"]
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""


def test_unknown_extension_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem = tmp_path / "problem.txt"
    problem.write_text("Theorem t : True.\nAdmitted.\n")
    assert main([str(problem)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("prove: ") and "unknown file type '.txt'" in error
    assert len(error.splitlines()) == 1


def test_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "folder.v"
    folder.mkdir()
    assert main([str(folder)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["problem.v", "--no-such-option"]) == 2
    error = capsys.readouterr().err.strip()
    assert "No such option" in error and len(error.splitlines()) == 1


def test_out_and_write_exclude_each_other(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem = tmp_path / "p.v"
    problem.write_text("Theorem t : True.\nAdmitted.\n")
    assert main([str(problem), "--out", str(tmp_path / "o.v"), "--write"]) == 2
    assert "exclude each other" in capsys.readouterr().err
    assert problem.read_text() == "Theorem t : True.\nAdmitted.\n"


def test_invalid_search_name_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem = tmp_path / "p.v"
    problem.write_text("Theorem t : True.\nAdmitted.\n")
    assert main([str(problem), "--search", "nonsense"]) == 2
    assert "invalid option" in capsys.readouterr().err
