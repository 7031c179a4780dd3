"""Dataset loaders: categories, JSONL and folders, pinned fetches (from a local git repository), miniF2F in ../shared."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from eval_fakes import FakeCoqBackend
from prover.errors import InputError
from prover.eval import datasets
from prover.eval.datasets import (
    DatasetUnavailable,
    PinnedRepository,
    category_of,
    fetch_pinned_repository,
    load_directory,
    load_jsonl,
    load_minif2f_coq,
    select_problems,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("mathd_algebra_478", "algebra"),
        ("algebra_sqineq_at2malt1", "algebra"),
        ("mathd_numbertheory_12", "number theory"),
        ("numbertheory_4x3m7y3neq2003", "number theory"),
        ("induction_sum_odd", "induction"),
        ("amc12a_2019_p21", "AMC"),
        ("aimeII_2001_p3", "AIME"),
        ("aime_1983_p9", "AIME"),
        ("imo_1959_p1", "IMO"),
        ("my_lemma", "other"),
    ],
)
def test_category_comes_from_the_minif2f_name(name: str, category: str) -> None:
    assert category_of(name) == category


@pytest.fixture
def fake_coq(monkeypatch: pytest.MonkeyPatch) -> FakeCoqBackend:
    """Make the loaders parse Coq with a regex fake, so these tests do not depend on the real backend."""
    backend = FakeCoqBackend()
    monkeypatch.setattr(datasets, "get_backend", lambda name: backend)
    return backend


def test_jsonl_rows_with_a_cut_statement_need_no_parser(tmp_path: Path) -> None:
    file = tmp_path / "set.jsonl"
    rows = [
        {"name": "mathd_algebra_2", "backend": "lean", "header": "import Mathlib\n", "statement": "theorem mathd_algebra_2 : 1 = 1 :=",
         "informal_statement": "Show 1 = 1."},
        {"name": "imo_1", "backend": "coq", "statement": "Theorem imo_1 : True.", "category": "IMO"},
    ]
    file.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    problems = load_jsonl(file)
    assert [p.id for p in problems] == ["imo_1", "mathd_algebra_2"]  # sorted by id
    algebra = problems[1]
    assert algebra.backend == "lean" and algebra.category == "algebra"
    assert algebra.theorem.header == "import Mathlib\n" and algebra.informal_statement == "Show 1 = 1."
    assert problems[0].theorem.statement == "Theorem imo_1 : True."


def test_jsonl_row_without_a_backend_is_refused_with_its_line(tmp_path: Path) -> None:
    file = tmp_path / "set.jsonl"
    file.write_text(json.dumps({"name": "t", "statement": "x"}) + "\n")
    with pytest.raises(InputError, match="set.jsonl:1"):
        load_jsonl(file)


def test_jsonl_formal_statements_go_through_the_backend_parser(tmp_path: Path, fake_coq: FakeCoqBackend) -> None:
    file = tmp_path / "set.jsonl"
    rows = [
        {"name": "amc12_1", "header": "Require Import Arith.\n", "formal_statement": "Theorem amc12_1 : 1 = 1.\nProof.\nAdmitted."},
        {"name": "amc12_2", "formal_statement": "garbage"},
    ]
    file.write_text("\n".join(json.dumps(r) for r in rows))
    good, bad = load_jsonl(file, backend="coq")
    assert good.theorem is not None and good.theorem.statement == "Theorem amc12_1 : 1 = 1."
    assert bad.theorem is None and "cannot parse" in bad.invalid_reason and bad.category == "AMC"


def test_folder_loader_marks_unreadable_files_invalid_and_names_several_theorems(tmp_path: Path, fake_coq: FakeCoqBackend) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mathd_algebra_1.v").write_text("Theorem mathd_algebra_1 : 2 = 2.\nProof.\nAdmitted.\n")
    (tmp_path / "two.v").write_text("Theorem a : True.\nProof. Admitted.\nTheorem b : True.\nProof. Admitted.\n")
    (tmp_path / "broken.v").write_text("garbage")
    (tmp_path / "closed.v").write_text("Theorem c : True.\nProof. exact I. Qed.\n")
    (tmp_path / "notes.txt").write_text("not a proof file")
    problems = {p.id: p for p in load_directory(tmp_path, backend="coq")}
    assert set(problems) == {"mathd_algebra_1", "two/a", "two/b", "broken", "closed"}
    assert problems["mathd_algebra_1"].category == "algebra" and problems["mathd_algebra_1"].invalid_reason is None
    assert problems["broken"].invalid_reason and problems["broken"].theorem is None
    assert "no open theorem" in problems["closed"].invalid_reason


def test_select_problems_filters_by_glob_then_limits(tmp_path: Path) -> None:
    from eval_fakes import fake_problem

    problems = [fake_problem(n) for n in ("easy_1", "easy_2", "hard_1", "easy_3")]
    assert [p.id for p in select_problems(problems, only=["easy_*"], limit=2)] == ["easy_1", "easy_2"]
    assert [p.id for p in select_problems(problems, limit=None)] == ["easy_1", "easy_2", "hard_1", "easy_3"]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_pinned_fetch_checks_out_the_commit_once_and_then_reads_the_cache(tmp_path: Path, fake_coq: FakeCoqBackend) -> None:
    upstream = tmp_path / "miniF2F-rocq"
    (upstream / "test").mkdir(parents=True)
    (upstream / "test" / "imo_1959_p1.v").write_text("Theorem imo_1959_p1 : True.\nProof.\nAdmitted.\n")
    _git(upstream, "init", "-q")
    _git(upstream, "add", ".")
    _git(upstream, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "pinned")
    pinned = _git(upstream, "rev-parse", "HEAD")
    # A later commit must not be what the loader sees.
    (upstream / "test" / "imo_1960_p1.v").write_text("Theorem imo_1960_p1 : True.\nProof.\nAdmitted.\n")
    _git(upstream, "add", ".")
    _git(upstream, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "later")

    repository = PinnedRepository(url=upstream.as_uri(), commit=pinned)
    cache = tmp_path / "cache"
    problems = load_minif2f_coq("test", cache_dir=cache, repository=repository)
    assert [p.id for p in problems] == ["imo_1959_p1"]
    assert [p.name for p in cache.iterdir() if not p.name.startswith(".")] == [repository.cache_name]

    # The cache is used from now on: the upstream can disappear.
    subprocess.run(["rm", "-rf", str(upstream)], check=True)
    assert [p.id for p in load_minif2f_coq("test", cache_dir=cache, repository=repository)] == ["imo_1959_p1"]


def test_fetch_failure_is_a_clear_error_and_leaves_no_partial_cache(tmp_path: Path) -> None:
    repository = PinnedRepository(url=(tmp_path / "nowhere").as_uri(), commit="b60affae5d9b81eb097424e3143c40165ccbe97b")
    cache = tmp_path / "cache"
    with pytest.raises(DatasetUnavailable, match=r"git fetch failed: .*--data-dir"):
        fetch_pinned_repository(repository, cache)
    assert not (cache / repository.cache_name).exists()
    assert [p for p in cache.iterdir()] == []


def test_unknown_split_and_dataset_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown split"):
        load_minif2f_coq("train", data_dir=tmp_path)
    with pytest.raises(InputError, match="unknown dataset"):
        datasets.load_dataset("no-such-dataset")


def _real_backend(name: str):
    module = pytest.importorskip(f"prover.backends.{name}", reason=f"the {name} backend is not written yet")
    return module


def test_minif2f_coq_valid_split_from_shared_parses_every_file() -> None:
    _real_backend("coq")
    folder = SHARED / "data" / "minif2f-coq" / "valid"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (shared data lives beside the repo)")
    problems = load_minif2f_coq("valid", data_dir=folder.parent)
    assert len(problems) == 244
    unreadable = [p.id for p in problems if p.theorem is None]
    # Bare `Proof.` endings and `From Stdlib` are the backend's to handle: every file parses.
    assert unreadable == []
    by_category = {c: sum(p.category == c for p in problems) for c in ("algebra", "number theory", "AMC", "AIME", "IMO", "induction")}
    assert by_category["algebra"] >= 70 and by_category["number theory"] >= 60
    assert sum(by_category.values()) == len(problems)
    algebra_10 = next(p for p in problems if p.id == "mathd_algebra_10")
    assert "Rabs" in algebra_10.theorem.statement and "Reals" in algebra_10.theorem.header


def test_minif2f_lean4_valid_split_from_shared_has_headers_and_informal_statements() -> None:
    _real_backend("lean")
    folder = SHARED / "data" / "minif2f-lean4"
    if not (folder / "minif2f_valid.jsonl").is_file():
        pytest.skip(f"{folder}/minif2f_valid.jsonl is absent (shared data lives beside the repo)")
    problems = datasets.load_minif2f_lean4("valid", data_dir=folder)
    assert len(problems) == 244 and all(p.backend == "lean" for p in problems)
    assert all(p.theorem is not None and "import Mathlib" in p.theorem.header for p in problems)
    assert sum(p.informal_statement is not None for p in problems) > 200


def test_minif2f_keeps_the_theorem_named_like_its_file(tmp_path: Path, fake_coq: FakeCoqBackend) -> None:
    (tmp_path / "valid").mkdir()
    (tmp_path / "valid" / "imo_1966_p5.v").write_text(
        "Theorem imo_1966_p5 : True.\nProof.\nAdmitted.\n\nTheorem imo_1966_p5_variant : True.\nProof.\nAdmitted.\n"
    )
    (problem,) = load_minif2f_coq("valid", data_dir=tmp_path)
    assert problem.id == "imo_1966_p5" and problem.theorem.name == "imo_1966_p5" and problem.category == "IMO"
