"""Addressing, read and write against NumPy references written out by hand (N=7, M=3, 2 heads, batch 5)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntm_cli.models import addressing
from ntm_cli.models.addressing import HeadParams

N, M, HEADS, BATCH, RADIUS = 7, 3, 2, 5, 1
rng = np.random.default_rng(0)


def per_head(fn, *shared):
    """vmap a one-head, one-example function over heads, then batch; `shared` args have no head axis."""

    def lifted(*args):
        in_axes = tuple(None if i in shared else 0 for i in range(len(args)))
        return jax.vmap(jax.vmap(fn, in_axes=in_axes))(*args)

    return lifted


def random_weighting(*shape):
    w = rng.random(shape) + 0.01
    return (w / w.sum(-1, keepdims=True)).astype(np.float32)


# --- NumPy references -----------------------------------------------------------------------------


def np_content(memory, key, beta):
    sim = np.array([key @ row / (np.linalg.norm(key) * np.linalg.norm(row) + 1e-6) for row in memory])
    e = np.exp(beta * sim - np.max(beta * sim))
    return e / e.sum()


def np_shift(w, s):
    n, r = len(w), (len(s) - 1) // 2
    out = np.zeros(n)
    for i in range(n):
        for j in range(n):
            for offset in range(-r, r + 1):
                if (i - j - offset) % n == 0:
                    out[i] += w[j] * s[offset + r]
    return out


def np_sharpen(w, gamma):
    p = w**gamma
    return p / p.sum()


def np_read(memory, w):
    return sum(w[i] * memory[i] for i in range(len(w)))


def np_write(memory, ws, es, adds):
    out = memory.copy()
    for i in range(memory.shape[0]):
        for h in range(len(ws)):
            out[i] = out[i] * (1 - ws[h][i] * es[h])
        for h in range(len(ws)):
            out[i] = out[i] + ws[h][i] * adds[h]
    return out


# --- each function against its reference ------------------------------------------------------------


def test_content_weighting_matches_reference():
    memory = rng.normal(size=(BATCH, N, M)).astype(np.float32)
    keys = rng.normal(size=(BATCH, HEADS, M)).astype(np.float32)
    beta = rng.uniform(0, 10, size=(BATCH, HEADS)).astype(np.float32)
    got = per_head(addressing.content_weighting, 0)(memory, keys, beta)
    for b in range(BATCH):
        for h in range(HEADS):
            np.testing.assert_allclose(got[b, h], np_content(memory[b], keys[b, h], beta[b, h]), rtol=1e-4, atol=1e-6)


def test_content_weighting_with_row_norms_given_equals_computing_them():
    memory = rng.normal(size=(N, M)).astype(np.float32)
    key = rng.normal(size=(M,)).astype(np.float32)
    norms_sq = addressing.row_norms_sq(memory)
    np.testing.assert_allclose(norms_sq, (memory**2).sum(-1), rtol=1e-6)
    np.testing.assert_allclose(
        addressing.content_weighting(memory, key, 3.0, norms_sq), addressing.content_weighting(memory, key, 3.0),
        rtol=1e-6,
    )


def test_cosine_similarity_is_exact_for_parallel_and_orthogonal_rows():
    memory = jnp.array([[2.0, 0, 0], [0, 3.0, 0], [-1.0, 0, 0]])
    np.testing.assert_allclose(addressing.cosine_similarity(memory, jnp.array([5.0, 0, 0])), [1, 0, -1], atol=1e-6)


def test_interpolation_matches_reference():
    wc, wp = random_weighting(BATCH, HEADS, N), random_weighting(BATCH, HEADS, N)
    g = rng.random((BATCH, HEADS)).astype(np.float32)
    got = per_head(addressing.interpolate)(wc, wp, g)
    np.testing.assert_allclose(got, g[..., None] * wc + (1 - g[..., None]) * wp, rtol=1e-6)


def test_shift_matches_reference():
    w = random_weighting(BATCH, HEADS, N)
    s = random_weighting(BATCH, HEADS, 2 * RADIUS + 1)
    got = per_head(addressing.shift)(w, s)
    for b in range(BATCH):
        for h in range(HEADS):
            np.testing.assert_allclose(got[b, h], np_shift(w[b, h], s[b, h]), rtol=1e-5)


def test_shift_with_a_wider_range_matches_reference():
    w, s = random_weighting(N), random_weighting(5)
    np.testing.assert_allclose(addressing.shift(w, s), np_shift(w, s), rtol=1e-5)


def test_sharpen_matches_reference():
    w = random_weighting(BATCH, HEADS, N)
    gamma = rng.uniform(1, 5, size=(BATCH, HEADS)).astype(np.float32)
    got = per_head(addressing.sharpen)(w, gamma)
    for b in range(BATCH):
        for h in range(HEADS):
            np.testing.assert_allclose(got[b, h], np_sharpen(w[b, h], gamma[b, h]), rtol=1e-4)


def test_read_matches_reference():
    memory = rng.normal(size=(BATCH, N, M)).astype(np.float32)
    w = random_weighting(BATCH, HEADS, N)
    got = per_head(addressing.read, 0)(memory, w)
    for b in range(BATCH):
        for h in range(HEADS):
            np.testing.assert_allclose(got[b, h], np_read(memory[b], w[b, h]), rtol=1e-5)


def test_write_with_two_heads_matches_reference():
    memory = rng.normal(size=(BATCH, N, M)).astype(np.float32)
    w = random_weighting(BATCH, HEADS, N)
    erase = rng.random((BATCH, HEADS, M)).astype(np.float32)
    add = rng.normal(size=(BATCH, HEADS, M)).astype(np.float32)
    got = jax.vmap(addressing.write)(memory, w, erase, add)
    for b in range(BATCH):
        np.testing.assert_allclose(got[b], np_write(memory[b], w[b], erase[b], add[b]), rtol=1e-5, atol=1e-6)


def test_full_addressing_composes_the_stages_in_the_papers_order():
    memory = rng.normal(size=(N, M)).astype(np.float32)
    previous = random_weighting(N)
    head = HeadParams(
        key=rng.normal(size=M).astype(np.float32), strength=np.float32(3.0), gate=np.float32(0.7),
        shift=np.array([0.1, 0.2, 0.7], np.float32), sharpen=np.float32(2.5),
    )
    expected = np_content(memory, head.key, 3.0)
    expected = 0.7 * expected + 0.3 * previous
    expected = np_sharpen(np_shift(expected, head.shift), 2.5)
    np.testing.assert_allclose(addressing.address(memory, previous, head), expected, rtol=1e-4)


# --- invariants and scenarios ----------------------------------------------------------------------


@pytest.mark.parametrize("beta, gamma", [(0.0, 1.0), (1.0, 1.0), (50.0, 30.0), (1e3, 100.0)])
def test_weightings_are_non_negative_and_sum_to_one_after_every_stage(beta, gamma):
    memory = rng.normal(size=(N, M)).astype(np.float32)
    key = rng.normal(size=M).astype(np.float32)
    previous = random_weighting(N)
    stages = []
    stages.append(addressing.content_weighting(memory, key, beta))
    stages.append(addressing.interpolate(stages[-1], previous, 0.4))
    stages.append(addressing.shift(stages[-1], jnp.array([0.2, 0.5, 0.3])))
    stages.append(addressing.sharpen(stages[-1], gamma))
    for w in stages:
        assert np.all(np.asarray(w) >= 0)
        np.testing.assert_allclose(np.sum(w), 1.0, rtol=1e-5)


def test_a_plus_one_shift_of_a_one_hot_weighting_is_a_roll_by_one():
    for i in range(N):
        one_hot = jnp.eye(N)[i]
        np.testing.assert_array_equal(addressing.shift(one_hot, jnp.array([0.0, 0.0, 1.0])), jnp.roll(one_hot, 1))
        np.testing.assert_array_equal(addressing.shift(one_hot, jnp.array([1.0, 0.0, 0.0])), jnp.roll(one_hot, -1))
        np.testing.assert_array_equal(addressing.shift(one_hot, jnp.array([0.0, 1.0, 0.0])), one_hot)


def test_sharpening_with_gamma_one_changes_nothing():
    w = random_weighting(N)
    np.testing.assert_allclose(addressing.sharpen(w, 1.0), w, rtol=1e-5)
    one_hot = jnp.eye(N)[3]
    np.testing.assert_allclose(addressing.sharpen(one_hot, 1.0), one_hot, atol=1e-10)


def test_erase_of_one_with_a_one_hot_weighting_clears_exactly_that_row():
    memory = rng.normal(size=(N, M)).astype(np.float32)
    weighting = jnp.eye(N)[None, 4]  # [1, N]
    out = addressing.write(memory, weighting, jnp.ones((1, M)), jnp.zeros((1, M)))
    np.testing.assert_array_equal(out[4], np.zeros(M))
    np.testing.assert_array_equal(np.delete(np.asarray(out), 4, 0), np.delete(memory, 4, 0))


def test_write_is_independent_of_the_order_of_the_heads():
    memory = rng.normal(size=(N, M)).astype(np.float32)
    w, e, a = random_weighting(3, N), rng.random((3, M)), rng.normal(size=(3, M))
    order = [2, 0, 1]
    np.testing.assert_allclose(addressing.write(memory, w, e, a), addressing.write(memory, w[order], e[order], a[order]), rtol=1e-5)


def _address_loss(memory, previous, key, strength, gate, shift_logits, gamma):
    head = HeadParams(key, strength, gate, jax.nn.softmax(shift_logits), gamma)
    w = addressing.address(memory, previous, head)
    r = addressing.read(memory, w)
    new_memory = addressing.write(memory, w[None], jnp.full((1, M), 0.5), r[None])
    return jnp.sum(w * jnp.arange(N)) + jnp.sum(r) + jnp.sum(new_memory**2)


# Compiled whole, as training runs it, and once for the three cases (op by op, ~80 programs).
_address_value_and_grad = jax.jit(jax.value_and_grad(_address_loss, argnums=tuple(range(7))))


@pytest.mark.parametrize("zero_memory, zero_previous", [(True, False), (False, True), (True, True)])
def test_values_and_gradients_are_finite_with_zero_memory_and_zero_weightings(zero_memory, zero_previous):
    memory = np.zeros((N, M), np.float32) if zero_memory else rng.normal(size=(N, M)).astype(np.float32)
    previous = np.zeros(N, np.float32) if zero_previous else random_weighting(N)
    args = (memory, previous, np.zeros(M, np.float32), 5.0, 0.0 if zero_previous else 0.5, np.zeros(3, np.float32), 20.0)
    value, grads = _address_value_and_grad(*args)
    assert np.isfinite(value)
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g)))
