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
from search.types import Failed, Progress, State

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
        assert "apply rev_length" in tactics and any(t.startswith("eauto using rev_length") for t in tactics)
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


SETS_FILE = """From Coq Require Import Ensembles.

Definition twice (n : nat) := n + n.

Lemma union_left : forall (U : Type) (x : U) (A B : Ensemble U), In U A x -> In U (Union U A B) x.
Admitted.

Lemma twice_is_double : forall n : nat, twice n = 2 * n.
Admitted.
"""


def test_candidates_are_facts_and_unintroduced_goals_get_intros_first() -> None:
    """`Search` finds definitions (`Included`), induction principles (`Union_ind`, which `auto
    using` refuses) and the lemma; only facts are kept, and on a goal that opens with binders the
    lemma is applied after `intros` (plain `apply Union_introl` fails there)."""
    skip_without_coq()
    backend = CoqBackend(hammer=False)
    parsed = backend.parse_file("sets.v", SETS_FILE)
    union_left, twice_is_double = (t.theorem for t in parsed.theorems)
    policy = RetrievalPolicy(hammer_tactics=False)
    with backend.open_environment(step_timeout=5) as env:
        attach_premise_source(policy, env)
        policy.observe_theorem(union_left)
        root = env.start(union_left)
        names = {name for name, _ in policy.candidates(root)}
        assert "Union_introl" in names
        assert not {"Union_ind", "Union_sind", "Included", "In"} & names, sorted(names)
        tactics = [c.tactic for c in policy.propose(root, 16)]
        assert "intros; apply Union_introl" in tactics, tactics
        assert tactics.index("intros; apply Union_introl") < tactics.index("apply Union_introl")
        assert isinstance(env.step(root, "apply Union_introl"), Failed)
        introduced = env.step(root, "intros; apply Union_introl")  # leaves the hypothesis to give
        assert isinstance(introduced, Progress) and introduced.state.goals[0].endswith("In U A x")
        assert not [t for t in tactics if "using" in t and "_ind" in t], tactics
        assert "intros; unfold In" in tactics  # the leading constant of the conclusion (a library definition)
        # A definition the file makes before the theorem is proposed for unfolding.
        policy.observe_theorem(twice_is_double)
        root = env.start(twice_is_double)
        assert "intros; unfold twice" in [c.tactic for c in policy.propose(root, 16)]
