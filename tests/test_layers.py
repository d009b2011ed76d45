"""The time loop's linear layers and LSTM cell (`ntm_cli.models.layers`): flax's values, and
gradients equal to the automatic ones of flax's layers (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

from ntm_cli.models import DNCConfig, LSTMConfig, NTMConfig, build_model, layers
from ntm_cli.tasks.copy import CopyTask


def _tree_close(got, want, rtol=1e-12, atol=1e-12):
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def test_dense_is_the_product_and_its_gradients_are_by_hand_right():
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(0), 3)
        x = jax.random.normal(keys[0], (2, 3, 5), jnp.float64)  # leading dims beyond the batch
        kernel = jax.random.normal(keys[1], (5, 4), jnp.float64)
        np.testing.assert_allclose(layers.dense(x, kernel, kernel.T), x @ kernel, rtol=1e-14)
        dy = jax.random.normal(keys[2], (2, 3, 4), jnp.float64)
        _, vjp = jax.vjp(layers.dense, x, kernel, kernel.T)
        dx, dkernel, dkernel_t = vjp(dy)
        np.testing.assert_allclose(dx, np.einsum("abo,io->abi", dy, kernel), rtol=1e-12)
        np.testing.assert_allclose(dkernel, np.einsum("abi,abo->io", x, dy), rtol=1e-12)
        np.testing.assert_array_equal(dkernel_t, 0.0)  # the transpose is only a layout
        check_grads(lambda x, k: layers.dense(x, k, k.T), (x, kernel), order=1, modes=("rev",))


def test_linear_gives_nnx_linear_values_and_gradients():
    with jax.enable_x64(True):
        layer = nnx.Linear(5, 4, param_dtype=jnp.float64, rngs=nnx.Rngs(0))
        x = jax.random.normal(jax.random.key(1), (3, 5), jnp.float64)
        graphdef, params = nnx.split(layer, nnx.Param)

        def ours(params, x, transposed):
            layer = nnx.merge(graphdef, params)
            kernel_t = layers.linear_kernels_t(layer) if transposed else None  # None: the plain product
            return jnp.sum(jnp.sin(layers.linear(layer, x, kernel_t)))

        def flax(params, x):
            return jnp.sum(jnp.sin(nnx.merge(graphdef, params)(x)))

        want = jax.grad(flax, argnums=(0, 1))(params, x)
        for transposed in (True, False):
            np.testing.assert_allclose(ours(params, x, transposed), flax(params, x), rtol=1e-14)
            _tree_close(jax.grad(ours, argnums=(0, 1))(params, x, transposed), want)


def test_dense_under_vmap_gives_each_members_gradients():
    """As under the trainer's vmap over seeds: a batched kernel, and a kernel shared by all."""
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(5), 3)
        x = jax.random.normal(keys[0], (3, 4, 5), jnp.float64)  # [members, B, in]
        kernels = jax.random.normal(keys[1], (3, 5, 2), jnp.float64)

        def loss(x, kernel):
            return jnp.sum(jnp.tanh(layers.dense(x, kernel, kernel.T)))

        def plain(x, kernel):
            return jnp.sum(jnp.tanh(x @ kernel))

        _tree_close(jax.vmap(jax.grad(loss, argnums=(0, 1)))(x, kernels),
                    jax.vmap(jax.grad(plain, argnums=(0, 1)))(x, kernels))
        shared = lambda f: jax.grad(lambda k: jnp.sum(jax.vmap(f, in_axes=(0, None))(x, k)))(kernels[0])
        np.testing.assert_allclose(shared(loss), shared(plain), rtol=1e-12)


def test_lstm_cell_gives_flax_values_and_gradients():
    with jax.enable_x64(True):
        cell = nnx.OptimizedLSTMCell(3, 4, param_dtype=jnp.float64, rngs=nnx.Rngs(2))
        keys = jax.random.split(jax.random.key(3), 3)
        carry = (jax.random.normal(keys[0], (2, 4), jnp.float64), jax.random.normal(keys[1], (2, 4), jnp.float64))
        x = jax.random.normal(keys[2], (2, 3), jnp.float64)
        graphdef, params = nnx.split(cell, nnx.Param)

        def loss(apply, params, carry, x):
            (c, h), out = apply(nnx.merge(graphdef, params), carry, x)
            return jnp.sum(c**2) + jnp.sum(jnp.sin(h)) + jnp.sum(out * jnp.arange(4.0))

        def ours(cell, carry, x):
            return layers.lstm_cell(cell, carry, x, layers.lstm_kernels_t(cell))

        def flax(cell, carry, x):
            return cell(carry, x)

        (c, h), out = ours(cell, carry, x)
        (ref_c, ref_h), ref_out = flax(cell, carry, x)
        np.testing.assert_allclose(c, ref_c, rtol=1e-14)
        np.testing.assert_allclose(h, ref_h, rtol=1e-14)
        np.testing.assert_array_equal(out, h)
        np.testing.assert_allclose(ref_out, ref_h, rtol=1e-14)
        _tree_close(jax.grad(lambda *a: loss(ours, *a), argnums=(0, 1, 2))(params, carry, x),
                    jax.grad(lambda *a: loss(flax, *a), argnums=(0, 1, 2))(params, carry, x))


def test_lstm_cell_without_transposed_kernels_is_flax_cell():
    cell = nnx.OptimizedLSTMCell(3, 4, rngs=nnx.Rngs(2))
    carry = (jnp.ones((2, 4)), -jnp.ones((2, 4)))
    x = jnp.arange(6.0).reshape(2, 3) / 6.0
    (c, h), _ = layers.lstm_cell(cell, carry, x)
    (ref_c, ref_h), _ = cell(carry, x)
    np.testing.assert_array_equal(c, ref_c)
    np.testing.assert_array_equal(h, ref_h)


MODELS = {
    "ntm-lstm": NTMConfig(controller_sizes=(6, 5), memory_rows=7, memory_width=3, num_read_heads=2, num_write_heads=2),
    "ntm-ff": NTMConfig(controller="ff", controller_sizes=(6,), memory_rows=7, memory_width=3),
    "dnc": DNCConfig(controller_sizes=(6,), memory_rows=5, memory_width=3),
    "lstm": LSTMConfig(num_layers=2, hidden_size=5),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_model_with_kernels_transposed_before_its_loop_has_the_plain_cost_and_gradients(name, monkeypatch):
    """At batch TRANSPOSED_MIN_BATCH the models take transposed kernels; forced plain, the same
    cost and gradients (float64)."""
    with jax.enable_x64(True):
        task = CopyTask(width=3, min_length=1, max_length=3)
        data = task.sample(jax.random.key(4), layers.TRANSPOSED_MIN_BATCH)
        model = build_model(MODELS[name], task.input_size, task.output_size, jax.random.key(1))
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        params = jax.tree.map(lambda p: p.astype(jnp.float64), params)
        inputs = data.inputs.astype(jnp.float64)

        def cost(params):
            logits = nnx.merge(graphdef, params, rest)(inputs)
            return jnp.sum((jnp.logaddexp(0.0, logits) - logits * data.targets) * data.mask[..., None])

        assert layers.before_the_loop(inputs.shape[1])
        # (a fresh function each time: make_jaxpr caches traces by function)
        assert "fwd=_dense_fwd" in str(jax.make_jaxpr(lambda p: cost(p))(params))  # it goes through dense
        value, grads = jax.jit(jax.value_and_grad(cost))(params)
        monkeypatch.setattr(layers, "TRANSPOSED_MIN_BATCH", 10**6)  # traced anew: plain products
        assert not layers.before_the_loop(inputs.shape[1])
        assert "fwd=_dense_fwd" not in str(jax.make_jaxpr(lambda p: cost(p))(params))
        ref_value, ref_grads = jax.jit(jax.value_and_grad(cost))(params)
        np.testing.assert_allclose(value, ref_value, rtol=1e-12)
        _tree_close(grads, ref_grads, rtol=1e-10, atol=1e-12)
