"""A stand-in Lean installation whose REPL replays transcripts (used by the `fake_lean` fixture).

`make_fake_lean` builds, in a temporary folder, what a real installation looks like to lean-interact
and to the backend: a `lake` executable (tests/lean/fake_lake.py), a Lean project folder with its
`lean-toolchain`, and a REPL package whose `.lake/build/bin/repl` is tests/lean/fake_repl.py. The
REAL lean-interact code then starts `lake env <repl>` in the project folder and talks to it over
pipes exactly as it would to Lean.

Transcripts: `RECORDED` is upstream's recorded REPL test suite at v4.24.0 (read from
../shared/fixtures/lean-repl, never copied); `WRITTEN` (tests/lean/written_transcripts) holds
exchanges this project wrote in the REPL's exact format, for what upstream never recorded
(`#print axioms`, a hang, a crash, miniF2F headers); each test says which it relies on.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from prover.backends.lean import LeanBackend, LeanOptions
from prover.backends.lean_toolchain import project_layout

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1].parent / "shared" / "fixtures" / "lean-repl"
WRITTEN = HERE / "written_transcripts"


def recorded(*parts: str) -> Path:
    """A path in the recorded upstream transcripts; skips the test with a reason when they are absent."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"recorded REPL transcripts {path} are absent (they live beside the repo in ../shared)")
    return path


RECORDED_MAIN = ("test",)
RECORDED_MATHLIB = ("test", "Mathlib", "test")


def _shim(path: Path, script: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n', encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@dataclass
class FakeLean:
    """A stand-in Lean installation in `root`."""

    root: Path
    lake: Path
    project_dir: Path
    repl_dir: Path
    log: Path

    def use(self, *transcripts: Path) -> None:
        """Make the REPL answer from these transcript files/directories (the first that knows wins)."""
        os.environ["FAKE_REPL_TRANSCRIPTS"] = os.pathsep.join(str(t) for t in transcripts)

    def backend(self, **options: object) -> LeanBackend:
        """A LeanBackend on this installation (`options`: `LeanOptions` fields)."""
        return LeanBackend(
            project_dir=self.project_dir, repl_dir=self.repl_dir, lake_path=self.lake, options=LeanOptions(**options)  # type: ignore[arg-type]
        )

    def events(self) -> list[dict]:
        """What the REPL processes saw: {"start": pid} and {"request": {...}} in order."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    def requests(self) -> list[dict]:
        """Every request any REPL process read, in order."""
        return [e["request"] for e in self.events() if "request" in e]

    def requests_by_process(self) -> list[tuple[int, dict]]:
        """Every request any REPL process read, in order, with the id of the process that read it."""
        return [(e["pid"], e["request"]) for e in self.events() if "request" in e]

    def starts(self) -> int:
        """How many REPL processes were started."""
        return sum("start" in e for e in self.events())


def make_fake_lean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLean:
    """A stand-in Lean installation (lake, project, REPL) replaying transcripts; see the module docstring."""
    root = tmp_path / "lean"
    lake = root / "bin" / "lake"
    lake.parent.mkdir(parents=True)
    # `lake env PROG` is what every REPL start runs: answer it in the shell, without a Python start-up.
    lake.write_text(
        '#!/bin/sh\nif [ "$1" = env ]; then shift; exec "$@"; fi\n'
        f'exec "{sys.executable}" "{HERE / "fake_lake.py"}" "$@"\n',
        encoding="utf-8",
    )
    lake.chmod(lake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    project = root / "project"
    project.mkdir(parents=True)
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.24.0\n", encoding="utf-8")
    # Laid out as `prove setup` leaves a real project: the REPL package inside .lake/packages.
    layout = project_layout(project)
    repl = layout.repl_dir
    repl.mkdir(parents=True)
    (repl / "lean-toolchain").write_text("leanprover/lean4:v4.24.0\n", encoding="utf-8")
    _shim(layout.repl_binary, HERE / "fake_repl.py")
    layout.mathlib_olean.parent.mkdir(parents=True)
    layout.mathlib_olean.write_bytes(b"stand-in")
    log = root / "repl.log"
    monkeypatch.setenv("FAKE_REPL_LOG", str(log))
    monkeypatch.setenv("FAKE_REPL_TRANSCRIPTS", "")
    # The pickling transcripts write relative paths (test/c.olean): that folder must exist.
    (project / "test").mkdir()
    return FakeLean(root=root, lake=lake, project_dir=project, repl_dir=repl, log=log)


def lake_on_path() -> str | None:
    """The real `lake`, if installed (the real-Lean tests need it)."""
    return shutil.which("lake")
