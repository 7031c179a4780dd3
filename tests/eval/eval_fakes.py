"""Deterministic stand-ins for the prover and the backend, for runner, resume and Ray-pool tests.

A fake problem's behaviour is spelled in its theorem name: `easy*` is proved, `hard*` is not,
`raise*` makes the prover raise ProverCrashed, `bug*` a KeyError, `die_once*` kills the worker process the first time
(a marker file remembers it) and is proved on the retry, `die_always*` kills it every time.
Run as a script, it evaluates `--count` slow fake problems into `--out` (the kill -9 test uses it).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from search.types import State, Theorem

from prover.agent import TheoremResult
from prover.backends.base import OpenTheorem, ParsedFile
from prover.config import ProverConfig
from prover.errors import InputError, ProverCrashed
from prover.eval.datasets import Problem, category_of


def fake_problem(name: str) -> Problem:
    """A problem whose behaviour under `FakeProver` is given by its name."""
    return Problem(
        id=name,
        backend="coq",
        theorem=Theorem(name=name, statement=f"Theorem {name} : True.", source="fake"),
        category=category_of(name),
    )


class FakeProver:
    """Answers by the theorem's name; logs each call (pid, name, seed) to `calls_file` when given."""

    def __init__(self, config: ProverConfig, marker_dir: str, calls_file: str | None, sleep_seconds: float) -> None:
        self.config = config
        self.marker_dir = Path(marker_dir)
        self.calls_file = calls_file
        self.sleep_seconds = sleep_seconds
        self.closed = False

    def prove_theorem(self, theorem: Theorem, *, on_step: Callable[[int], None] | None = None) -> TheoremResult:
        name = theorem.name
        if self.calls_file:
            with open(self.calls_file, "a", encoding="utf-8") as log:
                log.write(f"{os.getpid()} {name} {self.config.seed}\n")
        if self.sleep_seconds:
            time.sleep(self.sleep_seconds)
        if on_step is not None:
            on_step(1)
        if name.startswith("die_once"):
            marker = self.marker_dir / f"{name}.died"
            if not marker.exists():
                marker.write_text("died once")
                os.kill(os.getpid(), signal.SIGKILL)
        if name.startswith("die_always"):
            os.kill(os.getpid(), signal.SIGKILL)
        if name.startswith("raise"):
            raise ProverCrashed("fake prover process died")
        if name.startswith("bug"):
            raise KeyError("a bug in a policy")
        # `seedN_k`: proved only when the search seed equals k (independent attempts differ).
        seeded = re.search(r"seed_(\d+)", name)
        proved = name.startswith(("easy", "die_once")) or (seeded is not None and int(seeded.group(1)) == self.config.seed)
        if proved:
            return TheoremResult(
                theorem=name, status="proved", proof="Proof.\n  trivial.\nQed.", tactics=("trivial.",),
                kernel_checked=True, seconds=0.5 + len(name) / 100, expansions=1, model_seconds=0.01, prover_seconds=0.2,
            )
        return TheoremResult(theorem=name, status="unproved", seconds=2.0, expansions=7)

    def close(self) -> None:
        self.closed = True


@dataclass(frozen=True)
class FakeProverFactory:
    """Picklable factory of `FakeProver`s (sent to Ray workers by value)."""

    marker_dir: str
    calls_file: str | None = None
    sleep_seconds: float = 0.0

    def __call__(self, config: ProverConfig) -> FakeProver:
        return FakeProver(config, self.marker_dir, self.calls_file, self.sleep_seconds)


@dataclass(frozen=True)
class GeneratorLoggingFactory:
    """Picklable: builds the real Coq `Prover` and logs `pid generator-class` of each model policy in it
    to `log_file`, so a test sees which worker built what (a local model or a shared one)."""

    log_file: str

    def __call__(self, config: ProverConfig) -> "object":
        from prover.eval.runner import DefaultProverFactory

        prover = DefaultProverFactory("coq")(config)
        policy = getattr(prover, "policy")
        parts = getattr(policy, "policies", (policy,))
        kinds = [type(part.generator).__name__ for part in parts if hasattr(part, "generator")]
        with open(self.log_file, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {' '.join(kinds)}\n")
        return prover


class FakeCoqBackend:
    """Parses `Theorem NAME : ... .` followed by `Proof. Admitted.`; a file containing `garbage` is unreadable."""

    name = "coq"
    extensions = (".v",)

    def parse_file(self, path: str, text: str) -> ParsedFile:
        if "garbage" in text:
            raise InputError(f"{path}: cannot parse")
        theorems = []
        for match in re.finditer(r"Theorem\s+(\w+)\s*:(.*?)\.\s*(Proof\.\s*Admitted\.)", text, re.S):
            statement = text[match.start() : match.start(3)].strip()
            theorems.append(OpenTheorem(Theorem(name=match.group(1), statement=statement, source=path), match.span(3)))
        return ParsedFile(path=path, text=text, theorems=tuple(theorems))


def main() -> None:
    """Evaluate `--count` slow fake problems into `--out` with the real runner (for the kill -9 test)."""
    from prover.eval.runner import run_evaluation

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--sleep", type=float, default=0.3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    problems = [fake_problem(f"{'easy' if i % 2 else 'hard'}_{i:02d}") for i in range(args.count)]
    outcome = run_evaluation(
        problems,
        config=ProverConfig(budget_seconds=5),
        out_dir=args.out,
        dataset="fake",
        split="valid",
        workers=args.workers,
        prover_factory=FakeProverFactory(marker_dir=args.out, sleep_seconds=args.sleep),
    )
    print(f"interrupted={outcome.interrupted} rows={len(outcome.rows)}", flush=True)


if __name__ == "__main__":
    main()


class CountingEnvironment:
    """A deterministic environment: the goal is `n=<len(path)>`; `inc` adds one, `bad` fails, and
    `done` proves once three `inc`s were applied. It records every step, so tests can see replays."""

    def __init__(self) -> None:
        self.steps: list[tuple[tuple[str, ...], str]] = []

    def start(self, theorem: Theorem) -> State:
        return State(goals=("n=0",), path=(), handle=("root", id(self)))

    def step(self, state: State, tactic: str):  # -> Outcome
        from search.types import Failed, Progress, Proved

        self.steps.append((state.path, tactic))
        count = sum(t == "inc" for t in state.path)
        if tactic == "inc":
            return Progress(State(goals=(f"n={count + 1}",), path=state.path + (tactic,), handle=object()))
        if tactic == "done" and count >= 3:
            return Proved(state.path + (tactic,))
        return Failed(f"{tactic} does not apply at n={count}")

    def verify(self, theorem: Theorem, proof):  # -> Verdict
        from search.types import Verdict

        return Verdict(accepted=list(proof) == ["inc", "inc", "inc", "done"])

    def close(self) -> None:
        pass


def counting_environment() -> CountingEnvironment:
    """A picklable environment factory (module-level) for rollout workers."""
    return CountingEnvironment()


class CountingPolicy:
    """Proposes `done`, `inc` and `bad` everywhere, `inc` most likely."""

    def propose(self, state, n):
        from search.types import Candidate

        return [Candidate("inc", -0.1), Candidate("done", -1.0), Candidate("bad", -2.0)][:n]

    def propose_batch(self, states, n):
        return [self.propose(state, n) for state in states]
