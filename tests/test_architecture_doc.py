"""docs/ARCHITECTURE.md names only what exists: every file, folder, `file.py::name`, dotted
`search.`/`prover.` name and class-like name it puts in backticks is found in the repository, so
a rename that forgets the map fails here."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "ARCHITECTURE.md"
# Backticked words that are Coq commands or another library's names, not this repository's.
NOT_OURS = {"Locate", "Search", "Check", "AutoLeanServer", "Literal"}


@cache
def _tracked_paths() -> tuple[str, ...]:
    listing = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    files = listing.split()
    folders = set()
    for file in files:  # every folder holding a tracked file, at every depth
        parts = Path(file).parts[:-1]
        folders.update("/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1))
    return tuple(files) + tuple(folders)


def _resolve(path: str) -> Path | None:
    """The repository file or folder `path` names: from the root, or (a short form) the one it ends."""
    hits = [p for p in _tracked_paths() if p == path or p.endswith("/" + path)]
    return REPO / hits[0] if hits else None


def _defined_names(module: Path) -> set[str]:
    """Top-level names of a module, and `Class.method` for its classes' functions."""
    names: set[str] = set()
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                names.update(f"{node.name}.{item.name}" for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


@cache
def _all_defined_names() -> set[str]:
    names: set[str] = set()
    for package in ("search", "prover"):
        for module in (REPO / package).rglob("*.py"):
            names.update(name.split(".")[0] for name in _defined_names(module))
    return names


def _backticked() -> list[str]:
    return re.findall(r"`([^`\n]+)`", DOC.read_text())


def test_every_file_and_folder_the_architecture_document_names_exists() -> None:
    missing = []
    for token in _backticked():
        path, _, name = token.partition("::")
        if token.startswith("../") or not re.fullmatch(r"[\w./]+(\.py|\.md|/)", path):
            continue
        found = _resolve(path)
        if found is None:
            missing.append(token)
        elif name and name not in _defined_names(found):
            missing.append(token)
    assert missing == []


def test_every_dotted_name_the_architecture_document_names_imports() -> None:
    missing = []
    for token in _backticked():
        if not re.fullmatch(r"(search|prover)(\.\w+)+", token):
            continue
        parts = token.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                target: object = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            try:
                for attribute in parts[cut:]:
                    target = getattr(target, attribute)
            except AttributeError:
                missing.append(token)
            break
        else:
            missing.append(token)
    assert missing == []


def test_every_class_like_name_the_architecture_document_names_is_defined() -> None:
    missing = []
    for token in _backticked():
        match = re.fullmatch(r"([A-Z]\w*)(\.\w+)?", token)  # `Name` or `Name.member`
        if match and match[1] not in NOT_OURS and match[1] not in _all_defined_names():
            missing.append(token)
    assert missing == []
