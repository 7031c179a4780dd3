"""Fixtures for the evaluation tests: the fakes module on the path, and one local Ray for the Ray tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    """A local Ray with 2 CPUs shared by a module's tests (starting Ray costs seconds).

    Ray workers are new processes: PYTHONPATH is extended so they can import `eval_fakes`.
    """
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'neuroprove[distributed]')")
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), previous) if p)
    from prover.distributed.cluster import connect

    started = connect(address=None, num_cpus=2)
    try:
        yield
    finally:
        if started:
            ray.shutdown()
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous
