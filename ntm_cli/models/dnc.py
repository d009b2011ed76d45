"""The Differentiable Neural Computer (Graves et al., Nature 2016): an LSTM controller with
dynamic memory allocation, free gates and temporal links (see `dnc_access`).

One time step, for a batch (R read heads, W write heads, memory N x M):

    h_t, controller state = LSTM([x_t, r_{t-1}], controller state)
    interface              = clip(Linear(h_t))          keys, strengths, gates, modes ...
    u_t                    = usage(u_{t-1}, w^w_{t-1}, free gates, w^r_{t-1})
    w^w_t                  = g^w (g^a a_t + (1 - g^a) content(M_{t-1}, write key))   per write head
    M_t                    = write(M_{t-1}, w^w_t, e_t, v_t)                        erase, then add
    L_t, p_t               = links and precedence, per write head
    w^r_t                  = modes . (backward, content(M_t, read key), forward)   per read head
    r_t                    = w^r_t M_t
    y_t                    = Linear([h_t, r_t])                                      logits

The memory starts at zero, usage, links and precedence at zero, and the read and write
weightings and read vectors at zero, as in the paper.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ntm_cli.models.base import SequenceModel, scan_steps
from ntm_cli.models import addressing, dnc_access, layers
from ntm_cli.models.config import DNCConfig
from ntm_cli.models.ntm import Controller


class DNCState(NamedTuple):
    """The recurrent state between steps.

    Attributes:
      controller: per LSTM layer a pair (c `[B, H]`, h `[B, H]`).
      memory: `[B, N, M]` M_t.
      usage: `[B, N]` u_t.
      link: `[B, W, N, N]` L_t per write head.
      precedence: `[B, W, N]` p_t per write head.
      read_weights: `[B, R, N]` w^r_t.
      write_weights: `[B, W, N]` w^w_t.
      reads: `[B, R, M]` r_t.
    """

    controller: tuple
    memory: jax.Array
    usage: jax.Array
    link: jax.Array
    precedence: jax.Array
    read_weights: jax.Array
    write_weights: jax.Array
    reads: jax.Array


class DNCTrace(NamedTuple):
    """Every step's access, time-major (the NTM's trace fields and the DNC's own).

    Attributes:
      read_weights: `[T, B, R, N]`.
      write_weights: `[T, B, W, N]`.
      reads: `[T, B, R, M]`.
      memory: `[T, B, N, M]` after each step's write.
      usage: `[T, B, N]` u_t.
      allocation: `[T, B, W, N]` each write head's allocation weighting a_t.
      read_modes: `[T, B, R, 2W + 1]` pi_t: backward per write head, content, forward.
    """

    read_weights: jax.Array
    write_weights: jax.Array
    reads: jax.Array
    memory: jax.Array
    usage: jax.Array
    allocation: jax.Array
    read_modes: jax.Array


class Interface(NamedTuple):
    """The controller's interface vector, activated, for a batch."""

    read_keys: jax.Array  # [B, R, M]
    read_strengths: jax.Array  # [B, R] >= 1
    write_keys: jax.Array  # [B, W, M]
    write_strengths: jax.Array  # [B, W] >= 1
    erase: jax.Array  # [B, W, M] in [0, 1]
    write_vectors: jax.Array  # [B, W, M]
    free_gates: jax.Array  # [B, R] in [0, 1]
    allocation_gates: jax.Array  # [B, W] in [0, 1]
    write_gates: jax.Array  # [B, W] in [0, 1]
    read_modes: jax.Array  # [B, R, 2W + 1], distributions


def _oneplus(x: jax.Array) -> jax.Array:
    """1 + softplus(x): the DNC's activation for key strengths (>= 1)."""
    return 1.0 + jax.nn.softplus(x)


class DNC(SequenceModel):
    """A DNC; `__call__(inputs [T, B, in]) -> logits [T, B, out]`."""

    def __init__(self, config: DNCConfig, input_size: int, output_size: int, *, rngs: nnx.Rngs):
        self.config = config
        r, w, m = config.num_read_heads, config.num_write_heads, config.memory_width
        self.controller = Controller("lstm", input_size + r * m, config.controller_sizes, rngs=rngs)
        hidden = self.controller.output_size
        self.sizes = (r * m, r, w * m, w, w * m, w * m, r, w, w, r * config.num_read_modes)
        self.interface = nnx.Linear(hidden, sum(self.sizes), rngs=rngs)
        self.output = nnx.Linear(hidden + r * m, output_size, rngs=rngs)

    def initial_state(self, batch_size: int) -> DNCState:
        cfg = self.config
        b, n, m, r, w = batch_size, cfg.memory_rows, cfg.memory_width, cfg.num_read_heads, cfg.num_write_heads
        return DNCState(
            controller=self.controller.initial_state(b),
            memory=jnp.zeros((b, n, m)),
            usage=jnp.zeros((b, n)),
            link=jnp.zeros((b, w, n, n)),
            precedence=jnp.zeros((b, w, n)),
            read_weights=jnp.zeros((b, r, n)),
            write_weights=jnp.zeros((b, w, n)),
            reads=jnp.zeros((b, r, m)),
        )

    def _interface(self, h: jax.Array, kernel_t: jax.Array | None = None) -> Interface:
        cfg = self.config
        b, r, w, m = h.shape[0], cfg.num_read_heads, cfg.num_write_heads, cfg.memory_width
        raw = layers.linear(self.interface, h, kernel_t)
        if cfg.head_clip is not None:
            raw = jnp.clip(raw, -cfg.head_clip, cfg.head_clip)
        parts = jnp.split(raw, np.cumsum(self.sizes)[:-1].tolist(), axis=-1)
        read_keys, read_beta, write_keys, write_beta, erase, vectors, free, alloc, write, modes = parts
        return Interface(
            read_keys=read_keys.reshape(b, r, m),
            read_strengths=_oneplus(read_beta),
            write_keys=write_keys.reshape(b, w, m),
            write_strengths=_oneplus(write_beta),
            erase=jax.nn.sigmoid(erase.reshape(b, w, m)),
            write_vectors=vectors.reshape(b, w, m),
            free_gates=jax.nn.sigmoid(free),
            allocation_gates=jax.nn.sigmoid(alloc),
            write_gates=jax.nn.sigmoid(write),
            read_modes=jax.nn.softmax(modes.reshape(b, r, cfg.num_read_modes), axis=-1),
        )

    def step(self, state: DNCState, x: jax.Array) -> tuple[jax.Array, DNCState]:
        """One time step: x `[B, in]` -> (logits `[B, out]`, the next DNCState)."""
        features, state, _ = self.memory_step(state, x)
        return self.output(features), state

    def kernels_t(self) -> tuple:
        """The controller's and the interface's kernels transposed, for `memory_step`: made once
        before the time loop (`layers`)."""
        return self.controller.kernels_t(), layers.linear_kernels_t(self.interface)

    def memory_step(self, state: DNCState, x: jax.Array, kernels_t: tuple | None = None
                    ) -> tuple[jax.Array, DNCState, tuple[jax.Array, jax.Array]]:
        """One time step up to the output layer (`kernels_t`: `self.kernels_t()`, made before the
        time loop, or None for plain products: `layers`).

        Returns:
          (features `[B, H + R * M]`, the next DNCState, (allocation `[B, W, N]`, read modes
          `[B, R, 2W + 1]`) for the trace).
        """
        batch = x.shape[0]
        controller_kernels_t, interface_kernel_t = (None, None) if kernels_t is None else kernels_t
        controller_state, h = self.controller(state.controller, jnp.concatenate([x, state.reads.reshape(batch, -1)], -1),
                                              controller_kernels_t)
        iface = self._interface(h, interface_kernel_t)
        content = jax.vmap(jax.vmap(addressing.content_weighting, in_axes=(None, 0, 0)))  # over heads, then batch

        usage = jax.vmap(dnc_access.update_usage)(state.usage, state.write_weights, iface.free_gates,
                                                  state.read_weights)  # [B, N]
        write_content = content(state.memory, iface.write_keys, iface.write_strengths)  # [B, W, N]
        allocation = jax.vmap(dnc_access.write_allocations)(usage, iface.write_gates * iface.allocation_gates)
        write_weights = jax.vmap(jax.vmap(dnc_access.write_weighting))(
            write_content, allocation, iface.write_gates, iface.allocation_gates
        )  # [B, W, N]
        memory = jax.vmap(addressing.write)(state.memory, write_weights, iface.erase, iface.write_vectors)

        precedence = jax.vmap(jax.vmap(dnc_access.update_precedence))(state.precedence, write_weights)
        # L_t per write head, and forward and backward weightings for every (write head, read head) pair
        link, forward, backward = jax.vmap(dnc_access.link_and_directions)(
            state.link, state.precedence, write_weights, state.read_weights)  # [B, W, N, N], [B, W, R, N] x 2
        forward, backward = jnp.swapaxes(forward, 1, 2), jnp.swapaxes(backward, 1, 2)  # [B, R, W, N]
        read_content = content(memory, iface.read_keys, iface.read_strengths)  # [B, R, N]
        read_weights = jax.vmap(jax.vmap(dnc_access.read_weighting))(backward, read_content, forward,
                                                                      iface.read_modes)  # [B, R, N]
        reads = jnp.einsum("brn,bnm->brm", read_weights, memory)

        features = jnp.concatenate([h, reads.reshape(batch, -1)], axis=-1)
        next_state = DNCState(controller_state, memory, usage, link, precedence, read_weights, write_weights, reads)
        return features, next_state, (allocation, iface.read_modes)

    def __call__(self, inputs: jax.Array, trace: bool = False, live: jax.Array | None = None):
        """Runs the DNC over `[T, B, in]` (the `live` steps only, as `base.scan_steps` takes them);
        returns logits, or (logits, DNCTrace) with `trace`."""

        # Made outside the loop, so that XLA keeps them transposed (`layers`); small batches: plain products.
        kernels_t = self.kernels_t() if layers.before_the_loop(inputs.shape[1]) else None

        def body(state, x):
            features, state, (allocation, modes) = self.memory_step(state, x, kernels_t)
            extra = None
            if trace:
                extra = DNCTrace(state.read_weights, state.write_weights, state.reads, state.memory, state.usage,
                                 allocation, modes)
            return state, (features, extra)

        _, (features, steps) = scan_steps(body, self.initial_state(inputs.shape[1]), inputs, live)
        logits = self.output(features)
        return (logits, steps) if trace else logits
