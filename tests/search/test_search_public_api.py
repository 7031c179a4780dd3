"""The search package's public names exist, and the core imports no backend, model or cluster code."""

from __future__ import annotations

import inspect
import subprocess
import sys

import search


def test_every_public_name_exists() -> None:
    for name in search.__all__:
        assert getattr(search, name) is not None, name


def test_algorithms_share_the_common_signature() -> None:
    assert set(search.ALGORITHMS) == {"best_first", "best_first_edges", "mcts"} == set(search.SETTINGS)
    for algorithm in search.ALGORITHMS.values():
        parameters = inspect.signature(algorithm).parameters
        assert list(parameters)[:3] == ["env", "policy", "root"]
        for keyword in ("budget", "value", "seed", "settings", "on_step"):
            assert parameters[keyword].kind is inspect.Parameter.KEYWORD_ONLY, keyword


def test_importing_search_loads_no_prover_torch_or_ray() -> None:
    code = ("import sys, search, search.tree, search.mcts, search.best_first, search.values, search.executor; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'prover', 'torch', 'ray', 'transformers'}))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"
