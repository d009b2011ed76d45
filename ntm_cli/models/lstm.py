"""The paper's LSTM baseline: L stacked LSTM layers of size H with a learned initial state.

With skip connections (Graves, 2013, the default) every layer sees the input x_t beside the
layer below, and the output layer reads every layer's h_t:

    h^1_t = LSTM^1(x_t)          h^l_t = LSTM^l([x_t, h^{l-1}_t])          y_t = Linear([h^1_t .. h^L_t])

Without them it is a plain stack: h^l_t = LSTM^l(h^{l-1}_t) and y_t = Linear(h^L_t).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from ntm_cli.models import layers
from ntm_cli.models.base import SequenceModel, scan_steps
from ntm_cli.models.config import LSTMConfig


class LSTMTrace(NamedTuple):
    """Every layer's hidden state at every step: `hidden` `[T, B, L, H]`."""

    hidden: jax.Array


class LSTMBaseline(SequenceModel):
    """Stacked LSTM; `__call__(inputs [T, B, in]) -> logits [T, B, out]`."""

    def __init__(self, config: LSTMConfig, input_size: int, output_size: int, *, rngs: nnx.Rngs):
        self.config = config
        size, num_layers = config.hidden_size, config.num_layers
        in_features = [input_size] + [size + (input_size if config.skip_connections else 0)] * (num_layers - 1)
        self.layers = nnx.List([nnx.OptimizedLSTMCell(f, size, rngs=rngs) for f in in_features])
        self.initial_c = nnx.Param(jnp.zeros((num_layers, size)))
        self.initial_h = nnx.Param(jnp.zeros((num_layers, size)))
        self.output = nnx.Linear(size * (num_layers if config.skip_connections else 1), output_size, rngs=rngs)

    def initial_state(self, batch_size: int) -> tuple:
        """Per layer a pair (c `[B, H]`, h `[B, H]`), from the learned initial values."""
        shape = (batch_size, self.config.hidden_size)
        return tuple(
            (jnp.broadcast_to(self.initial_c[l], shape), jnp.broadcast_to(self.initial_h[l], shape))
            for l in range(self.config.num_layers)
        )

    def kernels_t(self) -> tuple:
        """Every layer's kernels transposed (`layers.lstm_kernels_t`), for `step`: made once
        before the time loop."""
        return tuple(layers.lstm_kernels_t(layer) for layer in self.layers)

    def step(self, state: tuple, x: jax.Array, kernels_t: tuple | None = None) -> tuple[jax.Array, tuple]:
        """One time step: x `[B, in]` -> (logits `[B, out]`, next state) (`kernels_t`:
        `self.kernels_t()`, made before the time loop, or None for plain products: `layers`)."""
        kernels_t = (None,) * len(self.layers) if kernels_t is None else kernels_t
        new_state, hidden = [], []
        below = x
        for layer, carry, kernel_t in zip(self.layers, state, kernels_t):
            if self.config.skip_connections and hidden:
                below = jnp.concatenate([x, below], axis=-1)
            carry, below = layers.lstm_cell(layer, carry, below, kernel_t)
            new_state.append(carry)
            hidden.append(below)
        features = jnp.concatenate(hidden, axis=-1) if self.config.skip_connections else below
        return self.output(features), tuple(new_state)

    def __call__(self, inputs: jax.Array, trace: bool = False, live: jax.Array | None = None):
        """Runs the LSTM over `[T, B, in]` (the `live` steps only, as `base.scan_steps` takes them;
        without `live`, not rematerialised at any batch size); returns logits, or (logits,
        LSTMTrace) with `trace`."""

        # Made outside the loop, so that XLA keeps them transposed (`layers`); small batches: plain products.
        kernels_t = self.kernels_t() if layers.before_the_loop(inputs.shape[1]) else None

        def body(state, x):
            logits, state = self.step(state, x, kernels_t)
            extra = LSTMTrace(jnp.stack([h for _, h in state], axis=1)) if trace else None
            return state, (logits, extra)

        _, (logits, steps) = scan_steps(body, self.initial_state(inputs.shape[1]), inputs, live, remat=False)
        return (logits, steps) if trace else logits
