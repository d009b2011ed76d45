"""Repeat copy: the target is the input repeated n times, then the end marker."""

import jax
import numpy as np

from ntm_cli.tasks import make_task


def _batch(task, seed=0, batch_size=64):
    return [np.asarray(a) for a in task.sample(jax.random.key(seed), batch_size)]


def _decode(task, inputs_b):
    """(length, repeats, sequence) read back from one example's inputs [T, in]."""
    length = int(np.argmax(inputs_b[:, task.width]))
    mean, std = task.repeat_mean_std
    repeats = int(round(inputs_b[length, task.width + 1] * std + mean))
    return length, repeats, inputs_b[:length, : task.width]


def test_target_is_the_sequence_repeated_n_times_then_the_end_marker():
    task = make_task("repeat", width=4, max_length=5, max_repeats=4)
    inputs, targets, mask = _batch(task)
    for b in range(inputs.shape[1]):
        length, repeats, sequence = _decode(task, inputs[:, b])
        assert 1 <= repeats <= 4
        answer = slice(length + 1, length + 1 + repeats * length + 1)
        expected = np.zeros((repeats * length + 1, task.width + 1), np.float32)
        expected[:-1, : task.width] = np.tile(sequence, (repeats, 1))
        expected[-1, task.width] = 1.0
        np.testing.assert_array_equal(targets[answer, b], expected)
        np.testing.assert_array_equal(np.flatnonzero(mask[:, b]), np.arange(answer.start, answer.stop))
        assert not targets[mask[:, b] == 0, b].any()
        assert not inputs[length + 1 :, b].any()


def test_repeat_channel_has_mean_0_and_variance_1_over_the_training_distribution():
    task = make_task("repeat")
    values = np.array([float(task.normalise_repeats(n)) for n in range(1, 11)])
    assert abs(values.mean()) < 1e-6 and abs(values.var() - 1.0) < 1e-6
    inputs, _, _ = _batch(task, batch_size=4000)
    delimiter_step = inputs[:, :, task.width].argmax(axis=0)
    scalars = inputs[delimiter_step, np.arange(4000), task.width + 1]
    assert abs(scalars.mean()) < 0.06 and abs(scalars.var() - 1.0) < 0.06  # s.e. ~0.016, ~0.02


def test_evaluation_variants_keep_the_training_normalisation():
    task = make_task("repeat")
    variants = task.generalisation_variants()
    assert list(variants) == [
        "length 10, repeats 10", "length 20, repeats 10", "length 10, repeats 20", "length 20, repeats 20",
    ]
    long = variants["length 20, repeats 20"]
    assert long.repeat_mean_std == task.repeat_mean_std
    inputs, targets, mask = _batch(long, batch_size=2)
    mean, std = task.repeat_mean_std
    np.testing.assert_allclose(inputs[20, :, task.width + 1], (20 - mean) / std, rtol=1e-6)
    assert (mask.sum(axis=0) == 20 * 20 + 1).all()
    assert long.max_time == inputs.shape[0] == 20 * 21 + 2


def test_a_single_repeat_count_normalises_without_dividing_by_zero():
    task = make_task("repeat", min_repeats=3, max_repeats=3)
    assert task.repeat_mean_std == (3.0, 1.0)
    assert float(task.normalise_repeats(3)) == 0.0
