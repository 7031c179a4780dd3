"""Ray, and only here: prover actors for batch evaluation (`pool`) and parallel MCTS rollouts (`rollouts`).

Nothing is imported at package import time, so `import prover.distributed` does not load ray.
"""
