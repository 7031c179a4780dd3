"""`hammer` (CoqHammer with its external provers) as a search step on real Coq: the proof that goes
in is the tactic CoqHammer reconstructs, and the completed file compiles without the provers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from prover.backends.coq import hammer_atps_available, hammer_reconstruction

from coq_testing import skip_without_coq

pytestmark = pytest.mark.coq

# Needs three facts from the library: rev_length, app_length and Nat.add_comm.
LIST_LEMMA = """From Coq Require Import List.

Lemma rev_app_length (l1 l2 : list nat) : length (rev (l1 ++ l2)) = length l2 + length l1.
Admitted.
"""


def test_reconstruction_message_is_read_with_and_without_a_line_break() -> None:
    printed = "Replace the hammer tactic with:\n\tscongruence use: PeanoNat.Nat.add_comm, rev_length, app_length."
    assert hammer_reconstruction(printed) == "scongruence use: PeanoNat.Nat.add_comm, rev_length, app_length"
    assert hammer_reconstruction("Replace the hammer tactic with: sfirstorder ") == "sfirstorder"
    assert hammer_reconstruction("CVC4 (knn-64) succeeded") is None


@pytest.mark.slow
def test_hammer_proves_a_library_lemma_and_the_file_holds_the_reconstruction(tmp_path: Path) -> None:
    skip_without_coq()
    if not hammer_atps_available():
        pytest.skip("CoqHammer's plugin or its provers are missing: apt-get install libcoq-hammer eprover z3 cvc4")
    problem, completed_file = tmp_path / "lists.v", tmp_path / "completed.v"
    problem.write_text(LIST_LEMMA)
    run = subprocess.run(
        [sys.executable, "-m", "prover", str(problem), "--policy", "hammer", "--step-timeout", "20",
         "--budget-seconds", "200", "--json", "--out", str(completed_file)],
        capture_output=True, text=True, timeout=400,
    )
    assert run.returncode == 0, run.stderr
    (row,) = json.loads(run.stdout)["results"]
    assert row["status"] == "proved" and row["kernel_checked"] is True
    (tactic,) = [line.strip() for line in row["proof"].splitlines()[1:-1]]
    assert not re.search(r"\bhammer\b", tactic), tactic  # the reconstruction, not the call
    used = [name.strip() for name in tactic.rstrip(".").split("use:", 1)[1].split(",")] if "use:" in tactic else []
    assert len(used) >= 2, tactic  # CoqHammer's premise selection found the library lemmas
    text = completed_file.read_text()
    assert tactic in text and "Require Import Hammer" not in text and "From Hammer Require Import Tactics." in text
    # Without CoqHammer's helpers on PATH: the reconstruction needs neither premise selection nor ATPs.
    compiled = subprocess.run(["coqc", "-q", completed_file.name], cwd=tmp_path, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin"}, timeout=300)
    assert compiled.returncode == 0, compiled.stderr


def test_hammer_spec_builds_a_policy_that_proposes_hammer_on_focused_goals_only() -> None:
    from prover.errors import InputError
    from prover.policies.factory import build_policy
    from search.types import State

    policy = build_policy("hammer", backend="coq")
    assert [c.tactic for c in policy.propose(State(("n : nat\n============================\nn + 0 = n",), ()), 8)] == ["hammer"]
    assert policy.propose(State(("(unfocused) x = x",), ()), 8) == []
    # Once per theorem, on its statement: below the root a failed call would eat the budget again.
    assert policy.propose(State(("n : nat\n============================\nn = n",), ("intros",)), 8) == []
    with pytest.raises(InputError):
        build_policy("hammer", backend="lean")
