"""`prove setup` (a working Lean + Mathlib + REPL in one command) and `prove doctor` (what is there).

`prove setup` copies the repository's `lean_project/` (Lean v4.24.0, Mathlib v4.24.0, REPL
v4.24.0) to the user cache (`~/.cache/neuroprove/lean_project`, or $NEUROPROVE_LEAN_PROJECT) and
runs `lake update`, `lake exe cache get`, `lake build`, then `lake build` in the REPL package.
It needs the network once; afterwards the backend uses the built project offline. `prove doctor`
reports Python packages, Coq, elan/lake, the Lean project and the GPU, each with its fix; it exits
0 when the Coq path (the one every machine of this project has) works.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Optional, Sequence

import typer
from rich.console import Console
from rich.table import Table

from prover.backends.lean_toolchain import (
    ELAN_INSTALL_COMMAND,
    LeanProjectLayout,
    find_lake,
    project_layout,
    project_template_dir,
)
from prover.errors import ProverError, ToolchainMissing

__all__ = ["Check", "doctor_checks", "run_setup", "register", "TEMPLATE_FILES"]

# The files of `lean_project/` that define the project (the rest is Lake's build output).
TEMPLATE_FILES = ("lakefile.toml", "lean-toolchain", "lake-manifest.json", "NeuroproveLean.lean")

COQ_INSTALL_COMMAND = "sudo apt-get install -y coq libcoq-stdlib libcoq-coquelicot libcoq-hammer coinor-csdp eprover z3 cvc4"


# -- prove setup ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupStep:
    """One command of the set-up: what it is called, its arguments and where it runs."""

    title: str
    args: tuple[str, ...]
    cwd: Path


def setup_steps(lake: Path, layout: LeanProjectLayout) -> list[SetupStep]:
    """The commands `prove setup` runs, in order."""
    project = layout.project_dir
    return [
        SetupStep("resolve dependencies (lake update)", (str(lake), "update"), project),
        SetupStep("download Mathlib's compiled files (lake exe cache get)", (str(lake), "exe", "cache", "get"), project),
        SetupStep("build the project (lake build)", (str(lake), "build"), project),
        SetupStep("build the Lean REPL (lake build in .lake/packages/REPL)", (str(lake), "build"), layout.repl_dir),
    ]


def install_project_files(template: Path, project_dir: Path) -> None:
    """Copy the project definition into `project_dir`, keeping any build output already there."""
    project_dir.mkdir(parents=True, exist_ok=True)
    for name in TEMPLATE_FILES:
        source = template / name
        if source.is_file():
            shutil.copyfile(source, project_dir / name)


def run_setup(
    project_dir: Path | None = None,
    *,
    force: bool = False,
    console: Console | None = None,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> LeanProjectLayout:
    """Build the Lean project in `project_dir` (default: the user cache); raise a one-line ProverError on failure.

    A project that is already built from the same definition is left alone (no network) unless `force`.
    """
    console = console or Console(stderr=True, highlight=False)
    lake = find_lake()
    if lake is None:
        raise ToolchainMissing(f"`lake` was not found: install elan with `{ELAN_INSTALL_COMMAND}`, then run `prove setup` again")
    template = project_template_dir()
    if template is None:
        raise ProverError("this installation has no lean_project/ folder to set up (reinstall neuroprove from its repository)")
    layout = project_layout(project_dir)
    if not force and not layout.missing() and _same_definition(template, layout.project_dir):
        console.print(f"Lean is already set up in {layout.project_dir} (use --force to rebuild)", markup=False)
        return layout
    install_project_files(template, layout.project_dir)
    log_path = layout.project_dir / "setup.log"
    console.print(f"Setting up Lean in {layout.project_dir} (log: {log_path})", markup=False)
    with log_path.open("a", encoding="utf-8") as log:
        for index, step in enumerate(setup_steps(lake, layout), start=1):
            started = time.monotonic()
            with console.status(f"[{index}/4] {step.title}"):
                log.write(f"\n$ (cd {step.cwd} && {' '.join(step.args)})\n")
                log.flush()
                if not step.cwd.is_dir():
                    raise ProverError(f"{step.title}: {step.cwd} does not exist (did `lake update` fail?); see {log_path}")
                try:
                    completed = run(list(step.args), cwd=step.cwd, stdout=log, stderr=subprocess.STDOUT)
                except OSError as failure:
                    raise ToolchainMissing(f"{step.title}: cannot run {step.args[0]}: {failure}") from failure
            if completed.returncode != 0:
                raise ProverError(
                    f"{step.title} failed (exit {completed.returncode}): {_last_error_line(log_path)}; full log: {log_path}"
                )
            console.print(f"[{index}/4] {step.title}: done in {time.monotonic() - started:.0f}s", markup=False)
    problems = layout.missing()
    if problems:
        raise ProverError(f"set-up finished but {problems[0]}; see {log_path}")
    console.print(f"Lean is ready: {layout.project_dir} (REPL: {layout.repl_binary})", markup=False)
    return layout


def _same_definition(template: Path, project_dir: Path) -> bool:
    """Whether `project_dir` holds the same project files as the template."""
    for name in TEMPLATE_FILES:
        source, target = template / name, project_dir / name
        if source.is_file() and (not target.is_file() or target.read_bytes() != source.read_bytes()):
            return False
    return True


def _last_error_line(log_path: Path) -> str:
    lines = [line.strip() for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["no output"])[-1][:300]


# -- prove doctor -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One line of `prove doctor`.

    group: what it belongs to ("python", "coq", "lean", "gpu").
    name: the component.
    ok: whether it is present and usable.
    detail: its version or path when ok, what is wrong otherwise.
    fix: the command that fixes it ("" when ok).
    essential: whether `prove` cannot work without it (the Coq path).
    """

    group: str
    name: str
    ok: bool
    detail: str
    fix: str = ""
    essential: bool = False


def _python_package(name: str, fix: str) -> Check:
    try:
        return Check("python", name, True, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return Check("python", name, False, "not installed", fix)


def _command_version(command: Sequence[str]) -> str | None:
    try:
        completed = subprocess.run(list(command), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if completed.returncode != 0:
        return None
    lines = (completed.stdout or completed.stderr).strip().splitlines()
    return lines[0] if lines else ""


def _coq_checks() -> list[Check]:
    checks = []
    for tool in ("coqidetop.opt", "coqc"):
        path = shutil.which(tool)
        version = _command_version([tool, "--version"]) if path else None
        if path and version is not None:
            checks.append(Check("coq", tool, True, f"{version} ({path})", essential=True))
        else:
            checks.append(Check("coq", tool, False, "not on PATH" if not path else "does not run", COQ_INSTALL_COMMAND, essential=True))
    where = _command_version(["coqc", "-where"]) if shutil.which("coqc") else None
    user_contrib = Path(where) / "user-contrib" if where else None
    for library, package in (("Hammer", "libcoq-hammer"), ("Coquelicot", "libcoq-coquelicot")):
        present = user_contrib is not None and (user_contrib / library).is_dir()
        detail = str(user_contrib / library) if present else "not installed"
        checks.append(Check("coq", f"{library} library", present, detail, "" if present else f"sudo apt-get install -y {package}"))
    hammer_tools = Path("/usr/libexec/coq-hammer")
    predict = shutil.which("predict") or (str(hammer_tools / "predict") if (hammer_tools / "predict").is_file() else None)
    checks.append(
        Check("coq", "hammer tools (predict)", predict is not None, predict or "not found", "" if predict else "sudo apt-get install -y libcoq-hammer")
    )
    csdp = shutil.which("csdp")
    checks.append(Check("coq", "csdp (psatz)", csdp is not None, csdp or "not found", "" if csdp else "sudo apt-get install -y coinor-csdp"))
    return checks


def _lean_checks(project_dir: Path | None) -> list[Check]:
    elan = shutil.which("elan") or (str(Path.home() / ".elan" / "bin" / "elan") if (Path.home() / ".elan" / "bin" / "elan").is_file() else None)
    lake = find_lake()
    checks = [
        Check("lean", "elan", elan is not None, elan or "not found", "" if elan else ELAN_INSTALL_COMMAND),
    ]
    if lake is not None:
        version = _command_version([str(lake), "--version"])
        checks.append(Check("lean", "lake", version is not None, f"{version} ({lake})" if version else f"{lake} does not run", "" if version else ELAN_INSTALL_COMMAND))
    else:
        checks.append(Check("lean", "lake", False, "not found", f"{ELAN_INSTALL_COMMAND}, then `prove setup`"))
    layout = project_layout(project_dir)
    problems = layout.missing()
    checks.append(
        Check(
            "lean",
            "Lean project (Mathlib + REPL)",
            not problems,
            f"built at {layout.project_dir}" if not problems else problems[0],
            "" if not problems else "prove setup",
        )
    )
    return checks


def _file_project_check(file: Path, project_dir: Path | None) -> Check:
    """Which Lean project `file` would be elaborated in (its own Lake project, or neuroprove's), and
    whether that project is ready. Not essential: only that file depends on it."""
    from prover.backends.lean_toolchain import layout_for_file

    layout, reason = layout_for_file(file, project_layout(project_dir))
    problems = layout.missing()
    detail = reason + ("" if not problems else f"; not ready: {problems[0]}")
    return Check("lean", f"project for {file.name}", not problems, detail, "" if not problems else "see the detail", essential=False)


def _gpu_check() -> Check:
    try:
        import torch
    except ImportError:
        return Check("gpu", "GPU (torch.cuda)", False, "torch is not installed", "pip install torch==2.13.0")
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return Check("gpu", "GPU (torch.cuda)", True, names)
    build = "CPU-only build of torch" if torch.version.cuda is None else f"CUDA {torch.version.cuda} build, no GPU visible"
    return Check("gpu", "GPU (torch.cuda)", False, f"none ({build}); models run on CPU", "optional: install a CUDA build of torch on a GPU machine")


def doctor_checks(project_dir: Path | None = None) -> list[Check]:
    """Everything `prove doctor` reports, in display order."""
    checks = [
        _python_package("torch", "pip install torch==2.13.0"),
        _python_package("transformers", "pip install 'neuroprove[models]'"),
        _python_package("ray", "pip install 'neuroprove[distributed]'"),
        _python_package("lean-interact", "pip install 'lean-interact>=0.11,<0.12'"),
    ]
    checks += _coq_checks()
    checks += _lean_checks(project_dir)
    checks.append(_gpu_check())
    return checks


def render_checks(checks: Sequence[Check], console: Console) -> None:
    """The doctor's table (component, status, version/path or problem), then each fix on its own line to copy."""
    table = Table(title="prove doctor")
    for column in ("group", "component", "status", "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        status = "[green]ok[/green]" if check.ok else ("[red]MISSING[/red]" if check.essential else "[yellow]missing[/yellow]")
        table.add_row(check.group, check.name, status, check.detail)
    console.print(table)
    fixes = [check for check in checks if not check.ok and check.fix]
    if fixes:
        console.print("To fix:", markup=False)
        for check in fixes:
            console.print(f"  {check.name}: {check.fix}", markup=False, soft_wrap=True)


# -- commands ---------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add `prove setup` and `prove doctor` to `app`."""

    @app.command("setup")
    def setup_command(
        project_dir: Annotated[
            Optional[Path], typer.Option(help="Where to build the Lean project (default: ~/.cache/neuroprove/lean_project).")
        ] = None,
        force: Annotated[bool, typer.Option("--force", help="Run every step again even if the project is built.")] = False,
    ) -> None:
        """Install the Lean project (Lean v4.24.0, Mathlib, REPL) and build it; needs the network once."""
        run_setup(project_dir, force=force)

    @app.command("doctor")
    def doctor_command(
        file: Annotated[
            Optional[Path], typer.Argument(help="A .lean file: also say which Lean project it would run in.")
        ] = None,
        project_dir: Annotated[Optional[Path], typer.Option(help="The Lean project to inspect (default: the set-up one).")] = None,
    ) -> None:
        """Show what is installed, what is missing, and the command that fixes each; exit 0 when the Coq path works."""
        checks = doctor_checks(project_dir)
        if file is not None:
            checks.append(_file_project_check(file, project_dir))
        render_checks(checks, Console(highlight=False))
        if not all(check.ok for check in checks if check.essential):
            raise typer.Exit(2)

