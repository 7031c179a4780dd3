"""Research experiments: a typed config, a run directory, expert iteration, side-by-side comparison."""

from prover.experiments.config import ExperimentConfig, load_experiment
from prover.experiments.runner import ExperimentOutcome, compare_runs, run_experiment

__all__ = ["ExperimentConfig", "ExperimentOutcome", "compare_runs", "load_experiment", "run_experiment"]
