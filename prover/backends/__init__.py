"""Proof-assistant backends: `get_backend` picks one by name or by a file's extension."""

from __future__ import annotations

from pathlib import Path

from prover.backends.base import Backend, OpenTheorem, ParsedFile
from prover.errors import InputError

__all__ = ["Backend", "OpenTheorem", "ParsedFile", "get_backend", "BACKEND_NAMES"]

BACKEND_NAMES = ("coq", "lean")
_EXTENSIONS = {".v": "coq", ".lean": "lean"}


def get_backend(name_or_path: str) -> Backend:
    """The backend called `name_or_path` ("coq"/"lean"), or the one for that file's extension."""
    name = name_or_path
    if name not in BACKEND_NAMES:
        suffix = Path(name_or_path).suffix
        if suffix not in _EXTENSIONS:
            raise InputError(
                f"{name_or_path}: unknown file type {suffix or '(none)'!r}; expected .v (Coq) or .lean (Lean 4)"
            )
        name = _EXTENSIONS[suffix]
    # Imported lazily: each backend pulls in its own client library.
    if name == "coq":
        from prover.backends.coq import CoqBackend

        return CoqBackend()
    from prover.backends.lean import LeanBackend

    return LeanBackend()
