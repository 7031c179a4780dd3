"""CoqHammer in the Coq backend: whether it is installed, the settings that bound `hammer`, and
the tactic it reconstructs.

Two parts of CoqHammer are used. Its `Tactics` library (sauto, hauto, qauto, ...) is imported
before every file's header when installed, and a proof that names one of its tactics is checked
and written with that import. Its plugin's `hammer` tactic (premise selection, then the external
provers E, Vampire, Z3's TPTP front end, CVC4) runs only in the search: a successful `hammer`
step is replaced by the tactic CoqHammer reconstructs, so kernel checks and completed files need
only the Tactics import.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from prover.backends.coq_sentences import strip_comments
from prover.backends.coq_xml import HAMMER_LIBEXEC

__all__ = [
    "HAMMER_IMPORT",
    "HAMMER_PLUGIN_IMPORT",
    "NO_HAMMER_ENV",
    "HAMMER_FIRST_CALL_SECONDS",
    "uses_hammer_tactics",
    "calls_hammer",
    "is_hammer_step",
    "hammer_available",
    "hammer_atps_available",
    "hammer_settings",
    "hammer_reconstruction_limit",
    "hammer_wall_seconds",
    "hammer_reconstruction",
    "replace_hammer_call",
]

HAMMER_IMPORT = "From Hammer Require Import Tactics."
HAMMER_PLUGIN_IMPORT = "From Hammer Require Import Hammer."

# `prove --no-hammer` sets this (inherited by worker processes): no Hammer tactic is proposed,
# no Hammer import is run or written, for users whose build has no CoqHammer.
NO_HAMMER_ENV = "NEUROPROVE_NO_HAMMER"

# Tactics of CoqHammer's `Tactics` library; a proof that names none of them is checked and written
# without the Hammer import, so completed files depend on CoqHammer only when they use it.
_HAMMER_TACTIC = re.compile(
    r"\b(?:[shql]auto|sfirstorder|[hfe]?crush|[hf]?fcrush|scrush|[sq]simpl|sintuition|strivial|sdone|srun"
    r"|[sqh]blast|sdestruct|sinvert|sinduction|depelim|snorm|sforward|qforwarding|hprover"
    r"|scongruence|qe?crush|hecrush|qfcrush|[sh]best)\b"
)
# Only a sentence that *is* CoqHammer's `hammer` (optionally after a goal selector) runs without
# Coq's `Timeout` (its ATPs have their own limits); the word inside a string or a larger tactic does not.
_HAMMER_STEP = re.compile(r"(?:(?:\d+|all|\[\s*[A-Za-z_][\w']*\s*\])\s*:\s*)?hammer\s*\.")
_HAMMER_CALL = re.compile(r"\bhammer\b")
_HAMMER_REPLACE = re.compile(r"Replace the hammer tactic with:\s*(.+?)\s*$", re.DOTALL)
_HAMMER_PROVERS = ("eprover", "vampire", "z3_tptp", "cvc4")
_HAMMER_RECONSTRUCTION_LIMIT = 5  # seconds for each reconstruction tactic (CoqHammer's default)
HAMMER_FIRST_CALL_SECONDS = 120.0
"""Extra wall seconds for a process's first `hammer` call: CoqHammer then extracts the features of
every loaded constant (a minute with the reals loaded, on a busy machine; later calls reuse them)."""


def uses_hammer_tactics(proof: Sequence[str]) -> bool:
    """Whether any step names a CoqHammer reconstruction tactic (sauto, hauto, qauto, ...)."""
    return any(_HAMMER_TACTIC.search(strip_comments(step)) for step in proof)


def calls_hammer(tactic: str) -> bool:
    """Whether the step calls the `hammer` tactic anywhere (comments aside)."""
    return _HAMMER_CALL.search(strip_comments(tactic)) is not None


def is_hammer_step(sentence: str) -> bool:
    """Whether the sentence is `hammer.` itself (optionally after a goal selector)."""
    return _HAMMER_STEP.fullmatch(sentence) is not None


def hammer_available() -> bool:
    """Whether CoqHammer's tactics library is installed for this Coq and not switched off
    (`--no-hammer`, i.e. $NEUROPROVE_NO_HAMMER set)."""
    if os.environ.get(NO_HAMMER_ENV):
        return False
    return _hammer_installed()


@lru_cache(maxsize=1)
def _hammer_installed() -> bool:
    """Whether CoqHammer's tactics library (Debian: libcoq-hammer) is installed for this Coq."""
    coqc = shutil.which("coqc")
    if coqc is None:
        return False
    try:
        where = subprocess.run([coqc, "-where"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return False
    return (Path(where) / "user-contrib" / "Hammer" / "Tactics").is_dir()


@lru_cache(maxsize=1)
def hammer_atps_available() -> bool:
    """Whether the `hammer` tactic can run: CoqHammer's plugin and at least one external prover."""
    if not hammer_available():
        return False
    where = subprocess.run(["coqc", "-where"], capture_output=True, text=True, timeout=30).stdout.strip()
    plugin = Path(where) / "user-contrib" / "Hammer" / "Plugin"
    searched = HAMMER_LIBEXEC + os.pathsep + os.environ.get("PATH", "")
    return plugin.is_dir() and any(shutil.which(tool, path=searched) for tool in _HAMMER_PROVERS)


def hammer_settings(step_timeout: int) -> tuple[str, ...]:
    """The sentences that load `hammer` and bound it by its own limits: each external prover gets
    the step's timeout (`ATPLimit`), each reconstruction tactic at most CoqHammer's default 5 s,
    and it runs as many strategies in parallel as there are cores (`GSMode`; its default of 8
    processes, each with premise selection and provers, swamps a small machine)."""
    return (
        HAMMER_PLUGIN_IMPORT,
        f"Set Hammer ATPLimit {step_timeout}.",
        f"Set Hammer ReconstrLimit {hammer_reconstruction_limit(step_timeout)}.",
        f"Set Hammer GSMode {max(1, min(8, os.cpu_count() or 1))}.",
    )


def hammer_reconstruction_limit(step_timeout: int) -> int:
    """Seconds each of CoqHammer's reconstruction tactics may run."""
    return min(_HAMMER_RECONSTRUCTION_LIMIT, step_timeout)


def hammer_wall_seconds(step_timeout: int) -> float:
    """A wall-clock bound on one `hammer` call under `hammer_settings`: premise selection, one round
    of provers, a few reconstruction attempts and minimisation, with a margin for a busy machine."""
    return 2.0 * step_timeout + 4 * hammer_reconstruction_limit(step_timeout) + 20.0


def hammer_reconstruction(message: str) -> str | None:
    """The tactic in CoqHammer's "Replace the hammer tactic with: hauto use: foo, bar." message."""
    match = _HAMMER_REPLACE.search(message)
    if match is None:
        return None
    tactic = " ".join(match.group(1).split()).rstrip(".").strip()
    return tactic or None


def replace_hammer_call(tactic: str, messages: Sequence[str]) -> str | None:
    """`tactic` with its one `hammer` call replaced by the one reconstruction the messages hold;
    None unless there is exactly one call and exactly one reconstruction."""
    found = {r for message in messages if (r := hammer_reconstruction(message))}
    if len(found) != 1 or len(_HAMMER_CALL.findall(tactic)) != 1:
        return None
    return _HAMMER_CALL.sub(lambda _: found.pop(), tactic, count=1)
