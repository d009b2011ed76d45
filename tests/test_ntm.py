"""The NTM: wiring of one step, traces, memory initialisation, gradients, batch independence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

from ntm_cli.models import NTM, NTMConfig, build_model, count_params
from ntm_cli.models import addressing
from ntm_cli.models.config import ModelConfigError
from ntm_cli.models.ntm import MEMORY_CONSTANT, Buffer

TINY = NTMConfig(controller_sizes=(6,), memory_rows=7, memory_width=3, num_read_heads=2, num_write_heads=2)
IN, OUT = 4, 3


def _inputs(seed=0, steps=6, batch=5):
    return jax.random.bernoulli(jax.random.key(seed), 0.5, (steps, batch, IN)).astype(jnp.float32)


@pytest.mark.parametrize("controller", ["lstm", "ff"])
def test_a_batch_gives_the_same_result_as_each_example_alone(controller):
    model = build_model(NTMConfig(**{**TINY.__dict__, "controller": controller}), IN, OUT, jax.random.key(0))
    inputs = _inputs()
    together = model(inputs)
    for b in range(inputs.shape[1]):
        np.testing.assert_allclose(together[:, b], model(inputs[:, b : b + 1])[:, 0], rtol=1e-5, atol=1e-6)


def test_rematerialised_batches_give_the_gradients_of_each_example_alone():
    """From REMAT_MIN_BATCH up the time loop is rematerialised; at batch 1 it is not: same gradients."""
    from ntm_cli.models.base import REMAT_MIN_BATCH

    model = build_model(TINY, IN, OUT, jax.random.key(3))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    inputs = _inputs(seed=4, batch=REMAT_MIN_BATCH + 1)

    def loss(p, x):
        return jnp.sum(jnp.sin(nnx.merge(graphdef, p, rest)(x)))

    grad = jax.jit(jax.grad(loss))
    together = grad(params, inputs)
    alone = [grad(params, inputs[:, b : b + 1]) for b in range(inputs.shape[1])]
    summed = jax.tree.map(lambda *g: sum(g), *alone)
    for a, b in zip(jax.tree.leaves(together), jax.tree.leaves(summed)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_one_step_writes_then_reads_the_new_memory_with_the_heads_outputs():
    model = build_model(TINY, IN, OUT, jax.random.key(1))
    # A zero kernel makes every head's raw output its bias, whatever the controller says.
    model.heads.kernel[...] = jnp.zeros_like(model.heads.kernel[...])
    model.heads.bias[...] = jax.random.normal(jax.random.key(2), model.heads.bias.shape)
    state = model.initial_state(2)
    x = _inputs(batch=2)[0]
    logits, new_state = model.step(state, x)

    raw = np.asarray(model.heads.bias[...])
    split = TINY.num_read_heads * model.read_head_size
    raw_read = raw[:split].reshape(TINY.num_read_heads, -1)
    raw_write = raw[split:].reshape(TINY.num_write_heads, -1)
    m = TINY.memory_width
    memory = state.memory[0]
    write_w = np.stack([addressing.address(memory, state.write_weights[0, h], model._head_params(raw_write[h]))
                        for h in range(TINY.num_write_heads)])
    erase = jax.nn.sigmoid(raw_write[:, model.read_head_size : model.read_head_size + m])
    add = np.tanh(raw_write[:, model.read_head_size + m :])
    memory = addressing.write(memory, write_w, erase, add)
    read_w = np.stack([addressing.address(memory, state.read_weights[0, h], model._head_params(raw_read[h]))
                       for h in range(TINY.num_read_heads)])
    reads = np.stack([addressing.read(memory, w) for w in read_w])

    for b in range(2):  # same head outputs, so both examples agree
        np.testing.assert_allclose(new_state.write_weights[b], write_w, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(new_state.memory[b], memory, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(new_state.read_weights[b], read_w, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(new_state.reads[b], reads, rtol=1e-5, atol=1e-7)
        # the row norms carried to the next step's write addressing are those of the new memory
        np.testing.assert_allclose(new_state.memory_norms_sq[b], np.sum(memory**2, axis=-1), rtol=1e-5, atol=1e-9)
    h = new_state.controller[-1][1]
    expected_logits = model.output(jnp.concatenate([h, new_state.reads.reshape(2, -1)], axis=-1))
    np.testing.assert_allclose(logits, expected_logits, rtol=1e-6)


def test_the_controller_sees_the_input_and_the_previous_reads():
    model = build_model(TINY, IN, OUT, jax.random.key(3))
    assert model.controller.layers[0].in_features == IN + TINY.num_read_heads * TINY.memory_width


def test_trace_weightings_are_distributions_and_the_logits_match():
    model = build_model(TINY, IN, OUT, jax.random.key(4))
    inputs = _inputs(steps=9)
    logits, trace = model(inputs, trace=True)
    np.testing.assert_allclose(logits, model(inputs), rtol=1e-6)
    assert trace.read_weights.shape == (9, 5, 2, 7) and trace.write_weights.shape == (9, 5, 2, 7)
    assert trace.memory.shape == (9, 5, 7, 3) and trace.reads.shape == (9, 5, 2, 3)
    for w in (trace.read_weights, trace.write_weights):
        assert np.all(np.asarray(w) >= 0)
        np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
    # The reads are the read weightings applied to the memory after the same step's write.
    np.testing.assert_allclose(trace.reads, jnp.einsum("tbrn,tbnm->tbrm", trace.read_weights, trace.memory), rtol=1e-5, atol=1e-7)


def test_memory_initialisations():
    n_m = TINY.memory_rows * TINY.memory_width
    constant = build_model(TINY, IN, OUT, jax.random.key(0))
    assert isinstance(constant.initial_memory, Buffer)
    np.testing.assert_array_equal(constant.initial_state(1).memory, np.full((1, 7, 3), MEMORY_CONSTANT, np.float32))
    learned = build_model(NTMConfig(**{**TINY.__dict__, "memory_init": "learned"}), IN, OUT, jax.random.key(0))
    assert isinstance(learned.initial_memory, nnx.Param)
    assert count_params(learned) == count_params(constant) + n_m
    random = build_model(NTMConfig(**{**TINY.__dict__, "memory_init": "random"}), IN, OUT, jax.random.key(0))
    assert isinstance(random.initial_memory, Buffer) and count_params(random) == count_params(constant)
    values = np.asarray(random.initial_memory[...])
    assert values.std() > 0.2 and np.abs(values).max() <= 1.0  # truncated normal, s.d. 0.5, at 2 s.d.


def test_initial_weightings_are_learned_distributions_that_differ_between_rows():
    model = build_model(TINY, IN, OUT, jax.random.key(0))
    state = model.initial_state(3)
    for w in (state.read_weights, state.write_weights):
        np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
        assert np.ptp(np.asarray(w[0, 0])) > 1e-3  # not uniform: rows are not symmetric
    params = nnx.state(model, nnx.Param)
    assert "initial_read_logits" in params and "initial_write_logits" in params and "initial_reads" in params


def test_clipped_head_outputs_keep_huge_controller_outputs_finite():
    model = build_model(TINY, IN, OUT, jax.random.key(5))
    model.heads.kernel[...] = model.heads.kernel[...] * 1e6
    logits, trace = model(_inputs(), trace=True)
    assert np.all(np.isfinite(np.asarray(logits))) and np.all(np.isfinite(np.asarray(trace.memory)))


def _loss(model, inputs):
    return jnp.mean(jax.nn.sigmoid(model(inputs)) ** 2)


def test_finite_gradients_from_all_zero_memory_and_zero_weightings():
    model = build_model(TINY, IN, OUT, jax.random.key(6))
    model.initial_memory[...] = jnp.zeros_like(model.initial_memory[...])
    model.initial_reads[...] = jnp.zeros_like(model.initial_reads[...])
    # Initial weightings as close to all-zero as a softmax allows: one row takes everything.
    model.initial_read_logits[...] = jnp.zeros((2, 7)).at[:, 0].set(1e4)
    loss, grads = nnx.value_and_grad(_loss)(model, _inputs())
    assert np.isfinite(float(loss))
    assert all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree.leaves(grads))
    assert any(np.abs(np.asarray(g)).sum() > 0 for g in jax.tree.leaves(grads))


def test_check_grads_on_a_full_time_step():
    with jax.enable_x64(True):
        config = NTMConfig(controller_sizes=(4,), memory_rows=5, memory_width=3, head_clip=None)
        model = build_model(config, 2, 2, jax.random.key(7))
        graphdef, params, buffers = nnx.split(model, nnx.Param, Buffer)
        to64 = lambda tree: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)
        params, buffers = to64(params), to64(buffers)
        state = to64(nnx.merge(graphdef, params, buffers).initial_state(2))
        memory = jax.random.normal(jax.random.key(8), state.memory.shape, jnp.float64)
        state = state._replace(memory=memory, memory_norms_sq=jnp.sum(memory**2, axis=-1))
        x = jax.random.normal(jax.random.key(9), (2, 2), jnp.float64)

        @jax.jit
        def step(params, state, x):
            logits, new_state = nnx.merge(graphdef, params, buffers).step(state, x)
            return jnp.sum(jnp.sin(logits)) + jnp.sum(new_state.memory**2) + jnp.sum(new_state.reads)

        check_grads(step, (params, state, x), order=1, modes=("rev",), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_read_heads": 0}, "at least one read head"),
        ({"num_write_heads": 0}, "at least one write head"),
        ({"memory_rows": 0}, "memory rows"),
        ({"controller": "gru"}, "controller must be 'lstm' or 'ff'"),
        ({"controller_sizes": ()}, "at least one layer"),
        ({"controller_sizes": (0,)}, "positive whole number"),
        ({"memory_init": "zeros"}, "memory init must be"),
        ({"shift_range": 4, "memory_rows": 8}, "needs at least 9 memory rows"),
    ],
)
def test_impossible_configs_raise_one_sentence(kwargs, message):
    with pytest.raises(ModelConfigError, match=message):
        NTMConfig(**kwargs)


def test_any_number_of_heads_and_a_deep_controller():
    config = NTMConfig(controller_sizes=(5, 4), memory_rows=6, memory_width=2, num_read_heads=3, num_write_heads=1, shift_range=2)
    model = build_model(config, IN, OUT, jax.random.key(0))
    logits, trace = model(_inputs(), trace=True)
    assert logits.shape == (6, 5, OUT) and trace.read_weights.shape[2] == 3 and trace.write_weights.shape[2] == 1
    assert isinstance(model, NTM) and len(model.controller.layers) == 2
