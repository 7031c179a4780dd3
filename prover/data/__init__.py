"""Step-level training data: tracing proofs (Coq files, LeanDojo JSON, Lean repositories) into rows."""

from prover.data.rows import NO_GOALS, SPLITS, TraceRow, is_structural, read_rows, split_of, write_rows

__all__ = ["NO_GOALS", "SPLITS", "TraceRow", "is_structural", "read_rows", "split_of", "write_rows"]
