"""Leak-free evaluation data: split by logical module path, and near-duplicates across a split.

A file's identity is its logical module path (`Coq.Numbers.Natural.Abstract.NLcm`), the name Coq
itself loads it by, never the path a user typed nor an absolute install path: the same file then
lands in the same split however it was reached. Near-duplicates (identical normalised statements,
identical root goals, identical proof scripts, and twin files by (state, tactic) overlap) leak a
held-out theorem's proof into training as surely as the theorem itself; `novel_split` moves them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from search.types import Theorem

from prover.backends.coq_sentences import SentenceSyntaxError, split_sentences, strip_comments
from prover.data.rows import SPLITS, TraceRow, split_of, write_rows

__all__ = [
    "module_path_of",
    "logical_module_path",
    "normalise_statement",
    "library_statements",
    "duplicate_statement_report",
    "NovelSplit",
    "novel_split",
    "overlapping_rows",
    "write_novel_split",
    "preamble_loaded_modules",
    "search_preamble",
]

_THEOREM = re.compile(
    r"^\s*(?:(?:Local|Global|Polymorphic|Program)\s+)*(?:Lemma|Theorem|Corollary|Proposition|Fact|Remark)\s+([\w']+)\s*(.*)$",
    re.DOTALL,
)


def module_path_of(path: str | Path, roots: Sequence[tuple[str | Path, str]]) -> str:
    """The logical module path of a `.v` file under one of `roots` ((directory, logical prefix),
    e.g. (coqc -where/theories, "Coq")): `.../theories/Numbers/NLcm.v` -> `Coq.Numbers.NLcm`.
    Symlinks and relative spellings resolve to the same answer; a file outside every root is
    named by its stem under "Top" (Coq's name for a file compiled alone)."""
    resolved = Path(path).resolve()
    for directory, prefix in roots:
        base = Path(directory).resolve()
        try:
            relative = resolved.relative_to(base)
        except ValueError:
            continue
        parts = [p for p in (prefix, *relative.with_suffix("").parts) if p]
        return ".".join(parts)
    return f"Top.{resolved.stem}"


def normalise_statement(sentence: str) -> str | None:
    """A theorem sentence without its keyword, name, comments and layout (`Lemma foo (n : nat) :
    n + 0 = n.` -> `(n : nat) : n + 0 = n`); None for a sentence that states no theorem."""
    match = _THEOREM.match(strip_comments(sentence))
    if match is None:
        return None
    return " ".join(match.group(2).split()).rstrip(".").strip()


def library_statements(root: str | Path, *, prefix: str = "Coq", exclude_modules: Iterable[str] = ()) -> dict[str, str]:
    """Normalised statement -> the first `module::theorem` stating it, over the `.v` files under
    `root` whose module paths are not excluded."""
    excluded = set(exclude_modules)
    found: dict[str, str] = {}
    for path in sorted(Path(root).rglob("*.v")):
        module = module_path_of(path, [(root, prefix)])
        if module in excluded:
            continue
        try:
            sentences = split_sentences(path.read_text(errors="replace"), allow_unterminated=True)
        except SentenceSyntaxError:
            continue
        for sentence in sentences:
            normal = normalise_statement(sentence.text)
            match = _THEOREM.match(strip_comments(sentence.text))
            if normal and match:
                found.setdefault(normal, f"{module}::{match.group(1)}")
    return found


def duplicate_statement_report(
    problems: Sequence[Theorem], root: str | Path, *, exclude_modules: Iterable[str]
) -> dict:
    """How many held-out `problems` state, after normalisation, what a library file outside the
    held-out set already states (a leak for any method that has seen that file), with examples."""
    library = library_statements(root, exclude_modules=exclude_modules)
    twins = []
    for theorem in problems:
        normal = normalise_statement(theorem.statement)
        if normal and normal in library:
            twins.append({"problem": f"{theorem.source}::{theorem.name}", "also_in": library[normal]})
    return {"checked": len(problems), "identical_statement_in_library": len(twins), "examples": twins[:20]}


# ---------------------------------------------------------------- logical module paths of traced files
def coq_load_roots() -> list[tuple[Path, str]]:
    """Where Coq loads libraries from, with their logical prefixes: the standard library (`Coq`)
    and each `user-contrib` library under its own name (`Coquelicot`, `Hammer`, ...)."""
    from prover.data.coq_trace import COQ_STDLIB, COQ_USER_CONTRIB

    roots: list[tuple[Path, str]] = [(COQ_STDLIB, "Coq")]
    if COQ_USER_CONTRIB.is_dir():
        roots.extend((child, child.name) for child in sorted(COQ_USER_CONTRIB.iterdir()) if child.is_dir())
    return roots


def coq_project_roots(path: str | Path) -> list[tuple[Path, str]]:
    """The `-Q DIR Prefix` / `-R DIR Prefix` mappings of the nearest `_CoqProject` above `path`."""
    for folder in Path(path).resolve().parents:
        project = folder / "_CoqProject"
        if project.is_file():
            found = re.findall(r"-[QR]\s+(\S+)\s+(\S+)", project.read_text(errors="replace"))
            return sorted(((folder / d).resolve(), "" if p == '""' else p) for d, p in found)[::-1]
    return []


def logical_module_path(path: str | Path) -> str | None:
    """The module path Coq loads `path` by (`Coq.Numbers.Natural.Abstract.NLcm`), from Coq's own
    library roots or the file's `_CoqProject`; None when neither covers it."""
    resolved = Path(path).resolve()
    for directory, prefix in coq_project_roots(resolved) + coq_load_roots():
        base = Path(directory).resolve()
        if base in resolved.parents:
            return module_path_of(resolved, [(base, prefix)])
    return None


# ---------------------------------------------------------------- near-duplicates across a split
TWIN_OVERLAP = 0.3  # a file is a training file's twin when this share of its (state, tactic) pairs occur there
MIN_SCRIPT_STEPS = 3  # shorter identical scripts (`auto.`) are common idiom, not a copied proof
# ... unless they are long: `revert d'. induction d; simpl; intro d'; [ now rewrite N.mul_1_r | .. ];
# unfold rev; ...; ring.` is two steps, and DecimalPos and HexadecimalPos share it verbatim.
MIN_SCRIPT_CHARACTERS = 60


@dataclass(frozen=True)
class NovelSplit:
    """A split with the training side cleaned of near-duplicates of the evaluation side.

    rows: split name -> rows (train lost the duplicates; valid and test are as they were).
    report: how many training theorems were dropped for each kind of duplicate, and the twin files.
    """

    rows: dict[str, list[TraceRow]]
    report: dict


def _theorem_key(row: TraceRow) -> tuple[str, str]:
    return (row.source, row.theorem)


def novel_split(
    splits: Mapping[str, Sequence[TraceRow]],
    statements: Mapping[tuple[str, str], str] | None = None,
    *,
    twin_overlap: float = TWIN_OVERLAP,
) -> NovelSplit:
    """Drop from `splits["train"]` every theorem that duplicates a valid or test theorem (identical
    normalised statement, identical root goal, or identical proof script of at least
    `MIN_SCRIPT_STEPS` steps or `MIN_SCRIPT_CHARACTERS` characters) and every file that is an evaluated file's twin (at least
    `twin_overlap` of the evaluated file's (state, tactic) pairs occur in it): LeanDojo's `novel`
    idea, so that nothing evaluated was learned in another guise. `statements` maps (source,
    theorem) to the statement text where known (Coq traces' theorems.jsonl)."""
    statements = statements or {}
    held = [row for name in ("valid", "test") for row in splits.get(name, ())]
    train = list(splits.get("train", ()))

    def theorems(rows: Iterable[TraceRow]) -> dict[tuple[str, str], list[TraceRow]]:
        grouped: dict[tuple[str, str], list[TraceRow]] = {}
        for row in rows:
            grouped.setdefault(_theorem_key(row), []).append(row)
        return {key: sorted(value, key=lambda r: r.step) for key, value in grouped.items()}

    held_theorems, train_theorems = theorems(held), theorems(train)

    def signatures(steps: list[TraceRow], key: tuple[str, str]) -> dict[str, str]:
        found: dict[str, str] = {}
        statement = normalise_statement(statements[key]) if key in statements else None
        if statement:
            found["statement"] = statement
        if steps and steps[0].step == 0:
            found["root_goal"] = " ".join(steps[0].state_before.split())
        script = [" ".join(r.tactic.split()) for r in steps]
        if len(script) >= MIN_SCRIPT_STEPS or sum(len(step) for step in script) >= MIN_SCRIPT_CHARACTERS:
            found["proof_script"] = "\n".join(script)
        return found

    held_signatures: dict[str, set[str]] = {"statement": set(), "root_goal": set(), "proof_script": set()}
    for key, steps in held_theorems.items():
        for kind, value in signatures(steps, key).items():
            held_signatures[kind].add(value)
    dropped: dict[str, set[tuple[str, str]]] = {kind: set() for kind in held_signatures}
    for key, steps in train_theorems.items():
        for kind, value in signatures(steps, key).items():
            if value in held_signatures[kind]:
                dropped[kind].add(key)

    pairs_by_file: dict[str, set[tuple[str, str]]] = {}
    for row in train:
        pairs_by_file.setdefault(row.source, set()).add((row.state_before, row.tactic))
    twins: list[dict] = []
    held_files: dict[str, set[tuple[str, str]]] = {}
    for row in held:
        held_files.setdefault(row.source, set()).add((row.state_before, row.tactic))
    for held_file, pairs in sorted(held_files.items()):
        for train_file, train_pairs in sorted(pairs_by_file.items()):
            shared = len(pairs & train_pairs)
            if pairs and shared / len(pairs) >= twin_overlap:
                twins.append({"evaluated": held_file, "twin": train_file, "shared_pairs": shared, "pairs": len(pairs)})
    twin_files = {t["twin"] for t in twins}
    removed = set().union(*dropped.values())
    kept = [r for r in train if _theorem_key(r) not in removed and r.source not in twin_files]
    report = {
        "train_theorems": len(train_theorems),
        "dropped_identical_statement": len(dropped["statement"]),
        "dropped_identical_root_goal": len(dropped["root_goal"]),
        "dropped_identical_proof_script": len(dropped["proof_script"]),
        "dropped_theorems": len(removed | {k for k in train_theorems if k[0] in twin_files}),
        "twin_files": twins,
        "train_rows": {"before": len(train), "after": len(kept)},
    }
    rows = {name: list(value) for name, value in splits.items()}
    rows["train"] = kept
    return NovelSplit(rows, report)


def overlapping_rows(rows: Iterable[TraceRow], evaluated: Iterable[tuple[str, str]]) -> list[TraceRow]:
    """The rows that come from an evaluated theorem's file (same source) or from the theorem
    itself: training on them leaks the evaluation split."""
    pairs = set(evaluated)
    files = {source for source, _ in pairs}
    return [row for row in rows if row.source in files or _theorem_key(row) in pairs]


def write_novel_split(
    out_dir: str | Path, rows: Sequence[TraceRow], statements: Mapping[tuple[str, str], str] | None = None
) -> dict[str, int]:
    """Write `splits/novel/{train,valid,test}.jsonl` (the by-file split, `novel_split` applied) and
    `splits/novel/report.json`; returns row counts."""
    buckets: dict[str, list[TraceRow]] = {name: [] for name in SPLITS}
    for row in rows:
        buckets[split_of(row, by="file")].append(row)
    novel = novel_split(buckets, statements)
    folder = Path(out_dir) / "splits" / "novel"
    counts = {name: write_rows(folder / f"{name}.jsonl", bucket) for name, bucket in novel.rows.items()}
    (folder / "report.json").write_text(json.dumps(novel.report, indent=2) + "\n")
    return counts


# ---------------------------------------------------------------- what the search preamble loads
@lru_cache(maxsize=4)
def preamble_loaded_modules(preamble: tuple[str, ...]) -> frozenset[str]:
    """The modules Coq has loaded after `preamble` (`Print Libraries`): a held-out file among them
    is in scope, theorems and hints included, before its own text runs, so it cannot be held out."""
    with tempfile.TemporaryDirectory(prefix="neuroprove-preamble-") as work:
        source = Path(work) / "Preamble.v"
        source.write_text("\n".join(preamble) + "\nPrint Libraries.\n")
        env = dict(os.environ)
        env["PATH"] = "/usr/libexec/coq-hammer" + os.pathsep + env.get("PATH", "")
        try:
            run = subprocess.run(["coqc", "-q", source.name], cwd=work, capture_output=True, text=True, timeout=300, env=env)
        except (OSError, subprocess.TimeoutExpired):
            return frozenset()
    return frozenset(word for word in run.stdout.split() if re.fullmatch(r"[A-Z][\w']*(?:\.[\w']+)+", word))


def search_preamble() -> tuple[str, ...]:
    """The sentences every search environment runs before a file's header, as `CoqEnvironment`
    builds them on this machine (automation, CoqHammer's tactics and, with its provers, its plugin)."""
    from prover.backends.coq import HAMMER_PLUGIN_IMPORT, coq_preamble, hammer_atps_available, hammer_available

    return coq_preamble(hammer=hammer_available()) + ((HAMMER_PLUGIN_IMPORT,) if hammer_atps_available() else ())
