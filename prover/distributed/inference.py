"""Shared inference for a Ray evaluation: one model actor per GPU (one in all on a CPU cluster), batching the provers' requests.

Without it every prover actor loads its own copy of each `hf:` model of the policy spec. With
`prove eval --shared-inference`, the driver starts, for each `hf:` model, `InferenceActor`s that
load it once and run an `InferenceService` (requests from all provers arriving within a few
milliseconds go to the model as one batch); the prover actors build their policies inside
`prover.policies.service.serving`, so their `hf:MODEL` atoms get a `RemoteGenerator` that calls the
actor. Prompts are rendered in the provers (per-search context stays there); only prompts and
generations cross the wire. Other atoms (portfolio, openai:, knn:) and value models are unchanged.
Sampling is seeded once, in the actor, with the run's seed: attempts still differ (each call draws
new samples), but which prover gets which samples depends on timing, so a run with shared
inference is not reproducible sample by sample.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from prover import budget
from prover.config import ProverConfig
from prover.errors import InputError, ModelUnavailable
from prover.eval.jobs import ProverFactory, ProverLike
from prover.policies.generation import Generation, Prompt
from prover.policies.specs import HfSpec, MixtureSpec, PolicySpec, WholeSpec, parse_policy_spec

__all__ = ["InferenceActor", "RemoteGenerator", "ServedModelsFactory", "hf_atoms", "start_inference"]

log = logging.getLogger(__name__)

# Seconds an inference actor waits for more requests before running a batch, and its largest batch.
DEFAULT_MAX_WAIT = 0.005
DEFAULT_MAX_BATCH = 64


class InferenceActor:
    """Holds one model (built from one `hf:` policy atom) behind an `InferenceService`.

    Created through `ray.remote(...)` in `start_inference` with as many concurrent calls as there
    are provers, so their requests meet in the service's queue and are batched.
    """

    def __init__(self, atom: str, backend: str, seed: int, *, max_batch: int, max_wait: float) -> None:
        from prover.policies import build_policy
        from prover.policies.service import GeneratorBatcher, InferenceService

        generator = getattr(build_policy(atom, backend=backend, seed=seed), "generator", None)
        if generator is None:
            raise InputError(f"{atom}: not a model policy, nothing to share")
        self.generator = generator
        self.service = InferenceService(GeneratorBatcher(generator), max_batch=max_batch, max_wait=max_wait)
        self.clients: set[int] = set()

    def describe(self) -> dict[str, Any]:
        """What clients need to build their policies: the generator's name and model kind."""
        return {"name": self.generator.name, "is_encoder_decoder": bool(getattr(self.generator, "is_encoder_decoder", False))}

    def generate(self, prompts: Sequence[Prompt], n: int, client: int) -> list[list[Generation]]:
        """`n` generations per prompt, computed in a batch shared with other provers' requests."""
        self.clients.add(client)
        return self.service.propose_batch(list(prompts), n)

    def stats(self) -> dict[str, Any]:
        """Requests served, the batch sizes run (in prompts) and the process ids of the provers served."""
        return {
            "model": self.generator.name,
            "requests": self.service.stats.requests,
            "batch_sizes": list(self.service.stats.batch_sizes),
            "clients": sorted(self.clients),
        }


class RemoteGenerator:
    """A `TextGenerator` that asks an `InferenceActor`; picklable, so it travels to the prover actors.

    It holds the actors' names, not their handles: a prover actor's constructor arguments then stay
    plain values that Ray can resend when it restarts the actor. Each prover process sticks to one
    of the model's actors (by process id). A call waits no longer than the theorem's deadline
    (`prover.budget`): past it the prompts get no samples.
    """

    def __init__(self, actor_names: Sequence[str], name: str, is_encoder_decoder: bool) -> None:
        self.actor_names = list(actor_names)
        self.name = name
        self.is_encoder_decoder = is_encoder_decoder
        self._actor: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_actor": None}

    def generate(self, prompts: Sequence[Prompt], n: int) -> list[list[Generation]]:
        """n generations for each prompt, from the shared model."""
        if not prompts or n <= 0:
            return [[] for _ in prompts]
        left = budget.remaining()
        try:
            ref = self._the_actor().generate.remote(list(prompts), n, os.getpid())
            return ray.get(ref, timeout=None if left is None else left + budget.DEADLINE_GRACE_SECONDS)
        except GetTimeoutError:
            ray.cancel(ref)
            log.warning("%s: no samples before the theorem's deadline (shared model busy)", self.name)
            return [[] for _ in prompts]
        except (RayActorError, ValueError) as died:  # ValueError: no actor of that name any more
            first = str(died).strip().splitlines()[0] if str(died).strip() else type(died).__name__
            raise ModelUnavailable(f"the shared inference actor for {self.name} is gone: {first}") from None

    def _the_actor(self) -> Any:
        if self._actor is None:
            self._actor = ray.get_actor(self.actor_names[os.getpid() % len(self.actor_names)])
        return self._actor


@dataclass(frozen=True)
class ServedModelsFactory:
    """A `ProverFactory` that builds `inner`'s prover with the shared models in place of local copies."""

    inner: ProverFactory
    served: Mapping[str, RemoteGenerator]

    def __call__(self, config: ProverConfig) -> ProverLike:
        from prover.policies.service import serving

        with serving(self.served):
            return self.inner(config)


def hf_atoms(spec: PolicySpec | str) -> dict[str, str]:
    """The `hf:` atoms of a policy spec (aliases and `whole:` expanded) as shorthand, by model;
    `InputError` when a model appears twice with different options (one shared copy cannot serve both)."""
    typed = parse_policy_spec(spec) if isinstance(spec, str) else spec
    atoms: dict[str, str] = {}
    for atom in [term.policy for term in typed.terms] if isinstance(typed, MixtureSpec) else [typed]:
        model = atom.model if isinstance(atom, WholeSpec) else atom
        if not isinstance(model, HfSpec):
            continue
        text = str(atom)
        if atoms.get(model.model, text) != text:
            raise InputError(f"--shared-inference: {model.model} appears twice with different options ({atoms[model.model]}, {text})")
        atoms[model.model] = text
    return atoms


def start_inference(
    config: ProverConfig, backend: str, *, provers: int, max_wait: float = DEFAULT_MAX_WAIT
) -> tuple[dict[str, RemoteGenerator], list[Any]]:
    """Start the inference actors for `config.policy`'s `hf:` models: one per GPU of the cluster (one
    in all without GPUs). Returns the generators to serve to the provers and the actors (to stop).
    max_wait: seconds an actor waits for more requests before running a batch."""
    atoms = hf_atoms(config.policy)
    if not atoms:
        raise InputError(f"--shared-inference: the policy '{config.policy}' has no hf: model to share")
    gpus = int(ray.cluster_resources().get("GPU", 0))
    # No CPU reserved: on a CPU cluster the model shares the cores with the provers it serves.
    remote_actor = ray.remote(num_cpus=0, num_gpus=1 if gpus else 0, max_concurrency=max(2, provers + 1))(InferenceActor)
    served: dict[str, RemoteGenerator] = {}
    actors: list[Any] = []
    for model, atom in atoms.items():
        names = [f"neuroprove-inference-{uuid.uuid4().hex}" for _ in range(max(1, gpus))]
        copies = [
            remote_actor.options(name=name).remote(
                atom, backend, config.seed, max_batch=DEFAULT_MAX_BATCH, max_wait=max_wait
            )
            for name in names
        ]
        actors.extend(copies)
        try:
            described = ray.get([actor.describe.remote() for actor in copies])[0]
        except RayActorError as failed:  # the model could not be loaded: the constructor's own message
            lines = [line for line in str(failed).strip().splitlines() if line.strip()]
            raise ModelUnavailable(f"{model}: the shared inference actor did not start: {lines[-1] if lines else failed}") from None
        served[model] = RemoteGenerator(names, described["name"], described["is_encoder_decoder"])
    return served, actors
