"""A Coq file inside a user's project: `_CoqProject`/dune load paths, and one-line reports when the
project's libraries cannot be loaded (not compiled, a cycle, another Coq version, stale)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prover.backends.coq_project import (
    CoqProject,
    LoadPath,
    ProjectOptions,
    check_dependencies,
    detect_project,
    dune_theories,
    find_project_file,
    parse_coqproject,
    resolve_project,
)
from prover.cli import _fold_load_paths, _project_options
from prover.errors import InputError
from tests.conftest import require_coq

# ---------------------------------------------------------------- parsing (no Coq needed)


def test_coqproject_flags_resolve_against_its_folder(tmp_path: Path) -> None:
    (tmp_path / "theories").mkdir()
    (tmp_path / "src").mkdir()
    text = """# a comment -Q nothing Here
-Q theories Proj   # trailing comment
-R "src" My.Lib
-I src
-arg -w -arg -notation-overridden
-arg "-set 'Printing Width=100'"
COQC = coqc
theories/User.v
"""
    project = parse_coqproject(text, tmp_path)
    assert project.root == tmp_path.resolve() and project.origin == "_CoqProject"
    assert project.load_paths == (
        LoadPath("-Q", (tmp_path / "theories").resolve(), "Proj"),
        LoadPath("-R", (tmp_path / "src").resolve(), "My.Lib"),
        LoadPath("-I", (tmp_path / "src").resolve()),
    )
    assert project.extra_args == ("-w", "-notation-overridden", "-set", "Printing Width=100")
    assert project.coq_args[:3] == ("-Q", str((tmp_path / "theories").resolve()), "Proj")


def test_coqproject_entry_for_a_missing_folder_names_the_file_and_entry(tmp_path: Path) -> None:
    with pytest.raises(InputError) as raised:
        parse_coqproject("-Q theories Proj\n", tmp_path)
    message = str(raised.value)
    assert "_CoqProject" in message and "-Q theories Proj" in message and "no such directory" in message


def test_coqproject_option_without_its_values_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "theories").mkdir()
    with pytest.raises(InputError, match="-R needs 2 arguments"):
        parse_coqproject("-R theories", tmp_path)


def test_nearest_project_file_wins_and_coqproject_beats_dune_in_one_folder(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "_CoqProject").write_text("")
    (tmp_path / "a" / "dune-project").write_text("(lang dune 3.8)\n")
    assert find_project_file(inner / "User.v") == (tmp_path / "a" / "dune-project", "dune")
    (tmp_path / "a" / "_CoqProject").write_text("")
    assert find_project_file(inner / "User.v") == (tmp_path / "a" / "_CoqProject", "_CoqProject")


def test_no_project_file_gives_no_flags(tmp_path: Path) -> None:
    assert find_project_file(tmp_path) is None, "a project file above the test's tmp folder"
    assert detect_project(tmp_path / "alone.v") == CoqProject()


def test_dune_theory_names_are_read_from_stanzas() -> None:
    text = """; a comment (coq.theory (name Wrong))
(coq.theory
 (name My.Theory) ; the name
 (package my-pkg)
 (theories Stdlib))
(library (name not_coq))
(rocq.theory (name Other))
"""
    assert dune_theories(text) == ["My.Theory", "Other"]


def test_dune_project_maps_theories_to_their_build_folders(tmp_path: Path) -> None:
    (tmp_path / "dune-project").write_text("(lang dune 3.8)\n(using coq 0.8)\n")
    (tmp_path / "theories").mkdir()
    (tmp_path / "theories" / "dune").write_text("(coq.theory (name Proj))\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "dune").write_text("(coq.theory (name Other))\n")
    (tmp_path / "_build" / "default" / "theories").mkdir(parents=True)
    (tmp_path / "_build" / "default" / "theories" / "dune").write_text("(coq.theory (name Copy))\n")
    project = detect_project(tmp_path / "theories" / "User.v")
    assert project.origin == "dune" and project.root == tmp_path.resolve()
    assert set(project.load_paths) == {
        LoadPath("-Q", tmp_path.resolve() / "_build" / "default" / "theories", "Proj"),
        LoadPath("-Q", (tmp_path / "other").resolve(), "Other"),  # not built yet: its sources
    }
    assert "dune build" in project.build_command(tmp_path / "other" / "X.v")


def test_command_line_adds_to_or_replaces_the_project_file(tmp_path: Path) -> None:
    (tmp_path / "theories").mkdir()
    (tmp_path / "extra").mkdir()
    (tmp_path / "_CoqProject").write_text("-Q theories Proj\n")
    extra = LoadPath("-R", tmp_path / "extra", "Extra")
    added = resolve_project(tmp_path / "theories" / "User.v", ProjectOptions(load_paths=(extra,), extra_args=("-w", "-all")))
    assert [p.library for p in added.load_paths] == ["Proj", "Extra"]
    assert added.extra_args == ("-w", "-all")
    replaced = resolve_project(tmp_path / "theories" / "User.v", ProjectOptions(use_project_file=False, load_paths=(extra,)))
    assert [p.library for p in replaced.load_paths] == ["Extra"] and replaced.origin == ""
    with pytest.raises(InputError, match="no such directory"):
        resolve_project(tmp_path / "User.v", ProjectOptions(load_paths=(LoadPath("-Q", tmp_path / "nope", "N"),)))


def test_command_line_folds_two_value_load_path_options() -> None:
    argv = ["prove-file", "a.v", "-Q", "theories", "Proj", "--coq-arg", "-R", "-R", "my dir", "L", "--json"]
    folded = _fold_load_paths(argv)
    assert folded[:2] == ["prove-file", "a.v"] and folded[-1] == "--json"
    assert folded[4:6] == ["--coq-arg", "-R"], "a -R given to --coq-arg is passed as it is"
    options = _project_options([folded[3], folded[7]], ["-R"], use_project_file=True)
    assert [(p.flag, p.directory.name, p.library) for p in options.load_paths] == [
        ("-Q", "theories", "Proj"),
        ("-R", "my dir", "L"),
    ]
    assert all(p.directory.is_absolute() for p in options.load_paths)
    with pytest.raises(InputError, match="two values"):
        _fold_load_paths(["prove-file", "a.v", "-Q", "theories"])


# ---------------------------------------------------------------- on real Coq

# Helper's lemma is the only way to the user's theorem: `tower` is sealed behind a module type,
# so nothing can unfold it, and Helper exports the lemma as a hint.
HELPER = """Require Import Lia.
Module Type TOWER.
  Parameter tower : nat -> nat.
  Axiom tower_pos : forall n, 0 < tower n.
End TOWER.
Module Tower : TOWER.
  Fixpoint tower (n : nat) : nat := match n with 0 => 1 | S k => tower k + tower k end.
  Lemma tower_pos : forall n, 0 < tower n.
  Proof. induction n; simpl; lia. Qed.
End Tower.
#[export] Hint Resolve Tower.tower_pos : core.
"""

USER = """(* The user's file: it needs its sibling Helper. *)
Require Import Proj.Helper.

Lemma tower_at_least_one : forall n, 1 <= Tower.tower n.
Proof.
Admitted.
"""


def coqc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["coqc", "-q", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def make_project(root: Path, *, compile_helper: bool = True) -> Path:
    """root/_CoqProject with -Q theories Proj, theories/Helper.v (compiled) and theories/User.v."""
    theories = root / "theories"
    theories.mkdir(parents=True)
    (root / "_CoqProject").write_text("-Q theories Proj\ntheories/Helper.v\ntheories/User.v\n")
    (theories / "Helper.v").write_text(HELPER)
    (theories / "User.v").write_text(USER)
    if compile_helper:
        built = coqc("-Q", "theories", "Proj", "theories/Helper.v", cwd=root)
        assert built.returncode == 0, built.stderr
    return theories / "User.v"


def prove(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prover", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


@pytest.mark.coq
def test_missing_compiled_dependency_is_one_line_naming_the_build_command(tmp_path: Path) -> None:
    require_coq()
    user = make_project(tmp_path, compile_helper=False)
    out = tmp_path / "done.v"
    completed = prove("theories/User.v", "--out", str(out), cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert "theories/Helper.vo" in lines[0] and "not compiled" in lines[0]
    assert "`coqc -Q theories Proj theories/Helper.v`" in lines[0]
    assert not out.exists() and user.read_text() == USER


@pytest.mark.coq
def test_dependency_cycle_is_reported(tmp_path: Path) -> None:
    require_coq()
    (tmp_path / "th").mkdir()
    (tmp_path / "th" / "A.v").write_text("Require Import P.B.\nLemma a : True.\nProof.\nAdmitted.\n")
    (tmp_path / "th" / "B.v").write_text("Require Import P.A.\nDefinition b := 1.\n")
    project = CoqProject(root=tmp_path, origin="_CoqProject", load_paths=(LoadPath("-Q", tmp_path / "th", "P"),))
    with pytest.raises(InputError, match=r"dependency cycle: th/A.v -> th/B.v -> th/A.v"):
        check_dependencies(tmp_path / "th" / "A.v", project)


@pytest.mark.coq
@pytest.mark.slow
def test_vo_from_another_coq_version_or_stale_is_one_line_exit_2(tmp_path: Path) -> None:
    require_coq()
    theories = tmp_path / "theories"
    user = make_project(tmp_path)
    (theories / "Base.v").write_text("Definition base := 1.\n")
    (theories / "Mid.v").write_text("Require Import Proj.Base.\nDefinition mid := base.\n")
    (theories / "Top.v").write_text("Require Import Proj.Mid.\nLemma top : mid = mid.\nProof.\nAdmitted.\n")
    for name in ("Base", "Mid"):
        assert coqc("-Q", "theories", "Proj", f"theories/{name}.v", cwd=tmp_path).returncode == 0
    # Base changes and is rebuilt; Mid.vo still refers to the old Base.
    (theories / "Base.v").write_text("Definition base := 2.\n")
    assert coqc("-Q", "theories", "Proj", "theories/Base.v", cwd=tmp_path).returncode == 0
    stale = prove("theories/Top.v", "--write", cwd=tmp_path)
    assert stale.returncode == 2 and len(stale.stderr.strip().splitlines()) == 1, stale.stderr
    assert "theories/Mid.vo was compiled against an older Proj.Base" in stale.stderr
    assert "coqc -Q theories Proj theories/Mid.v" in stale.stderr
    assert "Admitted." in (theories / "Top.v").read_text(), "nothing written"
    # A Helper.vo whose version stamp is another Coq's (8.15.0).
    helper_vo = theories / "Helper.vo"
    data = bytearray(helper_vo.read_bytes())
    data[4:8] = (81500).to_bytes(4, "big")
    helper_vo.write_bytes(bytes(data))
    other = prove("theories/User.v", "--write", cwd=tmp_path)
    assert other.returncode == 2 and len(other.stderr.strip().splitlines()) == 1, other.stderr
    assert "theories/Helper.vo was compiled by another version of Coq" in other.stderr
    assert user.read_text() == USER


@pytest.mark.coq
def test_dune_project_without_build_says_to_run_dune_build(tmp_path: Path) -> None:
    require_coq()
    (tmp_path / "dune-project").write_text("(lang dune 3.8)\n(using coq 0.8)\n")
    theories = tmp_path / "theories"
    theories.mkdir()
    (theories / "dune").write_text("(coq.theory\n (name Proj))\n")
    (theories / "Helper.v").write_text(HELPER)
    (theories / "User.v").write_text(USER)
    completed = prove("theories/User.v", cwd=tmp_path)
    assert completed.returncode == 2
    assert "Helper.vo, which is not compiled" in completed.stderr and "`dune build`" in completed.stderr


@pytest.mark.coq
@pytest.mark.slow
def test_project_file_requiring_its_sibling_is_proved_and_compiles_with_project_flags(tmp_path: Path) -> None:
    """Done-when: a _CoqProject project whose User.v requires sibling Helper is proved end to end,
    and the written file compiles with the project's flags."""
    require_coq()
    make_project(tmp_path)
    out = tmp_path / "theories" / "UserDone.v"
    # best-first tries every tactic of the root first; the hint Helper exports closes it (auto, intuition).
    search = ("--search", "best_first", "--budget-seconds", "30")
    completed = prove("theories/User.v", "--json", "--out", str(out), *search, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    (row,) = json.loads(completed.stdout)["results"]
    assert row["theorem"] == "tower_at_least_one" and row["status"] == "proved" and row["kernel_checked"]
    compiled = coqc("-Q", "theories", "Proj", "theories/UserDone.v", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    # Without the project's flags the same file does not even load its sibling.
    alone = prove("theories/User.v", "--no-coqproject", "--budget-seconds", "5", cwd=tmp_path)
    assert alone.returncode == 2 and "Proj.Helper" in alone.stderr
    # The command line's -Q gives the same load path back.
    flagged = prove("theories/User.v", "--no-coqproject", "-Q", "theories", "Proj", *search, cwd=tmp_path)
    assert flagged.returncode == 0, flagged.stderr
