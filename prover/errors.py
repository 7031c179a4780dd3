"""The few typed exceptions for infrastructure failures; the CLI turns each into a one-line message.

A tactic that fails is data (`search.types.Failed`), never one of these.
"""

from __future__ import annotations

__all__ = [
    "ProverError",
    "InputError",
    "ToolchainMissing",
    "ProverCrashed",
    "ProverTimeout",
    "ModelUnavailable",
]


class ProverError(Exception):
    """Base class: every failure the user should see as one line (the message) and an exit code."""

    exit_code: int = 1


class InputError(ProverError):
    """Bad input: missing or unreadable file, unknown extension, a statement that does not elaborate."""

    exit_code = 2


class ToolchainMissing(ProverError):
    """A proof assistant (coqidetop, coqc, lake, the Lean REPL) is not installed or not built."""

    exit_code = 2


class ProverCrashed(ProverError):
    """The proof-assistant process died (crash, killed, out of memory); it can be restarted."""


class ProverTimeout(ProverError):
    """The proof-assistant process stopped answering within its wall-clock limit; it was killed."""


class ModelUnavailable(ProverError):
    """A policy/formalizer model cannot be reached or loaded (no server, no weights offline)."""

    exit_code = 2
