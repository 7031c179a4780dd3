"""The kNN policy (returns a traced state's tactic for that state, learns online, round-trips) and
the trainers (a few steps lower the loss on a fixed batch; a checkpoint resumes and loads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prover.data.rows import NO_GOALS, TraceRow, write_rows
from prover.errors import InputError
from prover.policies.knn import KNNPolicy, build_knn_policy, hypothesis_names
from search.types import State

GOALS = [
    ("n : nat\n============================\nn + 0 = n", "induction n."),
    ("l : list nat\n============================\nrev (rev l) = l", "apply rev_involutive."),
    ("x, y : Z\nH : x < y\n============================\nx <= y", "lia."),
    ("============================\nforall a b : bool, a && b = b && a", "intros a b."),
    ("a, b : bool\n============================\na && b = b && a", "destruct a, b; reflexivity."),
    ("f : nat -> nat\nHf : forall k, f k = k\n============================\nf 3 = 3", "apply Hf."),
]


def _rows() -> list[TraceRow]:
    return [TraceRow("toy.v", f"t{i}", 0, state, tactic, NO_GOALS) for i, (state, tactic) in enumerate(GOALS)]


def _state(text: str) -> State:
    return State(goals=tuple(text.split("\n\n")))


def test_knn_returns_the_traced_tactic_for_the_same_state() -> None:
    policy = KNNPolicy(_rows())
    for state, tactic in GOALS:
        candidates = policy.propose(_state(state), 3)
        assert candidates[0].tactic == tactic
        assert all(c.log_prob <= 0 for c in candidates)
        assert [c.log_prob for c in candidates] == sorted((c.log_prob for c in candidates), reverse=True)
        assert len({c.tactic for c in candidates}) == len(candidates)


def test_knn_prefers_similar_states_and_skips_tactics_naming_missing_hypotheses() -> None:
    policy = KNNPolicy(_rows())
    similar = _state("n : nat\n============================\nn + 0 = n + 0 + 0")
    assert policy.propose(similar, 1)[0].tactic == "induction n."
    # The same goal over `m`: `induction n.` names a hypothesis this context lacks, so it is skipped.
    renamed = _state("m : nat\n============================\nm + 0 = m")
    assert "n" in hypothesis_names(GOALS[0][0]) and "induction n." not in [c.tactic for c in policy.propose(renamed, 6)]
    no_hf = _state("g : nat -> nat\n============================\ng 3 = 3")
    assert "apply Hf." not in [c.tactic for c in policy.propose(no_hf, 6)]


def test_knn_learns_online_and_round_trips_through_a_file(tmp_path: Path) -> None:
    policy = KNNPolicy(_rows()[:2])
    new_state = _state("p : Prop\nHp : p\n============================\np \\/ False")
    assert "left; exact Hp." not in [c.tactic for c in policy.propose(new_state, 5)]
    added = policy.add_proof([new_state], ["left; exact Hp."])
    assert added == 1 and policy.add_proof([new_state], ["left; exact Hp."]) == 0
    assert policy.propose(new_state, 1)[0].tactic == "left; exact Hp."
    saved = policy.save(tmp_path / "knn")
    loaded = build_knn_policy(f"knn:{saved.parent}?k=8")
    assert len(loaded) == len(policy) and loaded.k == 8
    assert loaded.propose(new_state, 1)[0].tactic == "left; exact Hp."
    with pytest.raises(InputError):
        build_knn_policy(f"knn:{saved.parent}?beam=3")


def test_knn_searches_local_rows_until_they_are_replaced_and_never_indexes_them() -> None:
    policy = KNNPolicy(_rows()[:3])
    local_state = _state("p : Prop\nHp : p\n============================\np /\\ p")
    local = [TraceRow("Here.v", "earlier", 0, local_state.key, "split; exact Hp.", NO_GOALS)]
    assert "split; exact Hp." not in [c.tactic for c in policy.propose(local_state, 5)]
    assert policy.use_local(local) == 1
    assert policy.propose(local_state, 1)[0].tactic == "split; exact Hp."
    # The main index's own answers still come first where they match better.
    assert policy.propose(_state(GOALS[0][0]), 1)[0].tactic == GOALS[0][1]
    assert len(policy) == 3  # local rows are not indexed
    policy.use_local(())
    assert "split; exact Hp." not in [c.tactic for c in policy.propose(local_state, 5)]
    # A policy with only local rows answers too.
    empty = KNNPolicy()
    empty.use_local(local)
    assert empty.propose(local_state, 1)[0].tactic == "split; exact Hp."


def test_knn_strips_bullets_and_ignores_bare_ones() -> None:
    rows = [
        TraceRow("f.v", "t", 0, "============================\nTrue /\\ True", "split.", "x"),
        TraceRow("f.v", "t", 1, "============================\nTrue\n\n============================\nTrue", "-", "x"),
        TraceRow("f.v", "t", 2, "============================\nTrue", "{ exact I.", NO_GOALS),
    ]
    policy = KNNPolicy(rows)
    assert len(policy) == 2
    assert policy.propose(_state("============================\nTrue"), 1)[0].tactic == "exact I."


# ---------------------------------------------------------------- training
@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models train fastest on one thread; on a shared 2-core machine more threads only contend."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _corpus(tmp_path: Path) -> Path:
    rows = [
        TraceRow("a.v", f"t{i}", 0, state, tactic, NO_GOALS)
        for i, (state, tactic) in enumerate(GOALS * 3)
    ]
    path = tmp_path / "rows.jsonl"
    write_rows(path, rows)
    return path


def _config(tmp_path: Path, **overrides):
    from prover.training.trainer import TrainConfig

    options = dict(
        data=str(_corpus(tmp_path)), out_dir=str(tmp_path / "model"), split="all", steps=12, batch_size=6,
        hidden_size=32, layers=1, heads=2, vocab_size=300, max_state_tokens=48, max_tactic_tokens=16,
        learning_rate=3e-3, warmup_steps=1, save_every=6, seed=7, device="cpu",
    )
    options.update(overrides)
    return TrainConfig(**options)


def test_training_a_tiny_policy_lowers_its_loss_on_a_fixed_batch_and_loads_as_a_policy(tmp_path: Path) -> None:
    import torch
    import transformers

    from prover.policies.factory import build_policy
    from prover.training.trainer import Example, batch_loss, train

    config = _config(tmp_path)
    batch = [Example(state, tactic) for state, tactic in GOALS]
    result = train(config.model_copy(update={"steps": 0}))
    model = transformers.AutoModelForCausalLM.from_pretrained(result.out_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(result.out_dir)
    with torch.no_grad():
        before = float(batch_loss(model, tokenizer, batch, config))
    result = train(config)  # continues the same run: same config, steps raised
    model = transformers.AutoModelForCausalLM.from_pretrained(result.out_dir)
    with torch.no_grad():
        after = float(batch_loss(model, tokenizer, batch, config))
    assert after < before - 0.5, (before, after)
    policy = build_policy(f"hf:{result.out_dir}?decoding=beam&max_new_tokens=8", backend="coq")
    candidates = policy.propose(_state(GOALS[0][0]), 2)
    assert candidates and all(c.log_prob <= 0 for c in candidates)


def test_a_run_resumed_from_its_checkpoint_matches_an_uninterrupted_one(tmp_path: Path) -> None:
    from prover.training.trainer import train

    whole = train(_config(tmp_path / "a"))
    first = train(_config(tmp_path / "b"), stop_after=6)
    assert first.steps == 6 and (Path(first.out_dir) / "checkpoints" / "step-6").is_dir()
    resumed = train(_config(tmp_path / "b"))
    assert resumed.resumed_from == 6
    assert resumed.losses == pytest.approx(whole.losses, rel=1e-4)


def test_a_value_model_trains_on_labels_and_loads_as_a_critic(tmp_path: Path) -> None:
    from prover.policies.factory import build_value
    from prover.training.trainer import Example, train, write_value_examples

    examples = [Example(state, "", 1.0 if i % 2 == 0 else 0.0) for i, (state, _) in enumerate(GOALS)]
    data = tmp_path / "values.jsonl"
    write_value_examples(data, examples * 2)
    assert json.loads(data.read_text().splitlines()[1])["label"] == 0.0
    result = train(_config(tmp_path, kind="value", data=str(data), steps=30, learning_rate=1e-2))
    assert result.final_loss < result.losses[0]
    value = build_value(f"hf-critic:{result.out_dir}")
    score = value.value(_state(GOALS[0][0]))
    assert 0.0 <= score <= 1.0


def test_prove_train_policy_command_trains_and_says_how_to_use_the_model(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from prover.training.cli import register

    app = typer.Typer()
    register(app)
    out = tmp_path / "cli-model"
    result = CliRunner().invoke(app, [
        "train", "policy", str(_corpus(tmp_path)), "--out", str(out), "--split", "all", "--steps", "2",
        "--hidden-size", "16", "--layers", "1", "--vocab-size", "300", "--threads", "1", "--device", "cpu",
    ])
    assert result.exit_code == 0, result.output
    assert f"hf:{out}" in result.stdout and (out / "config.json").exists() and (out / "checkpoints" / "step-2").is_dir()


def test_knn_renames_a_hypothesis_to_the_one_of_the_same_type() -> None:
    policy = KNNPolicy(_rows())
    renamed = _state("g : nat -> nat\nHg : forall k, g k = k\n============================\ng 3 = 3")
    # `apply Hf.` came from a state whose `Hf : forall k, f k = k`; here the same type... is over g,
    # so no rename; but a goal with Hf's exact type under another name gets `apply Hq.`
    same_type = _state("f : nat -> nat\nHq : forall k, f k = k\n============================\nf 3 = 3")
    assert "apply Hq." in [c.tactic for c in policy.propose(same_type, 6)]
    assert not any("Hf" in c.tactic for c in policy.propose(renamed, 6))


def test_policy_factory_mixes_the_portfolio_with_a_knn_over_trace_rows(tmp_path: Path) -> None:
    from prover.policies import build_policy
    from prover.policies.mixture import MixturePolicy

    rows_path = tmp_path / "rows.jsonl"
    write_rows(rows_path, _rows())
    policy = build_policy(f"0.5*portfolio+0.5*knn:{rows_path}?k=4", backend="coq")
    assert isinstance(policy, MixturePolicy)
    state, tactic = GOALS[0]
    candidates = policy.propose(_state(state), 16)
    assert tactic in [c.tactic for c in candidates]
    assert any(c.source.startswith("knn") for c in candidates if c.tactic == tactic)
