"""The backends stay readable: no function or method in `prover/backends/` (Coq and Lean alike) is
longer than 80 lines, by the same count as `search/`'s check."""

from __future__ import annotations

import shutil
from pathlib import Path

import prover.backends
from tests.search.test_search_function_length import MAX_LINES, long_functions


def test_no_function_in_the_backends_is_longer_than_80_lines() -> None:
    assert MAX_LINES == 80
    assert long_functions(Path(prover.backends.__file__).parent) == []


# The configuration and the commands that build it (issue 18's options bundle), by the same count.
CONFIG_MODULES = (
    "prover/agent.py",
    "prover/cli.py",
    "prover/cli_options.py",
    "prover/config.py",
    "prover/eval/cli.py",
    "prover/formalizer/cli.py",
    "prover/formalizer/models.py",
    "prover/policies/factory.py",
    "prover/policies/specs.py",
)


def test_no_function_in_the_config_and_command_modules_is_longer_than_80_lines(tmp_path: Path) -> None:
    repo = Path(prover.backends.__file__).parents[2]
    for module in CONFIG_MODULES:  # copied flat under unique names: the counter scans a folder
        shutil.copy(repo / module, tmp_path / module.replace("/", "."))
    assert long_functions(tmp_path) == []


def test_no_function_in_the_experiments_is_longer_than_80_lines() -> None:
    repo = Path(prover.backends.__file__).parents[2]
    assert long_functions(repo / "prover" / "experiments") == []
