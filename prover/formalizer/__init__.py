"""The formalizer: natural-language problems to formal statements the proof assistant accepts, ranked by faithfulness.

`Formalizer.formalize(problem)` drafts statements with a model, repairs them with the proof
assistant's errors, flags vacuous ones and scores faithfulness by back-translation; `cli.register`
adds `prove formalize`, `prove solve` and `prove eval-formalizer`.
"""

from prover.formalizer.drafting import (
    Attempt,
    FormalCandidate,
    FormalizationResult,
    Formalizer,
    FormalizerSettings,
)
from prover.formalizer.faithfulness import Faithfulness, parse_score
from prover.formalizer.templates import TEMPLATES, FormalizerTemplate, get_template
from prover.formalizer.vacuity import VacuityReport, check_vacuity

__all__ = [
    "Attempt",
    "FormalCandidate",
    "FormalizationResult",
    "Formalizer",
    "FormalizerSettings",
    "Faithfulness",
    "parse_score",
    "TEMPLATES",
    "FormalizerTemplate",
    "get_template",
    "VacuityReport",
    "check_vacuity",
]
