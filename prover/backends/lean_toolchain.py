"""Where the Lean toolchain lives: `lake`, the built Lean project, and the REPL binary inside it.

One place answers these questions for the backend (`LeanBackend.check_toolchain`), `prove setup`
(which builds the project) and `prove doctor` (which reports on it). The project is a copy of the
repository's `lean_project/` (Lean v4.24.0, Mathlib v4.24.0, REPL v4.24.0) in a user cache folder,
so it survives reinstalls of the Python package and needs no network once built.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LEAN_VERSION",
    "ELAN_INSTALL_COMMAND",
    "LeanProjectLayout",
    "find_lake",
    "default_project_dir",
    "project_template_dir",
    "project_layout",
]

# The toolchain `lean_project/lean-toolchain` pins; the REPL tag and Mathlib tag are the same.
LEAN_VERSION = "v4.24.0"

# The one-line installer elan's README gives; elan then fetches the pinned Lean by itself.
ELAN_INSTALL_COMMAND = (
    "curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf "
    "| sh -s -- -y --default-toolchain leanprover/lean4:v4.24.0"
)

# Environment variables that override the defaults (for tests and unusual installs).
LAKE_ENV = "NEUROPROVE_LAKE"
PROJECT_ENV = "NEUROPROVE_LEAN_PROJECT"


@dataclass(frozen=True)
class LeanProjectLayout:
    """The paths of a (possibly not yet built) Lean project.

    project_dir: the Lake project `prove` runs Lean in (the REPL's working directory).
    repl_dir: the REPL's own Lake package inside it (`.lake/packages/REPL`); lean-interact's
        `local_repl_path`, whose binary is `repl_dir/.lake/build/bin/repl`.
    """

    project_dir: Path
    repl_dir: Path

    @property
    def repl_binary(self) -> Path:
        """The REPL executable lean-interact starts through `lake env`."""
        return self.repl_dir / ".lake" / "build" / "bin" / "repl"

    @property
    def mathlib_olean(self) -> Path:
        """Mathlib's root compiled file: present once `lake exe cache get`/`lake build` succeeded."""
        return self.project_dir / ".lake" / "packages" / "mathlib" / ".lake" / "build" / "lib" / "lean" / "Mathlib.olean"

    def missing(self) -> list[str]:
        """What is absent for the project to be usable offline, as short phrases (empty when built)."""
        problems = []
        if not (self.project_dir / "lean-toolchain").is_file():
            problems.append(f"no Lean project at {self.project_dir}")
            return problems
        if not self.repl_binary.is_file():
            problems.append(f"the REPL is not built ({self.repl_binary} is missing)")
        if self.repl_dir == default_repl_dir(self.project_dir) and not self.mathlib_olean.is_file():
            problems.append(f"Mathlib is not built ({self.mathlib_olean} is missing)")
        return problems


def find_lake() -> Path | None:
    """The `lake` executable: $NEUROPROVE_LAKE, then PATH, then elan's default ~/.elan/bin."""
    configured = os.environ.get(LAKE_ENV)
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which("lake")
    if found:
        return Path(found)
    elan_lake = Path.home() / ".elan" / "bin" / "lake"
    if elan_lake.is_file() and os.access(elan_lake, os.X_OK):
        return elan_lake
    return None


def default_project_dir() -> Path:
    """$NEUROPROVE_LEAN_PROJECT, else $XDG_CACHE_HOME (or ~/.cache)/neuroprove/lean_project."""
    configured = os.environ.get(PROJECT_ENV)
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "neuroprove" / "lean_project"


def default_repl_dir(project_dir: Path) -> Path:
    """The REPL package Lake checks out for `lean_project/lakefile.toml`'s `require REPL`."""
    return project_dir / ".lake" / "packages" / "REPL"


def project_template_dir() -> Path | None:
    """The `lean_project/` folder shipped with the code: beside the packages in a checkout, or as package data."""
    package_root = Path(__file__).resolve().parents[1]  # prover/
    for candidate in (package_root.parent / "lean_project", package_root / "lean_project"):
        if (candidate / "lakefile.toml").is_file() and (candidate / "lean-toolchain").is_file():
            return candidate
    return None


def project_layout(project_dir: Path | None = None, repl_dir: Path | None = None) -> LeanProjectLayout:
    """The layout of `project_dir` (default: `default_project_dir()`), with its REPL package."""
    project = Path(project_dir) if project_dir is not None else default_project_dir()
    return LeanProjectLayout(project_dir=project, repl_dir=Path(repl_dir) if repl_dir else default_repl_dir(project))
