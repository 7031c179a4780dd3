"""The Coq kernel check's judgement of `Print Assumptions`, by fully qualified kernel names only.

`Print Assumptions` prints each assumption by the shortest name that denotes it where it is asked
(`classic`, `M.helper`), so a short name says nothing about *which* constant it is: an admitted
`Definition classic` of the file prints exactly like `Coq.Logic.Classical_Prop.classic`. The check
therefore asks Coq itself (`Locate`, at the same point of the same file) for each printed name's
kernel name, and accepts exactly:

- the standard-library axioms of `ALLOWED_AXIOMS`, by full name;
- the file's own `Axiom`/`Parameter`/`Conjecture` declarations, by full name (module path
  included); section variables never, and an admitted lemma, definition, fixpoint or instance is
  never an axiom, whatever it is called;
- the `Axiom`/`Parameter`/`Conjecture`/`Primitive` declarations of the libraries the file itself
  requires (`Coq.Sets.Ensembles.Extensionality_Ensembles`, the Int63 primitives and their
  specifications), by full name, as their sources declare them: the file's theory, on which the
  library's own proofs rest. Libraries only the search preamble loads never count, nor does a
  library's admitted lemma;
- inside a functor or module type, fields of its module parameters (hypotheses of the functor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prover.backends.coq_parse import track_block
from prover.backends.coq_sentences import SentenceSyntaxError, split_sentences, strip_comments
from search.types import Verdict

__all__ = [
    "ALLOWED_AXIOMS",
    "CHECK_MODULE",
    "parse_assumptions",
    "parse_locate",
    "declared_axiom_paths",
    "declared_constant_paths",
    "names_to_locate",
    "AssumptionJudge",
]

# The axioms Coq 8.16's standard library rests on, fully qualified. Measured with
# `coqchk -o -silent Coq.Reals.Reals Coq.micromega.Lra Coq.micromega.Psatz Coq.micromega.Lia
# Coq.Reals.Rpower Coq.Reals.Ranalysis Coq.Reals.RiemannInt Coq.Reals.Rtrigo Coq.Reals.R_sqrt
# Coq.Reals.Sqrt_reg` (its CONTEXT SUMMARY lists every axiom of those libraries and of their
# dependencies): the classical Dedekind reals need the first four and nothing else.
# `coqchk -o -silent Coquelicot.Coquelicot Hammer.Tactics.Tactics` adds only Eqdep's eq_rect_eq
# (uniqueness of identity proofs), which already follows from `classic` (classic -> proof
# irrelevance -> UIP), so allowing it adds no logical strength.
ALLOWED_AXIOMS = frozenset(
    {
        "Coq.Reals.ClassicalDedekindReals.sig_forall_dec",
        "Coq.Reals.ClassicalDedekindReals.sig_not_dec",
        "Coq.Logic.FunctionalExtensionality.functional_extensionality_dep",
        "Coq.Logic.Classical_Prop.classic",
        "Coq.Logic.Eqdep.Eq_rect_eq.eq_rect_eq",
    }
)

CHECK_MODULE = "NeuroproveCheck"
"""The library name of the kernel-check file: every name the file declares is `NeuroproveCheck.<path>`."""

_IDENT = r"[^\W\d][\w']*"
_QUALID = re.compile(rf"{_IDENT}(?:\.{_IDENT})*")
# `Primitive x := #int63_add.` binds a kernel primitive (machine integers, floats, arrays): the
# kernel computes with it and `Print Assumptions` lists it among the axioms.
_AXIOM_KEYWORDS = frozenset({"Axiom", "Axioms", "Parameter", "Parameters", "Conjecture", "Conjectures", "Primitive"})
_ATTRIBUTES = re.compile(r"^(?:#\[[^\]]*\]\s*|(?:Local|Global|Polymorphic|Monomorphic|Private)\s+)*")
_MAX_MESSAGE = 300


def _one_line(text: str, limit: int = _MAX_MESSAGE) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def parse_assumptions(report: str) -> tuple[tuple[str, ...], list[str]]:
    """Axiom names from `Print Assumptions` output, and any section other than `Axioms:` (e.g. a
    disabled guard or positivity check, or type-in-type) as problems."""
    text = report.strip()
    if text.startswith("Closed under the global context"):
        return (), []
    axioms: list[str] = []
    problems: list[str] = []
    section = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace() and line.rstrip().endswith(":") and " : " not in line:
            section = line.strip().rstrip(":")
            if section != "Axioms":
                problems.append(section)
            continue
        if line[0].isspace():
            continue  # the type of the axiom named on an earlier line
        entry = re.fullmatch(r"([\w'.]+)(?: : .*)?", line.rstrip())
        if section == "Axioms" and entry is not None:
            axioms.append(entry.group(1))
        else:
            problems.append(_one_line(line, 120))  # e.g. "f is assumed to be guarded."
    if not section:
        problems.append(_one_line(text, 200))
    return tuple(axioms), problems


def parse_locate(answer: str) -> str | None:
    """The kernel name a `Locate` answer gives first (what the name denotes where it was asked),
    when it is a constant; None for anything else (no object, a notation, a variable...)."""
    first = answer.strip().splitlines()[0] if answer.strip() else ""
    match = re.fullmatch(r"Constant\s+([\w'.]+)", first.strip())
    return match.group(1) if match else None


def _keyword(text: str) -> str:
    match = re.match(_IDENT, text)
    return match.group(0) if match else ""


def _declared_names(body: str) -> list[str]:
    """Names of `Axiom a b : T.` or `Axiom (a b : T) (c : U).` (the text after the keyword)."""
    if body.startswith("("):
        return [n for group in re.finditer(r"\(\s*([^():]*?)\s*:", body) for n in re.findall(_IDENT, group.group(1))]
    return re.findall(_IDENT, body.split(":", 1)[0])


def declared_axiom_paths(header: str) -> frozenset[str]:
    """Full names (relative to the file: `M.ax`, `ax`) of the header's Axiom/Parameter/Conjecture
    declarations. Module and module-type names are part of a name, sections are not; `Variable`,
    `Hypothesis` and `Context` are never counted (inside a section they are section variables)."""
    return frozenset(path for path, is_axiom in _declared_paths(header) if is_axiom)


def declared_constant_paths(header: str) -> frozenset[str]:
    """Full names (relative to the file) of every constant the header declares by name (axioms,
    definitions, lemmas, fixpoints, instances...): what an assumption of the file may be called."""
    return frozenset(path for path, _ in _declared_paths(header))


_NAMED_DECLARATIONS = frozenset(
    {"Definition", "Fixpoint", "CoFixpoint", "Instance", "Theorem", "Lemma", "Fact", "Remark", "Corollary",
     "Proposition", "Example", "Let", "Function", "Program", "Equations", "Class", "Record", "Structure"}
)


def _declared_paths(header: str) -> list[tuple[str, bool]]:
    """(full name relative to the file, declared as an axiom) for each named declaration of `header`."""
    blocks: list[tuple[str, str]] = []  # (kind, name) of each open Section / Module
    found: list[tuple[str, bool]] = []
    try:
        sentences = split_sentences(header, allow_unterminated=True)
    except SentenceSyntaxError:
        return found
    for sentence in sentences:
        text = _ATTRIBUTES.sub("", " ".join(strip_comments(sentence.text).split()))
        keyword = _keyword(text)
        path = [name for kind, name in blocks if kind == "Module"]
        if keyword in ("Section", "Module", "End"):
            track_block(text, keyword, blocks)
        elif keyword in _AXIOM_KEYWORDS:
            for name in _declared_names(text[len(keyword):].strip()):
                found.append((".".join([*path, name]), True))
        elif keyword in _NAMED_DECLARATIONS:
            # `Program Definition f`, `Program Fixpoint f`: the name follows the second keyword.
            rest = re.sub(r"^Program\s+\w+", "", text) if keyword == "Program" else text[len(keyword):]
            match = re.match(rf"\s*({_IDENT})", rest)
            if match:
                found.append((".".join([*path, match.group(1)]), False))
    return found


def _suffixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]


_MAX_NAMES_TO_LOCATE = 400


def names_to_locate(header: str) -> tuple[str, ...]:
    """Every name `Print Assumptions` may print for an assumption the file or the allowed axioms
    can introduce (each dotted suffix of an allowed axiom, and of each constant the header
    declares): locating them in the first compilation usually spares a second one."""
    wanted: dict[str, None] = {}
    for full in sorted(ALLOWED_AXIOMS) + sorted(declared_constant_paths(header)):
        for suffix in _suffixes(full):
            wanted.setdefault(suffix, None)
    return tuple(wanted)[:_MAX_NAMES_TO_LOCATE]


@dataclass(frozen=True)
class AssumptionJudge:
    """Decides on resolved assumptions of one theorem.

    theorem_path: the theorem's full name (`NeuroproveCheck.M.t`).
    file_axioms: full names of the file's own axiom declarations (`NeuroproveCheck.M.ax`).
    parameters: module parameters of the functor the assumptions were asked inside (their fields
        are the functor's hypotheses).
    library_roots: first components that name libraries, never a parameter (`Coq`, the check module).
    library_axioms: full names of axioms declared by libraries the file itself requires (see
        `coq_kernel_check.library_axioms`): part of the file's theory, as its own axioms are.
    """

    theorem_path: str
    file_axioms: frozenset[str]
    parameters: frozenset[str] = frozenset()
    library_roots: frozenset[str] = frozenset({"Coq", CHECK_MODULE})
    library_axioms: frozenset[str] = frozenset()

    def judge(self, printed: tuple[str, ...], resolved: dict[str, str | None]) -> Verdict:
        """`printed`: the names `Print Assumptions` listed; `resolved`: each one's kernel name from
        `Locate` (None when Coq did not name a constant). Rejects unless every one is acceptable."""
        shown = tuple(self.display(resolved.get(name) or name) for name in printed)
        for name in printed:
            full = resolved.get(name)
            if full is None:
                return Verdict(False, f"the proof depends on {name}, which Coq does not locate as a constant", shown)
            if full == self.theorem_path:
                return Verdict(False, f"{self.display(full)} itself is assumed (the proof was admitted)", shown)
            if self._acceptable(full):
                continue
            if full.startswith(CHECK_MODULE + "."):
                return Verdict(
                    False, f"the proof uses {self.display(full)}, which the file leaves unproved (not an axiom it declares)",
                    shown,
                )
            return Verdict(
                False,
                f"the proof depends on {full}, which is not an allowed axiom (nor an Axiom of a library the file requires)",
                shown,
            )
        return Verdict(True, "", shown)

    def library_assumptions(self, printed: tuple[str, ...], resolved: dict[str, str | None]) -> tuple[str, ...]:
        """Full names of the printed assumptions that are constants of some library and not yet
        acceptable: only an axiom of a library the file requires could make them so."""
        found: dict[str, None] = {}
        for name in printed:
            full = resolved.get(name)
            if full and full != self.theorem_path and not full.startswith(CHECK_MODULE + ".") and not self._acceptable(full):
                found.setdefault(full, None)
        return tuple(found)

    def _acceptable(self, full: str) -> bool:
        """An allowed axiom, an axiom of the file or of a library it requires, or a field of a
        module parameter of the enclosing functor."""
        if full in ALLOWED_AXIOMS or full in self.file_axioms or full in self.library_axioms:
            return True
        root = full.split(".", 1)[0]
        return root in self.parameters and root not in self.library_roots and "." in full

    @staticmethod
    def display(full: str) -> str:
        """A full name as the user knows it: the file's own names without the check module's prefix."""
        return full[len(CHECK_MODULE) + 1 :] if full.startswith(CHECK_MODULE + ".") else full

