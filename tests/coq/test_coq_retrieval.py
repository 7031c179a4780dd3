"""The retrieval policy on real Coq: premises come from `Search` on the goal's symbols and from the
file's earlier lemmas, BM25 ranks the one the goal needs first, and the proof found uses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prover.backends.coq import CoqBackend
from prover.policies.retrieval import RetrievalPolicy, attach_premise_source, goal_symbols
from search.types import State

from coq_testing import skip_without_coq

pytestmark = pytest.mark.coq

FILE = """From Coq Require Import List.

Lemma double_is_times_two (n : nat) : n + n = 2 * n.
Proof. simpl. rewrite <- plus_n_O. reflexivity. Qed.

Lemma uses_library (l : list nat) : length (rev l) = length l.
Admitted.

Lemma uses_file_lemma (k : nat) : k + k = 2 * k.
Admitted.
"""


def test_goal_symbols_are_the_constants_not_the_variables() -> None:
    state = State(("l, m : list nat\n============================\nforall x : nat, length (rev (l ++ m)) = x",))
    assert goal_symbols(state) == ["nat", "length", "rev"]


def test_premises_are_searched_ranked_and_turned_into_tactics() -> None:
    skip_without_coq()
    backend = CoqBackend(hammer=False)
    parsed = backend.parse_file("f.v", FILE)
    library, local = (t.theorem for t in parsed.theorems)
    policy = RetrievalPolicy(hammer_tactics=False)
    with backend.open_environment(step_timeout=5) as env:
        assert attach_premise_source(policy, env) == 1
        root = env.start(library)
        names = [name for _, name, _ in policy.rank(root, policy.candidates(root))]
        assert names[0] == "rev_length", names[:5]  # found by Search, ranked first
        tactics = [c.tactic for c in policy.propose(root, 8)]
        assert "apply rev_length" in tactics and any(t.startswith("auto using rev_length") for t in tactics)
        root = env.start(local)
        assert ("double_is_times_two", "forall n : nat, n + n = 2 * n") in env.local_premises(root)
        assert "rewrite double_is_times_two" in [c.tactic for c in policy.propose(root, 8)]


@pytest.mark.slow
def test_prove_with_the_retrieval_policy_writes_proofs_that_use_the_premises(tmp_path: Path) -> None:
    skip_without_coq()
    problem = tmp_path / "f.v"
    problem.write_text(FILE)
    run = subprocess.run(
        [sys.executable, "-m", "prover", str(problem), "--policy", "retrieval", "--budget-seconds", "60", "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    proofs = {row["theorem"]: row["proof"] for row in json.loads(run.stdout)["results"]}
    assert "rev_length" in proofs["uses_library"]
    assert "double_is_times_two" in proofs["uses_file_lemma"]
