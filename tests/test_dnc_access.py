"""The DNC's memory access: hand-computed values, DeepMind-style invariants, scenarios, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntm_cli.models import dnc_access as dnc

N = 7
rng = np.random.default_rng(0)


def distribution(*shape, total=1.0):
    w = rng.random(shape) + 0.01
    return (total * w / w.sum(-1, keepdims=True)).astype(np.float32)


def one_hot(i, n=N):
    return jnp.zeros((n,)).at[i].set(1.0)


# --- hand-computed values ----------------------------------------------------------------------------


def test_allocation_goes_to_free_rows_least_used_first():
    usage = jnp.array([0.5, 0.1, 0.9])
    # order by usage: row 1 (0.1), row 0 (0.5), row 2 (0.9)
    expected = [(1 - 0.5) * 0.1, 1 - 0.1, (1 - 0.9) * 0.1 * 0.5]
    np.testing.assert_allclose(dnc.allocation(usage), expected, rtol=1e-4)
    np.testing.assert_allclose(dnc.allocation(jnp.ones(4)), 0.0, atol=1e-5)  # a full memory allocates nothing
    np.testing.assert_allclose(dnc.allocation(jnp.zeros(4)), [1, 0, 0, 0], atol=1e-5)  # ties: the first row


def test_usage_counts_writes_and_releases_what_was_freed():
    usage = jnp.array([0.2, 0.0, 1.0])
    writes = jnp.array([[0.5, 0.5, 0.0]])
    reads = jnp.array([[0.0, 0.0, 1.0]])
    got = dnc.update_usage(usage, writes, jnp.array([1.0]), reads)
    # row 0: 0.2 + 0.8 * 0.5 = 0.6; row 1: 0.5; row 2: fully read with free gate 1 -> released
    np.testing.assert_allclose(got, [0.6, 0.5, 0.0], atol=1e-6)
    kept = dnc.update_usage(usage, writes, jnp.array([0.0]), reads)  # free gate 0 keeps it
    np.testing.assert_allclose(kept, [0.6, 0.5, 1.0], atol=1e-6)


def test_write_weighting_mixes_allocation_and_content_under_the_write_gate():
    content, alloc = jnp.array([0.0, 1.0, 0.0]), jnp.array([1.0, 0.0, 0.0])
    np.testing.assert_allclose(dnc.write_weighting(content, alloc, 0.5, 0.25), [0.125, 0.375, 0.0])
    np.testing.assert_allclose(dnc.write_weighting(content, alloc, 0.0, 0.25), 0.0)


def test_two_write_heads_allocate_different_rows():
    allocations = dnc.write_allocations(jnp.array([0.9, 0.0, 0.8, 0.1]), jnp.array([1.0, 1.0]))
    assert int(jnp.argmax(allocations[0])) == 1 and int(jnp.argmax(allocations[1])) == 3


def test_read_weighting_takes_each_mode_as_its_weight_says():
    backward, forward = jnp.array([one_hot(0)]), jnp.array([one_hot(2)])
    content = one_hot(1)
    np.testing.assert_allclose(dnc.read_weighting(backward, content, forward, jnp.array([0.0, 0.0, 1.0])), one_hot(2))
    mixed = dnc.read_weighting(backward, content, forward, jnp.array([0.2, 0.3, 0.5]))
    np.testing.assert_allclose(mixed[:3], [0.2, 0.3, 0.5], rtol=1e-6)


# --- scenarios --------------------------------------------------------------------------------------


def test_writing_row_0_then_row_1_links_them_and_a_forward_read_moves_on():
    link, precedence = jnp.zeros((N, N)), jnp.zeros(N)
    for row in (0, 1):
        w = one_hot(row)
        link = dnc.update_link(link, precedence, w)
        precedence = dnc.update_precedence(precedence, w)
    assert float(link[1, 0]) == 1.0 and float(jnp.sum(link)) == 1.0
    forward, backward = dnc.directional_weights(link, one_hot(0))
    np.testing.assert_allclose(forward, one_hot(1))  # from row 0, forward lands on row 1
    forward, backward = dnc.directional_weights(link, one_hot(1))
    np.testing.assert_allclose(backward, one_hot(0))  # and back
    np.testing.assert_allclose(precedence, one_hot(1))


# --- invariants over random sequences (as in deepmind/dnc's tests) ----------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_link_precedence_usage_and_allocation_stay_in_range(seed):
    rng_ = np.random.default_rng(seed)
    link, precedence, usage = jnp.zeros((N, N)), jnp.zeros(N), jnp.zeros(N)
    writes, reads = jnp.zeros((1, N)), jnp.zeros((2, N))
    for _ in range(12):
        free = jnp.asarray(rng_.random(2), jnp.float32)
        usage = dnc.update_usage(usage, writes, free, reads)
        assert jnp.all((usage >= 0) & (usage <= 1 + 1e-6))
        alloc = dnc.allocation(usage)
        assert float(jnp.sum(alloc)) <= 1 + 1e-5 and jnp.all(alloc >= 0)
        assert int(jnp.argmax(alloc)) == int(jnp.argmin(usage))  # the least-used row
        content = jnp.asarray(distribution(N), jnp.float32)
        w = dnc.write_weighting(content, alloc, jnp.float32(rng_.random()), jnp.float32(rng_.random()))
        assert float(jnp.sum(w)) <= 1 + 1e-5
        link = dnc.update_link(link, precedence, w)
        precedence = dnc.update_precedence(precedence, w)
        assert jnp.all((link >= 0) & (link <= 1)) and jnp.all(jnp.diag(link) == 0)
        assert jnp.all(link.sum(0) <= 1 + 1e-5) and jnp.all(link.sum(1) <= 1 + 1e-5)
        assert float(jnp.sum(precedence)) <= 1 + 1e-5 and jnp.all(precedence >= 0)
        writes = w[None]
        reads = jnp.asarray(distribution(2, N), jnp.float32)


# --- gradients ------------------------------------------------------------------------------------


@pytest.mark.parametrize("usage", [jnp.zeros(N), jnp.full((N,), 0.5), jnp.ones(N)], ids=["empty", "tied", "full"])
def test_allocation_has_finite_gradients_with_empty_tied_and_full_memory(usage):
    weights = jnp.arange(1.0, N + 1)
    grad = jax.grad(lambda u: jnp.sum(weights * dnc.allocation(u)))(usage)
    assert jnp.all(jnp.isfinite(grad))


def test_allocation_gradient_matches_finite_differences_for_a_fixed_order():
    with jax.enable_x64(True):
        usage = jnp.array([0.3, 0.05, 0.7, 0.5], jnp.float64)
        weights = jnp.array([1.0, 2.0, 3.0, 4.0], jnp.float64)
        f = lambda u: jnp.sum(weights * dnc.allocation(u))
        grad = jax.grad(f)(usage)
        step = 1e-6
        numeric = [(f(usage.at[i].add(step)) - f(usage.at[i].add(-step))) / (2 * step) for i in range(4)]
        np.testing.assert_allclose(grad, numeric, rtol=1e-5)


def _reference_link_and_directions(link, precedence, write_weights, read_weights):
    """`link_and_directions` from the per-head reference functions, differentiated automatically."""
    updated = jax.vmap(dnc.update_link)(link, precedence, write_weights)
    per_pair = jax.vmap(jax.vmap(dnc.directional_weights, in_axes=(None, 0)), in_axes=(0, None))
    forward, backward = per_pair(updated, read_weights)
    return updated, forward, backward


def test_fused_link_step_matches_the_reference_in_value_and_gradient():
    with jax.enable_x64(True):
        heads, readers = 2, 3
        link = jnp.asarray(distribution(heads, N, N, total=0.5), jnp.float64) * (1 - jnp.eye(N))
        precedence = jnp.asarray(distribution(heads, N, total=0.8), jnp.float64)
        writes = jnp.asarray(distribution(heads, N, total=0.9), jnp.float64)
        reads = jnp.asarray(distribution(readers, N), jnp.float64)
        weights = [jnp.asarray(rng.standard_normal(shape)) for shape in [(heads, N, N), (heads, readers, N), (heads, readers, N)]]

        def loss(fn, *args):
            return sum(jnp.sum(c * out) for c, out in zip(weights, fn(*args)))

        # Each side compiled whole, as the model runs it (op by op, the test compiled ~200 programs).
        for got, want in zip(jax.jit(dnc.link_and_directions)(link, precedence, writes, reads),
                             jax.jit(_reference_link_and_directions)(link, precedence, writes, reads)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        args = (link, precedence, writes, reads)
        fused = jax.jit(jax.grad(lambda *a: loss(dnc.link_and_directions, *a), argnums=(0, 1, 2, 3)))(*args)
        reference = jax.jit(jax.grad(lambda *a: loss(_reference_link_and_directions, *a), argnums=(0, 1, 2, 3)))(*args)
        for name, got, want in zip(["link", "precedence", "write weights", "read weights"], fused, reference):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)
        # and under vmap over a batch, as the model calls it: two different examples, each with
        # its own cotangents, so that mixing up the examples in the backward pass would show
        batch = [jnp.stack([x, jnp.flip(x, -1)]) for x in args]
        batch_weights = [jnp.stack([c, -2.0 * jnp.flip(c, -1)]) for c in weights]

        def batched_loss(fn):
            return lambda *a: sum(jnp.sum(c * out) for c, out in zip(batch_weights, jax.vmap(fn)(*a)))

        fused = jax.jit(jax.grad(batched_loss(dnc.link_and_directions), argnums=(0, 1, 2, 3)))(*batch)
        reference = jax.jit(jax.grad(batched_loss(_reference_link_and_directions), argnums=(0, 1, 2, 3)))(*batch)
        for got, want in zip(fused, reference):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
