"""Prompt templates render exactly the formats the models were trained on, and outputs parse back to tactics."""

from __future__ import annotations

import pytest

from prover.errors import InputError
from prover.policies.prompts import (
    TEMPLATES,
    PromptContext,
    extract_code_block,
    extract_proof_body,
    get_template,
    remove_proof_prefix,
    statement_from_goal,
)
from search.types import State, Theorem

LEAN_GOAL = "m n : ℕ\nh : n = 2 * m + 1\n⊢ 8 ∣ (2 * m + 1) * (2 * m + 1) - 1"
THEOREM = Theorem(
    name="square_sub_one_divisible_eight",
    statement="theorem square_sub_one_divisible_eight (m n : ℕ) (h : n = 2 * m + 1) : 8 ∣ n * n - 1 :=",
    header="import Mathlib",
)


def context(path: tuple[str, ...] = (), theorem: Theorem | None = None) -> PromptContext:
    return PromptContext.from_state(State(goals=(LEAN_GOAL,), path=path), theorem=theorem)


def test_reprover_prompt_is_the_raw_goal_text() -> None:
    two_goals = PromptContext(goals=("⊢ a", "⊢ b"))
    assert get_template("reprover").prompt(two_goals) == "⊢ a\n\n⊢ b"


def test_bfs_prompt_is_state_then_triple_colon_and_parse_takes_text_after_it() -> None:
    template = get_template("bfs")
    assert template.prompt(context()) == LEAN_GOAL + ":::"
    assert template.parse(" nlinarith [sq_nonneg (a - b)]\n", context()) == "nlinarith [sq_nonneg (a - b)]"
    # A model that echoes the state (as the BFS-Prover card describes) still yields the tactic.
    assert template.parse(LEAN_GOAL + ":::omega", context()) == "omega"


def test_internlm_step_prompt_matches_the_model_card_template() -> None:
    rendered = get_template("internlm-step").prompt(context(("rw [h, pow_two]",), THEOREM))
    assert rendered == (
        "---\nNAME: square_sub_one_divisible_eight\n\n"
        "---\nPROOF_BEFORE: rw [h, pow_two]\n\n"
        f"---\nSTATE_BEFORE: {LEAN_GOAL}\n\n"
        "---\nTACTIC: "
    )


def test_internlm_step_parse_stops_at_the_next_block() -> None:
    assert get_template("internlm-step").parse("omega\n---\nNAME: x", context()) == "omega"


def test_deepseek_v2_prompt_is_a_chat_message_with_statement_ending_in_sorry() -> None:
    messages = get_template("deepseek-prover-v2").prompt(context(theorem=THEOREM))
    assert isinstance(messages, list) and [m["role"] for m in messages] == ["user"]
    content = messages[0]["content"]
    assert content.startswith("Complete the following Lean 4 code:\n\n```lean4\nimport Mathlib\n\ntheorem square_sub")
    assert ":= by\n  sorry\n```\n\nBefore producing the Lean 4 code to formally prove the given theorem" in content
    assert content.endswith("guide the construction of the final formal proof.")


def test_deepseek_v2_prompt_carries_the_verified_prefix_before_sorry() -> None:
    content = get_template("deepseek-prover-v2").prompt(context(("intro x", "simp"), THEOREM))[0]["content"]
    assert ":= by\n  intro x\n  simp\n  sorry\n```" in content


def test_goedel_v2_prompt_has_no_newline_before_the_closing_fence() -> None:
    content = get_template("goedel-prover-v2").prompt(context(theorem=THEOREM))[0]["content"]
    assert ":= by\n  sorry```\n\nBefore producing the Lean 4 code" in content


def test_kimina_prompt_has_its_system_message_problem_and_statement_without_sorry() -> None:
    messages = get_template("kimina-prover").prompt(context(theorem=THEOREM))
    assert messages[0] == {"role": "system", "content": "You are an expert in mathematics and Lean 4."}
    user = messages[1]["content"]
    assert user.startswith("Think about and solve the following problem step by step in Lean 4.\n# Problem:theorem")
    assert "import" not in user.split("# Formal statement:")[0]
    assert user.endswith(":= by\n```\n")
    assert "sorry" not in user


def test_deepseek_v15_completion_prompt_ends_inside_the_open_proof() -> None:
    rendered = get_template("deepseek-prover-v1.5").prompt(context(("intro x",), THEOREM))
    assert isinstance(rendered, str)
    assert rendered.startswith("Complete the following Lean 4 code:\n\n```lean4\n")
    assert rendered.endswith(":= by\n  intro x\n  ")


def test_whole_proof_parse_takes_the_last_lean4_block_after_by() -> None:
    answer = (
        "Plan: first this.\n```lean4\ntheorem draft : False := by\n  sorry\n```\nNow the proof:\n"
        "```lean4\nimport Mathlib\ntheorem t (x : ℕ) : x + 0 = x := by\n  intro h\n  simp [h]\n```\n"
    )
    assert get_template("deepseek-prover-v2").parse(answer, context()) == "intro h\nsimp [h]"


def test_whole_proof_parse_removes_the_prefix_the_model_repeated() -> None:
    answer = "```lean4\ntheorem t : P := by\n  intro x\n  simp\n  ring\n```"
    parsed = get_template("goedel-prover-v2").parse(answer, context(("intro  x", "simp")))
    assert parsed == "ring"


def test_whole_proof_parse_of_an_unclosed_block_keeps_the_text_so_far() -> None:
    answer = "```lean4\ntheorem t : P := by\n  constructor\n  · simp"
    assert get_template("kimina-prover").parse(answer, context()) == "constructor\n· simp"


def test_extract_code_block_returns_none_without_a_block() -> None:
    assert extract_code_block("no code here") is None


def test_extract_proof_body_for_coq_drops_proof_and_qed() -> None:
    assert extract_proof_body("Theorem t : True.\nProof.\n  intros.\n  exact I.\nQed.", "coq") == "intros.\nexact I."


def test_remove_proof_prefix_keeps_script_that_does_not_repeat_it() -> None:
    assert remove_proof_prefix("omega", ["intro x"]) == "omega"


def test_statement_from_lean_goal_binds_each_hypothesis() -> None:
    statement = statement_from_goal(LEAN_GOAL, "lean", "t")
    assert statement == "theorem t (m n : ℕ) (h : n = 2 * m + 1) :\n    8 ∣ (2 * m + 1) * (2 * m + 1) - 1 :="


def test_statement_from_coq_goal_reads_hypotheses_above_the_rule() -> None:
    goal = "n : nat\nH : n > 0\n============================\nn + 0 = n"
    assert statement_from_goal(goal, "coq", "t") == "Theorem t (n : nat) (H : n > 0) :\n  n + 0 = n."


def test_whole_proof_prompt_without_theorem_rebuilds_a_statement_from_the_goal() -> None:
    content = get_template("deepseek-prover-v2").prompt(context())[0]["content"]
    assert "theorem goal (m n : ℕ) (h : n = 2 * m + 1) :" in content


def test_chat_templates_work_for_coq() -> None:
    coq = PromptContext(goals=("============================\nTrue",), language="coq")
    assert "```coq" in get_template("chat").prompt(coq)[-1]["content"]
    assert "Proof.\n  admit.\nQed." in get_template("chat-whole").prompt(coq)[-1]["content"]
    assert get_template("chat").parse("Try this:\n```coq\nexact I.\n```", coq) == "exact I."


def test_every_template_renders_and_parses_a_state() -> None:
    for template in TEMPLATES.values():
        prompt = template.prompt(context(("intro x",), THEOREM))
        assert prompt, template.name
        assert template.parse("```lean4\ntheorem t : P := by\n  omega\n```", context()).strip(), template.name


def test_unknown_template_names_the_known_ones() -> None:
    with pytest.raises(InputError, match="bfs"):
        get_template("no-such-template")


def test_whole_proof_parse_keeps_nested_have_blocks_and_skips_helper_lemmas() -> None:
    answer = (
        "```lean4\nlemma helper : Q := by\n  simp\n\n"
        "theorem t (x : ℕ) : P x := by\n  have h : Q := by\n    exact helper\n  exact h\n```"
    )
    assert get_template("goedel-prover-v2").parse(answer, context()) == "have h : Q := by\n  exact helper\nexact h"


def test_completion_parse_keeps_a_have_block_in_the_continuation() -> None:
    continuation = "have h : Q := by\n    simp\n  exact h\n```"
    assert get_template("deepseek-prover-v1.5").parse(continuation, context()) == "have h : Q := by\n  simp\nexact h"
