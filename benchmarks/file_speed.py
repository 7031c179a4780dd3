"""Speed on real files: wall time of `prove FILE` against `coqc` on the completed file, same run.

    .venv/bin/python benchmarks/file_speed.py                     # 60 and 300 one-line lemmas
    .venv/bin/python benchmarks/file_speed.py --sizes 60 --jobs 1,2

The files are made here, beforehand and deterministically: N one-line lemmas over nat, bool and
lists (each closed by one portfolio tactic), each `Proof. Admitted.`. For every size and every
`-j` value the script runs `prove FILE --out DONE.v --json` in a subprocess (the whole command, Coq
start-up and the final kernel check included), then times `coqc` on DONE.v with the same flags,
and prints the ratio of wall times, and of CPU times (steadier on a shared machine). Results go to benchmarks/results/file_speed-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# One-line lemma shapes, cycled through in order; `{i}` makes every statement distinct.
SHAPES = (
    "Lemma add_zero_{i} : forall n : nat, n + 0 + {i} = {i} + n.",
    "Lemma bool_neg_{i} : forall b : bool, negb (negb b) = b.",
    "Lemma app_nil_{i} : forall (l : list nat), l ++ nil = l.",
    "Lemma le_succ_{i} : forall n : nat, n <= n + {i}.",
    "Lemma mul_one_{i} : forall n : nat, {i} * n * 1 = n * {i}.",
)


def lemma_file(count: int) -> str:
    """The benchmark's file: `count` open one-line lemmas."""
    lines = ["Require Import List.", ""]
    for i in range(count):
        lines += [SHAPES[i % len(SHAPES)].format(i=i), "Proof.", "Admitted.", ""]
    return "\n".join(lines)


def run_arm(count: int, jobs: int, scratch: Path, extra: list[str]) -> dict:
    """Prove one file with `-j jobs`, then time coqc on the written file; the figures of this arm."""
    source = scratch / f"lemmas{count}_j{jobs}.v"
    done = scratch / f"done{count}_j{jobs}.v"
    source.write_text(lemma_file(count))
    command = [sys.executable, "-m", "prover", str(source), "--out", str(done), "--json", *extra]
    if jobs != 1:
        command += ["-j", str(jobs)]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    started, cpu = time.monotonic(), _children_cpu()
    run = subprocess.run(command, capture_output=True, text=True, env=env, cwd=scratch)
    prove_seconds, prove_cpu = time.monotonic() - started, _children_cpu() - cpu
    if run.returncode not in (0, 1):
        raise SystemExit(f"prove failed ({run.returncode}): {run.stderr.strip()[-500:]}")
    results = json.loads(run.stdout)["results"]
    proved = sum(r["status"] == "proved" and r["kernel_checked"] for r in results)
    started, cpu = time.monotonic(), _children_cpu()
    check = subprocess.run(["coqc", "-q", done.name], capture_output=True, text=True, cwd=scratch)
    coqc_seconds, coqc_cpu = time.monotonic() - started, _children_cpu() - cpu
    if check.returncode != 0:
        raise SystemExit(f"coqc rejects the written file: {check.stderr.strip()[-500:]}")
    return {
        "lemmas": count,
        "jobs": jobs,
        "proved": proved,
        "prove_seconds": round(prove_seconds, 2),
        "coqc_seconds": round(coqc_seconds, 2),
        "ratio": round(prove_seconds / coqc_seconds, 1),
        # CPU seconds (user + system, every process the command ran): steadier than wall time on a
        # shared machine, where waiting for a core inflates both wall times.
        "prove_cpu_seconds": round(prove_cpu, 2),
        "coqc_cpu_seconds": round(coqc_cpu, 2),
        "cpu_ratio": round(prove_cpu / coqc_cpu, 1),
        "seconds_per_lemma": round(prove_seconds / count, 3),
    }


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="60,300", help="comma-separated lemma counts")
    parser.add_argument("--jobs", default="1", help="comma-separated -j values to compare")
    parser.add_argument("--label", default="", help="a word put in the results file name (e.g. before)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("prove_args", nargs="*", help="extra options for prove (after --)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    jobs = [int(j) for j in args.jobs.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="file-speed-") as scratch:
        for count in sizes:
            for j in jobs:
                row = run_arm(count, j, Path(scratch), args.prove_args)
                rows.append(row)
                print(
                    f"{row['lemmas']:>4} lemmas  -j {row['jobs']}  proved {row['proved']:>4}  "
                    f"prove {row['prove_seconds']:>7.1f} s  coqc {row['coqc_seconds']:>5.2f} s  "
                    f"ratio {row['ratio']:>5.1f}x  ({row['seconds_per_lemma']:.3f} s/lemma)  "
                    f"cpu {row['prove_cpu_seconds']:.1f} s vs {row['coqc_cpu_seconds']:.2f} s: {row['cpu_ratio']:.1f}x",
                    flush=True,
                )
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    label = f"-{args.label}" if args.label else ""
    target = Path(args.out) / f"file_speed{label}-{stamp}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps(
            {
                "command": " ".join(["benchmarks/file_speed.py", *sys.argv[1:]]),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "load_average": os.getloadavg()},
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
