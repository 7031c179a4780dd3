"""The search package stays readable: no function or method in `search/` is longer than 80 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import search

MAX_LINES = 80


def long_functions(root: Path) -> list[str]:
    """`path:line name (n lines)` for every function under `root` longer than MAX_LINES."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - start + 1
                if length > MAX_LINES:
                    found.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_in_search_is_longer_than_80_lines() -> None:
    assert long_functions(Path(search.__file__).parent) == []


def test_the_check_finds_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "long.py").write_text(f"def too_long():\n{body}\n\ndef short():\n    return 1\n")
    assert long_functions(tmp_path) == [f"long.py:1 too_long ({MAX_LINES + 1} lines)"]
