"""Shared test helpers: where ../shared lives, and skips with reasons for missing toolchains."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the calling test with a reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data {path} is absent (it lives beside the repo in ../shared)")
    return path


def require_coq() -> None:
    """Skip the calling test when Debian's Coq is not installed."""
    missing = [tool for tool in ("coqidetop.opt", "coqc") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"Coq is not installed ({', '.join(missing)} not on PATH): run scripts/install.sh")


@pytest.fixture
def coq_available() -> None:
    require_coq()


def assert_compiles(path: Path, *args: str) -> None:
    """Every file a CLI test writes must be a real Coq file: `coqc` (with `args`) accepts it."""
    compiled = subprocess.run(
        ["coqc", *args, path.name], cwd=path.parent, capture_output=True, text=True, timeout=300
    )
    assert compiled.returncode == 0, f"coqc rejects the written {path.name}:\n{compiled.stderr}\n{path.read_text()}"
