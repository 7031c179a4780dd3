"""Measure the Coq environment's costs (not a test): header, step, backtrack, replay, verify.

Run: `.venv/bin/python tests/coq/measure_timings.py` (needs Coq 8.16). Prints medians in ms.
"""

from __future__ import annotations

import statistics
import time

from prover.backends.coq import CoqEnvironment
from search.types import Progress, Theorem

THEOREM = Theorem(
    name="timing",
    statement="Theorem timing : forall x y : R, 0 < x -> 0 < y -> x * y > 0 /\\ x + y > 0.",
    header="Require Import Reals.\nOpen Scope R_scope.\n",
)


def main() -> None:
    for hammer in (False, True):
        started = time.perf_counter()
        with CoqEnvironment(step_timeout=10, hammer=hammer) as env:
            root = env.start(THEOREM)
            first_start = time.perf_counter() - started
            intro = env.step(root, "intros x y Hx Hy")
            assert isinstance(intro, Progress)
            step_ms, back_ms, replay_ms = [], [], []
            for i in range(30):
                tactic = f"assert (H{i} : {i} < {i} + 1) by lra"  # distinct tactics: no cache hits
                t = time.perf_counter()
                outcome = env.step(intro.state, tactic)
                step_ms.append((time.perf_counter() - t) * 1000)
                assert isinstance(outcome, Progress)
                # Back to the root's sibling: one Edit_at (backtrack) and one tactic.
                t = time.perf_counter()
                env.step(root, f"intros a{i}")
                back_ms.append((time.perf_counter() - t) * 1000)
                # A state three steps deep from another branch: Edit_at and replay of its path.
                t = time.perf_counter()
                env.step(outcome.state, f"idtac {i}; split")
                replay_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            verdict = env.verify(THEOREM, ["intros x y Hx Hy", "split", "nra", "lra"])
            verify_s = time.perf_counter() - t
        print(
            f"hammer={hammer}: first start (header incl. preamble) {first_start:.2f} s; "
            f"step (assert ... by lra) median {statistics.median(step_ms):.1f} ms; "
            f"backtrack to root + intros median {statistics.median(back_ms):.1f} ms; "
            f"cut + replay 2 steps + split median {statistics.median(replay_ms):.1f} ms; "
            f"verify (coqc) {verify_s:.2f} s accepted={verdict.accepted}"
        )


if __name__ == "__main__":
    main()
