"""What every model shares: one call that training, evaluation and figures make,
`run(batch, memory, key, carry, trace) -> Output`.

Most models map inputs to logits (`model(inputs [T, B, in]) -> logits [T, B, out]`) and are
trained on the task's cost; `run` wraps that. A model may also have a loss of its own (the
key-value memory's margin loss), use the targets while it runs (the key-value memory writes a
step's true value after answering it, as the one-shot protocol reveals it), and keep a
life-long memory that training carries from one step to the next (`lifelong_memory`).

The time loop of the recurrent models is `scan_steps`: it skips the steps after a batch's last
scored step, whose outputs nothing reads (a copy sequence of length L is scored up to step 2L
of its 2 * max_length + 1; at batch 1 about half the steps are such padding).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

REMAT_MIN_BATCH = 4  # rematerialise the time loop's steps from this batch size up


def live_steps(mask: jax.Array, axis_name: str | None = None) -> jax.Array:
    """Which time steps can change a batch's scored outputs: those up to its last scored step.

    Args:
      mask: `[T, B]` a batch's mask (a step is scored where it is above 0).
      axis_name: a `vmap`ped axis (the trainer's seeds) whose batches are to run the same steps:
        the steps live in any of them, so that the time loop's conditions stay conditions (a
        condition that differs along a `vmap`ped axis becomes a select, which runs both sides).

    Returns:
      `[T]` bool: step t is at or before the last step any sequence of the batch is scored at.
    """
    scored = jnp.any(mask > 0, axis=1).astype(jnp.int32)  # [T]
    if axis_name is not None:
        scored = jax.lax.pmax(scored, axis_name)
    return jnp.flip(jnp.cumsum(jnp.flip(scored))) > 0


def scan_steps(body, initial_state, inputs: jax.Array, live: jax.Array | None = None, remat: bool = True):
    """`lax.scan(body, initial_state, inputs)` over time, the loop of every recurrent model.

    With `live` (`[T]` bool, from `live_steps`), a step that is not live runs nothing, forward
    or backward: the state passes through unchanged and the step's outputs are zeros. Those
    steps come after every scored step, so the scored outputs, the cost and its gradients are
    the same as without (`live_scan`); the backward pass recomputes each live step from the
    state it started from, as `remat` does. Training at batch 1 ran 1.4x faster on copy, 4.5x
    on repeat copy (experiments/benchmarks/README.md). Under a `vmap` whose members have
    different `live`, the conditions become selects and every step runs: the trainer makes
    them one (`live_steps`'s `axis_name`).

    With `remat` (and no `live`), from batch REMAT_MIN_BATCH up the backward pass recomputes
    each step from the saved state instead of saving every intermediate of every step (~90
    arrays per NTM step): 20% faster at batch 8 and 32, 5% slower at batch 1. Values and
    gradients are the same either way.

    Args:
      body: `(state, x [B, in]) -> (state, outputs)`.
      initial_state: the state before step 0.
      inputs: `[T, B, in]`.
      live: `[T]` bool, or None to run every step.
      remat: rematerialise from batch REMAT_MIN_BATCH up.

    Returns:
      (final state, outputs stacked over time), as `lax.scan`.
    """
    if live is None:
        if remat and inputs.shape[1] >= REMAT_MIN_BATCH:
            body = jax.checkpoint(body)
        return jax.lax.scan(body, initial_state, inputs)
    # What `body` closes over (the parameters) becomes explicit arguments, whose gradients
    # `live_scan` returns.
    step, consts = jax.closure_convert(body, initial_state, inputs[0])
    return live_scan(step, live, initial_state, inputs, *consts)


def _zeros(tree):
    return jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), tree)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def live_scan(step, live: jax.Array, initial_state, inputs: jax.Array, *consts):
    """`lax.scan` of `step(state, x, *consts) -> (state, outputs)` over the steps where `live`;
    a step that is not live keeps the state and gives zero outputs.

    The gradient is written by hand (`_live_scan_bwd`): the backward pass recomputes each live
    step from the state it started from (saved by the forward pass, as `jax.checkpoint` would)
    and passes a dead step's cotangent through. Differentiating a `lax.cond` in the time loop
    instead made every step's backward pass twice as slow on CPU.

    Args:
      step: the step function, closed over nothing that needs a gradient.
      live: `[T]` bool.
      initial_state: the state before step 0.
      inputs: `[T, ...]` x_t for every step.
      consts: the arrays `step` takes after (state, x): the parameters.

    Returns:
      (final state, outputs stacked over time).
    """
    return _live_loop(step, live, initial_state, inputs, consts, save_states=False)


def _live_loop(step, live, initial_state, inputs, consts, save_states: bool):
    """The forward loop; with `save_states`, each step's outputs come with the state it started
    from (what the backward pass recomputes the step from); without, only the outputs."""
    _, outputs = jax.eval_shape(step, initial_state, inputs[0], *consts)

    def one(state, inp):
        x, alive = inp
        new, y = jax.lax.cond(alive, lambda: step(state, x, *consts), lambda: (state, _zeros(outputs)))
        return new, ((y, state) if save_states else y)

    return jax.lax.scan(one, initial_state, (inputs, live))


def _live_scan_fwd(step, live, initial_state, inputs, *consts):
    final, (ys, states) = _live_loop(step, live, initial_state, inputs, consts, save_states=True)
    return (final, ys), (live, states, inputs, consts)


def _live_scan_bwd(step, saved, cotangent):
    live, states, inputs, consts = saved
    final_cotangent, output_cotangents = cotangent

    def one(carry, inp):
        state_cotangent, const_cotangents = carry
        alive, state, x, output_cotangent = inp

        def live_step():
            _, vjp = jax.vjp(step, state, x, *consts)
            d_state, d_x, *d_consts = vjp((state_cotangent, output_cotangent))
            return (d_state, jax.tree.map(jnp.add, const_cotangents, tuple(d_consts))), d_x

        def dead_step():
            return (state_cotangent, const_cotangents), _zeros(x)

        return jax.lax.cond(alive, live_step, dead_step)

    (d_initial, d_consts), d_inputs = jax.lax.scan(
        one, (final_cotangent, _zeros(consts)), (live, states, inputs, output_cotangents), reverse=True)
    return (None, d_initial, d_inputs, *d_consts)


live_scan.defvjp(_live_scan_fwd, _live_scan_bwd)


class Output(NamedTuple):
    """What a model's run over a batch gives.

    Attributes:
      logits: `[T, B, out]`.
      loss: `[B]` the model's own training loss per sequence, or None to train on the task's cost.
      memory: the life-long memory after the batch (`carry`), else the one given; () for none.
      trace: the per-step trace (`trace=True`), else None.
      answers: `[T, B]` int32 a class task's answers where the model gives them itself (-1: it has
        none, as an empty memory), else None: the most likely class of the logits.
    """

    logits: jax.Array
    loss: jax.Array | None
    memory: Any
    trace: Any = None
    answers: jax.Array | None = None


class SequenceModel(nnx.Module):
    """A model over time-major batches; subclasses define `__call__(inputs, trace=False, live=None)`
    (`live`: the steps to run, as `scan_steps` takes them; logits of the others are unread)."""

    def lifelong_memory(self) -> Any:
        """The life-long memory training starts from and carries between steps: () for none."""
        return ()

    def step_state(self, batch_size: int) -> Any:
        """What one time step keeps for the backward pass, for a batch (a pytree of arrays;
        `Trainer` estimates training's memory from its size): the recurrent state."""
        return self.initial_state(batch_size)

    def working_state(self, batch_size: int) -> Any:
        """State a batch holds once, whatever its length (a pytree of arrays): () for most models."""
        return ()

    def run(self, batch, memory: Any = (), key: jax.Array | None = None, carry: bool = False,
            trace: bool = False, live: jax.Array | None = None) -> Output:
        """The model over a batch (`ntm_cli.tasks.base.Batch`).

        Args:
          batch: inputs `[T, B, in]`, targets `[T, B, out]`, mask `[T, B]`.
          memory: the life-long memory to start from (`lifelong_memory`'s structure), or ().
          key: PRNG key of the model's own randomness (None for a model without any).
          carry: the batch writes into `memory` and the result is returned (training); else
            every sequence starts from its own copy and `memory` comes back unchanged.
          trace: also return the per-step trace (then every step runs).
          live: `[T]` bool, the steps to run (`live_steps`); None: those of this batch.
        """
        if trace:
            logits, steps = self(batch.inputs, trace=True)  # every step, for the figures
            return Output(logits, None, memory, steps)
        return Output(self(batch.inputs, live=live_steps(batch.mask) if live is None else live), None, memory)
