"""Training on traced proofs: a corpus tokenizer, a tactic policy, a value model, expert iteration."""

from prover.training.trainer import Example, TrainConfig, TrainResult, train

__all__ = ["Example", "TrainConfig", "TrainResult", "train"]
