"""The typed experiment file (`prove experiment run cfg.toml`): what to prove, with what, how long.

Example (every table but [dataset] optional; top-level keys come before the first table, as
TOML puts every key after a table header into that table). Each indented TOML block in this
docstring is loaded by the tests:

    name = "portfolio+knn on held-out stdlib"
    kind = "evaluate"                 # or "expert_iteration"
    seed = 0
    attempts = 1
    workers = 1                       # problems in parallel (Ray)

    [dataset]
    name = "trace:trace/"             # minif2f-coq | a folder of .v files | a .jsonl | trace:DIR
    split = "test"                    # miniF2F split, or the held-out split of a trace (by file)
    limit = 40

    [prover]                          # prover.config.ProverConfig fields
    backend = "coq"
    policy = "portfolio"
    search = "best_first"
    budget_seconds = 20
    step_timeout = 5

    [knn]                             # add a kNN policy over traced rows to [prover].policy
    rows = "trace/splits/by_file/train.jsonl"
    weight = 0.5
    online = true                     # learn each proof found as the run goes
    file_context = true               # trace datasets: also the proofs earlier in the same file

    [expert_iteration]
    rounds = 2
    train_model = false               # also fine-tune a tiny model on the rows each round
    heldout = 0.25                    # share of the problems only scored, never learned from
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prover.config import ProverConfig
from prover.errors import InputError

__all__ = [
    "DatasetConfig",
    "KnnConfig",
    "ExpertIterationConfig",
    "ExperimentConfig",
    "EvalFigures",
    "ExperimentSummary",
    "load_experiment",
    "documented_examples",
]


class DatasetConfig(BaseModel):
    """The problems. name: `minif2f-coq`, `minif2f-lean4`, a folder of files, a `.jsonl`, or
    `trace:DIR` (the traced theorems of the `split` by file of a `prove trace` output: held-out
    files). split: the dataset's split. limit/only: select problems (see `prove eval`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    split: str = "valid"
    limit: int | None = Field(default=None, ge=0)
    only: tuple[str, ...] = ()
    data_dir: str | None = None


class KnnConfig(BaseModel):
    """A kNN policy mixed into the prover's policy. rows: trace rows it indexes (None: start empty,
    e.g. for expert iteration from scratch). weight: its share of the mixture. k, temperature: as
    `prover.policies.knn.KNNPolicy`. online: index each kernel-checked proof the run finds, so
    later problems can use it. file_context: on a `trace:` dataset, also search the traced proofs
    that come before the theorem in its own file (Tactician's setting: they are in its header)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: str | None = None
    weight: float = Field(0.5, gt=0, le=1)
    k: int = Field(64, ge=1)
    temperature: float = Field(0.1, gt=0)
    online: bool = True
    file_context: bool = True


class ExpertIterationConfig(BaseModel):
    """Search, keep kernel-checked proofs, trace them into rows, retrain, repeat.

    rounds: how many search-and-learn rounds. train_model: also fine-tune a tiny policy each round
    on the base rows plus the new ones (it then joins the mixture as `hf:` with `model_weight`).
    train_steps: optimizer steps per round. base_rows: rows the model starts from (default: the
    kNN's rows). heldout: the share of the problems (by a hash of their ids) never learned from
    and searched after each round to score it (0: learn and score on the same problems).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rounds: int = Field(2, ge=1)
    train_model: bool = False
    train_steps: int = Field(200, ge=1)
    model_weight: float = Field(0.3, gt=0, le=1)
    base_rows: str | None = None
    heldout: float = Field(0.25, ge=0, lt=1)


class ExperimentConfig(BaseModel):
    """One experiment: a dataset, a prover configuration, optional kNN, and its kind.

    workers: problems proved in parallel (Ray actors, one CPU each). Each worker gets a copy of the
    policy, so with more than one the kNN's online learning stays within each worker; expert
    iteration still gathers every round's proofs before the next round.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "experiment"
    kind: Literal["evaluate", "expert_iteration"] = "evaluate"
    dataset: DatasetConfig
    prover: ProverConfig = ProverConfig(backend="coq")
    knn: KnnConfig | None = None
    expert_iteration: ExpertIterationConfig = ExpertIterationConfig()
    seed: int = 0
    attempts: int = Field(1, ge=1)
    workers: int = Field(1, ge=1)

    @property
    def policy_label(self) -> str:
        """The policy as one spec-like string (for tables and the run identity)."""
        label = str(self.prover.policy)
        if self.knn is not None:
            label += f"+{self.knn.weight:g}*knn"
        return label


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment TOML file; `InputError` with the first problem otherwise."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text())
    except OSError as missing:
        raise InputError(f"{file}: cannot read the experiment file ({missing.strerror})") from None
    except tomllib.TOMLDecodeError as bad:
        raise InputError(f"{file}: not valid TOML: {bad}") from None
    try:
        return ExperimentConfig.model_validate(data)
    except ValueError as invalid:
        errors = getattr(invalid, "errors", lambda: [])()
        if errors:
            first = errors[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            raise InputError(f"{file}: {where}: {first.get('msg')}") from None
        raise InputError(f"{file}: {invalid}") from None


class EvalFigures(BaseModel):
    """The evaluation runner's figures an experiment summary carries, under the runner's own names
    (`prover.eval.report.summarize`): a renamed field there fails validation here, loudly, instead
    of leaving an empty `eval` table in every result."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pass_at_k: dict[str, Any]
    by_category: dict[str, Any]


class ExperimentSummary(BaseModel):
    """`summary.json` of an evaluation experiment (see `prover.experiments.runner`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: str
    dataset: str
    split: str
    policy: str
    search: str
    budget_seconds: float
    problems: int
    solved: int
    unproved: int
    invalid: int
    errors: int
    solve_rate: float
    mean_seconds_solved: float | None
    expansions: int
    seconds: float
    header_seconds: float = 0.0
    search_seconds: float = 0.0
    verify_seconds: float = 0.0
    solved_problems: list[str]
    preloaded_modules_left_out: list[str] = []
    eval: EvalFigures


def documented_examples(text: str | None = None) -> list[str]:
    """The indented TOML blocks of this module's docstring (or of `text`): what the docs promise loads."""
    blocks: list[str] = []
    current: list[str] = []
    for line in (text if text is not None else __doc__ or "").splitlines() + ["end"]:
        if line.startswith("    ") or (current and not line.strip()):
            current.append(line[4:])
            continue
        if any(part.strip() for part in current):
            blocks.append("\n".join(current).strip() + "\n")
        current = []
    return blocks
