"""The time loop skips the steps after a batch's last scored step: which steps those are, and
that skipping them changes neither the scored outputs nor any gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

from ntm_cli.models import DNCConfig, LSTMConfig, NTMConfig, build_model
from ntm_cli.models.base import live_scan, live_steps, scan_steps
from ntm_cli.tasks.copy import CopyTask


def test_live_steps_end_at_the_last_step_any_sequence_is_scored():
    mask = np.zeros((6, 2), np.float32)
    mask[1, 0] = 1.0  # sequence 0 is scored at step 1
    mask[3, 1] = 0.5  # sequence 1 at step 3 (a weight, not only 1)
    np.testing.assert_array_equal(live_steps(jnp.asarray(mask)), [True, True, True, True, False, False])
    np.testing.assert_array_equal(live_steps(jnp.zeros((3, 2))), [False, False, False])
    np.testing.assert_array_equal(live_steps(jnp.ones((3, 1))), [True, True, True])


def test_live_steps_over_a_named_vmapped_axis_are_those_of_any_member_and_not_batched():
    masks = jnp.zeros((3, 5, 1)).at[0, 1, 0].set(1.0).at[2, 3, 0].set(1.0)  # [seeds, T, B]
    union = jax.vmap(lambda m: live_steps(m, "seeds"), axis_name="seeds")(masks)
    np.testing.assert_array_equal(union, [[True, True, True, True, False]] * 3)
    # Unbatched, so a condition on it stays a condition inside the vmap (not a select).
    jaxpr = jax.make_jaxpr(jax.vmap(
        lambda m, x: jax.lax.cond(live_steps(m, "seeds")[0], jnp.sin, jnp.cos, x), axis_name="seeds"))(
        masks, jnp.ones((3, 2)))
    assert "cond[" in str(jaxpr) and "select_n" not in str(jaxpr)


def _toy_step(state, x, w, u):
    """A small nonlinear recurrence: state `[B, H]`, x `[B, I]`, w `[H, H]`, u `[I, H]`."""
    new = jnp.tanh(state @ w + x @ u)
    return new, (jnp.sum(new**2, axis=-1), new[:, :1])


def _toy(dtype=jnp.float32, steps=7, batch=3):
    keys = jax.random.split(jax.random.key(0), 4)
    state = jax.random.normal(keys[0], (batch, 4), dtype)
    xs = jax.random.normal(keys[1], (steps, batch, 2), dtype)
    w = 0.5 * jax.random.normal(keys[2], (4, 4), dtype)
    u = jax.random.normal(keys[3], (2, 4), dtype)
    return state, xs, w, u


def test_live_scan_runs_the_live_steps_and_passes_the_state_through_the_others():
    state, xs, w, u = _toy()
    live = jnp.array([True, True, True, True, False, False, False])
    final, (norms, first) = live_scan(_toy_step, live, state, xs, w, u)
    ref_final, (ref_norms, ref_first) = jax.lax.scan(lambda s, x: _toy_step(s, x, w, u), state, xs[:4])
    np.testing.assert_allclose(final, ref_final, rtol=1e-6)
    np.testing.assert_allclose(norms[:4], ref_norms, rtol=1e-6)
    np.testing.assert_allclose(first[:4], ref_first, rtol=1e-6)
    np.testing.assert_array_equal(norms[4:], 0.0)
    np.testing.assert_array_equal(first[4:], 0.0)


def test_live_scan_gradients_are_the_automatic_ones_of_the_live_steps():
    """Against the gradient of a plain scan over the live steps (float64), and `check_grads`
    (numerical differences) of the hand-written backward pass itself."""
    with jax.enable_x64(True):
        state, xs, w, u = _toy(jnp.float64)
        live = jnp.array([True, True, True, True, True, False, False])

        def loss(state, xs, w, u):
            final, (norms, first) = live_scan(_toy_step, live, state, xs, w, u)
            return jnp.sum(jnp.sin(norms)) + jnp.sum(first * jnp.arange(3.0)[:, None]) + jnp.sum(final**3)

        def reference(state, xs, w, u):
            final, (norms, first) = jax.lax.scan(lambda s, x: _toy_step(s, x, w, u), state, xs[:5])
            return jnp.sum(jnp.sin(norms)) + jnp.sum(first * jnp.arange(3.0)[:, None]) + jnp.sum(final**3)

        # each compiled whole, as training runs it (op by op: ~60 programs)
        grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))(state, xs, w, u)
        expected = jax.jit(jax.grad(reference, argnums=(0, 1, 2, 3)))(state, xs, w, u)
        np.testing.assert_array_equal(expected[1][5:], 0.0)  # the dead steps' inputs change nothing
        for got, want in zip(grads, expected):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        check_grads(jax.jit(loss), (state, xs, w, u), order=1, modes=("rev",), atol=1e-6, rtol=1e-6)


def test_scan_steps_with_live_closes_over_parameters_and_returns_their_gradients():
    """`scan_steps` hands what the body closes over to `live_scan`, whose gradients reach it."""
    state, xs, w, u = _toy()
    live = jnp.array([True] * 3 + [False] * 4)

    def loss(w, u, live):
        _, (norms, _) = scan_steps(lambda s, x: _toy_step(s, x, w, u), state, xs, live)
        return jnp.sum(norms * (jnp.arange(7) < 3)[:, None])

    got = jax.grad(loss, argnums=(0, 1))(w, u, live)
    want = jax.grad(loss, argnums=(0, 1))(w, u, None)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


TINY_MODELS = {
    "ntm-lstm": NTMConfig(controller_sizes=(6,), memory_rows=7, memory_width=3, num_read_heads=2, num_write_heads=2),
    "dnc": DNCConfig(controller_sizes=(6,), memory_rows=5, memory_width=3),
    "lstm": LSTMConfig(num_layers=2, hidden_size=5),
}


# Batch 5 is rematerialised without `live` (from batch 4), batch 1 is not; the NTM-FF's loop is
# the NTM-LSTM's.
@pytest.mark.parametrize("name, batch", [("ntm-lstm", 1), ("ntm-lstm", 5), ("dnc", 5), ("lstm", 1)])
def test_a_model_on_a_copy_batch_gives_the_same_cost_and_gradients_with_dead_steps_skipped(name, batch):
    task = CopyTask(width=3, min_length=1, max_length=8)
    data = task.sample(jax.random.key(4), batch)  # lengths 4 (batch 1); 4, 5, 5, 5, 4 (batch 5)
    lengths = np.asarray(data.mask.sum(axis=0))
    live = live_steps(data.mask)
    assert int(live.sum()) == 2 * int(lengths.max()) + 1 < task.max_time  # some steps are dead
    model = build_model(TINY_MODELS[name], task.input_size, task.output_size, jax.random.key(1))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def cost(params, live):
        logits = nnx.merge(graphdef, params, rest)(data.inputs, live=live)
        bits = jnp.logaddexp(0.0, logits) - logits * data.targets  # cross-entropy in nats
        return jnp.sum(bits * data.mask[..., None]), logits

    both = jax.jit(lambda params: (jax.value_and_grad(cost, has_aux=True)(params, live),
                                   jax.value_and_grad(cost, has_aux=True)(params, None)))
    ((value, logits), grads), ((ref_value, ref_logits), ref_grads) = both(params)
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    np.testing.assert_allclose(logits[live], ref_logits[live], rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
