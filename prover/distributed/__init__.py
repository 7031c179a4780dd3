"""Ray, and only here: prover actors for batch evaluation (`pool`), shared model actors (`inference`)
and parallel MCTS rollouts (`rollouts`).

Nothing is imported at package import time, so `import prover.distributed` does not load ray.
"""
