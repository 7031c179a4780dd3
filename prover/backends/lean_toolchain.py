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
    "find_lake_project",
    "layout_for_file",
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
    needs_mathlib: whether Mathlib must be built in it (neuroprove's own project).
    """

    project_dir: Path
    repl_dir: Path
    needs_mathlib: bool = True  # False for a user's Lake project (it brings what it needs, if anything)

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
        if self.needs_mathlib and self.repl_dir == default_repl_dir(self.project_dir) and not self.mathlib_olean.is_file():
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


_LAKEFILES = ("lakefile.lean", "lakefile.toml")


def find_lake_project(source: Path) -> Path | None:
    """The nearest folder at or above `source`'s folder holding a `lakefile.lean`/`lakefile.toml`
    (the Lake workspace the file belongs to, as `lake` and the Lean editors find it), or None."""
    folder = Path(source).resolve()
    folder = folder if folder.is_dir() else folder.parent
    for candidate in (folder, *folder.parents):
        if any((candidate / name).is_file() for name in _LAKEFILES):
            return candidate
    return None


def _toolchain(project_dir: Path) -> str:
    try:
        return (project_dir / "lean-toolchain").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def layout_for_file(source: Path, default: LeanProjectLayout) -> tuple[LeanProjectLayout, str]:
    """The Lean project a `.lean` file is elaborated in, and a one-line reason (what `prove doctor
    FILE` says). A file inside a Lake project runs in that project (its toolchain, its Mathlib,
    its own modules): with the project's own REPL package when it has one built, else with
    neuroprove's REPL when both use the same toolchain. A file outside any Lake project uses
    `default` (the project `prove setup` built)."""
    user = find_lake_project(source)
    if user is None:
        return default, f"not in a Lake project: neuroprove's Lean project {default.project_dir}"
    if user.resolve() == default.project_dir.resolve():
        return default, f"neuroprove's Lean project {default.project_dir}"
    toolchain = _toolchain(user) or "no lean-toolchain file"
    own = LeanProjectLayout(project_dir=user, repl_dir=default_repl_dir(user), needs_mathlib=False)
    if own.repl_binary.is_file():
        return own, f"the file's Lake project {user} ({toolchain}) with its own REPL"
    if _toolchain(user) and _toolchain(user) == _toolchain(default.project_dir):
        shared = LeanProjectLayout(project_dir=user, repl_dir=default.repl_dir, needs_mathlib=False)
        return shared, f"the file's Lake project {user} ({toolchain}) with neuroprove's REPL (same toolchain)"
    return own, (
        f"the file's Lake project {user} ({toolchain}); neuroprove's REPL is built for "
        f"{_toolchain(default.project_dir) or 'another toolchain'}, so the project needs its own "
        "(add `require REPL` for its Lean version to its lakefile, then `lake build repl`)"
    )
