"""What every task shares: shapes, masks, determinism, no retrace, uniform sizes, bad sizes."""

import subprocess
import sys

import jax
import numpy as np
import pytest
from scipy import stats

from ntm_cli.tasks import base as task_base
from ntm_cli.tasks import ALIASES, TASK_NAMES, TaskConfigError, UnknownTaskError, canonical_name, make_task

SMALL = {  # sizes that keep each task quick while exercising padding
    "copy": {"max_length": 6},
    "repeat-copy": {"max_length": 4, "max_repeats": 3},
    "associative-recall": {"max_items": 4},
    "dynamic-ngrams": {"length": 30},
    "priority-sort": {"num_inputs": 7, "num_outputs": 4},
    "one-shot": {"classes": 3, "showings": 4},
    "one-shot-digits": {"classes": 3, "showings": 4},
    "rare-events": {"classes": 50, "length": 10},
}


@pytest.mark.parametrize("name", TASK_NAMES)
def test_batch_shapes_dtypes_and_mask(name):
    task = make_task(name, **SMALL[name])
    inputs, targets, mask = task.sample(jax.random.key(0), 16)
    assert inputs.shape == (task.max_time, 16, task.input_size)
    assert targets.shape == (task.max_time, 16, task.output_size)
    assert mask.shape == (task.max_time, 16)
    assert inputs.dtype == targets.dtype == mask.dtype == np.float32
    assert set(np.unique(np.asarray(targets))) <= {0.0, 1.0}
    assert set(np.unique(np.asarray(mask))) <= {0.0, 1.0}
    assert not np.asarray(targets)[np.asarray(mask) == 0].any()


@pytest.mark.parametrize("name", TASK_NAMES)
def test_chance_cost_is_the_expected_number_of_scored_target_bits(name):
    """Each scored bit costs 1 bit at chance; each scored class answer log2(classes) bits."""
    task = make_task(name, **SMALL[name])
    mask = np.asarray(task.sample(jax.random.key(1), 4000).mask)
    per_step = np.log2(task.output_size) if task.output_kind == "class" else task.output_size
    scored_bits = mask.sum(axis=0) * per_step
    assert abs(scored_bits.mean() - task.chance_cost) < 0.03 * task.chance_cost


@pytest.mark.parametrize("name", TASK_NAMES)
def test_sample_is_compiled_once_per_task_and_batch_size(name, monkeypatch):
    """`Task.sample` traces `sample_one` once for a task and batch size, then reuses the program
    for every key: without the jit, every call would trace it again."""
    task = make_task(name, **SMALL[name])
    traces = []
    original = type(task).sample_one

    def counted(self, key):
        traces.append(1)
        return original(self, key)

    monkeypatch.setattr(type(task), "sample_one", counted)
    # Forget what other tests in this process traced and compiled (the jitted wrappers, and JAX's
    # own trace cache, keyed by the function and the equal task), so that the first call traces.
    task_base._compiled.cache_clear()
    jax.clear_caches()
    batches = [task.sample(jax.random.key(seed), 8) for seed in range(4)]
    assert len(traces) == 1
    assert not np.array_equal(batches[0].inputs, batches[1].inputs)  # different keys, different data


@pytest.mark.parametrize("name", TASK_NAMES)
def test_example_i_does_not_depend_on_batch_size(name):
    task = make_task(name, **SMALL[name])
    key = jax.random.key(7)
    small, large = task.sample(key, 8), task.sample(key, 16)  # the batch sizes the tests above compiled
    one = task.sample_at(key, 2)
    for a, b, c in zip(small, large, one):
        np.testing.assert_array_equal(a[:, 2], b[:, 2])
        np.testing.assert_array_equal(a[:, 2], c[:, 0])


def _chi_square_p(values, low, high):
    counts = np.bincount(values - low, minlength=high - low + 1)
    return stats.chisquare(counts).pvalue


def test_lengths_repeats_and_item_counts_are_uniform_over_their_ranges():
    n = 6000
    copy = make_task("copy", min_length=3, max_length=12)
    lengths = np.asarray(copy.sample(jax.random.key(0), n).mask).sum(axis=0).astype(int)
    assert lengths.min() == 3 and lengths.max() == 12
    assert _chi_square_p(lengths, 3, 12) > 1e-3

    repeat = make_task("repeat", min_length=2, max_length=7, min_repeats=1, max_repeats=5)
    inputs = np.asarray(repeat.sample(jax.random.key(1), n).inputs)
    length = inputs[:, :, repeat.width].argmax(axis=0)
    mean, std = repeat.repeat_mean_std
    repeats = np.rint(inputs[length, np.arange(n), repeat.width + 1] * std + mean).astype(int)
    assert _chi_square_p(length, 2, 7) > 1e-3 and _chi_square_p(repeats, 1, 5) > 1e-3
    assert abs(np.corrcoef(length, repeats)[0, 1]) < 0.05  # drawn independently

    recall = make_task("recall", min_items=2, max_items=6)
    counts = np.asarray(recall.sample(jax.random.key(2), n).inputs)[:, :, recall.width].sum(axis=0).astype(int)
    assert _chi_square_p(counts, 2, 6) > 1e-3


def test_names_and_aliases_resolve():
    assert set(ALIASES) == {"sort", "recall", "ngrams", "repeat", "oneshot", "digits", "rare"}
    for alias, name in ALIASES.items():
        assert canonical_name(alias) == name
        assert make_task(alias).name == name
    assert canonical_name("Priority_Sort") == "priority-sort"
    for name in TASK_NAMES:
        assert make_task(name).name == name


def test_unknown_task_names_the_valid_ones():
    with pytest.raises(UnknownTaskError, match=r"Unknown task 'nosuchtask'; valid tasks are copy, .*sort"):
        make_task("nosuchtask")


@pytest.mark.parametrize(
    "name, sizes, message",
    [
        ("copy", {"min_length": 0}, "min length must be at least 1"),
        ("copy", {"max_length": 0}, "max length"),
        ("copy", {"min_length": 5, "max_length": 4}, r"max length \(4\) must not be below min length \(5\)"),
        ("copy", {"width": -3}, "width must be at least 1"),
        ("copy", {"width": 2.5}, "must be a whole number"),
        ("repeat", {"min_repeats": 0}, "min repeats must be at least 1"),
        ("repeat", {"min_repeats": 4, "max_repeats": 2}, "max repeats"),
        ("recall", {"min_items": 1}, "min items must be at least 2"),
        ("recall", {"item_size": 0}, "item size must be at least 1"),
        ("ngrams", {"order": 0}, "order must be between 1 and 16"),
        ("ngrams", {"length": 0}, "length must be at least 1"),
        ("sort", {"num_outputs": 21}, r"num outputs \(21\) cannot exceed num inputs \(20\)"),
        ("sort", {"num_inputs": -1}, "num inputs must be at least 1"),
        ("copy", {"min_repeats": 2}, "--min-repeats does not apply to task copy, which takes --width"),
    ],
)
def test_impossible_sizes_raise_one_clear_sentence(name, sizes, message):
    with pytest.raises(TaskConfigError, match=message) as error:
        make_task(name, **sizes)
    text = str(error.value)
    assert text.endswith(".") and "\n" not in text


def test_smallest_sizes_still_sample():
    for name, sizes in [
        ("copy", {"min_length": 1, "max_length": 1, "width": 1}),
        ("repeat", {"max_length": 1, "max_repeats": 1, "width": 1}),
        ("recall", {"max_items": 2, "item_size": 1, "width": 1}),
        ("ngrams", {"order": 1, "length": 1}),
        ("sort", {"num_inputs": 1, "num_outputs": 1, "width": 1}),
    ]:
        task = make_task(name, **sizes)
        batch = task.sample(jax.random.key(0), 2)
        assert batch.inputs.shape[0] == task.max_time and float(batch.mask.sum()) > 0


@pytest.mark.parametrize("name", TASK_NAMES)
def test_render_shows_every_channel_and_the_mask(name):
    task = make_task(name, **SMALL[name])
    batch = task.sample(jax.random.key(0), 2)
    text = task.render(batch, 1)
    rows = [line for line in text.splitlines() if line.strip().startswith(("input ", "target ", "mask"))]
    if task.output_kind == "class":  # the target class as a number a step, not a row per class
        (classes,) = [line for line in rows if line.startswith("target class by step: ")]
        labels = np.argmax(np.asarray(batch.targets[:, 1]), -1)[: len(classes.split()) - 4]
        assert classes.split()[4:] == [str(c) for c in labels]
        rows.remove(classes)
        assert len(rows) == task.input_size + 1
    else:
        assert len(rows) == task.input_size + task.output_size + 1
    mask_row = next(r for r in rows if r.strip().startswith("mask")).split()[-1]
    assert mask_row.count("#") == int(batch.mask[:, 1].sum())


def test_importing_tasks_does_not_import_jax():
    code = "import sys, ntm_cli.tasks as t; t.canonical_name('sort'); t.make_task('copy'); assert 'jax' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
