"""Priority sort: the target is the highest-priority inputs, highest first, as NumPy sorts them."""

import jax
import numpy as np

from ntm_cli.tasks import make_task


def test_target_is_the_top_16_inputs_by_priority_highest_first():
    task = make_task("sort")
    inputs, targets, mask = (np.asarray(a) for a in task.sample(jax.random.key(0), 32))
    vectors = inputs[:20, :, :8]  # [20, B, 8]
    priority = inputs[:20, :, 8]  # [20, B]
    order = np.argsort(-priority, axis=0, kind="stable")[:16]  # [16, B]
    expected = np.take_along_axis(vectors, order[:, :, None], axis=0)  # [16, B, 8]
    np.testing.assert_array_equal(targets[21:], expected)
    np.testing.assert_array_equal(mask, np.repeat((np.arange(37) >= 21)[:, None], 32, axis=1))
    assert not targets[:21].any()
    # Whole vectors move together: each output row is some input row, not columns sorted apart.
    for b in range(32):
        rows = {tuple(v) for v in vectors[:, b]}
        assert all(tuple(v) in rows for v in targets[21:, b])


def test_priorities_are_uniform_on_minus_one_to_one_and_the_delimiter_follows_the_inputs():
    task = make_task("sort", num_inputs=5, num_outputs=3, width=3)
    inputs = np.asarray(task.sample(jax.random.key(2), 2000).inputs)
    priority = inputs[:5, :, 3]
    assert priority.min() >= -1 and priority.max() <= 1
    assert abs(priority.mean()) < 0.03 and abs(priority.var() - 1 / 3) < 0.02
    assert (inputs[5, :, 4] == 1).all() and inputs[:, :, 4].sum() == 2000
    assert not inputs[6:].any()
