"""Named prompt templates for the open tactic and whole-proof models, and parsing of their outputs.

Each model was trained on one exact input format; a template renders a proof state (and, for
whole-proof models, the theorem's statement and the proof so far) into that format and turns the
model's text back into a tactic or a proof script. Sources of each format are cited beside it.

Tactic (step-level) templates:
  reprover        ReProver's ByT5 tactic generator: the raw pretty-printed goals in, a tactic out.
  bfs             BFS-Prover (V1/V2): `"{state}:::"`; the tactic follows the `:::`.
  internlm-step   InternLM2.5-StepProver: NAME / PROOF_BEFORE / STATE_BEFORE / TACTIC blocks.
  chat            any instruction-tuned chat model: asks for the next tactic in a code block.
Whole-proof templates (the model writes a complete proof; see `prover.policies.whole_proof`):
  deepseek-prover-v2     chat, with the proof plan ("CoT") instruction of the DeepSeek-Prover-V2 card.
  deepseek-prover-v1.5   plain completion: the model continues the Lean code after `:= by`.
  goedel-prover-v2       chat, Goedel-Prover-V2's prompt.
  kimina-prover          chat, Kimina-Prover's system and user prompt.
  chat-whole             any chat model, Lean or Coq: asks for a complete proof in a code block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

from search.types import State, Theorem

__all__ = [
    "PromptContext",
    "PromptTemplate",
    "TEMPLATES",
    "get_template",
    "extract_code_block",
    "extract_proof_body",
    "remove_proof_prefix",
    "statement_from_goal",
    "normalize_tactic",
]

Language = Literal["lean", "coq"]
Message = dict[str, str]


def normalize_tactic(tactic: str) -> str:
    """The tactic with runs of whitespace collapsed: two candidates equal under this are duplicates."""
    return " ".join(tactic.split())


@dataclass(frozen=True)
class PromptContext:
    """Everything a template may put in a prompt.

    goals: the pretty-printed goals, first goal first (the tactic acts on it).
    proof_before: tactics applied since the theorem's root (the state's path).
    theorem_name: the declaration's name ("" when unknown).
    formal_statement: the theorem as source text up to, not including, its proof (with its header);
        "" when unknown, in which case whole-proof templates rebuild one from the first goal.
    language: "lean" or "coq".
    """

    goals: tuple[str, ...]
    proof_before: tuple[str, ...] = ()
    theorem_name: str = ""
    formal_statement: str = ""
    language: Language = "lean"

    @property
    def state_text(self) -> str:
        """The goals as one text, as the proof assistant prints several goals."""
        return "\n\n".join(self.goals)

    @classmethod
    def from_state(
        cls, state: State, *, theorem: Theorem | None = None, language: Language = "lean"
    ) -> "PromptContext":
        """The context of `state`, with the statement of `theorem` when it is known."""
        statement = ""
        if theorem is not None:
            statement = f"{theorem.header.rstrip()}\n\n{theorem.statement}".strip()
        return cls(
            goals=state.goals,
            proof_before=state.path,
            theorem_name=theorem.name if theorem is not None else "",
            formal_statement=statement,
            language=language,
        )


@dataclass(frozen=True)
class PromptTemplate:
    """One model's input format and output parser.

    name: the template's name in policy specs (`template=NAME`).
    kind: "tactic" (one step out) or "whole_proof" (a complete proof script out).
    chat: True when the prompt is a list of chat messages (rendered by the model's chat template),
        False when it is raw text the model continues.
    render: builds the raw prompt (chat=False) or the user message (chat=True) from a context.
    parse: turns the model's generated text (the continuation only) into a tactic or a script.
    system: the system message for chat templates, if the model was trained with one.
    stop: strings at which generation should stop (passed to servers that take `stop`).
    """

    name: str
    kind: Literal["tactic", "whole_proof"]
    chat: bool
    render: Callable[[PromptContext], str] = field(repr=False)
    parse: Callable[[str, PromptContext], str] = field(repr=False)
    system: str | None = None
    stop: tuple[str, ...] = ()

    def prompt(self, context: PromptContext) -> str | list[Message]:
        """The prompt for `context`: raw text, or chat messages for chat templates."""
        text = self.render(context)
        if not self.chat:
            return text
        messages: list[Message] = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        messages.append({"role": "user", "content": text})
        return messages


# ---------------------------------------------------------------------------------------------
# Output parsing shared by several templates.

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:\n[ \t]*```|```|\Z)", re.DOTALL)


def extract_code_block(text: str, languages: Sequence[str] = ("lean4", "lean", "coq", "")) -> str | None:
    """The last fenced code block tagged with one of `languages` ("" = untagged), or None.

    Whole-proof models write a plan and then the proof; the proof is the last block (as in
    Kimina-Prover's `extract_proof_from_text` and Goedel-Prover-V2's `extrac_code`).
    An unclosed final block (generation cut by the token limit) still counts.
    """
    blocks = [(tag.lower(), body) for tag, body in _FENCE.findall(text)]
    for tag, body in reversed(blocks):
        if tag in languages:
            return body
    return None


def extract_proof_body(code: str, language: Language = "lean") -> str:
    """The proof script inside a complete theorem: after the main theorem's `:= by` (Lean) or `Proof.` (Coq).

    Text with no such marker is taken to be a proof script already. Coq's closing `Qed.`/`Defined.`
    and a Lean trailing `sorry` line are not part of the script.
    """
    if language == "lean":
        # The main theorem is the last `theorem` (helper lemmas come before it); its proof starts at
        # the first `:= by` after the keyword (later ones belong to `have ... := by` inside the proof).
        keywords = list(re.finditer(r"^[ \t]*(?:theorem|lemma|example)\b", code, re.M))
        theorems = [match for match in keywords if match.group().strip() == "theorem"] or keywords
        start = theorems[-1].start() if theorems else 0
        marker = re.compile(r":=\s*by\b").search(code, start)
        body = code[marker.end():] if marker else code
        body = _dedent(body)
        lines = body.rstrip().splitlines()
        if lines and lines[-1].strip() == "sorry":
            lines = lines[:-1]
        return "\n".join(lines).strip("\n")
    marker = re.search(r"\bProof\s*\.(?!.*\bProof\s*\.)", code, re.DOTALL)
    body = code[marker.end():] if marker else code
    body = re.sub(r"\b(Qed|Defined|Admitted)\s*\.\s*$", "", body.rstrip())
    return _dedent(body).strip("\n")


def _dedent(text: str) -> str:
    """Remove the common indentation of the non-blank lines (the first line may be on the marker's line)."""
    lines = text.split("\n")
    if lines and not lines[0].strip():
        lines = lines[1:]
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(line[cut:] if line.strip() else "" for line in lines)


def remove_proof_prefix(script: str, prefix: Sequence[str]) -> str:
    """`script` without its leading tactics equal (up to whitespace) to `prefix`.

    A whole-proof model asked to continue a proof often writes the proof again from the start; the
    environment steps candidates from the current state, so the part already applied must go.
    Matching stops at the first prefix tactic the script does not repeat.
    """
    position = 0
    for tactic in prefix:
        tokens = tactic.split()
        if not tokens:
            continue
        pattern = re.compile(r"\s*" + r"\s+".join(re.escape(token) for token in tokens))
        match = pattern.match(script, position)
        if match is None:
            break
        position = match.end()
    return _dedent(script[position:]).strip("\n") if position else script


_LEAN_HYPOTHESIS = re.compile(r"^(?P<names>[^:⊢]+?)\s+:\s+(?P<type>.+)$")


def statement_from_goal(goal: str, language: Language = "lean", name: str = "goal") -> str:
    """A theorem statement equivalent to one pretty-printed goal, for prompts when the source is unknown.

    Lean goals print hypotheses as `x y : T` lines then `⊢ conclusion`; Coq prints them above a
    `====` rule. Continuation lines of a long hypothesis are joined to it.
    """
    if language == "lean":
        hyp_text, _, conclusion = goal.rpartition("⊢")
        hypotheses = _join_continuations(hyp_text)
        binders = []
        for line in hypotheses:
            match = _LEAN_HYPOTHESIS.match(line)
            if match:
                binders.append(f"({match['names'].strip()} : {match['type'].strip()})")
        signature = " ".join([name, *binders])
        return f"theorem {signature} :\n    {' '.join(conclusion.split())} :="
    parts = re.split(r"^\s*=+\s*$", goal, maxsplit=1, flags=re.M)
    hyp_text, conclusion = (parts[0], parts[1]) if len(parts) == 2 else ("", goal)
    binders = []
    for line in _join_continuations(hyp_text):
        names, _, typ = line.partition(":")
        if typ:
            binders.append(f"({names.strip()} : {typ.strip()})")
    signature = " ".join([name, *binders])
    return f"Theorem {signature} :\n  {' '.join(conclusion.split())}."


def _join_continuations(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        if lines and raw.startswith((" ", "\t")):
            lines[-1] += " " + raw.strip()
        else:
            lines.append(raw.strip())
    return lines


# ---------------------------------------------------------------------------------------------
# Tactic templates.


def _first_step(text: str) -> str:
    """A tactic model's output up to its end marker, stripped."""
    return text.strip()


# ReProver (Yang et al., LeanDojo, NeurIPS 2023): the tactic generator `kaiyuy/leandojo-lean4-tacgen-byt5-small`
# takes the pretty-printed state as is (model card: `tokenizer(state, return_tensors="pt")`).
def _render_reprover(context: PromptContext) -> str:
    return context.state_text


# BFS-Prover-V2 model card (huggingface.co/ByteDance-Seed/BFS-Prover-V2-7B, "Usage"): the input is
# `"{state}:::"`; `:::` signals the model to generate a tactic; the tactic is the text after `:::`.
def _render_bfs(context: PromptContext) -> str:
    return f"{context.state_text}:::"


def _parse_bfs(text: str, context: PromptContext) -> str:
    # The card's example decodes prompt+output and takes `.split(":::")[1]`; we decode only the
    # continuation, but a model echoing the state is handled the same way.
    return text.split(":::")[-1].strip()


# InternLM2.5-StepProver model card (huggingface.co/internlm/internlm2_5-step-prover, "Input template"):
#   f"---\nNAME: {theorem.full_name}\n\n---\nPROOF_BEFORE: {proof_before}\n\n"
#   f"---\nSTATE_BEFORE: {state}\n\n---\nTACTIC: "
def _render_internlm_step(context: PromptContext) -> str:
    proof_before = "\n".join(context.proof_before)
    return (
        f"---\nNAME: {context.theorem_name}\n\n"
        f"---\nPROOF_BEFORE: {proof_before}\n\n"
        f"---\nSTATE_BEFORE: {context.state_text}\n\n"
        f"---\nTACTIC: "
    )


def _parse_internlm_step(text: str, context: PromptContext) -> str:
    # The model may go on to write the next `---` block; the tactic ends there.
    return text.split("\n---")[0].strip()


def _language_name(context: PromptContext) -> str:
    return "Lean 4" if context.language == "lean" else "Coq"


def _fence_tag(context: PromptContext) -> str:
    return "lean4" if context.language == "lean" else "coq"


def _render_chat_tactic(context: PromptContext) -> str:
    done = "\n".join(context.proof_before) or "(nothing yet)"
    return (
        f"We are proving a theorem in {_language_name(context)}.\n"
        f"Tactics applied so far:\n{done}\n\n"
        f"Current proof state:\n{context.state_text}\n\n"
        f"Reply with the single next tactic only, in a ```{_fence_tag(context)} code block."
    )


def _parse_chat_tactic(text: str, context: PromptContext) -> str:
    block = extract_code_block(text)
    if block is not None:
        return block.strip()
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip().strip("`") if lines else ""


# ---------------------------------------------------------------------------------------------
# Whole-proof templates.

_LEAN_HEADER = (
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\n"
    "open BigOperators Real Nat Topology Rat"
)


def _statement(context: PromptContext) -> str:
    """The statement up to its proof (`... :=` in Lean, `Theorem ... .` in Coq)."""
    if context.formal_statement:
        return context.formal_statement.rstrip()
    goal = context.goals[0] if context.goals else ""
    name = context.theorem_name or "goal"
    statement = statement_from_goal(goal, context.language, name)
    return f"{_LEAN_HEADER}\n\n{statement}" if context.language == "lean" else statement


def _lean_code(context: PromptContext, *, close_with_sorry: bool) -> str:
    """The Lean theorem with the proof so far, ending in `sorry` (chat prompts) or open (completion)."""
    statement = _statement(context)
    if not statement.endswith(":="):
        statement = statement.rstrip() + " :="
    lines = [f"{statement} by"]
    lines += ["  " + line for tactic in context.proof_before for line in tactic.splitlines()]
    if close_with_sorry:
        lines.append("  sorry")
    return "\n".join(lines)


def _whole_parse(text: str, context: PromptContext) -> str:
    """The proof continuation in a whole-proof answer: last code block, after `:= by`, minus the prefix."""
    block = extract_code_block(text)
    code = block if block is not None else text
    body = extract_proof_body(code, context.language)
    return remove_proof_prefix(body, context.proof_before)


# DeepSeek-Prover-V2 README, "Quick Start" (github.com/deepseek-ai/DeepSeek-Prover-V2): the user message
# is this text with the statement ending in `:= by\n  sorry`, rendered with the model's chat template.
_DEEPSEEK_V2_PLAN = (
    "Before producing the Lean 4 code to formally prove the given theorem, provide a detailed proof "
    "plan outlining the main proof steps and strategies.\nThe plan should highlight key ideas, "
    "intermediate lemmas, and proof structures that will guide the construction of the final formal proof."
)


def _render_deepseek_v2(context: PromptContext) -> str:
    code = _lean_code(context, close_with_sorry=True)
    return f"Complete the following Lean 4 code:\n\n```lean4\n{code}\n```\n\n{_DEEPSEEK_V2_PLAN}"


# DeepSeek-Prover-V1.5 (Xin et al., 2024) non-CoT completion prompt, as in Goedel-Prover-V2's
# `DeepSeekNonCoTHandler` (src/utils.py): "Complete the following Lean 4 code:\n\n```lean4\n" followed
# by the statement ending in `:= by`; the model continues the code. RMaxTS resumes from a verified
# prefix by appending it after `:= by` (truncate-and-resume).
def _render_deepseek_v15(context: PromptContext) -> str:
    return f"Complete the following Lean 4 code:\n\n```lean4\n{_lean_code(context, close_with_sorry=False)}\n  "


def _parse_completion(text: str, context: PromptContext) -> str:
    # The continuation is proof text until the closing fence; a model that starts over (a new
    # block or a new theorem) is read like a whole-proof answer.
    if text.lstrip().startswith("```") or re.search(r"^[ \t]*theorem\b", text, re.M):
        return _whole_parse(text, context)
    # The prompt ended with the proof's two-space indentation, which the first line continues.
    body = "  " + text.split("```")[0]
    return remove_proof_prefix(_dedent(body).strip("\n"), context.proof_before)


# Goedel-Prover-V2 (Goedel-LM/Goedel-Prover-V2, src/utils.py `DeepSeekCoTHandler.prover_inference`,
# the prompt its model card uses): like DeepSeek-Prover-V2's, with no newline before the closing fence.
def _render_goedel_v2(context: PromptContext) -> str:
    code = _lean_code(context, close_with_sorry=True)
    return f"Complete the following Lean 4 code:\n\n```lean4\n{code}```\n\n{_DEEPSEEK_V2_PLAN}"


# Kimina-Prover (huggingface.co/AI-MO/Kimina-Prover-Preview-Distill-7B, reproduced in Goedel-Prover-V2's
# `KiminaCoTHandler`): system "You are an expert in mathematics and Lean 4."; the user message names the
# problem (the statement without imports/options) and gives the statement ending in `:= by`.
def _render_kimina(context: PromptContext) -> str:
    code = _lean_code(context, close_with_sorry=False)
    problem = "\n".join(
        line
        for line in code.splitlines()
        if line.strip() and not line.startswith(("import", "set_option", "open"))
    )
    return (
        "Think about and solve the following problem step by step in Lean 4."
        f"\n# Problem:{problem}"
        f"\n# Formal statement:\n```lean4\n{code}\n```\n"
    )


def _render_chat_whole(context: PromptContext) -> str:
    if context.language == "lean":
        code = _lean_code(context, close_with_sorry=True)
    else:
        steps = "\n".join("  " + tactic for tactic in context.proof_before)
        code = f"{_statement(context)}\nProof.\n{steps + chr(10) if steps else ''}  admit.\nQed."
    return (
        f"Complete the following {_language_name(context)} proof, replacing the placeholder with a "
        f"proof that the proof assistant accepts:\n\n```{_fence_tag(context)}\n{code}\n```\n\n"
        f"Write the complete theorem with its proof in one ```{_fence_tag(context)} code block."
    )


TEMPLATES: dict[str, PromptTemplate] = {
    template.name: template
    for template in (
        PromptTemplate("reprover", "tactic", False, _render_reprover, lambda text, _: _first_step(text)),
        PromptTemplate("bfs", "tactic", False, _render_bfs, _parse_bfs, stop=("\n\n",)),
        PromptTemplate(
            "internlm-step", "tactic", False, _render_internlm_step, _parse_internlm_step, stop=("\n---",)
        ),
        PromptTemplate(
            "chat",
            "tactic",
            True,
            _render_chat_tactic,
            _parse_chat_tactic,
            system="You are an expert in interactive theorem proving.",
        ),
        PromptTemplate("deepseek-prover-v2", "whole_proof", True, _render_deepseek_v2, _whole_parse),
        PromptTemplate(
            "deepseek-prover-v1.5", "whole_proof", False, _render_deepseek_v15, _parse_completion, stop=("```",)
        ),
        PromptTemplate("goedel-prover-v2", "whole_proof", True, _render_goedel_v2, _whole_parse),
        PromptTemplate(
            "kimina-prover",
            "whole_proof",
            True,
            _render_kimina,
            _whole_parse,
            system="You are an expert in mathematics and Lean 4.",
        ),
        PromptTemplate(
            "chat-whole",
            "whole_proof",
            True,
            _render_chat_whole,
            _whole_parse,
            system="You are an expert in interactive theorem proving.",
        ),
    )
}


def get_template(name: str) -> PromptTemplate:
    """The template called `name`; `InputError` naming the known ones otherwise."""
    from prover.errors import InputError

    try:
        return TEMPLATES[name]
    except KeyError:
        known = ", ".join(sorted(TEMPLATES))
        raise InputError(f"unknown prompt template {name!r}; known templates: {known}") from None
