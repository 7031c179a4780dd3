"""Joining or starting the Ray cluster that the pool and the rollout executor run on."""

from __future__ import annotations

import logging
from typing import Any

import ray

__all__ = ["connect"]


def connect(*, address: str | None, num_cpus: int) -> bool:
    """Join the cluster at `address`, or start a local Ray with `num_cpus` CPUs; True when this call started Ray.

    Local Ray starts without the dashboard and with Ray's own logs kept out of the terminal, so
    the progress bar stays readable; worker output goes to Ray's session logs.
    """
    if ray.is_initialized():
        return False
    options: dict[str, Any] = dict(
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
        configure_logging=True,
    )
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(num_cpus=num_cpus, **options)
    return True
