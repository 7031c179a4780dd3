"""Evaluation datasets: miniF2F in Coq and in Lean 4, a directory of .v/.lean files, a JSONL file.

Every loader returns `Problem`s in a fixed order (sorted by id), each already parsed by its
backend's `parse_file`, which owns the dialect quirks (Rocq's `From Stdlib`, a bare `Proof.`
without `Admitted.`, Lean's `by sorry`). A file the backend cannot read becomes a problem with
`invalid_reason` set: it is reported as invalid, never as unsolved. Statements that parse but do
not elaborate are found later, when the prover starts them (status "invalid" too).

For users, miniF2F is fetched from its public repository, pinned by commit, into a cache
directory (`$NEUROPROVE_CACHE`, else `$XDG_CACHE_HOME/neuroprove`, else `~/.cache/neuroprove`).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from search.types import Theorem

from prover.backends import get_backend
from prover.backends.base import Backend
from prover.errors import InputError, ProverError
from prover.jsonl import read_jsonl_numbered

__all__ = [
    "Problem",
    "PinnedRepository",
    "DatasetUnavailable",
    "MINIF2F_COQ",
    "MINIF2F_LEAN4",
    "DATASET_NAMES",
    "CATEGORIES",
    "SPLITS",
    "category_of",
    "dataset_label",
    "default_cache_dir",
    "fetch_pinned_repository",
    "load_dataset",
    "load_directory",
    "load_jsonl",
    "load_minif2f_coq",
    "load_minif2f_lean4",
    "problems_from_source",
    "select_problems",
]

log = logging.getLogger(__name__)

SPLITS = ("valid", "test")


class DatasetUnavailable(ProverError):
    """A dataset could not be found locally nor fetched (offline, git missing, bad commit)."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One evaluation problem.

    id: unique within its dataset (the theorem's name for miniF2F).
    backend: "coq" or "lean": which proof assistant checks it.
    theorem: what the prover starts from; None when the source could not be read (see invalid_reason).
    category: algebra, number theory, induction, AMC, AIME, IMO or other (see `category_of`).
    informal_statement: the natural-language problem, where the dataset has one.
    invalid_reason: why the statement is invalid before any proof attempt, else None.
    source: the file or dataset row it came from (informational).
    """

    id: str
    backend: str
    theorem: Theorem | None
    category: str
    informal_statement: str | None = None
    invalid_reason: str | None = None
    source: str = ""


@dataclass(frozen=True)
class PinnedRepository:
    """A public git repository at a fixed commit, so every user evaluates the same statements."""

    url: str
    commit: str

    @property
    def cache_name(self) -> str:
        """Folder name in the cache: owner-repo-commitprefix."""
        owner_repo = self.url.rstrip("/").removesuffix(".git").split("/")[-2:]
        return f"{'-'.join(owner_repo)}-{self.commit[:12]}"


MINIF2F_COQ = PinnedRepository(
    url="https://github.com/LLM4Rocq/miniF2F-rocq", commit="b60affae5d9b81eb097424e3143c40165ccbe97b"
)
MINIF2F_LEAN4 = PinnedRepository(
    url="https://github.com/yangky11/miniF2F-lean4", commit="5746b7d6c47855ce1294bed87329618ff7f1bc31"
)

DATASET_NAMES = ("minif2f", "minif2f-coq", "minif2f-lean4")

# Categories in report order; `category_of` maps a miniF2F name onto one of them.
CATEGORIES = ("algebra", "number theory", "induction", "AMC", "AIME", "IMO", "other")
_CATEGORY_PREFIXES = (
    ("mathd_algebra", "algebra"),
    ("algebra", "algebra"),
    ("mathd_numbertheory", "number theory"),
    ("numbertheory", "number theory"),
    ("induction", "induction"),
    ("amc", "AMC"),
    ("aime", "AIME"),
    ("imo", "IMO"),
)


def category_of(name: str) -> str:
    """The miniF2F category of a problem name (`mathd_algebra_10` -> "algebra"); "other" if none fits."""
    lowered = name.lower()
    for prefix, category in _CATEGORY_PREFIXES:
        if lowered.startswith(prefix):
            return category
    return "other"


def problems_from_source(
    path: str,
    text: str,
    backend: Backend,
    *,
    informal_statement: str | None = None,
    problem_id: str | None = None,
    one_per_file: bool = False,
) -> list[Problem]:
    """The problems of one source text: one per open theorem, or one invalid problem when unreadable.

    `problem_id` names the problem when the text holds one theorem (default: the theorem's name);
    several theorems in one file are named `file-stem/theorem`. With `one_per_file` (a benchmark
    where each file is one problem, as in miniF2F) only the theorem named like the file is kept
    (the first one when none is): miniF2F-rocq's `imo_1966_p5.v` adds a variant `imo_1966_p5'`.
    """
    stem = problem_id or Path(path).stem
    try:
        parsed = backend.parse_file(path, text)
    except InputError as unreadable:
        return [_invalid(stem, backend.name, path, str(unreadable), informal_statement)]
    if not parsed.theorems:
        return [_invalid(stem, backend.name, path, "no open theorem (no Admitted/sorry) in the statement", informal_statement)]
    theorems = parsed.theorems
    if one_per_file and len(theorems) > 1:
        named = [t for t in theorems if t.theorem.name == stem]
        theorems = (named or list(theorems))[:1]
        log.debug("%s: %d open theorems, keeping %s", path, len(parsed.theorems), theorems[0].theorem.name)
    several = len(theorems) > 1
    problems = []
    for open_theorem in theorems:
        # Qualified (`A.t`), so two `t` in different modules of one file get different ids.
        name = open_theorem.name
        identifier = f"{stem}/{name}" if several else (problem_id or name)
        problems.append(
            Problem(
                id=identifier,
                backend=backend.name,
                theorem=open_theorem.theorem,
                category=category_of(name),
                informal_statement=informal_statement,
                source=path,
            )
        )
    return problems


def _invalid(identifier: str, backend: str, path: str, reason: str, informal: str | None) -> Problem:
    return Problem(
        id=identifier,
        backend=backend,
        theorem=None,
        category=category_of(identifier),
        informal_statement=informal,
        invalid_reason=reason,
        source=path,
    )


def load_directory(
    directory: str | os.PathLike[str], *, backend: str | None = None, one_per_file: bool = False
) -> list[Problem]:
    """Every .v / .lean file under `directory` (recursively), parsed by the backend its extension names.

    With `backend`, only that backend's files are read; `one_per_file` as in `problems_from_source`.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{root}: no such directory")
    backends = {name: get_backend(name) for name in ((backend,) if backend else ("coq", "lean"))}
    problems: list[Problem] = []
    for file in sorted(root.rglob("*")):
        chosen = next((b for b in backends.values() if file.suffix in b.extensions), None)
        if chosen is None or not file.is_file():
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as unreadable:
            problems.append(_invalid(file.stem, chosen.name, str(file), f"cannot read: {unreadable}", None))
            continue
        problems.extend(problems_from_source(str(file), text, chosen, one_per_file=one_per_file))
    if not problems:
        raise InputError(f"{root}: no .v or .lean files found")
    return _sorted_unique(problems)


def load_jsonl(path: str | os.PathLike[str], *, backend: str | None = None) -> list[Problem]:
    """Problems from a JSONL file, one JSON object per line.

    Each row has `name` (or `id`), and either `formal_statement` (the declaration with its missing
    proof, `:= by sorry` / `Proof. Admitted.`, parsed by the backend; `header` is put before it) or
    `statement` (the declaration up to its proof, used as is with `header`). Optional: `backend`
    ("coq"/"lean", else the `backend` argument), `informal_statement`, `category`.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such file")
    problems: list[Problem] = []
    for number, row in read_jsonl_numbered(file):
        where = f"{file}:{number}"
        name = row.get("name") or row.get("id")
        backend_name = row.get("backend") or backend
        if not name or backend_name not in ("coq", "lean"):
            raise InputError(f"{where}: a row needs `name` and a backend (`backend` field or --backend coq|lean)")
        header = row.get("header") or ""
        informal = row.get("informal_statement")
        if "statement" in row:
            theorem = Theorem(name=name, statement=row["statement"], header=header, source=where)
            problems.append(
                Problem(id=name, backend=backend_name, theorem=theorem, category=row.get("category") or category_of(name),
                        informal_statement=informal, source=where)
            )
        elif "formal_statement" in row:
            chosen = get_backend(backend_name)
            suffix = chosen.extensions[0]
            parsed = problems_from_source(
                f"{name}{suffix}", header + row["formal_statement"], chosen, informal_statement=informal,
                problem_id=name, one_per_file=True,
            )
            problems.extend(parsed)
        else:
            raise InputError(f"{where}: a row needs `formal_statement` or `statement`")
    return _sorted_unique(problems)


def default_cache_dir() -> Path:
    """Where fetched datasets are kept: $NEUROPROVE_CACHE, $XDG_CACHE_HOME/neuroprove or ~/.cache/neuroprove."""
    if os.environ.get("NEUROPROVE_CACHE"):
        return Path(os.environ["NEUROPROVE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "neuroprove"


def fetch_pinned_repository(repository: PinnedRepository, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """A checkout of `repository` at its commit in the cache, fetched with git the first time.

    The checkout is made in a temporary folder and renamed into place, so an interrupted fetch
    never leaves a half checkout that a later run would trust. Raises `DatasetUnavailable` with the
    reason (offline, no git, unknown commit).
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / repository.cache_name
    if target.is_dir():
        return target
    if shutil.which("git") is None:
        raise DatasetUnavailable(
            f"cannot fetch {repository.url}: git is not installed; install git, or pass --data-dir with a local copy"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as scratch:
        checkout = Path(scratch) / "checkout"
        checkout.mkdir()
        _git(checkout, "init", "--quiet")
        # A shallow fetch of one commit is quick on GitHub; a local or older server may refuse
        # fetching by hash, and then the whole history is fetched and the commit checked out.
        try:
            _git(checkout, "fetch", "--quiet", "--depth", "1", repository.url, repository.commit)
        except DatasetUnavailable:
            _git(checkout, "fetch", "--quiet", repository.url, "+refs/heads/*:refs/remotes/origin/*")
        _git(checkout, "checkout", "--quiet", "--detach", repository.commit)
        shutil.rmtree(checkout / ".git")
        try:
            os.replace(checkout, target)
        except OSError:
            if not target.is_dir():  # another process may have won the race; anything else is real
                raise
    log.info("fetched %s at %s into %s", repository.url, repository.commit, target)
    return target


def _git(cwd: Path, *args: str) -> None:
    command = ["git", "-c", "advice.detachedHead=false", *args]
    try:
        completed = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=600,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except subprocess.TimeoutExpired as slow:
        raise DatasetUnavailable(f"git {args[0]} timed out after {slow.timeout:.0f}s (network?)") from slow
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {completed.returncode}"
        raise DatasetUnavailable(
            f"git {args[0]} failed: {reason}; check the network, or pass --data-dir with a local copy"
        )


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")


def load_minif2f_coq(
    split: str = "valid",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    repository: PinnedRepository = MINIF2F_COQ,
) -> list[Problem]:
    """miniF2F in Coq (LLM4Rocq/miniF2F-rocq): 244 problems per split, one `.v` file each.

    `data_dir` is a local copy: either the split's folder of `.v` files or a folder holding
    `valid/` and `test/`. Without it the pinned repository is fetched into the cache.
    """
    _check_split(split)
    if data_dir is not None:
        root = Path(data_dir)
        folder = root / split if (root / split).is_dir() else root
        if not folder.is_dir():
            raise InputError(f"{root}: no such directory")
    else:
        folder = fetch_pinned_repository(repository, cache_dir) / split
        if not folder.is_dir():
            raise DatasetUnavailable(f"{repository.url}@{repository.commit[:12]} has no {split}/ folder")
    return load_directory(folder, backend="coq", one_per_file=True)


def load_minif2f_lean4(
    split: str = "valid",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    repository: PinnedRepository = MINIF2F_LEAN4,
) -> list[Problem]:
    """miniF2F in Lean 4 (yangky11/miniF2F-lean4): one file per problem with its header (`import Mathlib`...).

    `data_dir` is a local copy: a folder with `minif2f_<split>.jsonl` (rows with `name`, `header`,
    `formal_statement`, `informal_statement`), a checkout of the repository (`MiniF2F/Valid`,
    `MiniF2F/Test`), or the split's folder of `.lean` files. Without it the pinned repository is
    fetched; each file there already carries the header its statement needs.
    """
    _check_split(split)
    if data_dir is None:
        root = fetch_pinned_repository(repository, cache_dir)
    else:
        root = Path(data_dir)
        if not root.is_dir():
            raise InputError(f"{root}: no such directory")
        jsonl = root / f"minif2f_{split}.jsonl"
        if jsonl.is_file():
            return load_jsonl(jsonl, backend="lean")
    folder = root / "MiniF2F" / split.capitalize()
    if not folder.is_dir():
        folder = root
    return load_directory(folder, backend="lean", one_per_file=True)


def load_dataset(
    name: str,
    *,
    split: str = "valid",
    backend: str = "auto",
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> list[Problem]:
    """The problems of a dataset named on the command line.

    `minif2f-coq`, `minif2f-lean4` (also `minif2f-lean`), `minif2f` (Coq or Lean by `backend`;
    "auto" means Lean when `lake` is installed, else Coq), a directory of .v/.lean files, or a
    `.jsonl` file.
    """
    key = name.lower()
    if key == "minif2f":
        key = "minif2f-" + ("coq" if _resolve_minif2f_backend(backend) == "coq" else "lean4")
    if key == "minif2f-coq":
        return load_minif2f_coq(split, data_dir=data_dir, cache_dir=cache_dir)
    if key in ("minif2f-lean4", "minif2f-lean"):
        return load_minif2f_lean4(split, data_dir=data_dir, cache_dir=cache_dir)
    path = Path(name)
    chosen = None if backend == "auto" else backend
    if path.is_dir():
        return load_directory(path, backend=chosen)
    if path.suffix == ".jsonl":
        return load_jsonl(path, backend=chosen)
    raise InputError(
        f"unknown dataset {name!r}: expected {', '.join(DATASET_NAMES)}, a directory of .v/.lean files, or a .jsonl file"
    )


def dataset_label(name: str, backend: str = "auto") -> str:
    """A stable name for a dataset argument (a resolved miniF2F flavour, or the absolute path)."""
    key = name.lower()
    if key == "minif2f":
        return "minif2f-" + ("coq" if _resolve_minif2f_backend(backend) == "coq" else "lean4")
    if key in ("minif2f-coq", "minif2f-lean4"):
        return key
    if key == "minif2f-lean":
        return "minif2f-lean4"
    return str(Path(name).resolve())


def _resolve_minif2f_backend(backend: str) -> str:
    if backend in ("coq", "lean"):
        return backend
    chosen = "lean" if shutil.which("lake") else "coq"
    log.info("dataset minif2f with --backend auto: using %s (%s)", chosen, "lake found" if chosen == "lean" else "no lake on PATH")
    return chosen


def select_problems(problems: Sequence[Problem], *, only: Iterable[str] = (), limit: int | None = None) -> list[Problem]:
    """The problems whose id matches one of the `only` glob patterns (all when none), then the first `limit`."""
    patterns = [p for p in only if p]
    chosen = [p for p in problems if not patterns or any(fnmatch.fnmatchcase(p.id, pattern) for pattern in patterns)]
    if limit is not None:
        if limit < 0:
            raise InputError(f"--limit must be >= 0, got {limit}")
        chosen = chosen[:limit]
    return chosen


def _sorted_unique(problems: list[Problem]) -> list[Problem]:
    seen: dict[str, Problem] = {}
    for problem in problems:
        if problem.id in seen:
            raise InputError(f"two problems share the id {problem.id!r} ({seen[problem.id].source}, {problem.source})")
        seen[problem.id] = problem
    return sorted(problems, key=lambda p: p.id)
