"""Makes tests/search/fakes.py importable as `search_test_fakes` (a name no other test folder's fakes can shadow)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "search_test_fakes" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("search_test_fakes", Path(__file__).with_name("fakes.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["search_test_fakes"] = _module
    _spec.loader.exec_module(_module)
