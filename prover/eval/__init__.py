"""Batch evaluation: datasets (miniF2F Coq and Lean 4, folders, JSONL), the resumable runner, metrics and reports.

`prove eval` (see `prover.eval.cli`) is the command; `run_evaluation` is the library call.
"""
