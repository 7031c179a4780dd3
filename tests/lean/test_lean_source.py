"""Lean source handling without Lean: finding open theorems, splitting and rendering proofs, completing files."""

from __future__ import annotations

import json

import pytest
from lean_fakes import recorded

from prover.backends.lean import LeanBackend, bounded_header, parse_axioms
from prover.backends.lean_source import declared_name, full_name_for_lookup, name_example, open_namespaces, smuggled_command
from prover.errors import InputError

FILE = """import Mathlib
open Real

/-- A doc comment that belongs to `a`. -/
theorem a (x : ℕ) (h : x = 1 := by simp) : x = x := by
  sorry

-- theorem in_a_comment : True := sorry
lemma b : True :=
  sorry

theorem done : 1 = 1 := by rfl

example : 2 = 2 := by sorry -- trailing comment
/- theorem in_a_block : True := sorry -/
theorem c (s : String := "theorem fake := sorry") : s = s := by
  sorry
"""


def test_parse_file_finds_sorry_by_sorry_and_by_newline_sorry_only() -> None:
    """Open proofs are `sorry`, `by sorry` and `by\\n  sorry`; proved ones, comments and strings are skipped."""
    parsed = LeanBackend().parse_file("f.lean", FILE)
    names = [t.theorem.name for t in parsed.theorems]
    assert names == ["a", "b", "example_L14", "c"]
    spans = [FILE[s:e] for s, e in (t.span for t in parsed.theorems)]
    assert spans == ["by\n  sorry", "sorry", "by sorry", "by\n  sorry"]
    first = parsed.theorems[0].theorem
    assert first.statement.startswith("/-- A doc comment") and first.statement.endswith(": x = x :=")
    assert first.header == "import Mathlib\nopen Real\n\n"
    assert parsed.theorems[1].theorem.header.endswith("  sorry\n\n-- theorem in_a_comment : True := sorry\n")


def test_every_minif2f_valid_problem_parses_to_one_open_theorem() -> None:
    """All 244 miniF2F-lean4 valid files (header + statement) give exactly their theorem, header unchanged."""
    rows = [json.loads(line) for line in recorded("..", "..", "data", "minif2f-lean4", "minif2f_valid.jsonl").read_text().splitlines()]
    backend = LeanBackend()
    for row in rows:
        text = row["header"] + row["formal_statement"] + "\n"
        (open_theorem,) = backend.parse_file(row["name"], text).theorems
        assert open_theorem.theorem.name == row["name"]
        assert open_theorem.theorem.header == row["header"]
        assert text[open_theorem.span[0] : open_theorem.span[1]] == "by sorry"


def test_complete_file_replaces_only_proved_theorems() -> None:
    """Proved theorems get `by` + indented tactics where `sorry` was; the others keep their sorry."""
    backend = LeanBackend()
    parsed = backend.parse_file("f.lean", FILE)
    completed = backend.complete_file(parsed, {"a": ["intro", "cases x with\n| zero => rfl\n| succ n => rfl"], "c": ["rfl"]})
    assert "x = x := by\n  intro\n  cases x with\n  | zero => rfl\n  | succ n => rfl\n" in completed
    assert 'theorem c (s : String := "theorem fake := sorry") : s = s := by\n  rfl\n' in completed
    assert "lemma b : True :=\n  sorry" in completed and "example : 2 = 2 := by sorry" in completed


def test_duplicate_declarations_are_an_input_error() -> None:
    """Two open theorems with one name cannot be completed unambiguously."""
    with pytest.raises(InputError, match="declared more than once: t"):
        LeanBackend().parse_file("d.lean", "theorem t : True := sorry\ntheorem t : True := sorry\n")


def test_split_proof_keeps_nested_blocks_and_splits_lines_and_semicolons() -> None:
    """Base-indented lines start steps; deeper lines, `<;>` and `| case` continue them; top-level `;` splits; comments go."""
    script = (
        ":= by\n  intro x\n  -- a comment\n  cases x with\n  | inl h => simp\n  | inr h => simp\n"
        "  · norm_num\n    linarith\n  simp <;>\n    ring\n  norm_num; linarith [h, (a; b)]\n  /- block -/ exact \"--x\"\n"
    )
    assert LeanBackend().split_proof(script) == [
        "intro x",
        "cases x with\n| inl h => simp\n| inr h => simp",
        "· norm_num\n  linarith",
        "simp <;>\n  ring",
        "norm_num",
        "linarith [h, (a; b)]",
        'exact "--x"',
    ]


def test_render_then_split_round_trips() -> None:
    """What render_proof writes, split_proof reads back as the same steps."""
    backend = LeanBackend()
    steps = ["intro n", "induction n with\n| zero => simp\n| succ k ih => omega", "nlinarith [sq_nonneg (a - b)]"]
    assert backend.split_proof(backend.render_proof(steps)) == steps


def test_smuggled_commands_are_detected_but_tactic_combinators_are_not() -> None:
    """A step that opens a declaration or a `#` command is caught; `open ... in`, `set_option ... in` and names like `theorem_x` are fine."""
    assert smuggled_command("simp\ntheorem x : False := sorry") == "theorem"
    assert smuggled_command("  #eval 1") == "#"
    assert smuggled_command("exact (axiom_free_lemma)") is None
    assert smuggled_command("open Real in simp") is None
    assert smuggled_command("set_option maxRecDepth 1000 in simp") is None


def test_declared_name_and_example_renaming() -> None:
    """The name `#print axioms` asks about; an example gets a fresh name with the rest of the text unchanged."""
    assert declared_name("@[simp] private theorem Foo.bar (x : Nat) : x = x :=") == ("theorem", "Foo.bar")
    assert declared_name("/-- an example doc -/\nexample : True :=") == ("example", None)
    assert name_example("/-- an example doc -/\nexample : True := by\n  trivial", "fresh") == "/-- an example doc -/\ntheorem fresh : True := by\n  trivial"


def test_the_name_verify_looks_up_is_the_full_name_from_the_root() -> None:
    """`#print axioms` names a theorem by `_root_.` and its namespaces (sections, closed namespaces and
    comments do not count), the same full name the file's parse gives it."""
    header = "import Mathlib\n\nnamespace A.B\n\nsection s\n-- namespace Fake\nend s\n\nnamespace C\nend C\n\n"
    assert open_namespaces(header) == ["A", "B"]
    assert full_name_for_lookup(header, "t") == "_root_.A.B.t"
    assert full_name_for_lookup(header, "D.t") == "_root_.A.B.D.t"
    assert full_name_for_lookup(header, "_root_.t") == "_root_.t"
    assert full_name_for_lookup("theorem t : True := sorry\n", "t") == "_root_.t"
    text = header + "protected theorem t : True := by sorry\n"
    (open_theorem,) = LeanBackend().parse_file("n.lean", text).theorems
    assert full_name_for_lookup(open_theorem.theorem.header, open_theorem.theorem.name) == "_root_." + open_theorem.qualified_name


def test_unbounded_heartbeats_become_finite_and_bounded_ones_stay() -> None:
    """`set_option maxHeartbeats 0` (miniF2F headers) becomes the configured limit; finite settings are left alone."""
    assert bounded_header("import Mathlib\nset_option maxHeartbeats 0\nopen Real", 200000) == "import Mathlib\nset_option maxHeartbeats 200000\nopen Real"
    assert bounded_header("set_option maxHeartbeats 400000", 200000) == "set_option maxHeartbeats 400000"


def test_axioms_are_read_from_both_print_axioms_answers_and_line_wraps() -> None:
    """`'x' depends on axioms: [..]` (also wrapped over lines) and `'x' does not depend on any axioms`; None when absent."""
    assert parse_axioms(["'t' depends on axioms: [propext,\n Classical.choice, Quot.sound]"]) == ("propext", "Classical.choice", "Quot.sound")
    assert parse_axioms(["`t` does not depend on any axioms"]) == ()
    assert parse_axioms(["t : True"]) is None


def test_a_set_option_in_prefix_stays_with_its_theorem() -> None:
    """`set_option maxHeartbeats 400000 in` before a theorem is part of its statement, not a dangling header line."""
    text = "import Mathlib\n\nset_option maxHeartbeats 400000 in\n/-- doc -/\ntheorem t : True := by sorry\n"
    (open_theorem,) = LeanBackend().parse_file("t.lean", text).theorems
    assert open_theorem.theorem.header == "import Mathlib\n\n"
    assert open_theorem.theorem.statement == "set_option maxHeartbeats 400000 in\n/-- doc -/\ntheorem t : True :="


SHAPES = """import Mathlib
open Real

/-- doc -/
@[simp]
theorem simp_lemma (x : ℕ) : x + 0 = x := by sorry

open Real in
theorem uses_pi : Real.pi > 0 := by
  sorry

namespace Foo
variable (n : ℕ)

private theorem hidden : n = n := by sorry

protected lemma prot : n + 0 = n := sorry

section Inner
variable (m : ℕ)
lemma inner : m = m := by sorry
end Inner

example : (2 : ℕ) = 2 := by sorry
end Foo

namespace Bar
theorem hidden : True := by sorry
end Bar
"""


def test_ordinary_file_shapes_parse_with_qualified_names() -> None:
    """`@[simp]` on its own line, `open ... in`, namespaces and sections with variables,
    private/protected, lemma and example: each is one open theorem, named inside its namespace."""
    parsed = LeanBackend().parse_file("shapes.lean", SHAPES)
    assert [t.name for t in parsed.theorems] == [
        "simp_lemma", "uses_pi", "Foo.hidden", "Foo.prot", "Foo.inner", "Foo.example_L24", "Bar.hidden"
    ]
    simp, uses_pi = parsed.theorems[0].theorem, parsed.theorems[1].theorem
    assert simp.statement.startswith("/-- doc -/\n@[simp]\ntheorem simp_lemma")
    assert simp.header == "import Mathlib\nopen Real\n\n"
    assert uses_pi.statement.startswith("open Real in\ntheorem uses_pi") and not uses_pi.header.rstrip().endswith(" in")
    inner = parsed.theorems[4].theorem
    assert inner.header.endswith("namespace Foo\nvariable (n : ℕ)\n\nprivate theorem hidden : n = n := by sorry\n\n"
                                 "protected lemma prot : n + 0 = n := sorry\n\nsection Inner\nvariable (m : ℕ)\n")


def test_same_short_name_in_two_namespaces_completes_each() -> None:
    backend = LeanBackend()
    parsed = backend.parse_file("shapes.lean", SHAPES)
    completed = backend.complete_file(parsed, {"Foo.hidden": ["rfl"], "Bar.hidden": ["trivial"]})
    assert "private theorem hidden : n = n := by\n  rfl\n" in completed
    assert "theorem hidden : True := by\n  trivial\nend Bar" in completed
    assert completed.count("sorry") == SHAPES.count("sorry") - 2


def test_a_sorry_the_prover_does_not_search_is_reported() -> None:
    """A `sorry` inside a partial proof or a `def` is unsupported, never silently left behind."""
    text = (
        "theorem whole : True := by sorry\n"
        "theorem partial (n : ℕ) : n = n := by\n  cases n\n  · rfl\n  · sorry\n"
        "def value : ℕ := sorry\n"
        "-- sorry in a comment\n"
    )
    parsed = LeanBackend().parse_file("holes.lean", text)
    assert [t.name for t in parsed.theorems] == ["whole"]
    assert [(hole.name, hole.reason.split(" the")[0]) for hole in parsed.unsupported] == [
        ("sorry@5", "a `sorry`"),
        ("sorry@6", "a `sorry`"),
    ]
