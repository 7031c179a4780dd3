"""Size of the traced Coq standard-library corpus and tracing speed (steps per second).

    .venv/bin/python benchmarks/trace_corpus.py --subset 0.25 --jobs 2 --out /tmp/stdlib-trace
    .venv/bin/python benchmarks/trace_corpus.py --subset 1.0 --jobs 2 --coquelicot   # the whole corpus

`--subset F` traces the deterministic fraction F of the files (by a hash of their names) and
extrapolates the whole corpus's size and tracing time from it (said so in the output). Prints a
table and writes JSON to benchmarks/results/trace_corpus-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prover.data.coq_trace import COQ_STDLIB, COQ_USER_CONTRIB  # noqa: E402
from prover.data.trace import find_coq_files, select_subset, trace_coq  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subset", type=float, default=0.25, help="deterministic fraction of the files to trace")
    parser.add_argument("--jobs", type=int, default=2, help="coqidetop processes in parallel")
    parser.add_argument("--out", type=Path, default=Path("/tmp/stdlib-trace"), help="trace output folder")
    parser.add_argument("--coquelicot", action="store_true", help="also trace Coquelicot's sources")
    parser.add_argument("--sentence-timeout", type=float, default=30.0)
    args = parser.parse_args()

    roots = [COQ_STDLIB] + ([COQ_USER_CONTRIB / "Coquelicot"] if args.coquelicot else [])
    every = find_coq_files(roots)
    chosen = select_subset(every, args.subset)
    report = trace_coq(chosen, args.out, jobs=args.jobs, sentence_timeout=args.sentence_timeout)
    data = report.to_json()
    scale = len(every) / max(1, len(chosen))
    result = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}",
        "command": " ".join(sys.argv),
        "files_in_corpus": len(every),
        "files_traced": len(chosen),
        "report": data,
        "extrapolated_full_corpus": {
            "note": f"linear in the number of files from a {args.subset:.0%} deterministic subset" if scale > 1 else "measured, not extrapolated",
            "theorems_traced": round(report.theorems_traced * scale),
            "steps": round(report.steps * scale),
            "seconds_with_these_jobs": round(report.seconds * scale),
        },
    }
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (results / f"trace_corpus-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    print("| files | replayed | theorems traced | skipped | steps | seconds | steps/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    skipped = sum(data["theorems_skipped"].values())
    print(f"| {data['files']}/{len(every)} | {data['files_replayed']} | {data['theorems_traced']} | {skipped} | "
          f"{data['steps']} | {data['seconds']:.0f} | {data['steps_per_second']:.1f} |")
    print("skipped by reason:", json.dumps(data["theorems_skipped"], indent=1))
    print("files failed by reason:", data["files_failed"])
    print("extrapolated:", result["extrapolated_full_corpus"])


if __name__ == "__main__":
    main()
