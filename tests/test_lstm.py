"""The LSTM baseline against a hand-written reference cell, and its parameter count."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from ntm_cli.models import LSTMConfig, build_model, count_params

IN, OUT = 3, 2


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _reference_cell(layer, c, h, x):
    """i, f, g, o = split(x W_i + h W_h + b); c' = f c + i g; h' = o tanh(c')."""
    z = x @ np.asarray(layer.dense_i.kernel[...]) + h @ np.asarray(layer.dense_h.kernel[...]) + np.asarray(layer.dense_h.bias[...])
    i, f, g, o = np.split(z, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return c, _sigmoid(o) * np.tanh(c)


def _reference(model, inputs):
    """The stacked LSTM, written out with NumPy loops over time and layers."""
    cfg = model.config
    steps, batch, _ = inputs.shape
    c = [np.broadcast_to(np.asarray(model.initial_c[l]), (batch, cfg.hidden_size)) for l in range(cfg.num_layers)]
    h = [np.broadcast_to(np.asarray(model.initial_h[l]), (batch, cfg.hidden_size)) for l in range(cfg.num_layers)]
    kernel, bias = np.asarray(model.output.kernel[...]), np.asarray(model.output.bias[...])
    outputs = []
    for t in range(steps):
        x = inputs[t]
        for l, layer in enumerate(model.layers):
            below = x if l == 0 else (np.concatenate([x, h[l - 1]], -1) if cfg.skip_connections else h[l - 1])
            c[l], h[l] = _reference_cell(layer, c[l], h[l], below)
        features = np.concatenate(h, -1) if cfg.skip_connections else h[-1]
        outputs.append(features @ kernel + bias)
    return np.stack(outputs)


@pytest.mark.parametrize("skip", [True, False])
def test_matches_a_hand_written_reference(skip):
    model = build_model(LSTMConfig(num_layers=3, hidden_size=5, skip_connections=skip), IN, OUT, jax.random.key(0))
    # A non-zero learned initial state, so that its use is checked too.
    model.initial_c[...] = jax.random.normal(jax.random.key(1), model.initial_c.shape)
    model.initial_h[...] = jax.random.normal(jax.random.key(2), model.initial_h.shape)
    inputs = np.asarray(jax.random.normal(jax.random.key(3), (7, 4, IN)))
    np.testing.assert_allclose(model(jnp.asarray(inputs)), _reference(model, inputs), rtol=1e-4, atol=1e-5)


def test_a_batch_gives_the_same_result_as_each_example_alone():
    model = build_model(LSTMConfig(num_layers=2, hidden_size=6), IN, OUT, jax.random.key(4))
    inputs = jax.random.normal(jax.random.key(5), (5, 3, IN))
    together = model(inputs)
    for b in range(3):
        np.testing.assert_allclose(together[:, b], model(inputs[:, b : b + 1])[:, 0], rtol=1e-5, atol=1e-6)


def test_trace_holds_every_layers_hidden_state():
    model = build_model(LSTMConfig(num_layers=2, hidden_size=6), IN, OUT, jax.random.key(4))
    logits, trace = model(jnp.ones((5, 3, IN)), trace=True)
    assert trace.hidden.shape == (5, 3, 2, 6)
    np.testing.assert_allclose(logits, model(jnp.ones((5, 3, IN))), rtol=1e-6)


@pytest.mark.parametrize("layers, size, skip", [(3, 256, True), (3, 128, False), (1, 10, True)])
def test_parameter_count_formula(layers, size, skip):
    """4 (in + H + 1) H per layer (one bias), the output layer, and 2 L H initial values."""
    config = LSTMConfig(num_layers=layers, hidden_size=size, skip_connections=skip)
    # The model's structure without its values: drawing 3 x 256 initial weights takes seconds.
    model = nnx.eval_shape(lambda: build_model(config, 9, 8, jax.random.key(0)))
    first = 4 * (9 + size + 1) * size
    later = 4 * ((size + (9 if skip else 0)) + size + 1) * size
    output = ((size * layers if skip else size) + 1) * 8
    assert count_params(model) == first + (layers - 1) * later + output + 2 * layers * size
