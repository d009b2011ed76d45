"""The key-value memory's rules (Kaiser et al., 2017), each against cases worked out by hand, and
the sort-free neighbour ranks against an explicit top-k."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntm_cli.models import kv_access as kv



# Jitted once per shape (and k): the tests below call them many times.
margin_pair = jax.jit(kv.margin_pair, static_argnums=3)
nearest_neighbours = jax.jit(kv.nearest_neighbours, static_argnums=2)


@jax.jit
def answer_and_update(mem, queries, labels, active, key, noise):
    """Answers the queries from `mem` (t = 1), then writes their labels."""
    answered = kv.answer(mem, kv.similarities(mem, queries), mem.recent.shape[0], 1.0)
    return kv.update(mem, answered, queries, labels, active, key, noise)


def unit(*angles_degrees):
    """Unit keys in the plane at these angles: `[len, 2]`."""
    radians = np.deg2rad(angles_degrees)
    return jnp.asarray(np.stack([np.cos(radians), np.sin(radians)], -1), jnp.float32)


def memory(keys, values, ages=None, recent=None, classes=3):
    n = len(values)
    return kv.KVState(
        keys=jnp.asarray(keys, jnp.float32),
        values=jnp.asarray(values, jnp.int32),
        ages=jnp.asarray(ages if ages is not None else [0] * n, jnp.int32),
        recent=jnp.asarray(recent if recent is not None else [-1] * classes, jnp.int32),
    )


def test_temperature_gives_a_neighbour_ahead_by_the_margin_a_sixth_of_the_softmax():
    assert kv.temperature(256, 0.1) == pytest.approx(math.log(51.2) / 0.1)  # ~39.4
    t = kv.temperature(256, 0.1)
    weights = jax.nn.softmax(jnp.asarray([t * 0.1] + [0.0] * 255))  # one neighbour ahead by the margin
    # e^(t alpha) = 0.2 k, so its weight is 0.2 k / (k - 1 + 0.2 k) ~ 1/6 (the official comment's
    # "20%" leaves the neighbour's own term out of the denominator)
    assert float(weights[0]) == pytest.approx(51.2 / (255 + 51.2), rel=1e-5)
    assert kv.temperature(5, 0.1) == 1.0  # log(0.2 k) <= 0: never below 1


def test_an_empty_memory_matches_nothing_not_even_class_0():
    empty = kv.empty_memory(4, 2, 3)
    assert empty.keys.shape == (4, 2) and empty.values.tolist() == [-1] * 4 and empty.recent.tolist() == [-1] * 3
    q = unit(0.0)
    similarity = kv.similarities(empty, q)
    assert np.all(np.isneginf(similarity))
    answered = kv.answer(empty, similarity, 3, 10.0)
    assert answered.value.tolist() == [-1]
    np.testing.assert_allclose(answered.logits, [[-10.0, -10.0, -10.0]])  # every class equally likely
    pair = kv.margin_pair(empty, similarity, jnp.asarray([0]), 2)
    assert not pair.has_positive[0] and not pair.has_negative[0]
    assert float(kv.margin_loss(q, pair, 0.1)[0]) == pytest.approx(0.1)  # a constant: no gradient
    assert np.all(jax.grad(lambda q: kv.margin_loss(q, pair, 0.1).sum())(q) == 0)


def test_answer_is_the_nearest_slots_value_and_each_class_scores_its_nearest_slot():
    # slots at 0, 60, 30, 90 degrees holding 0, 1, 0, (empty); the query at 20 degrees
    mem = memory(unit(0.0, 60.0, 30.0, 90.0), [0, 1, 0, -1])
    q = unit(20.0)
    similarity = kv.similarities(mem, q)
    np.testing.assert_allclose(similarity[0, :3], np.cos(np.deg2rad([20.0, 40.0, 10.0])), rtol=1e-6)
    assert np.isneginf(similarity[0, 3])
    answered = kv.answer(mem, similarity, 3, 2.0)
    assert int(answered.nearest[0]) == 2 and int(answered.value[0]) == 0
    np.testing.assert_allclose(answered.logits[0], [2 * np.cos(np.deg2rad(10.0)), 2 * np.cos(np.deg2rad(40.0)), -2.0],
                               rtol=1e-6)


def test_ties_go_to_the_lower_slot_in_the_answer_and_the_top_k():
    mem = memory(unit(10.0, 0.0, 0.0), [0, 1, 2])
    q = unit(0.0)
    answered = kv.answer(mem, kv.similarities(mem, q), 3, 1.0)
    assert int(answered.nearest[0]) == 1 and int(answered.value[0]) == 1
    lookup = kv.nearest_neighbours(mem, q, 3)
    assert lookup.slots[0].tolist() == [1, 2, 0] and lookup.values[0].tolist() == [1, 2, 0]


def test_the_positive_is_the_nearest_slot_of_the_class_within_the_k_else_its_recent_slot():
    # slots at 0, 10, 20, 30 degrees holding 1, 1, 0, 0; the query at 0, true class 0
    keys = unit(0.0, 10.0, 20.0, 30.0)
    q, label = unit(0.0), jnp.asarray([0])
    within = memory(keys, [1, 1, 0, 0], recent=[3, -1, -1])
    pair = kv.margin_pair(within, kv.similarities(within, q), label, 3)  # neighbours: slots 0, 1, 2
    assert pair.has_positive[0] and pair.has_negative[0]
    np.testing.assert_allclose(pair.positive[0], keys[2])  # slot 2, not the recent slot 3
    np.testing.assert_allclose(pair.negative[0], keys[0])
    loss = kv.margin_loss(q, pair, 0.1)
    assert float(loss[0]) == pytest.approx(1.0 - np.cos(np.deg2rad(20.0)) + 0.1, rel=1e-6)
    # the gradient reaches the query alone: d loss / d q = K[b] - K[p] while the hinge is on
    np.testing.assert_allclose(jax.grad(lambda q: kv.margin_loss(q, pair, 0.1).sum())(q)[0], keys[0] - keys[2],
                               atol=1e-6)

    beyond = kv.margin_pair(within, kv.similarities(within, q), label, 2)  # neighbours: slots 0, 1 only
    assert beyond.has_positive[0]
    np.testing.assert_allclose(beyond.positive[0], keys[3])  # R[0] = slot 3, which still holds 0

    overwritten = memory(keys, [1, 1, 0, 2], recent=[3, -1, -1])  # R[0] now holds class 2
    gone = kv.margin_pair(overwritten, kv.similarities(overwritten, q), label, 2)
    assert not gone.has_positive[0] and np.all(gone.positive[0] == 0)  # s_p = 0

    only_positives = memory(keys, [0, 0, 1, 1])
    near = kv.margin_pair(only_positives, kv.similarities(only_positives, q), label, 2)
    assert near.has_positive[0] and not near.has_negative[0] and np.all(near.negative[0] == 0)  # s_b = 0


@pytest.mark.parametrize("seed", range(4))
def test_sort_free_pair_equals_the_first_positive_and_negative_of_an_explicit_top_k(seed):
    """What `margin_pair` finds by counting ranks is what the paper's sorted neighbour list gives:
    random memories with many slots per class, empty slots, and exactly tied keys."""
    rng = np.random.default_rng(seed)
    n, d, classes, q_count = 40, 3, 5, 8
    keys = rng.normal(size=(n, d)).astype(np.float32)
    keys[5] = keys[6]  # an exact tie
    keys /= np.linalg.norm(keys, axis=-1, keepdims=True)
    values = rng.integers(-1, classes, n)
    # the recent slot of a class: its last slot, or (for class 0) one overwritten since by class 1
    recent = np.array([np.flatnonzero(values == c)[-1] if (values == c).any() else -1 for c in range(classes)])
    if (values == 1).any():
        recent[0] = np.flatnonzero(values == 1)[0]
    mem = memory(keys, values, recent=recent, classes=classes)
    queries = kv.normalise(jnp.asarray(rng.normal(size=(q_count, d)), jnp.float32))
    labels = jnp.asarray(rng.integers(0, classes, q_count), jnp.int32)
    for k in (1, 3, 10, n):
        pair = margin_pair(mem, kv.similarities(mem, queries), labels, k)
        lookup = nearest_neighbours(mem, queries, k)
        for i in range(q_count):
            vals, slots = np.asarray(lookup.values[i]), np.asarray(lookup.slots[i])
            label = int(labels[i])
            positive = np.flatnonzero(vals == label)
            negative = np.flatnonzero((vals >= 0) & (vals != label))
            fallback = recent[label] >= 0 and values[recent[label]] == label
            if positive.size:
                expected_positive = keys[slots[positive[0]]]
            elif fallback:
                expected_positive = keys[recent[label]]
            else:
                expected_positive = np.zeros(d)
            assert bool(pair.has_positive[i]) == bool(positive.size or fallback)
            expected_negative = keys[slots[negative[0]]] if negative.size else np.zeros(d)
            np.testing.assert_allclose(pair.positive[i], expected_positive, err_msg=f"k={k}, query {i}")
            np.testing.assert_allclose(pair.negative[i], expected_negative, err_msg=f"k={k}, query {i}")
            assert bool(pair.has_negative[i]) == bool(negative.size)


def test_a_right_answer_updates_its_slot_and_a_wrong_one_writes_the_oldest():
    keys = unit(0.0, 90.0, 180.0)
    mem = memory(keys, [0, 1, -1], ages=[5, 9, 0], recent=[0, 1, -1])
    q = unit(30.0, 0.0)  # query 0 is near slot 0 (class 0): right; query 1 (class 2) is wrong
    labels = jnp.asarray([0, 2])
    new, written = answer_and_update(mem, q, labels, jnp.asarray([True, True]), jax.random.key(0), 0.0)
    expected = np.asarray(q[0] + keys[0])
    np.testing.assert_allclose(new.keys[0], expected / np.linalg.norm(expected), rtol=1e-6)  # normalise(q + K)
    np.testing.assert_allclose(new.keys[2], q[1])  # the empty slot is written before the older slot 1
    assert new.values.tolist() == [0, 1, 2] and new.ages.tolist() == [0, 10, 0]  # others grow by 1
    assert new.recent.tolist() == [0, 1, 2]
    assert written.slot.tolist() == [0, 2] and written.updated.tolist() == [True, False]

    # a full memory: the oldest slot goes (no noise), never one a right answer just updated
    full = memory(keys, [0, 1, 1], ages=[50, 9, 3], recent=[0, 2, -1])
    new, written = answer_and_update(full, q, labels, jnp.asarray([True, True]), jax.random.key(0), 0.0)
    assert written.slot.tolist() == [0, 1]  # slot 0 is the oldest but was updated: slot 1 is next
    assert new.values.tolist() == [0, 2, 1] and new.ages.tolist() == [0, 0, 4]


def test_two_right_answers_on_one_slot_add_both_queries_whatever_their_order():
    keys = unit(0.0, 180.0)
    mem = memory(keys, [0, 1])
    q = unit(20.0, -10.0)
    labels, active = jnp.asarray([0, 0]), jnp.asarray([True, True])
    results = []
    for order in ([0, 1], [1, 0]):
        qq = q[jnp.asarray(order)]
        new, _ = answer_and_update(mem, qq, labels, active, jax.random.key(0), 8.0)
        results.append(np.asarray(new.keys))
    expected = np.asarray(keys[0] + q[0] + q[1])
    np.testing.assert_allclose(results[0][0], expected / np.linalg.norm(expected), rtol=1e-6)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_wrong_answers_of_a_batch_write_distinct_slots_and_the_last_of_a_class_is_its_recent_slot():
    mem = kv.empty_memory(6, 2, 3)
    q = unit(0.0, 90.0, 180.0, 270.0)
    labels = jnp.asarray([2, 2, 0, 2])
    chosen = set()
    for seed in range(8):
        new, written = answer_and_update(mem, q, labels, jnp.ones(4, bool), jax.random.key(seed), 8.0)
        slots = written.slot.tolist()
        assert len(set(slots)) == 4 and int(new.recent[2]) == slots[3] and int(new.recent[0]) == slots[2]
        assert sorted(new.values.tolist()) == [-1, -1, 0, 2, 2, 2]
        chosen.add(tuple(slots))
    assert len(chosen) > 1  # the age noise orders the empty slots, as the official code's does


def test_the_oldest_slot_is_chosen_up_to_the_age_noise_and_empty_slots_come_first():
    rows = 8
    keys = kv.normalise(jnp.asarray(np.random.default_rng(0).normal(size=(rows, 2)), jnp.float32))
    ages = [100, 99, 95, 3, 2, 1, 0, 50]
    q, labels, active = unit(45.0), jnp.asarray([1]), jnp.asarray([True])
    mem = memory(keys, [0] * rows, ages=ages)  # every answer is 0 and the true class 1: a write
    picks = [int(answer_and_update(mem, q, labels, active, jax.random.key(seed), 8.0)[1].slot[0]) for seed in range(40)]
    assert set(picks) <= {0, 1, 2} and len(set(picks)) > 1  # within U(-8, 8) of the oldest, never far younger
    assert int(answer_and_update(mem, q, labels, active, jax.random.key(0), 0.0)[1].slot[0]) == 0  # no noise: the oldest
    with_empty = memory(keys, [0] * 7 + [-1], ages=ages)
    for seed in range(10):  # the empty slot, however old the others
        assert int(answer_and_update(with_empty, q, labels, active, jax.random.key(seed), 8.0)[1].slot[0]) == 7


def test_an_unscored_query_writes_nothing_and_ages_nothing():
    mem = memory(unit(0.0, 90.0), [0, 1], ages=[3, 4], recent=[0, 1, -1])
    q = unit(0.0)
    new, written = answer_and_update(mem, q, jnp.asarray([2]), jnp.asarray([False]), jax.random.key(0), 8.0)
    assert written.slot.tolist() == [-1]
    for a, b in zip(new, mem):
        np.testing.assert_array_equal(a, b)


def test_the_memory_is_never_trained_by_gradient():
    mem = memory(unit(0.0, 40.0, 80.0), [0, 1, 2], recent=[0, 1, 2])
    q = unit(10.0)

    def loss(keys):
        m = mem._replace(keys=keys)
        pair = kv.margin_pair(m, kv.similarities(m, q), jnp.asarray([1]), 2)
        return kv.margin_loss(q, pair, 0.1).sum()

    assert float(loss(mem.keys)) > 0
    assert np.all(jax.grad(loss)(mem.keys) == 0)
