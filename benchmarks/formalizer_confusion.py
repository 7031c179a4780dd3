"""Does `eval-formalizer`'s equivalence verdict tell faithful statements from unfaithful ones?

    PYTHONPATH=. python benchmarks/formalizer_confusion.py --budget-seconds 3
    PYTHONPATH=. python benchmarks/formalizer_confusion.py --budget-seconds 3 --every 3 --offset 1   # a third, fixed
    PYTHONPATH=. python benchmarks/formalizer_confusion.py --summarize results/formalizer_confusion-T.jsonl

A scripted model answers each miniF2F valid problem that has a Coq reference with one statement
of a kind fixed beforehand (problem i, sorted by name, gets kind i mod 5):

  reference   the reference file itself                          (faithful)
  renamed     the reference with its variables renamed            (faithful)
  weakened    the conclusion C replaced by `C \\/ C'` (C' = C with its last numeral moved the weak
              way: `x >= 4` gets `x >= 3`, `x = 4` gets `x = 5`; no numeral or `<>`: C' = ~C)
  nat         `R` replaced by `nat` (problems without `R`: `nat` by `Z`, `Z` by `nat`)
  one_eq_one  `Theorem problem : 1 = 1.`

A variant whose text equals the reference's (no variables to rename, no type to change) counts as
faithful. The same code path as `prove eval-formalizer` runs (`evaluate_formalizer`: elaboration,
vacuity checks, no judge, then `check_equivalence` with the portfolio prover). Prints the
confusion table (kind x verdict) and writes it with every row to
benchmarks/results/formalizer_confusion-<UTC time>.json. Rows stream to a JSONL beside it;
`--summarize` prints the table of such a stream (e.g. of a run stopped early). "no statement"
means the variant does not elaborate (some miniF2F Coq references do not elaborate on Coq 8.16
either), so recognition is also given among the faithful copies that elaborated.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

from prover.agent import Prover
from prover.backends import get_backend
from prover.config import make_config
from prover.formalizer.drafting import Formalizer, FormalizerSettings
from prover.formalizer.equivalence import _split_binders, _top_level, shape_of
from prover.formalizer.evaluation import evaluate_formalizer, load_informal_problems
from prover.jsonl import read_jsonl
from prover.policies.generation import Generation

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
KINDS = ("reference", "renamed", "weakened", "nat", "one_eq_one")
FAITHFUL = ("reference", "renamed")
_DECLARATION = re.compile(r"(?m)^(Theorem|Lemma)\s+[\w']+")


def _declaration_span(text: str) -> tuple[int, int]:
    """(start, end) of the last theorem's statement, ending at its period."""
    starts = list(_DECLARATION.finditer(text))
    start = starts[-1].start()
    end = re.compile(r"\.(?=\s|$)").search(text, starts[-1].end())
    assert end is not None
    return start, end.end()


def renamed(text: str) -> str:
    """The reference with each universally quantified variable `x` renamed `x_r` (in its statement only)."""
    start, end = _declaration_span(text)
    statement = text[start:end]
    names = [name for name, _ in shape_of(statement, "coq").variables]
    for name in names:
        statement = re.sub(rf"(?<![\w.']){re.escape(name)}(?![\w'])", f"{name}_r", statement)
    return text[:start] + statement + text[end:]


def _conclusion_start(kind: str) -> int:
    """Where the conclusion of a statement's type begins (after the last top-level `->`, else the last forall's comma)."""
    position, index = 0, 0
    while True:
        found = _top_level(kind, "->", index)
        if found < 0:
            break
        if kind[found - 1 : found] != "<":
            position = found + 2
        index = found + 2
    if position == 0 and re.match(r"\s*forall\b", kind):
        comma = _top_level(kind, ",")
        position = comma + 1 if comma >= 0 else 0
    return position


def weakened(text: str) -> str:
    """The reference with its conclusion C replaced by `(C) \\/ (C')`: strictly weaker unless C' follows from C."""
    start, end = _declaration_span(text)
    statement = text[start:end].rstrip(".")
    _, kind = _split_binders(statement, "coq")
    offset = statement.rindex(kind)
    split = offset + _conclusion_start(kind)
    conclusion = statement[split:].strip()
    numerals = list(re.finditer(r"(?<![\w.])\d+(?![\w.])", conclusion))
    relation = re.search(r">=|<=|<>|>|<|=", conclusion)
    if numerals and relation is not None and relation.group() != "<>":
        last = numerals[-1]
        # Move the bound the weak way (`x >= 4` or `x >= 3`: weaker; `x >= 5` would be implied).
        on_right = last.start() > relation.start()
        greater = relation.group() in (">=", ">")
        lesser = relation.group() in ("<=", "<")
        step = -1 if (greater and on_right) or (lesser and not on_right) else 1
        if conclusion[: last.start()].rstrip().endswith("/"):  # a denominator moves the bound the other way
            step = -step
        other = conclusion[: last.start()] + str(int(last.group()) + step) + conclusion[last.end() :]
    else:
        other = f"~ ({conclusion})"
    return text[:start] + statement[:split] + f" ({conclusion}) \\/ ({other})." + text[end:]


def nat_version(text: str) -> str:
    """The reference about `nat` instead of `R` (or with `nat` and `Z` swapped when it has no `R`)."""
    if re.search(r"(?<![\w.])R(?![\w])", text):
        text = re.sub(r"(?<![\w.])R(?![\w])", "nat", text)
        return text.replace("R_scope", "nat_scope")
    swapped = re.sub(r"(?<![\w.])(nat|Z)(?![\w])", lambda m: "Z" if m.group(1) == "nat" else "nat", text)
    return swapped.replace("Z_scope", "@@").replace("nat_scope", "Z_scope").replace("@@", "nat_scope")


def as_problem(text: str) -> str:
    """The text with its last theorem named `problem`, the name the formalizer's prompt asks for."""
    last = list(_DECLARATION.finditer(text))[-1]
    return text[: last.start()] + f"{last.group(1)} problem" + text[last.end() :]


def variant(kind: str, reference: str) -> str:
    if kind == "reference":
        return reference
    if kind == "renamed":
        return renamed(reference)
    if kind == "weakened":
        return weakened(reference)
    if kind == "nat":
        return nat_version(reference)
    return "Theorem problem : 1 = 1.\nProof.\nAdmitted.\n"


class ScriptedFormalizerModel:
    """Answers a drafting prompt with the chosen variant of that problem's reference (the problem text says which)."""

    name = "scripted-confusion"

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies

    def generate(self, prompts: Sequence[list[dict[str, str]]], n: int) -> list[list[Generation]]:
        outputs = []
        for prompt in prompts:
            content = prompt[-1]["content"]
            reply = next((code for problem, code in self.replies.items() if problem in content), "no statement")
            outputs.append([Generation(f"```coq\n{reply}\n```", None)] * n)
        return outputs


def summarize(rows: list[dict]) -> dict:
    """Print the confusion table of `rows` (kind x verdict) and the two target figures; return them."""
    verdicts = sorted({row["equivalence"] for row in rows})
    table = {kind: Counter(row["equivalence"] for row in rows if row["kind"] == kind) for kind in KINDS}
    false_equivalent = sum(1 for row in rows if row["truth"] == "unfaithful" and row["equivalence"] == "equivalent")
    faithful = [row for row in rows if row["truth"] == "faithful"]
    elaborated = [row for row in faithful if row["elaborated"]]
    recognised = sum(row["equivalence"] == "equivalent" for row in faithful)
    width = max([len(v) for v in verdicts] + [10])
    print(f"{'kind':<12}" + "".join(f"{v:>{width + 2}}" for v in verdicts))
    for kind in KINDS:
        print(f"{kind:<12}" + "".join(f"{table[kind].get(v, 0):>{width + 2}}" for v in verdicts))
    unfaithful = sum(row["truth"] == "unfaithful" for row in rows)
    print(
        f"problems {len(rows)}; false 'equivalent' {false_equivalent} of {unfaithful} unfaithful; "
        f"faithful recognised {recognised}/{len(faithful)}"
        + (f" ({100 * recognised / len(faithful):.0f}%)" if faithful else "")
        + f", {recognised}/{len(elaborated)} of those that elaborate"
        + (f" ({100 * recognised / len(elaborated):.0f}%)" if elaborated else "")
    )
    return {
        "table": {kind: dict(counts) for kind, counts in table.items()},
        "false_equivalent": false_equivalent,
        "unfaithful": unfaithful,
        "faithful": len(faithful),
        "faithful_elaborated": len(elaborated),
        "faithful_recognised": recognised,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-seconds", type=float, default=3.0, help="search seconds per implication")
    parser.add_argument("--step-timeout", type=float, default=5.0)
    parser.add_argument("--every", type=int, default=1, help="only every k-th problem (a fixed subset)")
    parser.add_argument("--offset", type=int, default=0, help="with --every k: start at this index (0..k-1)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems of the subset")
    parser.add_argument("--names", default=None, help="comma-separated problem names (after --every/--offset)")
    parser.add_argument("--data-dir", type=Path, default=SHARED, help="shared data (minif2f-coq/, minif2f-lean4/)")
    parser.add_argument("--summarize", type=Path, nargs="+", default=None, help="only print the table of rows JSONL files")
    args = parser.parse_args(argv)
    if args.summarize is not None:
        # A later file's row replaces an earlier one of the same problem (a rerun after a fix).
        by_name = {}
        for path in args.summarize:
            for row in read_jsonl(path):
                by_name[row["name"]] = row
        rows = list(by_name.values())
        summarize(rows)
        return 0

    references = args.data_dir / "minif2f-coq" / "valid"
    problems = [p for p in load_informal_problems(args.data_dir / "minif2f-lean4" / "minif2f_valid.jsonl") if (references / f"{p.name}.v").is_file()]
    total = len(problems)
    chosen = [(index, problem) for index, problem in enumerate(problems)][args.offset :: args.every][: args.limit]
    if args.names:
        wanted = set(args.names.split(","))
        chosen = [(index, problem) for index, problem in chosen if problem.name in wanted]
    kinds: dict[str, str] = {}
    truths: dict[str, str] = {}
    replies: dict[str, str] = {}
    for index, problem in chosen:
        kind = KINDS[index % len(KINDS)]
        reference = (references / f"{problem.name}.v").read_text(encoding="utf-8")
        try:
            text = variant(kind, reference)
        except (ValueError, AssertionError) as unreadable:  # a reference our generator cannot rewrite
            print(f"{problem.name}: cannot make the {kind} variant ({unreadable}); using the reference", file=sys.stderr)
            text = reference
        kinds[problem.name] = kind
        truths[problem.name] = "faithful" if kind in FAITHFUL or text == reference else "unfaithful"
        replies[problem.informal.strip()] = as_problem(text)

    backend = get_backend("coq")
    settings = FormalizerSettings(target="coq", samples=1, repairs=0, judge=False, step_timeout=args.step_timeout)
    formalizer = Formalizer(ScriptedFormalizerModel(replies), backend, settings)
    config = make_config(backend="coq", policy="portfolio", budget_seconds=args.budget_seconds, step_timeout=args.step_timeout)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    RESULTS.mkdir(exist_ok=True)
    stream = RESULTS / f"formalizer_confusion-{stamp}.jsonl"
    rows = []
    started = time.monotonic()
    with Prover(config, backend) as prover, formalizer, stream.open("w", encoding="utf-8") as handle:
        for row in evaluate_formalizer([p for _, p in chosen], formalizer, backend, prover=prover, coq_references=references):
            record = {"kind": kinds[row.name], "truth": truths[row.name], **row.to_json()}
            rows.append(record)
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            print(f"{row.name}: {record['kind']} -> {row.equivalence} ({row.seconds:.0f}s)", file=sys.stderr, flush=True)
    seconds = time.monotonic() - started
    print(f"every {args.every} from {args.offset}, limit {args.limit}, of {total} problems; budget {args.budget_seconds} s; {seconds / 60:.1f} min")
    summary = summarize(rows)
    document = {
        "command": "benchmarks/formalizer_confusion.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "budget_seconds": args.budget_seconds,
        "problems": len(rows),
        "of": total,
        **summary,
        "minutes": round(seconds / 60, 1),
        "rows": rows,
    }
    out = RESULTS / f"formalizer_confusion-{stamp}.json"
    out.write_text(json.dumps(document, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
