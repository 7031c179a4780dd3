"""`prove setup`, `prove doctor` and the missing-toolchain contract of `prove FILE.lean`.

Setup runs against the stand-in `lake` (tests/lean/fake_lake.py), which logs each command and
leaves behind what the real one would; doctor runs against this machine as it is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lean_fakes import FakeLean
from rich.console import Console

from prover.backends.lean import LeanBackend
from prover.backends.lean_toolchain import project_layout, project_template_dir
from prover.cli import main
from prover.errors import ProverError, ToolchainMissing
from prover.setup import TEMPLATE_FILES, doctor_checks, run_setup


@pytest.fixture
def no_lean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """This machine's view with no Lean: no NEUROPROVE_* overrides, an empty project dir, no lake anywhere."""
    if shutil.which("lake") or (Path.home() / ".elan" / "bin" / "lake").exists():
        pytest.skip("a real lake is installed here; this test checks the machine without one")
    monkeypatch.delenv("NEUROPROVE_LAKE", raising=False)
    project = tmp_path / "absent_project"
    monkeypatch.setenv("NEUROPROVE_LEAN_PROJECT", str(project))
    return project


def test_check_toolchain_without_lake_says_to_run_prove_setup(no_lean: Path) -> None:
    """On this machine (no elan/lake) the Lean backend refuses with ToolchainMissing mentioning `prove setup`."""
    with pytest.raises(ToolchainMissing, match="prove setup") as raised:
        LeanBackend().check_toolchain()
    assert raised.value.exit_code == 2
    assert "\n" not in str(raised.value)


def test_check_toolchain_with_lake_but_no_built_project_says_to_run_prove_setup(fake_lean: FakeLean, tmp_path: Path) -> None:
    """lake present but the project never built: ToolchainMissing naming what is missing and `prove setup`."""
    backend = LeanBackend(project_dir=tmp_path / "never_built", lake_path=fake_lean.lake)
    with pytest.raises(ToolchainMissing, match=r"no Lean project at .*: run `prove setup`"):
        backend.check_toolchain()


def test_prove_lean_file_without_toolchain_exits_2_with_one_line(no_lean: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`prove x.lean` here: exit status 2 and a single stderr line telling the user to run `prove setup`."""
    source = tmp_path / "x.lean"
    source.write_text("import Mathlib\n\ntheorem t : 1 + 1 = 2 := by sorry\n", encoding="utf-8")
    assert main([str(source)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prove: ") and "prove setup" in err and len(err.splitlines()) == 1


def test_doctor_tells_the_truth_about_this_machine(no_lean: Path) -> None:
    """Doctor reports Coq as it is (present here when coqc is on PATH), lake absent with the elan command, the project unbuilt."""
    checks = {check.name: check for check in doctor_checks()}
    coq_here = shutil.which("coqc") is not None and shutil.which("coqidetop.opt") is not None
    assert checks["coqc"].ok is coq_here and checks["coqidetop.opt"].ok is coq_here
    if coq_here:
        assert "8." in checks["coqc"].detail
    assert not checks["lake"].ok and "elan-init.sh" in checks["lake"].fix
    assert not checks["Lean project (Mathlib + REPL)"].ok and checks["Lean project (Mathlib + REPL)"].fix == "prove setup"
    assert checks["lean-interact"].ok and checks["lean-interact"].detail.startswith("0.11")
    assert {"torch", "transformers", "ray", "GPU (torch.cuda)"} <= set(checks)


def test_doctor_command_exit_code_follows_the_coq_path(no_lean: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`prove doctor` exits 0 when coqidetop.opt and coqc work (2 otherwise), and prints each fix command."""
    coq_here = shutil.which("coqc") is not None and shutil.which("coqidetop.opt") is not None
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert code == (0 if coq_here else 2)
    assert "To fix:" in out and "prove setup" in out


def test_doctor_sees_a_built_project(fake_lean: FakeLean, monkeypatch: pytest.MonkeyPatch) -> None:
    """With lake and a built project (the stand-ins), doctor's Lean rows are ok."""
    monkeypatch.setenv("NEUROPROVE_LAKE", str(fake_lean.lake))
    checks = {check.name: check for check in doctor_checks(fake_lean.project_dir)}
    assert checks["lake"].ok and "4.24.0" in checks["lake"].detail
    assert checks["Lean project (Mathlib + REPL)"].ok


def test_setup_runs_update_cache_build_and_the_repl_build_in_order(fake_lean: FakeLean, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`prove setup` copies lean_project/ and runs lake update, exe cache get, build, then build in .lake/packages/REPL."""
    log = tmp_path / "lake.log"
    monkeypatch.setenv("NEUROPROVE_LAKE", str(fake_lean.lake))
    monkeypatch.setenv("FAKE_LAKE_LOG", str(log))
    target = tmp_path / "cache" / "lean_project"
    layout = run_setup(target, console=Console(stderr=True, quiet=True))
    ran = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["args"] for r in ran] == [["update"], ["exe", "cache", "get"], ["build"], ["build"]]
    assert [Path(r["cwd"]) for r in ran] == [target] * 3 + [target / ".lake" / "packages" / "REPL"]
    assert layout.missing() == []
    template = project_template_dir()
    assert template is not None
    for name in TEMPLATE_FILES:
        assert (target / name).read_text() == (template / name).read_text()


def test_setup_failure_is_one_line_naming_the_step_and_the_log(fake_lean: FakeLean, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A failing `lake exe cache get` ends set-up with a one-line ProverError naming the step, lake's error and the log."""
    monkeypatch.setenv("NEUROPROVE_LAKE", str(fake_lean.lake))
    monkeypatch.setenv("FAKE_LAKE_FAIL", "cache")
    with pytest.raises(ProverError, match=r"lake exe cache get\) failed \(exit 1\): error: fake lake was told to fail") as raised:
        run_setup(tmp_path / "proj", console=Console(stderr=True, quiet=True))
    assert "\n" not in str(raised.value) and "setup.log" in str(raised.value)


def test_setup_without_lake_says_how_to_install_elan(no_lean: Path, tmp_path: Path) -> None:
    """No lake: set-up stops at once with the one-line elan installer."""
    with pytest.raises(ToolchainMissing, match="elan-init.sh") as raised:
        run_setup(tmp_path / "proj", console=Console(stderr=True, quiet=True))
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "proj").exists()


def test_the_shipped_lean_project_pins_one_consistent_stack() -> None:
    """lean_project/: Lean v4.24.0, Mathlib v4.24.0 (f897ebcf) and the REPL tag v4.24.0 (8fff8552), as lean-interact 0.11 expects."""
    template = project_template_dir()
    assert template is not None
    assert (template / "lean-toolchain").read_text().strip() == "leanprover/lean4:v4.24.0"
    manifest = {p["name"]: p for p in json.loads((template / "lake-manifest.json").read_text())["packages"]}
    assert manifest["mathlib"]["rev"] == "f897ebcf72cd16f89ab4577d0c826cd14afaafc7" and manifest["mathlib"]["inputRev"] == "v4.24.0"
    assert manifest["REPL"]["rev"] == "8fff8552292860d349b459d6a811e6915671dc0d" and manifest["REPL"]["inputRev"] == "v4.24.0"
    lakefile = (template / "lakefile.toml").read_text()
    assert 'rev = "v4.24.0"' in lakefile and "leanprover-community/repl" in lakefile
    assert project_layout(Path("/p")).repl_binary == Path("/p/.lake/packages/REPL/.lake/build/bin/repl")


def test_setup_again_on_a_built_project_does_nothing_unless_forced(fake_lean: FakeLean, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A second `prove setup` finds the project built from the same definition and runs no lake command (offline); --force reruns all four."""
    log = tmp_path / "lake.log"
    monkeypatch.setenv("NEUROPROVE_LAKE", str(fake_lean.lake))
    monkeypatch.setenv("FAKE_LAKE_LOG", str(log))
    target = tmp_path / "proj"
    quiet = Console(stderr=True, quiet=True)
    run_setup(target, console=quiet)
    assert len(log.read_text().splitlines()) == 4
    run_setup(target, console=quiet)
    assert len(log.read_text().splitlines()) == 4
    run_setup(target, force=True, console=quiet)
    assert len(log.read_text().splitlines()) == 8
