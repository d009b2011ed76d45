"""The key-value memory model: its two scopes agree where they should, gradients reach the
controller and W_q only, a life-long memory is carried, checkpointed and resumed bit for bit,
a small run learns one-shot episodes, and every command takes it (and refuses what it cannot do)."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from typer.testing import CliRunner

from ntm_cli import runs
from ntm_cli.cli import app
from ntm_cli.config import OptimizerConfig, TrainConfig
from ntm_cli.models import KVMemoryConfig, build_model
from ntm_cli.tasks import make_task
from ntm_cli.tasks.base import Batch
from ntm_cli.training.checkpoints import load_checkpoint, save_checkpoint
from ntm_cli.training.trainer import Trainer

runner = CliRunner()
SMALL = KVMemoryConfig(controller_sizes=(8,), memory_rows=12, key_size=4, neighbours=4, age_noise=0.0)
EPISODES = ["--classes", "3", "--showings", "3", "--features", "4", "--distractors", "4"]
TINY = [*EPISODES, "--memory", "9x4", "--controller-size", "8", "--neighbours", "4", "--batch-size", "4",
        "--steps-per-call", "5", "--report-every", "10", "--eval-batch-size", "8"]
LIFELONG = ["--classes", "20", "--length", "4", "--memory", "64x4", "--controller-size", "8", "--neighbours", "8",
            "--memory-scope", "lifelong", "--batch-size", "4", "--steps-per-call", "5", "--report-every", "10",
            "--eval-batch-size", "8"]


def batch_of(task, batch_size, seed=0):
    return Batch(*task.sample(jax.random.key(seed), batch_size))


def runner_of(model, carry=False, trace=False):
    """`model.run` compiled (op by op it is slow): (batch, memory, key) -> Output."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    return jax.jit(lambda batch, memory, key: nnx.merge(graphdef, params, rest).run(batch, memory, key, carry, trace))


@pytest.fixture(scope="module")
def episode_run(tmp_path_factory):
    """A tiny one-shot kv-ff run through `ntm train`, and its JSON summary."""
    out = tmp_path_factory.mktemp("episodes")
    result = runner.invoke(app, ["train", "one-shot", "--model", "kv", *TINY, "--steps", "10", "--out", str(out),
                                 "--json"])
    assert result.exit_code == 0, result.output
    return out / "one-shot-kv-ff-s0", json.loads(result.stdout), result.stderr


def test_every_sequence_of_a_batch_answers_from_a_memory_of_its_own():
    task = make_task("one-shot", classes=3, showings=3, features=4, distractors=4)
    model = build_model(SMALL, task.input_size, task.output_size, jax.random.key(0))
    batch = batch_of(task, 3)
    run = runner_of(model)
    together = run(batch, (), jax.random.key(1))
    for b in range(3):
        alone = run(Batch(*(x[:, b:b + 1] for x in batch)), (), jax.random.key(1))
        np.testing.assert_allclose(together.logits[:, b], alone.logits[:, 0], rtol=1e-5)
        np.testing.assert_allclose(together.loss[b], alone.loss[0], rtol=1e-5)
    assert together.memory == ()  # nothing carried in the sequence scope


def test_a_shared_memory_of_one_sequence_is_that_sequences_own_memory():
    """The life-long path (one memory, a batch of queries per step) and the per-sequence path
    (each sequence its own copy) are one rule: for a batch of one, without age noise, they agree."""
    config = dataclasses.replace(SMALL, scope="lifelong")
    task = make_task("rare-events", classes=6, length=5, features=4)
    model = build_model(config, task.input_size, task.output_size, jax.random.key(0))
    batch = batch_of(task, 1)
    shared = runner_of(model, carry=True, trace=True)(batch, model.lifelong_memory(), jax.random.key(2))
    separate = runner_of(model, carry=False, trace=True)(batch, model.lifelong_memory(), jax.random.key(2))
    np.testing.assert_allclose(shared.logits, separate.logits, rtol=1e-6)
    np.testing.assert_array_equal(shared.trace.written, separate.trace.written)
    np.testing.assert_array_equal(shared.memory.values, separate.trace.memory.values[0])
    assert np.all(np.asarray(separate.memory.values) == -1)  # given back as it was
    assert (np.asarray(shared.memory.values) >= 0).sum() >= 1


def test_gradients_reach_the_controller_and_query_projection_but_never_the_memory():
    config = dataclasses.replace(SMALL, scope="lifelong")
    task = make_task("rare-events", classes=6, length=5, features=4)
    model = build_model(config, task.input_size, task.output_size, jax.random.key(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    batch = batch_of(task, 4)
    memory = runner_of(model, carry=True)(batch, model.lifelong_memory(), jax.random.key(0)).memory  # a filled memory
    later = batch_of(task, 4, 1)

    @jax.jit
    def loss(params, keys):
        out = nnx.merge(graphdef, params, rest).run(later, memory._replace(keys=keys), jax.random.key(3), carry=True)
        return out.loss.sum()

    grads, key_grads = jax.jit(jax.grad(loss, argnums=(0, 1)))(params, memory.keys)
    assert float(loss(params, memory.keys)) > 0
    assert float(jnp.abs(grads["query"]["kernel"][...]).sum()) > 0
    assert float(jnp.abs(grads["controller"]["layers"][0]["kernel"][...]).sum()) > 0
    assert np.all(np.asarray(key_grads) == 0)


def _lifelong_config(**changes):
    model = KVMemoryConfig(controller_sizes=(8,), memory_rows=32, key_size=4, neighbours=8, scope="lifelong")
    return TrainConfig(task="rare-events", task_sizes={"classes": 12, "length": 4, "features": 4}, model=model,
                       optimizer=OptimizerConfig(learning_rate=1e-3), batch_size=4, steps=20, steps_per_call=5,
                       report_every=10, eval_batch_size=8, **changes)


def test_training_carries_the_life_long_memory_and_a_step_past_the_budget_changes_nothing(tmp_path):
    trainer = Trainer(_lifelong_config(), [0, 1])
    state = trainer.initial_state()
    assert np.all(np.asarray(state.memory.values) == -1) and state.memory.keys.shape == (2, 32, 4)
    state, _ = trainer.train_chunk(state, 0, 20)
    filled = (np.asarray(state.memory.values) >= 0).sum(axis=1)
    assert np.all(filled >= 5)  # 4 sequences x 4 steps x 5 steps: some wrong answers wrote
    assert not np.array_equal(state.memory.keys[0], state.memory.keys[1])  # each seed its own memory
    after, _ = trainer.train_chunk(state, 5, 5)  # every step at or past the end: inactive
    for new, old in zip(jax.tree.leaves(after), jax.tree.leaves(state)):
        np.testing.assert_array_equal(new, old)

    # a checkpoint holds the memory, restored exactly
    save_checkpoint(tmp_path / "c.msgpack", state, 1, _loop(), _progress(tmp_path))
    template = jax.tree.map(lambda x: x[0], trainer.initial_state())
    restored, _ = load_checkpoint(tmp_path / "c.msgpack", template)
    for got, want in zip(jax.tree.leaves(restored.memory), jax.tree.leaves(jax.tree.map(lambda x: x[1], state.memory))):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def _loop():
    from ntm_cli.training.checkpoints import LoopState

    return LoopState(pending_cost=np.zeros(2), pending_errors=np.zeros(2))


def _progress(path):
    from ntm_cli.training.checkpoints import RunProgress

    return RunProgress(path)


def test_a_life_long_run_resumes_bit_for_bit(tmp_path):
    def train(out, *args):
        return runner.invoke(app, ["train", "rare", "--model", "kv-ff", *LIFELONG, "--out", str(out), *args])

    assert train(tmp_path / "whole", "--steps", "20", "--lr-decay-steps", "20").exit_code == 0
    assert train(tmp_path / "parts", "--steps", "10", "--lr-decay-steps", "20").exit_code == 0
    run_dir = tmp_path / "parts" / "rare-events-kv-ff-s0"
    result = runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "20"])
    assert result.exit_code == 0, result.output
    template = jax.tree.map(lambda x: x[0], Trainer(runs.read_config(run_dir), [0]).initial_state())
    whole, _ = load_checkpoint(runs.checkpoint_path(tmp_path / "whole" / "rare-events-kv-ff-s0", "latest"), template)
    parts, _ = load_checkpoint(runs.checkpoint_path(run_dir, "latest"), template)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(parts)):
        np.testing.assert_array_equal(a, b)
    assert (np.asarray(parts.memory.values) >= 0).sum() > 0

    # evaluation from the trained memory, and from an empty one (a file of its own)
    result = runner.invoke(app, ["eval", str(run_dir), "--batches", "1", "--batch-size", "8", "--json"])
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout)
    result = runner.invoke(app, ["eval", str(run_dir), "--batches", "1", "--batch-size", "8", "--json",
                                 "--start-memory", "empty"])
    assert result.exit_code == 0, result.output
    empty = json.loads(result.stdout)
    assert trained["memory_start"] == "trained" and empty["memory_start"] == "empty"
    assert (run_dir / "eval.json").is_file() and (run_dir / "eval-empty.json").is_file()
    assert trained["errors"] == "wrong answers" and set(trained["results"][0]["scores"]) <= {
        "top_1pct", "top_10pct", "mid", "tail"}
    # an empty memory can only answer what a sequence has shown it: fewer right answers
    assert empty["results"][0]["bit_errors"] > trained["results"][0]["bit_errors"]

    result = runner.invoke(app, ["memory", str(run_dir), "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "memory starts trained" in result.stdout and (run_dir / "memory-s1.png").is_file()
    assert result.stdout.count("step ") == 4  # one line per step of the length-4 sequence


def test_a_small_run_learns_one_shot_episodes(tmp_path):
    """Distractors outnumber the features that carry the class 6 to 1, so the raw inputs are poor
    neighbours; training W_q and the controller on the margin loss makes them good ones."""
    sizes = ["--classes", "3", "--showings", "4", "--features", "4", "--distractors", "24", "--noise", "20"]
    result = runner.invoke(app, ["train", "one-shot", "--model", "kv-ff", *sizes, "--memory", "12x16",
                                 "--controller-size", "32", "--neighbours", "12", "--batch-size", "8",
                                 "--steps", "100", "--lr", "3e-3", "--steps-per-call", "10", "--report-every", "100",
                                 "--eval-batch-size", "128", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    metrics = runs.read_metrics(tmp_path / "one-shot-kv-ff-s0")
    before, after = metrics[0].eval_scores, metrics[-1].eval_scores
    assert after["shot_2"] > before["shot_2"] + 0.15  # 1-shot: the 2nd showing of a class
    assert after["shot_2"] > 0.75 and metrics[-1].eval_bit_errors < metrics[0].eval_bit_errors - 1.0


def test_an_episode_run_trains_evaluates_and_draws_through_the_commands(episode_run):
    run_dir, summary, progress = episode_run
    assert summary["model"] == "kv-ff" and set(summary["final_eval_scores"]) == {"shot_1", "shot_2", "shot_3"}
    assert "wrong answers" in progress and "accuracy 1st" in progress
    saved = json.loads((run_dir / "config.json").read_text())["config"]["model"]
    assert saved["kind"] == "kv" and saved["memory_rows"] == 9 and saved["scope"] == "sequence"
    result = runner.invoke(app, ["eval", str(run_dir), "--batches", "2", "--batch-size", "4", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["results"][0]
    counts = row["score_counts"]
    assert counts["shot_1"][1] == 2 * 4 * 3  # every class's 1st showing: 2 batches x 4 episodes x 3 classes
    assert row["scores"]["shot_2"] == pytest.approx(counts["shot_2"][0] / counts["shot_2"][1])
    assert "memory_start" not in json.loads(result.stdout)
    result = runner.invoke(app, ["memory", str(run_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "step   0: class" in result.stdout and "from an empty memory" in result.stdout


def test_model_names_name_the_controller():
    from ntm_cli.models.config import model_family, model_name, named_config
    from ntm_cli.cli.options import chosen_model

    assert chosen_model("kv", None) == "kv-ff" and chosen_model("kv", "lstm") == "kv-lstm"
    assert chosen_model("ntm", None) == "ntm-lstm" and chosen_model("kv-lstm", "lstm") == "kv-lstm"
    assert model_name(named_config("kv-lstm")) == "kv-lstm" and model_family("kv-ff") == "kv"
    assert named_config("kv-ff").kind == "kv" and named_config("kv-ff").controller == "ff"


def test_an_empty_memory_answers_nothing_and_that_is_wrong_even_for_class_0():
    task = make_task("one-shot", classes=3, showings=3, features=4, distractors=4)
    model = build_model(SMALL, task.input_size, task.output_size, jax.random.key(0))
    batch = batch_of(task, 8)
    out = runner_of(model)(batch, (), jax.random.key(1))
    assert np.all(np.asarray(out.answers[0]) == -1)  # the first step of every episode: no memory yet
    assert np.all(np.asarray(out.answers[1:]) >= 0)
    from ntm_cli.training.trainer import score_counts, sequence_metrics

    _, errors = sequence_metrics(out.logits, batch.targets, batch.mask, "class", out.answers)
    by_hand = (np.asarray(out.answers) != np.asarray(batch.targets).argmax(-1)).sum(0)
    np.testing.assert_array_equal(errors, by_hand)
    right, total = score_counts(task, out.logits, batch, out.answers)["shot_1"]
    assert int(total) == 8 * 3 and int(right) <= int(total) - 8  # step 0 is a 1st showing, never right


@pytest.mark.parametrize("args, phrase", [
    (["train", "copy", "--model", "kv-ff"], "the key-value memory answers with a class, and task copy"),
    (["train", "copy", "--showings", "3"], "--showings does not apply to task copy"),
    (["train", "one-shot", "--model", "kv-ff", "--neighbours", "100"], "neighbours k must be between 1 and"),
    (["train", "one-shot", "--model", "kv-ff", "--margin", "0"], "the margin must be in (0, 2)"),
    (["train", "one-shot", "--model", "kv-ff", "--heads", "2"], "--heads does not apply to the key-value memory"),
    (["train", "one-shot", "--model", "ntm-lstm", "--neighbours", "4"], "--neighbours does not apply to the NTM (ntm-lstm)"),
    (["train", "rare", "--model", "kv-ff", "--memory", "8x4", "--neighbours", "4", "--batch-size", "16"],
     "cannot take the 16 writes of a batch of 16"),
    (["train", "one-shot", "--model", "kv-ff", "--preset", "paper"], "the paper preset has no key-value memory"),
])
def test_bad_input_is_one_sentence_exit_2_and_no_run_folder(tmp_path, args, phrase):
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert phrase in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_start_memory_is_refused_where_there_is_no_life_long_memory(episode_run):
    run_dir, _, _ = episode_run
    for command in (["eval", str(run_dir)], ["memory", str(run_dir)]):
        result = runner.invoke(app, [*command, "--start-memory", "empty"])
        assert result.exit_code == 2 and "--start-memory applies to runs with a life-long memory" in result.stderr
    assert not (run_dir / "eval-empty.json").exists()


def test_bench_counts_the_life_long_memory():
    from ntm_cli.training.bench import bench_config

    config = _lifelong_config()
    row = bench_config(config, repeats=1, calls=1, warmup=1)
    n, d, c = 32, 4, 12  # rows, key width, classes of _lifelong_config
    assert row["lifelong_memory_mb"] == pytest.approx((n * d * 4 + n * 4 + n * 4 + c * 4) / 2**20)
    assert row["model"] == "kv-ff" and row["finite"] and row["train_sequences_per_second"] > 0
