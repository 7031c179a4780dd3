"""Fixtures for the Lean tests (the stand-in Lean installation lives in lean_fakes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lean_fakes import FakeLean, make_fake_lean


@pytest.fixture
def fake_lean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLean:
    """A stand-in Lean installation (lake, project, REPL) replaying transcripts; see lean_fakes.py."""
    return make_fake_lean(tmp_path, monkeypatch)
