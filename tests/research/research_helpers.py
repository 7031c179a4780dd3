"""Helpers for the research tests: skips without Coq, the standard library's sources."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

STDLIB = Path("/usr/lib/ocaml/coq/theories")


def require_coq() -> None:
    """Skip the calling test when Debian's Coq (coqidetop.opt, coqc) is not installed."""
    missing = [tool for tool in ("coqidetop.opt", "coqc") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"Coq 8.16 is not installed ({', '.join(missing)} not on PATH): apt-get install coq")


def stdlib_file(relative: str) -> Path:
    """A file of Coq's standard library sources, skipping when Debian did not install them."""
    path = STDLIB / relative
    if not path.exists():
        pytest.skip(f"{path} is absent: Debian's coq package installs the standard library's sources there")
    return path
