"""What every model shares: one call that training, evaluation and figures make,
`run(batch, memory, key, carry, trace) -> Output`.

Most models map inputs to logits (`model(inputs [T, B, in]) -> logits [T, B, out]`) and are
trained on the task's cost; `run` wraps that. A model may also have a loss of its own (the
key-value memory's margin loss), use the targets while it runs (the key-value memory writes a
step's true value after answering it, as the one-shot protocol reveals it), and keep a
life-long memory that training carries from one step to the next (`lifelong_memory`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
from flax import nnx


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
    """A model over time-major batches; subclasses define `__call__(inputs, trace=False)`."""

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
            trace: bool = False) -> Output:
        """The model over a batch (`ntm_cli.tasks.base.Batch`).

        Args:
          batch: inputs `[T, B, in]`, targets `[T, B, out]`, mask `[T, B]`.
          memory: the life-long memory to start from (`lifelong_memory`'s structure), or ().
          key: PRNG key of the model's own randomness (None for a model without any).
          carry: the batch writes into `memory` and the result is returned (training); else
            every sequence starts from its own copy and `memory` comes back unchanged.
          trace: also return the per-step trace.
        """
        if trace:
            logits, steps = self(batch.inputs, trace=True)
            return Output(logits, None, memory, steps)
        return Output(self(batch.inputs), None, memory)
