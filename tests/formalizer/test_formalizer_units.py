"""The formalizer's text handling without a proof assistant: prompt formats, code extraction, scores, statements."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.errors import InputError
from prover.formalizer.checking import DEFAULT_COQ_HEADER, Statement, comment, split_statement
from prover.formalizer.equivalence import proposition
from prover.formalizer.evaluation import FormalizerEvalRow, load_informal_problems, summarize
from prover.formalizer.faithfulness import parse_score
from prover.formalizer.models import build_formalizer_model, template_for_model
from prover.formalizer.templates import (
    TEMPLATES,
    extract_formal_code,
    get_template,
    judge_messages,
    repair_messages,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the calling test with a reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data {path} is absent (it lives beside the repo in ../shared)")
    return path

PROBLEM = "Find the modulo 4 residue of $17 \\cdot 18$. Show that it is 2."


def test_kimina_autoformalizer_prompt_is_its_model_cards_format() -> None:
    messages = get_template("kimina-autoformalizer", "lean").messages(PROBLEM, "my_favorite_theorem")
    assert messages == [
        {"role": "system", "content": "You are an expert in mathematics and Lean 4."},
        {
            "role": "user",
            "content": "Please autoformalize the following problem in Lean 4 with a header. "
            "Use the following theorem names: my_favorite_theorem.\n\n" + PROBLEM,
        },
    ]


def test_goedel_formalizer_prompt_has_no_system_message_and_no_separator_before_think() -> None:
    messages = get_template("goedel-formalizer-v2", "lean").messages(PROBLEM, "test_problem")
    assert [m["role"] for m in messages] == ["user"]
    assert messages[0]["content"] == (
        "Please autoformalize the following natural language problem statement in Lean 4. "
        "Use the following theorem name: test_problem\nThe natural language statement is: \n"
        + PROBLEM
        + "Think before you provide the lean statement."
    )


def test_herald_prompt_names_the_problem_and_the_informal_statement() -> None:
    messages = get_template("herald", "lean").messages(PROBLEM, "nt_101")
    assert messages[0] == {"role": "system", "content": "You are an expert at Lean 4 and Mathematics."}
    assert messages[1]["content"] == (
        "Please translate the natural language statement to Lean4 code with the header\n"
        f"**Name**\nnt_101\n**Informal statement**\n{PROBLEM}\n"
    )


def test_every_template_is_chat_with_the_problem_in_its_last_message() -> None:
    for template in TEMPLATES.values():
        messages = template.messages(PROBLEM, "p")
        assert messages[-1]["role"] == "user" and PROBLEM in messages[-1]["content"]


def test_a_lean_template_refuses_the_coq_target_and_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(InputError, match="writes Lean 4, not Coq"):
        get_template("kimina-autoformalizer", "coq")
    with pytest.raises(InputError, match="chat-coq"):
        get_template("no-such-template", "coq")
    assert get_template(None, "coq").name == "chat-coq" and get_template(None, "lean").name == "chat-lean"


def test_known_formalizers_are_recognised_from_their_model_names() -> None:
    assert template_for_model("AI-MO/Kimina-Autoformalizer-7B") == "kimina-autoformalizer"
    assert template_for_model("Goedel-LM/Goedel-Formalizer-V2-8B") == "goedel-formalizer-v2"
    assert template_for_model("FrenzyMath/Herald_translator") == "herald"
    assert template_for_model("Qwen/Qwen2.5-7B-Instruct") is None


def test_code_is_the_last_block_after_the_reasoning() -> None:
    reply = (
        "<think>try ```lean4\ntheorem wrong : False := by sorry\n```</think>\n"
        "Here it is:\n```lean4\nimport Mathlib\ntheorem t : 17 * 18 % 4 = 2 := by sorry\n```\nDone."
    )
    assert extract_formal_code(reply, "lean") == "import Mathlib\ntheorem t : 17 * 18 % 4 = 2 := by sorry"
    assert extract_formal_code("```coq\nTheorem t : True.\n", "coq") == "Theorem t : True."  # cut short
    assert extract_formal_code("Theorem t : True.", "coq") == "Theorem t : True."


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("They match. Score: 0.9", 0.9),
        ("**Score:** 1", 1.0),
        ("score = 7/10", 0.7),
        ("Score: 85%", 0.85),
        ("Score: 4 out of 5", 0.8),
        ("Score: 8", 0.8),
        ("Problem 2 drops x > 0. ||different||", 0.0),
        ("<think>Score: 0</think>Final answer. Score: 0.25", 0.25),
        ("Score: 0.2 at first, but on reflection Score: 0.6", 0.6),
    ],
)
def test_judge_scores_are_read_in_all_common_shapes(reply: str, score: float) -> None:
    assert parse_score(reply) == pytest.approx(score)


def test_a_reply_without_a_score_is_unknown_not_zero() -> None:
    assert parse_score("The problems seem alike.") is None


def test_judge_prompt_carries_both_texts_and_asks_for_a_score_line() -> None:
    messages = judge_messages("original text", "back text")
    assert "original text" in messages[-1]["content"] and "back text" in messages[-1]["content"]
    assert "Score: S" in messages[-1]["content"]


def test_repair_prompt_continues_the_conversation_with_the_error() -> None:
    conversation = get_template("chat-coq", "coq").messages(PROBLEM, "p")
    repaired = repair_messages(conversation, "my draft", "The reference x was not found", "coq")
    assert repaired[: len(conversation)] == conversation
    assert repaired[-2] == {"role": "assistant", "content": "my draft"}
    assert "The reference x was not found" in repaired[-1]["content"]


def test_coq_statement_drops_the_models_proof_and_gets_a_default_header() -> None:
    statement = split_statement("Theorem t (n : nat) : n + 0 = n.\nProof.\n  lia.\nQed.", "coq")
    assert statement == Statement("t", DEFAULT_COQ_HEADER, "Theorem t (n : nat) : n + 0 = n.")
    assert statement.source("coq").endswith("Theorem t (n : nat) : n + 0 = n.\nProof.\nAdmitted.\n")


def test_coq_statement_keeps_its_own_header_and_decimal_numbers() -> None:
    code = "Require Import Reals.\nOpen Scope R_scope.\n(* a comment. *)\nLemma r : 1.5 * 2 = 3.\nProof. lra. Qed."
    statement = split_statement(code, "coq")
    assert statement.header == "Require Import Reals.\nOpen Scope R_scope."
    assert statement.statement == "Lemma r : 1.5 * 2 = 3."


@pytest.mark.parametrize(
    ("code", "target"),
    [
        ("Axiom cheat : False.\nTheorem t : 1 = 2.", "coq"),
        ("Lemma helper : 1 = 2.\nAdmitted.\nTheorem t : 1 = 2.", "coq"),
        ("import Mathlib\naxiom cheat : False\ntheorem t : 1 = 2 := by sorry", "lean"),
    ],
)
def test_headers_that_assume_things_are_refused(code: str, target: str) -> None:
    with pytest.raises(InputError, match="is not allowed in a formalized statement"):
        split_statement(code, target)  # type: ignore[arg-type]


def test_code_without_a_theorem_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no Coq `Theorem"):
        split_statement("Definition f := 1.", "coq")
    with pytest.raises(InputError, match="no Lean `theorem"):
        split_statement("def f := 1", "lean")


def test_lean_statement_stops_before_its_proof() -> None:
    code = "import Mathlib\nopen Real\n\ntheorem t (x : ℝ) (h₀ : 0 < x) : x ^ 2 > 0 := by\n  positivity"
    statement = split_statement(code, "lean")
    assert statement.header == "import Mathlib\nopen Real"
    assert statement.statement == "theorem t (x : ℝ) (h₀ : 0 < x) : x ^ 2 > 0"
    assert statement.source("lean").endswith("x ^ 2 > 0 := by\n  sorry\n")


def test_binders_become_quantifiers_in_the_closed_proposition() -> None:
    assert proposition("Theorem t (x : R) (h : 0 < x) : x * x > 0.", "coq") == "forall (x : R) (h : 0 < x), x * x > 0"
    assert proposition("Theorem t :\n  forall n : nat, n = n.", "coq") == "forall n : nat, n = n"
    assert proposition("theorem t {a : ℕ} (h : a ≠ 0) : (a : ℝ) ^ 2 > 0", "lean") == "∀ {a : ℕ} (h : a ≠ 0), (a : ℝ) ^ 2 > 0"


def test_comments_cannot_be_closed_by_the_problem_text() -> None:
    assert comment("a *) b (* c", "coq") == "(* a * ) b ( * c *)"
    assert comment("x -/ y", "lean") == "/- x - / y -/"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gpt:foo", "unknown formalizer model"),
        ("openai:http://127.0.0.1:9/v1", "model=NAME"),
        ("openai:localhost:9?model=m", "http"),
        ("openai:http://127.0.0.1:9/v1?model=m&endpoint=completions", "chat only"),
        ("openai:http://127.0.0.1:9/v1?model=m&colour=blue", "unknown option"),
    ],
)
def test_malformed_model_specs_are_input_errors(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_formalizer_model(spec)


def test_minif2f_informal_statements_load_sorted_with_their_lean_statements() -> None:
    path = shared_path("data", "minif2f-lean4", "minif2f_valid.jsonl")
    problems = load_informal_problems(path)
    assert len(problems) == 244
    assert [p.name for p in problems] == sorted(p.name for p in problems)
    nt101 = next(p for p in problems if p.name == "mathd_numbertheory_101")
    assert "17 \\cdot 18" in nt101.informal and nt101.lean_statement.startswith("theorem mathd_numbertheory_101")


def test_summary_counts_elaboration_and_equivalence() -> None:
    def row(name: str, elaborated: bool, equivalence: str) -> FormalizerEvalRow:
        return FormalizerEvalRow(name, elaborated, 2, int(elaborated), None, False, equivalence, None, None, None, 0.0)

    summary = summarize(
        [
            row("a", True, "equivalent"),
            row("b", True, "equivalence not shown"),
            row("c", True, "candidate implies reference"),
            row("d", False, "no statement"),
        ]
    )
    assert summary["elaborated"] == 3 and summary["elaboration_rate"] == pytest.approx(0.75)
    assert (summary["with_reference"], summary["equivalent"], summary["one_direction"], summary["not_shown"]) == (3, 1, 1, 1)


def _problem(tmp_path: Path, text: str = "Show that 1 + 1 = 2.") -> Path:
    path = tmp_path / "problem.txt"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["formalize", "no/such/problem.txt", "--model", "hf:x"], "no/such/problem.txt: no such file"),
        (["formalize", "{problem}", "--target", "coq"], "no formalizer model: pass --model"),
        (["formalize", "{problem}", "--target", "isabelle", "--model", "hf:x"], "--target must be lean or coq"),
        (["formalize", "{problem}", "-o", "{tmp}/out.lean", "--target", "coq", "--model", "hf:x"], "goes in a .v file"),
        (["solve", "{problem}", "--target", "coq", "--template", "herald", "--model", "hf:x"], "writes Lean 4, not Coq"),
        (["formalize", "{empty}", "--model", "hf:x"], "the problem text is empty"),
    ],
)
def test_bad_formalizer_input_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prover.cli import main

    monkeypatch.delenv("PROVE_FORMALIZER_MODEL", raising=False)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    filled = [a.format(problem=_problem(tmp_path), tmp=tmp_path, empty=empty) for a in args]
    assert main(filled) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("prove: ") and message in error[0]


def test_lean_direction_renames_both_statements_to_the_aligned_variables() -> None:
    from prover.formalizer.equivalence import AlignedStatement, align, direction_source, shape_of

    candidate = Statement("c", "import Mathlib\nopen Real", "theorem c (y : ℝ) (h : 0 < y) : y ^ 2 > 0")
    reference = Statement("r", "import Mathlib\nopen Nat", "theorem r : ∀ x : ℝ, 0 < x → x ^ 2 > 0")
    reference_shape, candidate_shape = shape_of(reference.statement, "lean"), shape_of(candidate.statement, "lean")
    order = align(reference_shape, candidate_shape)
    assert order == (0,)
    source = direction_source(
        AlignedStatement(candidate, candidate_shape, order), AlignedStatement(reference, reference_shape, (0,)),
        ["v1"], "lean", name="equivalence_forward",
    )
    assert source.startswith("import Mathlib\n\nopen Real\nopen Nat\n")
    assert "theorem equivalence_forward (v1 : ℝ) (premise : ∀ (h : 0 < v1), v1 ^ 2 > 0) : 0 < v1 → v1 ^ 2 > 0 := by\n  sorry" in source


def test_coq_direction_keeps_each_statements_scopes_in_its_own_module_and_states_the_premise() -> None:
    from prover.formalizer.equivalence import AlignedStatement, direction_source, shape_of

    candidate = Statement("c", "Require Import Arith.", "Theorem c : 17 * 18 mod 4 = 2.")
    reference = Statement("r", "Require Import Arith.\nOpen Scope nat_scope.", "Theorem r: (17 * 18) mod 4 = 2.")
    source = direction_source(
        AlignedStatement(candidate, shape_of(candidate.statement, "coq"), ()),
        AlignedStatement(reference, shape_of(reference.statement, "coq"), ()),
        [], "coq", name="equivalence_forward",
    )
    assert source.startswith("Require Import Arith.\n")
    premise = source[source.index("Module PremiseStatement."):source.index("End PremiseStatement.")]
    conclusion = source[source.index("Module ConclusionStatement."):source.index("End ConclusionStatement.")]
    assert "Open Scope" not in premise and "Definition statement : Prop :=\n  17 * 18 mod 4 = 2." in premise
    assert "Open Scope nat_scope." in conclusion and "(17 * 18) mod 4 = 2." in conclusion
    assert "Section equivalence_forward.\nHypothesis premise : ltac:(" in source
    assert "Theorem equivalence_forward : ltac:(" in source and source.rstrip().endswith("End equivalence_forward.")


def test_a_lean_statement_written_by_the_formalizer_is_read_back_by_the_lean_backend() -> None:
    from prover.backends.lean import LeanBackend
    from prover.formalizer.equivalence import statement_of_theorem

    statement = split_statement("import Mathlib\n\ntheorem problem (x : ℝ) (h₀ : 0 < x) : x ^ 2 > 0 := by\n  positivity", "lean")
    parsed = LeanBackend().parse_file("problem.lean", statement.source("lean", "Problem: x > 0 implies x^2 > 0"))
    (opened,) = parsed.theorems
    assert opened.theorem.name == "problem"
    assert statement_of_theorem(opened.theorem).statement == statement.statement
