"""The Neural Turing Machine (Graves et al., 2014): a controller with read and write heads on memory.

One time step, for a batch:

    h_t, controller state = Controller([x_t, r_{t-1}], controller state)
    head parameters        = clip(Linear(h_t))           split per head, then activated
    w^write_t              = address(M_{t-1}, w^write_{t-1}, head)      every write head
    M_t                    = write(M_{t-1}, w^write_t, e_t, a_t)        erase, then add
    w^read_t               = address(M_t, w^read_{t-1}, head)           every read head
    r_t                    = read(M_t, w^read_t)
    y_t                    = Linear([h_t, r_t])                          logits; sigmoid outside

Writing before reading, as in the DNC, lets a read see this step's write. The initial state
is learned: controller state, read vectors, and read and write weightings (softmax of learned
logits, randomly initialised so that rows are not symmetric); the memory starts at 1e-6
everywhere (`constant`), at a learned matrix, or at a fixed random one.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from ntm_cli.models.base import SequenceModel, scan_steps
from ntm_cli.models import addressing, layers
from ntm_cli.models.addressing import HeadParams
from ntm_cli.models.config import NTMConfig

MEMORY_CONSTANT = 1e-6  # the `constant` initial memory value (Collier & Beel, 2018)


class Buffer(nnx.Variable):
    """Model state that is not trained (the fixed initial memory)."""


class NTMState(NamedTuple):
    """The recurrent state between steps.

    Attributes:
      controller: per LSTM layer a pair (c `[B, H]`, h `[B, H]`); () for a feedforward controller.
      memory: `[B, N, M]` M_t.
      read_weights: `[B, R, N]` w_t of each read head.
      write_weights: `[B, W, N]` w_t of each write head.
      reads: `[B, R, M]` r_t of each read head.
      memory_norms_sq: `[B, N]` |M_t(i)|^2 of every row, computed once for this step's read
        addressing and reused by the next step's write addressing.
    """

    controller: tuple
    memory: jax.Array
    read_weights: jax.Array
    write_weights: jax.Array
    reads: jax.Array
    memory_norms_sq: jax.Array


class NTMTrace(NamedTuple):
    """What the heads did at every step (for figures), time-major.

    Attributes:
      read_weights: `[T, B, R, N]`.
      write_weights: `[T, B, W, N]`.
      reads: `[T, B, R, M]`.
      memory: `[T, B, N, M]` the memory after each step's write.
    """

    read_weights: jax.Array
    write_weights: jax.Array
    reads: jax.Array
    memory: jax.Array


class Controller(nnx.Module):
    """An LSTM stack or a feedforward (tanh) stack; `__call__(state, x) -> (state, h)`."""

    def __init__(self, kind: str, in_features: int, sizes: tuple[int, ...], *, rngs: nnx.Rngs):
        self.kind = kind
        self.sizes = sizes
        features = (in_features,) + sizes
        if kind == "lstm":
            self.layers = nnx.List(
                [nnx.OptimizedLSTMCell(features[i], features[i + 1], rngs=rngs) for i in range(len(sizes))]
            )
            # Learned initial (c, h) for every layer.
            self.initial_c = nnx.List([nnx.Param(jnp.zeros((size,))) for size in sizes])
            self.initial_h = nnx.List([nnx.Param(jnp.zeros((size,))) for size in sizes])
        else:
            self.layers = nnx.List([nnx.Linear(features[i], features[i + 1], rngs=rngs) for i in range(len(sizes))])

    @property
    def output_size(self) -> int:
        return self.sizes[-1]

    def initial_state(self, batch_size: int) -> tuple:
        if self.kind != "lstm":
            return ()
        return tuple(
            (jnp.broadcast_to(c[...], (batch_size, c.shape[0])), jnp.broadcast_to(h[...], (batch_size, h.shape[0])))
            for c, h in zip(self.initial_c, self.initial_h)
        )

    def kernels_t(self) -> tuple:
        """Every layer's kernels transposed (`layers.lstm_kernels_t`, `layers.linear_kernels_t`),
        for `__call__`: made once before a time loop."""
        if self.kind == "lstm":
            return tuple(layers.lstm_kernels_t(layer) for layer in self.layers)
        return tuple(layers.linear_kernels_t(layer) for layer in self.layers)

    def __call__(self, state: tuple, x: jax.Array, kernels_t: tuple | None = None) -> tuple[tuple, jax.Array]:
        """Args: state as from `initial_state`; x `[B, in]`; `kernels_t()` made before a time loop,
        or None for plain products (`layers`). Returns (state, h `[B, sizes[-1]]`)."""
        kernels_t = (None,) * len(self.layers) if kernels_t is None else kernels_t
        if self.kind != "lstm":
            for layer, kernel_t in zip(self.layers, kernels_t):
                x = jnp.tanh(layers.linear(layer, x, kernel_t))
            return (), x
        new_state = []
        for layer, carry, kernel_t in zip(self.layers, state, kernels_t):
            carry, x = layers.lstm_cell(layer, carry, x, kernel_t)
            new_state.append(carry)
        return tuple(new_state), x


class NTM(SequenceModel):
    """A Neural Turing Machine; `__call__(inputs [T, B, in]) -> logits [T, B, out]`."""

    def __init__(self, config: NTMConfig, input_size: int, output_size: int, *, rngs: nnx.Rngs):
        self.config = config
        n, m = config.memory_rows, config.memory_width
        r, w = config.num_read_heads, config.num_write_heads
        self.controller = Controller(config.controller, input_size + r * m, config.controller_sizes, rngs=rngs)
        hidden = self.controller.output_size
        # One fused layer emits every head's raw parameters.
        self.heads = nnx.Linear(hidden, r * self.read_head_size + w * self.write_head_size, rngs=rngs)
        self.output = nnx.Linear(hidden + r * m, output_size, rngs=rngs)

        self.initial_reads = nnx.Param(0.01 * jax.random.normal(rngs.params(), (r, m)))
        self.initial_read_logits = nnx.Param(jax.random.normal(rngs.params(), (r, n)))
        self.initial_write_logits = nnx.Param(jax.random.normal(rngs.params(), (w, n)))
        if config.memory_init == "constant":
            self.initial_memory = Buffer(jnp.full((n, m), MEMORY_CONSTANT))
        else:
            values = 0.5 * jax.random.truncated_normal(rngs.params(), -2.0, 2.0, (n, m))
            self.initial_memory = nnx.Param(values) if config.memory_init == "learned" else Buffer(values)

    @property
    def read_head_size(self) -> int:
        """Raw outputs per read head: key M, beta 1, g 1, s S, gamma 1."""
        return self.config.memory_width + 3 + self.config.num_shifts

    @property
    def write_head_size(self) -> int:
        """Raw outputs per write head: the addressing outputs, then erase M and add M."""
        return self.read_head_size + 2 * self.config.memory_width

    def initial_state(self, batch_size: int) -> NTMState:
        def batched(x):
            return jnp.broadcast_to(x, (batch_size,) + x.shape)

        return NTMState(
            controller=self.controller.initial_state(batch_size),
            memory=batched(self.initial_memory[...]),
            read_weights=batched(jax.nn.softmax(self.initial_read_logits[...], axis=-1)),
            write_weights=batched(jax.nn.softmax(self.initial_write_logits[...], axis=-1)),
            reads=batched(self.initial_reads[...]),
            memory_norms_sq=batched(addressing.row_norms_sq(self.initial_memory[...])),
        )

    def _head_params(self, raw: jax.Array) -> HeadParams:
        """Activations on raw outputs `[..., read_head_size]` (eq. 5-9's constraints)."""
        m, s = self.config.memory_width, self.config.num_shifts
        return HeadParams(
            key=raw[..., :m],  # k_t
            strength=jax.nn.softplus(raw[..., m]),  # beta_t >= 0
            gate=jax.nn.sigmoid(raw[..., m + 1]),  # g_t in (0, 1)
            shift=jax.nn.softmax(raw[..., m + 2 : m + 2 + s], axis=-1),  # s_t
            sharpen=1.0 + jax.nn.softplus(raw[..., m + 2 + s]),  # gamma_t >= 1
        )

    def step(self, state: NTMState, x: jax.Array) -> tuple[jax.Array, NTMState]:
        """One time step.

        Args:
          state: the NTMState after the previous step.
          x: `[B, input_size]` x_t.

        Returns:
          (logits `[B, output_size]`, the next NTMState).
        """
        features, state = self.memory_step(state, x)
        return self.output(features), state

    def kernels_t(self) -> tuple:
        """The controller's and the heads' kernels transposed, for `memory_step`: made once
        before the time loop (`layers`)."""
        return self.controller.kernels_t(), layers.linear_kernels_t(self.heads)

    def memory_step(self, state: NTMState, x: jax.Array, kernels_t: tuple | None = None) -> tuple[jax.Array, NTMState]:
        """One time step up to the output layer (`kernels_t`: `self.kernels_t()`, made before the
        time loop, or None for plain products: `layers`).

        Returns:
          (features `[B, H + R * M]`, the controller output h_t beside the reads r_t, which the
          output layer maps to logits; the next NTMState).
        """
        cfg = self.config
        batch = x.shape[0]
        controller_in = jnp.concatenate([x, state.reads.reshape(batch, -1)], axis=-1)
        controller_kernels_t, heads_kernel_t = (None, None) if kernels_t is None else kernels_t
        controller_state, h = self.controller(state.controller, controller_in, controller_kernels_t)

        raw = layers.linear(self.heads, h, heads_kernel_t)  # [B, R * read_head_size + W * write_head_size]
        if cfg.head_clip is not None:
            raw = jnp.clip(raw, -cfg.head_clip, cfg.head_clip)
        split = cfg.num_read_heads * self.read_head_size
        raw_read = raw[:, :split].reshape(batch, cfg.num_read_heads, self.read_head_size)
        raw_write = raw[:, split:].reshape(batch, cfg.num_write_heads, self.write_head_size)

        # vmap over heads (memory shared), then over the batch.
        address = jax.vmap(jax.vmap(addressing.address, in_axes=(None, 0, 0, None)))
        write_weights = address(  # [B, W, N], on M_{t-1}
            state.memory, state.write_weights, self._head_params(raw_write), state.memory_norms_sq
        )
        erase = jax.nn.sigmoid(raw_write[..., self.read_head_size : self.read_head_size + cfg.memory_width])
        add = jnp.tanh(raw_write[..., self.read_head_size + cfg.memory_width :])
        memory = jax.vmap(addressing.write)(state.memory, write_weights, erase, add)  # [B, N, M]

        norms_sq = jax.vmap(addressing.row_norms_sq)(memory)  # |M_t(i)|^2, kept for the next step's write
        read_weights = address(memory, state.read_weights, self._head_params(raw_read), norms_sq)  # [B, R, N]
        reads = jnp.einsum("brn,bnm->brm", read_weights, memory)  # r_t, [B, R, M]

        features = jnp.concatenate([h, reads.reshape(batch, -1)], axis=-1)
        return features, NTMState(controller_state, memory, read_weights, write_weights, reads, norms_sq)

    def __call__(self, inputs: jax.Array, trace: bool = False, live: jax.Array | None = None):
        """Runs the NTM over a sequence.

        Args:
          inputs: `[T, B, input_size]`.
          trace: also return an NTMTrace of every step's weightings, reads and memory.
          live: `[T]` bool, the steps to run (`base.scan_steps`); None for all.

        Returns:
          logits `[T, B, output_size]`, or (logits, NTMTrace) when `trace` is set.
        """

        # Made outside the loop, so that XLA keeps them transposed (`layers`); small batches: plain products.
        kernels_t = self.kernels_t() if layers.before_the_loop(inputs.shape[1]) else None

        def body(state, x):
            features, state = self.memory_step(state, x, kernels_t)
            extra = NTMTrace(state.read_weights, state.write_weights, state.reads, state.memory) if trace else None
            return state, (features, extra)

        _, (features, steps) = scan_steps(body, self.initial_state(inputs.shape[1]), inputs, live)
        # The output layer needs nothing from later steps: one matrix product for all T steps.
        logits = self.output(features)
        return (logits, steps) if trace else logits
