"""Rare events: one fixed world, Zipf and uniform class frequencies, bands and scores by hand."""

import math
import subprocess
import sys

import jax
import numpy as np
import pytest
from scipy import stats

from ntm_cli.tasks import TaskConfigError, make_task


def _labels(task, seed=0, batch_size=16):
    inputs, targets, mask = task.sample(jax.random.key(seed), batch_size)
    return np.asarray(inputs), np.asarray(targets).argmax(-1), np.asarray(mask)


def test_one_world_for_every_seed_and_the_heldout_variant():
    task = make_task("rare", noise=0, length=10)
    prototypes = np.asarray(task.prototypes())
    assert prototypes.shape == (1000, 32)
    np.testing.assert_array_equal(prototypes, np.asarray(make_task("rare", noise=90).prototypes()))
    for variant, seed in [(task, 1), (task, 2), (task.heldout(), 3)]:
        inputs, labels, mask = _labels(variant, seed)
        np.testing.assert_allclose(inputs, prototypes[labels], rtol=1e-6)
        np.testing.assert_array_equal(mask, 1.0)
    assert abs(prototypes.std() - 1) < 0.02 and abs(prototypes.mean()) < 0.02  # 32,000 N(0, 1) draws


def test_class_frequencies_follow_zipf():
    task = make_task("rare", classes=100, length=20)
    _, labels, _ = _labels(task, batch_size=1000)  # 20,000 draws
    n, p = labels.size, task.class_probabilities()
    top = (labels == 0).mean()
    assert abs(top - p[0]) < 4 * math.sqrt(p[0] * (1 - p[0]) / n)  # s.e. ~0.0035
    counts = np.bincount(labels.ravel(), minlength=100)
    bands = [counts[low:high].sum() for low, high in task.band_bounds().values()]
    expected = [n * p[low:high].sum() for low, high in task.band_bounds().values()]
    assert stats.chisquare(bands, expected).pvalue > 1e-3


def test_the_heldout_variant_draws_classes_uniformly():
    task = make_task("rare", classes=100, length=20).heldout()
    assert task.uniform == 1 and task.heldout() == task
    _, labels, _ = _labels(task, batch_size=1000)  # 200 per class
    assert stats.chisquare(np.bincount(labels.ravel(), minlength=100)).pvalue > 1e-3


def test_probabilities_bands_and_band_probability_by_hand():
    task = make_task("rare")
    p = task.class_probabilities()
    assert p.sum() == pytest.approx(1) and p[0] / p[1] == pytest.approx(2**1.5)
    assert task.band_bounds() == {"top_1pct": (0, 10), "top_10pct": (10, 100), "mid": (100, 300), "tail": (300, 1000)}
    total = sum(k**-1.5 for k in range(1, 1001))
    for key, (low, high) in task.band_bounds().items():
        by_hand = sum(k**-1.5 for k in range(low + 1, high + 1)) / total / (high - low)
        assert task.band_probability(key) == pytest.approx(by_hand)
    # the docstring's appearances per class in 300,000 training examples
    appearances = [round(300_000 * task.band_probability(score.key)) for score in task.scores]
    assert appearances == [23482, 546, 50, 9]
    assert make_task("rare", classes=20).band_bounds() == {"top_1pct": (0, 1), "top_10pct": (1, 2), "mid": (2, 6), "tail": (6, 20)}
    assert list(make_task("rare", classes=4).band_bounds().values()) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert make_task("rare", zipf=0).band_probability("tail") == pytest.approx(1 / 1000)


def test_score_counts_by_hand():
    task = make_task("rare")
    labels = np.array([[0, 10], [99, 100], [299, 999]], np.int32)  # bands: top, 1-10 | 1-10, mid | mid, tail
    correct = np.array([[1, 1], [0, 1], [1, 0]], bool)
    mask = np.array([[0, 1], [1, 1], [1, 1]], np.float32)
    counts = jax.jit(task.score_counts)(labels, correct, mask)
    got = {key: (float(right), float(total)) for key, (right, total) in counts.items()}
    assert got == {"top_1pct": (0, 0), "top_10pct": (1, 2), "mid": (2, 2), "tail": (0, 1)}
    assert [score.label for score in task.scores] == ["top 1%", "1-10%", "10-30%", "30-100%"]


def test_sizes_chance_and_floor():
    task = make_task("rare")
    assert (task.max_time, task.input_size, task.output_size) == (20, 32, 1000)
    assert task.chance_cost == pytest.approx(20 * math.log2(1000)) and task.floor_cost() == 0
    assert task.output_kind == "class" and task.paper == {} and "uniform" not in type(task).size_fields()
    with pytest.raises(TaskConfigError, match=r"classes must be at least 4, one per frequency band, got 3\."):
        make_task("rare", classes=3)


def test_the_class_tasks_are_built_and_described_without_jax():
    code = (
        "import sys; from ntm_cli.tasks import make_task\n"
        "rare = make_task('rare'); digits = make_task('digits'); one = make_task('one-shot')\n"
        "assert round(300000 * rare.band_probability('tail')) == 9\n"
        "assert [t.chance_cost > t.floor_cost() for t in (rare, digits, one)] == [True] * 3\n"
        "assert len(one.input_labels()) == one.input_size and digits.heldout().split == 1\n"
        "assert 'jax' not in sys.modules and 'sklearn' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
