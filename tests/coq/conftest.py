"""Fixtures for the Coq backend tests: skips without Coq, one shared environment per module, shared data."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def coq_missing_reason() -> str | None:
    """Why real-Coq tests cannot run here, or None when they can."""
    missing = [tool for tool in ("coqidetop.opt", "coqc") if shutil.which(tool) is None]
    if missing:
        return f"Coq 8.16 is not installed ({', '.join(missing)} not on PATH): apt-get install coq"
    return None


def skip_without_coq() -> None:
    reason = coq_missing_reason()
    if reason is not None:
        pytest.skip(reason)


def shared_file(*parts: str) -> Path:
    """A path under ../shared, skipping the calling test with a reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data {path} is absent (it lives beside the repo in ../shared)")
    return path


@pytest.fixture(scope="module")
def coq_env() -> Iterator["object"]:
    """One CoqEnvironment (5 s steps, no CoqHammer import) for a test module."""
    skip_without_coq()
    from prover.backends.coq import CoqEnvironment

    with CoqEnvironment(step_timeout=5, hammer=False) as env:
        yield env
