"""Helpers for the Coq backend tests (imported by name: tests/coq/conftest.py puts this folder on sys.path)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def coq_missing_reason() -> str | None:
    """Why real-Coq tests cannot run here, or None when they can."""
    missing = [tool for tool in ("coqidetop.opt", "coqc") if shutil.which(tool) is None]
    if missing:
        return f"Coq 8.16 is not installed ({', '.join(missing)} not on PATH): apt-get install coq"
    return None


def skip_without_coq() -> None:
    """Skip the calling test, with the reason, when Coq is missing."""
    reason = coq_missing_reason()
    if reason is not None:
        pytest.skip(reason)


def shared_file(*parts: str) -> Path:
    """A path under ../shared, skipping the calling test with a reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data {path} is absent (it lives beside the repo in ../shared)")
    return path
