"""The DNC model: batch independence, gradients of a full step, its trace, and the CLI."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads
from typer.testing import CliRunner

from ntm_cli.cli import app
from ntm_cli.models import DNCConfig, build_model
from ntm_cli.models.config import ModelConfigError

TINY = DNCConfig(controller_sizes=(6,), memory_rows=5, memory_width=3, num_read_heads=2, num_write_heads=2)
IN, OUT = 4, 3
runner = CliRunner()


def _inputs(seed=0, steps=6, batch=5):
    return jax.random.bernoulli(jax.random.key(seed), 0.5, (steps, batch, IN)).astype(jnp.float32)


def test_a_batch_gives_the_same_result_as_each_example_alone():
    model = build_model(TINY, IN, OUT, jax.random.key(0))
    inputs = _inputs()
    together = model(inputs)
    for b in range(inputs.shape[1]):
        np.testing.assert_allclose(together[:, b], model(inputs[:, b : b + 1])[:, 0], rtol=1e-5, atol=1e-6)


def test_the_trace_keeps_usage_weightings_links_and_modes_in_range():
    model = build_model(TINY, IN, OUT, jax.random.key(1))
    logits, trace = model(_inputs(seed=2, steps=9, batch=3), trace=True)
    assert logits.shape == (9, 3, OUT)
    assert jnp.all((trace.usage >= 0) & (trace.usage <= 1 + 1e-6))
    for weights in (trace.write_weights, trace.read_weights, trace.allocation):
        assert jnp.all(weights >= -1e-7) and jnp.all(weights.sum(-1) <= 1 + 1e-5)
    np.testing.assert_allclose(trace.read_modes.sum(-1), 1.0, rtol=1e-5)
    assert trace.read_modes.shape == (9, 3, 2, 5)  # backward x2, content, forward x2
    # the reads are the read weightings applied to the memory after each step's write
    np.testing.assert_allclose(trace.reads, jnp.einsum("tbrn,tbnm->tbrm", trace.read_weights, trace.memory),
                               rtol=1e-5, atol=1e-6)


def test_check_grads_on_a_full_time_step():
    with jax.enable_x64(True):
        config = DNCConfig(controller_sizes=(4,), memory_rows=4, memory_width=3, head_clip=None)
        model = build_model(config, 2, 2, jax.random.key(7))
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        to64 = lambda tree: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)
        params = to64(params)
        state = to64(nnx.merge(graphdef, params, rest).initial_state(2))
        # a memory in use, so that every path (usage, links, both read directions) carries gradient
        state = state._replace(
            memory=jax.random.normal(jax.random.key(8), state.memory.shape, jnp.float64),
            usage=jnp.full(state.usage.shape, 0.3, jnp.float64).at[:, 1].set(0.6),
            read_weights=jnp.full(state.read_weights.shape, 0.25, jnp.float64),
            write_weights=jnp.full(state.write_weights.shape, 0.2, jnp.float64),
            precedence=jnp.full(state.precedence.shape, 0.2, jnp.float64),
            link=jnp.full(state.link.shape, 0.1, jnp.float64) * (1 - jnp.eye(4)),
        )
        x = jax.random.normal(jax.random.key(9), (2, 2), jnp.float64)

        def step(params, x):
            logits, new_state = nnx.merge(graphdef, params, rest).step(state, x)
            return jnp.sum(jnp.sin(logits)) + jnp.sum(new_state.memory**2) + jnp.sum(new_state.reads)

        check_grads(jax.jit(step), (params, x), order=1, modes=("rev",), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_read_heads": 0}, "at least one read head"),
    ({"num_write_heads": 0}, "at least one write head"),
    ({"memory_rows": 0}, "memory rows"),
    ({"controller_sizes": ()}, "at least one layer"),
])
def test_impossible_configs_raise_one_sentence(kwargs, message):
    with pytest.raises(ModelConfigError, match=message):
        DNCConfig(**kwargs)


# A tiny copy run. The DNC's runs here train with the same settings and budget (the learning rate
# decays over the budget given), so they compile the same programs: once, then from JAX's
# persistent cache (tests/conftest.py); the NTM's, those of test_train_cli.py's 10-step runs.
TINY_RUN = ["--max-length", "3", "--memory", "8x4", "--controller-size", "16", "--steps-per-call", "5",
            "--report-every", "10", "--eval-batch-size", "16"]
DNC_RUN = ["copy", "--model", "dnc", *TINY_RUN, "--steps", "20"]


def test_ntm_train_model_dnc_writes_a_run_and_resumes(tmp_path):
    result = runner.invoke(app, ["train", *DNC_RUN, "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "copy-dnc-s0"
    assert (run_dir / "checkpoints" / "latest.msgpack").is_file()
    resumed = runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "30"])
    assert resumed.exit_code == 0, resumed.output


@pytest.mark.parametrize("args, message", [
    (["--controller", "ff"], "--controller ff does not apply to --model dnc"),
    (["--memory-init", "learned"], "--memory-init does not apply to the DNC"),
    (["--preset", "paper"], "the paper preset has no DNC"),
])
def test_options_that_do_not_fit_the_dnc_are_one_sentence(tmp_path, args, message):
    result = runner.invoke(app, ["train", "copy", "--model", "dnc", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2 and message in result.stderr and not list(tmp_path.iterdir())


def test_the_dnc_learns_a_small_repeat_copy_task():
    """Length 1-3, repeats 1-3, memory 16 x 8: an untrained DNC sits near 50 bits per sequence.

    At 3e-3 decaying over the 10,000 sequences, seeds 0 and 1 end at 1.2 and 1.5 bits (seed 2
    stays near 19); at the preset's 1e-3 decaying over 40,000 steps, seed 0 took 20,000
    sequences to reach 0.84, and seeds 1 and 2 were at 17 and 23."""
    from ntm_cli.experiments.presets import preset_config
    import dataclasses

    from ntm_cli.training.trainer import Trainer

    steps = 10_000
    preset = preset_config("fast", "repeat-copy", "dnc")
    config = dataclasses.replace(
        preset,
        task_sizes={"max_length": 3, "max_repeats": 3},
        model=DNCConfig(controller_sizes=(32,), memory_rows=16, memory_width=8),
        optimizer=dataclasses.replace(preset.optimizer, learning_rate=3e-3, decay_steps=steps),
        steps=steps, steps_per_call=100, eval_batch_size=64,
    )  # the preset's Adam (global-norm clip 50) at batch 1, as `ntm train repeat --model dnc` trains
    trainer = Trainer(config, [0])
    state = trainer.initial_state()
    untrained = float(trainer.evaluate(state)[0][0])
    for first in range(0, steps, config.steps_per_call):
        state, _ = trainer.train_chunk(state, first, steps)
    trained = float(trainer.evaluate(state)[0][0])
    assert untrained > 40.0
    assert trained < 5.0, f"held-out cost {trained:.2f} bits after {steps:,} sequences"


@pytest.fixture(scope="module")
def tiny_dnc_run(tmp_path_factory):
    """A copy DNC with 8 memory rows, trained 20 steps."""
    out = tmp_path_factory.mktemp("dnc-runs")
    assert runner.invoke(app, ["train", *DNC_RUN, "--out", str(out)]).exit_code == 0
    return out / "copy-dnc-s0"


def test_ntm_memory_shows_a_dncs_usage_allocation_and_read_modes(tiny_dnc_run):
    run_dir = tiny_dnc_run
    from ntm_cli.reports import figures

    trace = figures.memory_trace(run_dir, length=3)
    assert trace.usage.shape == (7, 8) and trace.allocation.shape == (7, 1, 8) and trace.read_modes.shape == (7, 1, 3)
    np.testing.assert_allclose(trace.read_modes.sum(-1), 1.0, rtol=1e-5)
    result = runner.invoke(app, ["memory", str(run_dir), "--length", "3"])
    assert result.exit_code == 0, result.output
    import matplotlib.image

    height, width = matplotlib.image.imread(run_dir / "memory-3-s0.png").shape[:2]
    # three sequence panels, two head panels, usage, allocation and the read modes
    assert (width, height) == (1000, round((1.2 * (3 + 2 * 2.2 + 2 * 2.2 + 1.0) + 1) * 100))


def test_a_dnc_evaluates_on_a_larger_memory_than_it_trained_with(tiny_dnc_run):
    import json

    from ntm_cli.reports import figures
    from ntm_cli.training.evaluation import evaluate_run
    from ntm_cli.tasks import make_task

    training_sizes = {"training sizes": make_task("copy", max_length=3)}
    same = evaluate_run(tiny_dnc_run, training_sizes, batches=1, batch_size=8, memory_rows=8)
    assert same == evaluate_run(tiny_dnc_run, training_sizes, batches=1, batch_size=8)  # the trained size: no change
    small = ["--lengths", "12", "--batches", "1", "--batch-size", "8"]
    assert runner.invoke(app, ["eval", str(tiny_dnc_run), *small]).exit_code == 0
    at_trained_size = (tiny_dnc_run / "eval.json").read_text()
    result = runner.invoke(app, ["eval", str(tiny_dnc_run), "--memory-rows", "16", *small])
    assert result.exit_code == 0, result.output
    assert "on 16 memory rows (trained on 8)" in " ".join(result.output.split())
    assert (tiny_dnc_run / "eval.json").read_text() == at_trained_size  # kept beside the new one
    saved = json.loads((tiny_dnc_run / "eval-n16.json").read_text())
    assert (saved["memory_rows"], saved["trained_memory_rows"]) == (16, 8)
    assert [r["label"] for r in saved["results"]] == ["training sizes", "length 12"]
    assert saved["results"][1]["cost"] != same["results"][0]["cost"]
    trace = figures.memory_trace(tiny_dnc_run, length=12, memory_rows=16)
    assert trace.usage.shape[1] == 16 and trace.write_weights.shape[-1] == 16
    np.testing.assert_allclose(trace.read_modes.sum(-1), 1.0, rtol=1e-5)
    assert runner.invoke(app, ["memory", str(tiny_dnc_run), "--memory-rows", "16"]).exit_code == 0
    assert (tiny_dnc_run / "memory-train-n16-s0.png").is_file()
    assert runner.invoke(app, ["memory", str(tiny_dnc_run), "--memory-rows", "8"]).exit_code == 0
    assert (tiny_dnc_run / "memory-train-s0.png").is_file()  # the trained size: the figure without the option


def test_memory_rows_is_refused_for_an_ntm_with_one_sentence(tmp_path):
    assert runner.invoke(app, ["train", "copy", *TINY_RUN, "--steps", "10", "--out", str(tmp_path)]).exit_code == 0
    run_dir = tmp_path / "copy-ntm-lstm-s0"
    figures = tmp_path / "figures"
    for command in (["eval", str(run_dir), "--plot", "--out", str(figures)], ["memory", str(run_dir)]):
        for rows in ("16", "8"):  # the trained size too: an NTM never takes the option
            result = runner.invoke(app, [*command, "--memory-rows", rows])
            assert result.exit_code == 2, result.output
            assert "--memory-rows applies to DNC runs only, not to this ntm-lstm run" in result.stderr
            assert "Traceback" not in result.output
    assert not list(run_dir.glob("eval*.json")) and not list(run_dir.glob("memory-*.png")) and not figures.exists()


def test_the_fast_preset_sizes_each_tasks_dnc_memory_to_hold_what_the_task_stores():
    from ntm_cli.experiments.presets import FAST_STEPS, preset_config
    from ntm_cli.tasks import make_task

    stored = {  # vectors (N-grams: contexts) a task must keep at its training sizes
        "copy": lambda t: t.max_length,
        "repeat-copy": lambda t: t.max_length,
        "associative-recall": lambda t: t.max_items * t.item_size,
        "dynamic-ngrams": lambda t: 2 ** (t.order - 1),
        "priority-sort": lambda t: t.num_inputs,
    }
    for task, needed in stored.items():
        config = preset_config("fast", task, "dnc")
        assert needed(make_task(task)) <= config.model.memory_rows <= 2 * needed(make_task(task)), task
        assert 16 <= config.model.memory_width <= 20 and config.optimizer.clip_norm == 50.0
        assert config.steps == FAST_STEPS[task] == config.optimizer.decay_steps
