"""Prompt formats of the open autoformalizers, a generic chat format per target, and the follow-up prompts.

A `FormalizerTemplate` renders a natural-language problem into the chat messages one model was
trained on, and extracts the formal code from its reply. Sources of each exact format are cited
beside it. The repair, back-translation and judge prompts are ours and model-agnostic.

Named templates:
  kimina-autoformalizer  AI-MO/Kimina-Autoformalizer-7B (Lean 4)
  goedel-formalizer-v2   Goedel-LM/Goedel-Formalizer-V2-8B / -32B (Lean 4; thinks first)
  herald                 FrenzyMath/Herald_translator (Lean 4)
  chat-lean              any instruction-tuned chat model, Lean 4
  chat-coq               any instruction-tuned chat model, Coq
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

from prover.errors import InputError
from prover.policies.prompts import extract_code_block

__all__ = [
    "Target",
    "Message",
    "FormalizerTemplate",
    "TEMPLATES",
    "DEFAULT_TEMPLATE",
    "get_template",
    "extract_formal_code",
    "strip_reasoning",
    "repair_messages",
    "back_translation_messages",
    "judge_messages",
    "language_name",
]

Target = Literal["lean", "coq"]
Message = dict[str, str]


def language_name(target: Target) -> str:
    """The proof assistant's name as prompts say it."""
    return "Lean 4" if target == "lean" else "Coq"


def _fence(target: Target) -> str:
    return "lean4" if target == "lean" else "coq"


def strip_reasoning(text: str) -> str:
    """The answer after a reasoning model's `</think>` (the whole text when there is none)."""
    return text.rsplit("</think>", 1)[-1]


def extract_formal_code(text: str, target: Target) -> str:
    """The formal code in a reply: the last fenced code block after any reasoning, else the whole reply.

    All three open formalizers answer with a fenced block (Kimina's card and Goedel's card both
    take the last ```lean4 block); an unclosed final block (generation cut short) still counts.
    """
    answer = strip_reasoning(text)
    languages = ("lean4", "lean", "") if target == "lean" else ("coq", "rocq", "v", "")
    block = extract_code_block(answer, languages)
    if block is None:
        block = extract_code_block(answer, ("lean4", "lean", "coq", "rocq", "v", ""))
    return (block if block is not None else answer).strip()


@dataclass(frozen=True)
class FormalizerTemplate:
    """One formalizer's input format.

    name: the template's name (`--template NAME`, or `template=NAME` in a model spec).
    target: the language it writes ("lean" or "coq").
    render: the user message for (problem text, theorem name).
    system: the system message the model was trained with, if any.
    source: where the format comes from (a model card or repository file).
    """

    name: str
    target: Target
    render: Callable[[str, str], str] = field(repr=False)
    system: str | None = None
    source: str = ""

    def messages(self, problem: str, theorem_name: str) -> list[Message]:
        """The chat messages asking for a formal statement of `problem` named `theorem_name`."""
        messages: list[Message] = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        messages.append({"role": "user", "content": self.render(problem.strip(), theorem_name)})
        return messages

    def extract(self, reply: str) -> str:
        """The formal code in the model's reply."""
        return extract_formal_code(reply, self.target)


# Kimina-Autoformalizer-7B model card (huggingface.co/AI-MO/Kimina-Autoformalizer-7B, "Quick Start"):
# system "You are an expert in mathematics and Lean 4."; user "Please autoformalize the following
# problem in Lean 4 with a header. Use the following theorem names: my_favorite_theorem.\n\n" + problem.
# The model writes a header (imports) and the theorem ending in `:= by sorry`.
def _render_kimina(problem: str, name: str) -> str:
    return (
        "Please autoformalize the following problem in Lean 4 with a header. "
        f"Use the following theorem names: {name}.\n\n{problem}"
    )


# Goedel-Formalizer-V2 model card (huggingface.co/Goedel-LM/Goedel-Formalizer-V2-32B, example code):
# one user message, no system message; the problem is followed directly (no separator) by
# "Think before you provide the lean statement."; the card takes the last ```lean4 block of the answer.
def _render_goedel(problem: str, name: str) -> str:
    return (
        "Please autoformalize the following natural language problem statement in Lean 4. "
        f"Use the following theorem name: {name}\n"
        "The natural language statement is: \n"
        f"{problem}"
        "Think before you provide the lean statement."
    )


# Herald translator (github.com/frenzymath/herald_translator, worker/translator.py `Translator.get_query`):
# system "You are an expert at Lean 4 and Mathematics."; user "Please translate the natural language
# statement to Lean4 code with the header\n**Name**\n{informal_name}\n**Informal statement**\n{statement}\n".
def _render_herald(problem: str, name: str) -> str:
    return (
        "Please translate the natural language statement to Lean4 code with the header\n"
        f"**Name**\n{name}\n**Informal statement**\n{problem}\n"
    )


def _render_chat_lean(problem: str, name: str) -> str:
    return (
        "Formalize the following problem as a Lean 4 theorem statement (with Mathlib). "
        f"Name the theorem `{name}`. Start with the header it needs (`import Mathlib` and any `open`), "
        "state every hypothesis of the problem as a hypothesis of the theorem, and when the problem "
        "asks for a value, state that the value is the answer. Do not prove it: end the theorem with "
        "`:= by sorry`. Reply with the code in one ```lean4 block.\n\n"
        f"Problem:\n{problem}"
    )


def _render_chat_coq(problem: str, name: str) -> str:
    return (
        "Formalize the following problem as a Coq theorem statement (Coq 8.16 standard library). "
        f"Name the theorem `{name}`. Start with the `Require Import` lines it needs (e.g. Arith, ZArith, "
        "Reals, and `Open Scope R_scope.` for real numbers), state every hypothesis of the problem as a "
        "premise of the theorem, and when the problem asks for a value, state that the value is the "
        "answer. Do not prove it: end with `Proof.` and `Admitted.` Reply with the code in one ```coq block.\n\n"
        f"Problem:\n{problem}"
    )


TEMPLATES: dict[str, FormalizerTemplate] = {
    template.name: template
    for template in (
        FormalizerTemplate(
            "kimina-autoformalizer",
            "lean",
            _render_kimina,
            system="You are an expert in mathematics and Lean 4.",
            source="huggingface.co/AI-MO/Kimina-Autoformalizer-7B (model card)",
        ),
        FormalizerTemplate(
            "goedel-formalizer-v2",
            "lean",
            _render_goedel,
            system=None,
            source="huggingface.co/Goedel-LM/Goedel-Formalizer-V2-32B (model card)",
        ),
        FormalizerTemplate(
            "herald",
            "lean",
            _render_herald,
            system="You are an expert at Lean 4 and Mathematics.",
            source="github.com/frenzymath/herald_translator worker/translator.py",
        ),
        FormalizerTemplate(
            "chat-lean",
            "lean",
            _render_chat_lean,
            system="You are an expert in mathematics and Lean 4.",
            source="this project",
        ),
        FormalizerTemplate(
            "chat-coq",
            "coq",
            _render_chat_coq,
            system="You are an expert in mathematics and the Coq proof assistant.",
            source="this project",
        ),
    )
}

DEFAULT_TEMPLATE: dict[Target, str] = {"lean": "chat-lean", "coq": "chat-coq"}


def get_template(name: str | None, target: Target) -> FormalizerTemplate:
    """The template called `name` (the target's generic chat template when None); it must write `target`."""
    chosen = name or DEFAULT_TEMPLATE[target]
    template = TEMPLATES.get(chosen)
    if template is None:
        known = ", ".join(sorted(TEMPLATES))
        raise InputError(f"unknown formalizer template {chosen!r}; known templates: {known}")
    if template.target != target:
        raise InputError(
            f"formalizer template {chosen!r} writes {language_name(template.target)}, "
            f"not {language_name(target)}; pick --target {template.target} or another template"
        )
    return template


def repair_messages(
    conversation: list[Message], reply: str, error: str, target: Target
) -> list[Message]:
    """The conversation extended with the model's rejected reply and the proof assistant's error.

    The model sees its own statement and the exact error, as in compiler-feedback repair loops
    (Goedel-Prover-V2's self-correction mode feeds Lean's error messages back the same way).
    """
    fence = _fence(target)
    feedback = (
        f"{language_name(target)} rejected this statement:\n\n```\n{_clip(error, 2000)}\n```\n\n"
        f"Fix the statement so that it elaborates, keeping its meaning. Reply with the complete "
        f"corrected code (header and theorem, no proof) in one ```{fence} block."
    )
    return [*conversation, {"role": "assistant", "content": reply}, {"role": "user", "content": feedback}]


def back_translation_messages(code: str, target: Target) -> list[Message]:
    """Chat messages asking for the formal statement in plain mathematical language (no proof)."""
    return [
        {"role": "system", "content": f"You are an expert in mathematics and {language_name(target)}."},
        {
            "role": "user",
            "content": (
                f"Translate the following {language_name(target)} theorem statement into a natural-language "
                "math problem. State every hypothesis and exactly what is to be shown; add nothing that the "
                "statement does not say, and do not prove it. Reply with the problem text only.\n\n"
                f"```{_fence(target)}\n{code}\n```"
            ),
        },
    ]


# The judge compares the original problem with the back-translation. Its wording follows Herald's
# NLI check (github.com/frenzymath/herald_translator worker/nl_inferencer.py: "they are different if
# any statement is different ... reply ||same|| or ||different||"), asking for a graded score as well.
def judge_messages(original: str, back_translation: str) -> list[Message]:
    """Chat messages asking whether two problem texts say the same thing, ending in `Score: S` (0..1)."""
    return [
        {
            "role": "system",
            "content": (
                "You check whether two math problems are the same. Consider each hypothesis, each quantity "
                "and its domain, and what is to be shown; the problems are different if any of these differ."
            ),
        },
        {
            "role": "user",
            "content": (
                f"Problem 1:\n{original.strip()}\n\nProblem 2:\n{back_translation.strip()}\n\n"
                "Point out any differences you find. Then end with one line `Score: S`, where S is a number "
                "between 0 and 1: 1 when the two problems are the same, 0 when they are different, in between "
                "when you are unsure."
            ),
        },
    ]


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " ..."

