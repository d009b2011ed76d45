"""A curriculum over a task's sizes: the stages, their padded batches, the schedule of a
training run, and `--curriculum` on the command line."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from ntm_cli.cli import app
from ntm_cli.config import TrainConfig
from ntm_cli.experiments.presets import preset_config
from ntm_cli.models.config import NTMConfig
from ntm_cli.tasks import TaskConfigError, make_task
from ntm_cli.training.trainer import Trainer

runner = CliRunner()


def _maxima(stages, field):
    return [getattr(task, field) for task in stages]


def test_stages_grow_every_range_together_from_its_minimum():
    recall = make_task("associative-recall")  # 2-6 items
    stages = recall.curriculum_stages()
    assert _maxima(stages, "max_items") == [2, 3, 4, 5, 6] and _maxima(stages, "min_items") == [2] * 5
    assert len(make_task("copy").curriculum_stages()) == 20  # lengths 1-20
    repeat = make_task("repeat-copy", max_length=4, max_repeats=2)  # widths 3 and 1: four stages
    stages = repeat.curriculum_stages()
    assert _maxima(stages, "max_length") == [1, 2, 3, 4]
    assert _maxima(stages, "max_repeats") == [1, 1, 2, 2]  # 1 + round(s / 3)


@pytest.mark.parametrize("name", ["priority-sort", "dynamic-ngrams"])
def test_a_task_of_fixed_sizes_has_no_curriculum(name):
    with pytest.raises(TaskConfigError, match="no range of sizes"):
        make_task(name).curriculum_stages()
    with pytest.raises(TaskConfigError):  # nor does a range of one value
        make_task("copy", min_length=5, max_length=5).curriculum_stages()


def test_the_first_stage_draws_only_the_smallest_sizes_padded_to_the_tasks_shapes():
    task = make_task("associative-recall", max_items=5)
    batch = task.sample_staged(jax.random.key(3), 64, jnp.int32(0))
    inputs, targets, mask = (np.asarray(x) for x in batch)
    assert inputs.shape == (task.max_time, 64, task.input_size)
    assert (inputs[:, :, task.width].sum(0) == 2).all()  # two item delimiters in every sequence
    easiest = task.curriculum_stages()[0]
    assert not inputs[easiest.max_time:].any() and not mask[easiest.max_time:].any()
    assert (mask.sum(0) == task.item_size).all() and not targets[mask == 0].any()


def test_the_last_stage_is_the_task_itself_and_stages_past_it_clip():
    task = make_task("repeat-copy", max_length=4, max_repeats=3)
    key = jax.random.key(7)
    plain = task.sample(key, 8)
    for stage in (3, 10):
        staged = task.sample_staged(key, 8, jnp.int32(stage))
        for a, b in zip(staged, plain):
            np.testing.assert_array_equal(a, b)


def test_repeat_copy_keeps_the_repeat_scalar_normalised_over_the_whole_training_range():
    task = make_task("repeat-copy", max_length=4, max_repeats=3)  # n in 1-3: r(1) = (1 - 2) / std
    inputs = np.asarray(task.sample_staged(jax.random.key(0), 16, jnp.int32(0)).inputs)
    mean, std = task.repeat_mean_std
    np.testing.assert_allclose(inputs[1, :, task.width + 1], (1 - mean) / std)  # length 1: delimiter at step 1


def _tiny(curriculum):
    base = preset_config("fast", "associative-recall", "ntm-lstm")
    return dataclasses.replace(
        base, task_sizes={"max_items": 4}, batch_size=2, curriculum=curriculum, eval_batch_size=4,
        model=NTMConfig(controller="lstm", controller_sizes=(8,), memory_rows=8, memory_width=4),
    )


def test_a_training_step_draws_from_the_stage_its_sequences_have_reached():
    """Items 2-4 (three stages) over 30 sequences at batch 2: steps 0-4 stage 0, 5-9 stage 1,
    then the task itself."""
    trainer = Trainer(_tiny(30), [0])
    task, key = trainer.task, jax.random.key(5)
    expected = {0: 0, 4: 0, 5: 1, 9: 1, 10: 2, 500: 2}
    for step, stage in expected.items():
        drawn = trainer._sample(key, jnp.int32(step))
        wanted = task.sample_staged(key, 2, jnp.int32(stage))
        np.testing.assert_array_equal(drawn.inputs, wanted.inputs)
    plain = Trainer(_tiny(None), [0])._sample(key, jnp.int32(0))
    np.testing.assert_array_equal(plain.inputs, task.sample(key, 2).inputs)


def test_configs_saved_before_the_curriculum_existed_still_load():
    data = _tiny(None).to_dict()
    del data["curriculum"]
    assert TrainConfig.from_dict(data).curriculum is None
    assert TrainConfig.from_dict(_tiny(40).to_dict()).curriculum == 40
    with pytest.raises(Exception, match="at least one sequence"):
        _tiny(0)


TINY = ["--memory", "8x4", "--controller-size", "8", "--steps-per-call", "5", "--report-every", "10",
        "--eval-batch-size", "8", "--batch-size", "2"]


def test_train_with_a_curriculum_records_it_and_resume_keeps_it(tmp_path):
    result = runner.invoke(app, ["train", "recall", "--max-items", "4", *TINY, "--curriculum", "30",
                                 "--steps", "10", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "associative-recall-ntm-lstm-s0"
    assert json.loads((run_dir / "config.json").read_text())["config"]["curriculum"] == 30
    result = runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "20"])
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir / "config.json").read_text())["config"]["curriculum"] == 30
    result = runner.invoke(app, ["train", "recall", "--max-items", "4", *TINY, "--curriculum", "0",
                                 "--steps", "10", "--out", str(tmp_path), "--name", "off"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "off" / "config.json").read_text())["config"]["curriculum"] is None


@pytest.mark.parametrize("args, message", [
    (["sort"], "task priority-sort has no range of sizes for a curriculum to grow"),
    (["copy", "--min-length", "3", "--max-length", "3"], "task copy has no range of sizes"),
    (["copy"], "--curriculum must be solved, a number of sequences below 2**31, or 0 for none; got '-5'"),
    (["copy", "--curriculum", "soon"], "--curriculum must be solved, a number of sequences below 2**31, or 0 for none; got 'soon'"),
    (["copy", "--curriculum", "99999999999999"], "a number of sequences below 2**31"),
    (["ngrams", "--curriculum", "solved"], "task dynamic-ngrams has no range of sizes"),
])
def test_a_curriculum_that_cannot_be_is_one_sentence_and_no_run_folder(tmp_path, args, message):
    value = [] if "--curriculum" in args else ["--curriculum", "-5" if message.startswith("--curriculum") else "100"]
    result = runner.invoke(app, ["train", *args, *value, "--steps", "10", "--out", str(tmp_path)])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_a_curriculum_that_moves_on_when_solved_follows_the_moving_average_of_the_training_figure():
    """Recall's rule: fewer than 1 bit error per sequence. The average starts at 4 x 1, moves by
    2% towards each step's figure, and a stage ends the step it falls below 1 (average back at 4);
    a skipped step changes nothing, and the last stage (2 of 0-2) stays."""
    from ntm_cli.training.trainer import Pace

    trainer = Trainer(_tiny("solved"), [0, 1])
    pace = trainer.initial_state().pace
    np.testing.assert_array_equal(pace.stage, [0, 0])
    np.testing.assert_allclose(pace.average, [4.0, 4.0])
    keep = jnp.array([True, True])
    after = trainer._next_pace(pace, jnp.zeros(2), jnp.array([0.0, 9.0]), keep)
    np.testing.assert_allclose(after.average, [0.98 * 4, 0.98 * 4 + 0.02 * 9], rtol=1e-6)
    np.testing.assert_array_equal(after.stage, [0, 0])
    near = Pace(jnp.array([0, 2], jnp.int32), jnp.array([1.01, 0.5], jnp.float32))
    after = trainer._next_pace(near, jnp.full(2, 50.0), jnp.array([0.0, 0.0]), keep)  # 0.9898 < 1
    np.testing.assert_array_equal(after.stage, [1, 2])
    np.testing.assert_allclose(after.average, [4.0, 0.49], rtol=1e-6)
    held = trainer._next_pace(near, jnp.zeros(2), jnp.zeros(2), jnp.array([False, False]))
    np.testing.assert_array_equal(held.stage, near.stage)
    np.testing.assert_array_equal(held.average, near.average)
    key = jax.random.key(2)
    drawn = trainer._sample(key, jnp.int32(0), Pace(jnp.int32(1), jnp.float32(4.0)))
    np.testing.assert_array_equal(drawn.inputs, trainer.task.sample_staged(key, 2, jnp.int32(1)).inputs)
    assert Trainer(_tiny(None), [0]).initial_state().pace == ()


def test_train_with_a_curriculum_that_moves_on_when_solved_reports_its_stage_and_resumes_it(tmp_path):
    result = runner.invoke(app, ["train", "recall", "--max-items", "4", *TINY, "--curriculum", "solved",
                                 "--steps", "10", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "associative-recall-ntm-lstm-s0"
    assert json.loads((run_dir / "config.json").read_text())["config"]["curriculum"] == "solved"
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["curriculum_stage"] for row in rows] == [0, 0]  # 10 steps cannot meet the rule
    assert "curriculum stage 0" in result.output
    result = runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "20"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and rows[-1]["curriculum_stage"] == 0
