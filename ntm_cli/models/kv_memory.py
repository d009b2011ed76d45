"""A controller with the life-long key-value memory of Kaiser, Nachum, Roy & Bengio (ICLR 2017),
"Learning to Remember Rare Events" (the rules: `kv_access`).

For a batch, time-major (C classes, memory of N slots with keys of width d):

    h_t      = Controller(x_t)                     feedforward (tanh layers), or an LSTM over x_<=t
    q_t      = normalise(W_q h_t)                  the query (W_q: d x H, no bias, as in the official code)
    lookup   = the k nearest neighbours of q_t in M     (the memory before this step's write)
    y_t      = the class of the nearest one, V[n_1]     (and logits for its cost: `kv_access.answer`)
    loss_t   = [q_t . K[b] - q_t . K[p] + alpha]_+      the only training loss, as in the Omniglot model
    M        = update(M, q_t, true class)               the class is revealed after the answer

Two scopes (`KVMemoryConfig.scope`): "sequence", every sequence starts from an empty memory of
its own (the one-shot protocol: the official code clears the memory every episode); "lifelong",
one memory for the whole of training, which the sequences of a batch share and training carries
from step to step (`lifelong_memory`, kept in the training state and its checkpoints). At
evaluation a life-long memory is where every held-out sequence starts from, each with its own
copy, so evaluation never changes it.

No gradient reaches the memory: the loss trains the controller and W_q through q_t alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from ntm_cli.models import kv_access
from ntm_cli.models.base import Output, SequenceModel
from ntm_cli.models.config import KVMemoryConfig
from ntm_cli.models.kv_access import KVState
from ntm_cli.models.ntm import Controller


class KVTrace(NamedTuple):
    """Every step's access, time-major.

    Attributes:
      queries: `[T, B, d]` q_t.
      slots: `[T, B, k]` the neighbours n_1 .. n_k.
      similarities: `[T, B, k]` their similarities (-inf for empty slots).
      values: `[T, B, k]` their values (-1 for empty slots).
      weights: `[T, B, k]` softmax(t s) over the filled neighbours.
      written: `[T, B]` the slot each step wrote (-1: none).
      updated: `[T, B]` whether it updated its nearest slot (right answer) rather than a new one.
      memory: the memory after the last step: KVState with a leading `[B]` axis (each
        sequence's own), or without (one shared memory, `carry`).
    """

    queries: jax.Array
    slots: jax.Array
    similarities: jax.Array
    values: jax.Array
    weights: jax.Array
    written: jax.Array
    updated: jax.Array
    memory: Any


class _Step(NamedTuple):
    """What the memory's scan gives per step, `[T, Q, ...]` (no gradient); `lookup` only when traced."""

    logits: jax.Array
    answers: jax.Array
    pair: kv_access.MarginPair
    written: kv_access.Written
    lookup: kv_access.Lookup | None


class KVMemory(SequenceModel):
    """The key-value memory behind a controller; `run(batch, memory, key, carry) -> Output`."""

    def __init__(self, config: KVMemoryConfig, input_size: int, output_size: int, *, rngs: nnx.Rngs):
        self.config = config
        self.num_values = output_size  # C: a value is a class
        self.controller = Controller(config.controller, input_size, config.controller_sizes, rngs=rngs)
        self.query = nnx.Linear(self.controller.output_size, config.key_size, use_bias=False,
                                kernel_init=nnx.initializers.truncated_normal(0.01), rngs=rngs)

    @property
    def temperature(self) -> float:
        """t = max(1, log(0.2 k) / alpha)."""
        return kv_access.temperature(self.config.neighbours, self.config.margin)

    def empty_memory(self) -> KVState:
        """A memory of N empty slots."""
        return kv_access.empty_memory(self.config.memory_rows, self.config.key_size, self.num_values)

    def lifelong_memory(self) -> Any:
        """An empty memory for a life-long run; () when every sequence has its own."""
        return self.empty_memory() if self.config.scope == "lifelong" else ()

    def step_state(self, batch_size: int) -> Any:
        """Per step: the controller's state, the query, and what the memory's scan gives (the
        neighbours, the logits, the loss's two keys); the memory itself is not differentiated."""
        k, d, c = self.config.neighbours, self.config.key_size, self.num_values
        return (self.controller.initial_state(batch_size), jnp.zeros((batch_size, d + 3 * k + c + 2 * d)))

    def working_state(self, batch_size: int) -> Any:
        """Every sequence's own memory (the life-long one is in the training state)."""
        if self.config.scope == "lifelong":
            return ()
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (batch_size,) + x.shape), self.empty_memory())

    def queries(self, inputs: jax.Array) -> jax.Array:
        """q_t = normalise(W_q h_t): `[T, B, in]` -> `[T, B, d]`."""
        if self.controller.kind == "lstm":
            def body(state, x):
                return self.controller(state, x)

            _, hidden = jax.lax.scan(body, self.controller.initial_state(inputs.shape[1]), inputs)
        else:
            _, hidden = self.controller((), inputs)
        return kv_access.normalise(self.query(hidden))

    def _scan(self, memory: KVState, queries: jax.Array, labels: jax.Array, active: jax.Array,
              key: jax.Array, trace: bool = False) -> tuple[KVState, _Step]:
        """The memory through T steps of Q queries each (one memory): answer, then write.

        Args:
          memory: the memory at the start.
          queries: `[T, Q, d]` (no gradient).
          labels: `[T, Q]` int32 true classes.
          active: `[T, Q]` bool: the scored steps (the others neither answer nor write).
          key: the age noise's key; step t uses fold_in(key, t).
          trace: also give each step's k nearest neighbours.
        """
        cfg, t = self.config, self.temperature

        def step(memory, inputs):
            q, label, scored, index = inputs
            similarity = kv_access.similarities(memory, q)  # [Q, N]
            answered = kv_access.answer(memory, similarity, self.num_values, t)
            pair = kv_access.margin_pair(memory, similarity, label, cfg.neighbours)
            lookup = kv_access.nearest_neighbours(memory, q, cfg.neighbours) if trace else None
            memory, written = kv_access.update(memory, answered, q, label, scored, jax.random.fold_in(key, index),
                                               cfg.age_noise)
            return memory, _Step(answered.logits, answered.value, pair, written, lookup)

        steps = jnp.arange(queries.shape[0], dtype=jnp.int32)
        return jax.lax.scan(step, memory, (queries, labels, active, steps))

    def run(self, batch, memory: Any = (), key: jax.Array | None = None, carry: bool = False,
            trace: bool = False, live: jax.Array | None = None) -> Output:
        """Answers every step of a batch from the memory, writing each step's true class after.

        Args:
          batch: inputs `[T, B, in]`, targets `[T, B, C]` one-hot, mask `[T, B]`.
          memory: the life-long memory (a KVState), or () to start every sequence empty.
          key: the age noise's key (None: a fixed one).
          carry: with a life-long `memory`, the batch shares it and the memory after the batch
            is returned (training; needs N >= B); else every sequence answers from its own copy
            (of `memory`, or of an empty one).
          trace: also return a KVTrace.
          live: ignored (every step answers and writes).

        Returns:
          Output(logits `[T, B, C]` (no gradient), the margin loss summed over each sequence's
          scored steps `[B]`, the memory, the trace, the answers V[n_1] `[T, B]`, -1 where the
          memory was empty).
        """
        key = jax.random.key(0) if key is None else key
        queries = self.queries(batch.inputs)  # [T, B, d], with gradient
        fixed = jax.lax.stop_gradient(queries)
        labels = jnp.argmax(batch.targets, axis=-1).astype(jnp.int32)  # [T, B]
        active = batch.mask > 0
        lifelong = isinstance(memory, KVState)
        start = memory if lifelong else self.empty_memory()
        shared = carry and lifelong
        if shared:
            final, steps = self._scan(start, fixed, labels, active, key, trace)
        else:
            def one(q, label, scored, index):  # one sequence: Q = 1
                return self._scan(start, q[:, None], label[:, None], scored[:, None], jax.random.fold_in(key, index),
                                  trace)

            final, steps = jax.vmap(one, in_axes=(1, 1, 1, 0), out_axes=(0, 1))(
                fixed, labels, active, jnp.arange(labels.shape[1]))
            steps = jax.tree.map(lambda x: jnp.squeeze(x, 2), steps)  # [T, B, 1, ...] -> [T, B, ...]
        margin = kv_access.margin_loss(queries, steps.pair, self.config.margin)  # [T, B]
        loss = jnp.sum(margin * active, axis=0)  # [B]
        extra = None
        if trace:
            lookup = steps.lookup
            weights = kv_access.neighbour_weights(lookup, self.temperature)
            extra = KVTrace(fixed, lookup.slots, lookup.similarities, lookup.values, weights,
                            steps.written.slot, steps.written.updated, final)
        return Output(steps.logits, loss, final if shared else memory, extra, steps.answers)

    def __call__(self, inputs: jax.Array, trace: bool = False):
        raise TypeError("the key-value memory answers from what the targets reveal; call `run(batch, ...)`.")
