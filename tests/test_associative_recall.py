"""Associative recall: the target is the item that followed the query item."""

import jax
import numpy as np

from ntm_cli.tasks import make_task


def _parse(task, inputs_b):
    """(items [count, size, W], query [size, W]) read back from one example's inputs."""
    size, width = task.item_size, task.width
    starts = np.flatnonzero(inputs_b[:, width])
    items = np.stack([inputs_b[s + 1 : s + 1 + size, :width] for s in starts])
    query_delimiters = np.flatnonzero(inputs_b[:, width + 1])
    assert len(query_delimiters) == 2 and query_delimiters[1] - query_delimiters[0] == size + 1
    return items, inputs_b[query_delimiters[0] + 1 : query_delimiters[1], :width], query_delimiters[1]


def test_target_is_the_item_that_followed_the_query():
    task = make_task("recall", width=4, item_size=2, max_items=5)
    batch = task.sample(jax.random.key(0), 128)
    inputs, targets, mask = (np.asarray(a) for a in batch)
    queried = []
    for b in range(inputs.shape[1]):
        items, query, last_delimiter = _parse(task, inputs[:, b])
        matches = [i for i in range(len(items)) if np.array_equal(items[i], query)]
        assert matches and matches[0] < len(items) - 1
        np.testing.assert_array_equal(np.flatnonzero(mask[:, b]), last_delimiter + 1 + np.arange(task.item_size))
        np.testing.assert_array_equal(targets[mask[:, b] == 1, b], items[matches[0] + 1])
        assert not targets[mask[:, b] == 0, b].any()
        assert not inputs[last_delimiter + 1 :, b].any()
        queried.append((len(items), matches[0]))
    # Every position but the last gets queried.
    for count in range(2, 6):
        assert {q for c, q in queried if c == count} == set(range(count - 1))


def test_chance_cost_is_one_item():
    assert make_task("recall").chance_cost == 18


def test_generalisation_variants_have_fixed_item_counts():
    variants = make_task("recall").generalisation_variants()
    for n, task in zip((6, 10, 15, 20), variants.values()):
        inputs = np.asarray(task.sample(jax.random.key(1), 3).inputs)
        assert (inputs[:, :, task.width].sum(axis=0) == n).all()
