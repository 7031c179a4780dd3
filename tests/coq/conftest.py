"""Fixtures for the Coq backend tests: `coq_testing` importable, one shared environment per module."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from coq_testing import skip_without_coq  # noqa: E402


@pytest.fixture(scope="module")
def coq_env() -> Iterator[object]:
    """One CoqEnvironment (5 s steps, no CoqHammer import) for a test module; skips without Coq."""
    skip_without_coq()
    from prover.backends.coq import CoqEnvironment

    with CoqEnvironment(step_timeout=5, hammer=False) as env:
        yield env
