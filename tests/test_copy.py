"""Copy: content of inputs, targets and mask, checked example by example."""

import jax
import numpy as np

from ntm_cli.tasks import make_task


def _batch(task, seed=0, batch_size=64):
    batch = task.sample(jax.random.key(seed), batch_size)
    return [np.asarray(a) for a in batch]


def test_target_is_the_input_sequence_and_mask_covers_exactly_the_answer():
    task = make_task("copy", width=5, min_length=1, max_length=9)
    inputs, targets, mask = _batch(task)
    t = np.arange(task.max_time)
    for b in range(inputs.shape[1]):
        length = int(np.argmax(inputs[:, b, task.width]))  # the delimiter's step
        assert inputs[:, b, task.width].sum() == 1
        np.testing.assert_array_equal(mask[:, b], (t > length) & (t <= 2 * length))
        np.testing.assert_array_equal(targets[length + 1 : 2 * length + 1, b], inputs[:length, b, : task.width])
        assert not targets[mask[:, b] == 0, b].any()


def test_no_input_during_the_answer_or_padding():
    task = make_task("copy")
    inputs, _, mask = _batch(task, seed=1)
    for b in range(inputs.shape[1]):
        length = int(np.argmax(inputs[:, b, task.width]))
        assert not inputs[length + 1 :, b].any()
        assert not inputs[:length, b, task.width].any()  # the delimiter only at step L


def test_bits_are_fair_coins():
    inputs, _, _ = _batch(make_task("copy", min_length=20), batch_size=256)
    bits = inputs[:20, :, :8]
    assert abs(bits.mean() - 0.5) < 0.01  # 40,960 bits: s.e. 0.0025


def test_generalisation_variants_have_the_papers_fixed_lengths():
    variants = make_task("copy").generalisation_variants()
    assert [(v.min_length, v.max_length) for v in variants.values()] == [(n, n) for n in (10, 20, 30, 50, 120)]
    _, _, mask = _batch(variants["length 120"], batch_size=4)
    assert (mask.sum(axis=0) == 120).all()
