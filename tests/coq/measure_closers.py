"""Measure which finishing tactics close miniF2F Coq goals after `intros` (not a test).

The portfolio's closer order (prover/policies/coq_portfolio.py, `_CLOSERS`) comes from this.
Run: `.venv/bin/python tests/coq/measure_closers.py [START] [STEP] [TIMEOUT]` (defaults 0 3 3: every
third file of ../shared/data/minif2f-coq/valid, 3 s Coq Timeout). Prints, per kind of goal (reals
or nat/Z), how many problems each tactic closes and a greedy cover order.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from prover.backends.coq import CoqBackend
from prover.errors import InputError
from search.types import Progress, Proved

CLOSERS = (
    "lia", "nia", "lra", "nra", "psatz R 2", "psatz R 3", "psatz Z 2", "field", "ring", "reflexivity",
    "vm_compute; reflexivity", "auto", "easy", "intuition", "firstorder", "congruence", "qauto", "hauto",
    "sauto", "subst; lra", "subst; lia", "split; lra", "split; nra", "split; lia", "field_simplify; lra",
    "intuition lra", "intuition nra", "intuition lia",
)
VALID = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "minif2f-coq" / "valid"


def main() -> None:
    start, step, timeout = (int(a) for a in (sys.argv[1:] + ["0", "3", "3"][len(sys.argv) - 1 :])[:3])
    backend = CoqBackend()
    closed: dict[str, dict[str, set[str]]] = {"real": {}, "integer": {}}
    with backend.open_environment(step_timeout=timeout) as env:
        for path in sorted(VALID.glob("*.v"))[start::step]:
            text = path.read_text()
            theorem = backend.parse_file(str(path), text).theorems[0].theorem
            try:
                root = env.start(theorem)
            except InputError:
                continue
            opened = env.step(root, "intros")
            state = opened.state if isinstance(opened, Progress) else root
            kind = "real" if re.search(r"\bR\b|Reals|sqrt|Rabs", text) else "integer"
            for tactic in CLOSERS:
                if isinstance(env.step(state, tactic), Proved):
                    closed[kind].setdefault(tactic, set()).add(path.name)
    for kind, by_tactic in closed.items():
        counts = Counter({tactic: len(files) for tactic, files in by_tactic.items()})
        remaining = set().union(*by_tactic.values()) if by_tactic else set()
        order = []
        while remaining:
            best = max(by_tactic, key=lambda t: len(by_tactic[t] & remaining))
            order.append((best, len(by_tactic[best] & remaining)))
            remaining -= by_tactic[best]
        print(f"{kind}: closes {counts.most_common()}\n  greedy cover: {order}")


if __name__ == "__main__":
    main()
