"""One options bundle for every command: each `ProverConfig` field a command offers reaches the
config that command runs with, and what it is not given comes from `ProverConfig`'s defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import prover.cli
import prover.eval.cli
import prover.formalizer.cli
import prover.formalizer.evaluation
from prover.cli_options import PROVER_OPTIONS
from prover.config import ProverConfig
from prover.errors import InputError

# Values unlike every default, as typed on a command line; search and rollout workers vary
# together (several rollout workers need MCTS, the default search), so they take two runs.
GIVEN: dict[str, str] = {
    "backend": "coq",
    "policy": "0.5*portfolio+0.5*hammer",
    "value": "constant:0.25",
    "search": "best_first",
    "budget_seconds": "7.5",
    "max_expansions": "11",
    "step_timeout": "3.5",
    "candidates": "5",
    "seed": "42",
}
MORE_WORKERS: dict[str, str] = {"search": "mcts", "rollout_workers": "3"}
EXPECTED = ProverConfig(**GIVEN)  # type: ignore[arg-type]

ALL_FIELDS = set(ProverConfig.model_fields)
# Each command: the fields it offers (the formalizer's --target decides the backend).
OFFERED = {
    "prove-file": ALL_FIELDS,
    "eval": ALL_FIELDS,
    "solve": ALL_FIELDS - {"backend"},
    "eval-formalizer": ALL_FIELDS - {"backend"},
    "formalize": {"step_timeout", "seed"},
}


class Captured(InputError):
    """Raised by a stand-in once it has recorded the config a command built, to end the run."""


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[ProverConfig]:
    """Stand-ins at the point each command hands its config on, recording it."""
    configs: list[ProverConfig] = []

    def record(config: ProverConfig) -> None:
        configs.append(config)
        raise Captured("config captured")

    monkeypatch.setattr(prover.cli, "prove_file", lambda file, config, **_: record(config))
    monkeypatch.setattr(prover.eval.cli, "load_dataset", lambda *args, **kwargs: ["problem"])
    monkeypatch.setattr(prover.eval.cli, "select_problems", lambda problems, **kwargs: problems)
    monkeypatch.setattr(prover.eval.cli, "run_evaluation", lambda problems, *, config, **_: record(config))
    monkeypatch.setattr(prover.formalizer.cli, "_formalizer", lambda *, config, **_: record(config))
    monkeypatch.setattr(prover.formalizer.evaluation, "load_informal_problems", lambda path: [_Named("p")])
    return configs


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


def _command_line(command: str, tmp_path: Path, options: dict[str, str]) -> list[str]:
    problem = tmp_path / "problem.txt"
    problem.write_text("Show that 1 + 1 = 2.\n")
    start = {
        "prove-file": [str(tmp_path / "f.v")],
        "eval": ["eval", str(tmp_path), "--out", str(tmp_path / "out")],
        "solve": ["solve", str(problem), "--target", "coq", "--model", "openai:http://127.0.0.1:9/v1?model=m"],
        "eval-formalizer": ["eval-formalizer", "--data", str(problem), "--target", "coq", "--model", "hf:m"],
        "formalize": ["formalize", str(problem), "--target", "coq", "--model", "hf:m"],
    }[command]
    for field, value in options.items():
        if field in OFFERED[command]:
            start += [f"--{field.replace('_', '-')}", value]
    return start


def _run(argv: list[str], captured: list[ProverConfig]) -> ProverConfig:
    assert prover.cli.main(argv) == 2  # the stand-in's Captured, an InputError
    assert len(captured) == 1
    return captured.pop()


@pytest.mark.parametrize("command", sorted(OFFERED))
def test_every_offered_prover_option_reaches_the_commands_config(
    command: str, tmp_path: Path, captured: list[ProverConfig]
) -> None:
    config = _run(_command_line(command, tmp_path, GIVEN), captured)
    for field in OFFERED[command] - {"rollout_workers"}:
        assert getattr(config, field) == getattr(EXPECTED, field), field
    assert config.backend == "coq"  # --backend, or the formalizer's --target
    if "rollout_workers" in OFFERED[command]:
        config = _run(_command_line(command, tmp_path, MORE_WORKERS), captured)
        assert (config.search, config.rollout_workers) == ("mcts", 3)


@pytest.mark.parametrize("command", sorted(OFFERED))
def test_options_not_given_take_prover_config_defaults(command: str, tmp_path: Path, captured: list[ProverConfig]) -> None:
    config = _run(_command_line(command, tmp_path, {"backend": "coq"}), captured)
    expected = ProverConfig(backend="coq")
    if command == "eval-formalizer":  # its own default: two implications per problem
        expected = expected.model_copy(update={"budget_seconds": 20.0})
    assert config == expected


def test_the_bundle_covers_every_config_field_and_each_command_offers_what_it_should() -> None:
    assert set(PROVER_OPTIONS) == ALL_FIELDS
    prover.cli._register_commands()
    callbacks: dict[str, Any] = {command.name: command.callback for command in prover.cli.app.registered_commands}
    for command, fields in OFFERED.items():
        assert set(callbacks[command].prover_fields) == fields, command


def test_a_bad_option_value_is_one_line_naming_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert prover.cli.main(["eval", str(tmp_path), "--out", str(tmp_path / "o"), "--candidates", "0"]) == 2
    assert capsys.readouterr().err.strip() == "prove: invalid option --candidates: Input should be greater than 0"
