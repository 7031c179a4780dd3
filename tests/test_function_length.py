"""The backends stay readable: no function or method in `prover/backends/` (Coq and Lean alike) is
longer than 80 lines, by the same count as `search/`'s check."""

from __future__ import annotations

from pathlib import Path

import prover.backends
from tests.search.test_search_function_length import MAX_LINES, long_functions


def test_no_function_in_the_backends_is_longer_than_80_lines() -> None:
    assert MAX_LINES == 80
    assert long_functions(Path(prover.backends.__file__).parent) == []
