"""Dynamic N-grams (paper section 4.4): predict the next bit of a sequence from a random N-gram model.

For every sequence a fresh table of 2^(N-1) next-bit probabilities, one per (N-1)-bit context,
is drawn i.i.d. from Beta(1/2, 1/2). The first N-1 bits are fair coin flips; every later bit
is 1 with the probability its context's entry gives. The model sees the previous bit and must
predict the current one, at every step (input x_{t-1}, with x_{-1} = 0; target x_t):

            time  0  1  2  3  ...  T-1
    input    bit  0  x0 x1 x2 ...  x(T-2)
    target   bit  x0 x1 x2 x3 ...  x(T-1)
            mask  #  #  #  #  ...  #          all T = length steps are scored

Since the table is new every sequence, the best a model can do is learn it as it goes; the
Bayes-optimal predictor (`optimal_probabilities`) counts, per context c, the ones N1 and zeros
N0 seen so far and predicts P(1 | c) = (N1 + 1/2) / (N1 + N0 + 1). Its cost at the paper's
sizes (N = 6, 200 bits) is about 133 bits per sequence: the floor for this task.
"""

from __future__ import annotations

import dataclasses
import functools

from ntm_cli.lazy import jax, jnp, np
from ntm_cli.tasks.base import Batch, Example, Reading, SizeAxis, Solved, Task, check, size


PAPER_ORDER, PAPER_LENGTH = 6, 200
PAPER_FLOOR = 133.1950225830078  # `expected_optimal_cost(jax.random.key(0), 10_000)` at those sizes


@dataclasses.dataclass(frozen=True)
class DynamicNGramsTask(Task):
    """Dynamic N-grams: the paper's settings are 6-grams and 200-bit sequences."""

    name = "dynamic-ngrams"
    aliases = ("ngrams",)
    summary = "predict each next bit of a sequence from a freshly drawn N-gram model"
    axes = (SizeAxis("lengths", ("length",), "length {}", "sequence length"),)
    paper = {"ntm": Reading(133.7, "~133.5-134"), "lstm": Reading(136.0, "~136")}
    paper_order = ("ntm", "lstm")  # the NTMs below the LSTM
    solved = Solved("cost_above_floor", 2.0, "near the optimal estimator; the paper's NTM is ~0.5 above it")
    paper_floor = "~133"

    order: int = size(PAPER_ORDER, "N of the N-gram model.")  # each bit depends on the N - 1 bits before it
    length: int = size(PAPER_LENGTH, "Bits per sequence.")  # all scored

    def validate(self) -> None:
        check(1 <= self.order <= 16, f"order must be between 1 and 16, got {self.order}.")
        check(self.length >= 1, f"length must be at least 1, got {self.length}.")

    @property
    def context_bits(self) -> int:
        """N - 1."""
        return self.order - 1

    @property
    def num_contexts(self) -> int:
        """2^(N-1): entries of the probability table."""
        return 2**self.context_bits

    @property
    def input_size(self) -> int:
        return 1

    @property
    def output_size(self) -> int:
        return 1

    @property
    def max_time(self) -> int:
        return self.length

    @property
    def chance_cost(self) -> float:
        return float(self.length)

    def input_labels(self) -> list[str]:
        return ["previous"]

    def output_labels(self) -> list[str]:
        return ["next"]

    def _next_context(self, context: jax.Array, bit: jax.Array) -> jax.Array:
        """Shifts a bit into an (N-1)-bit context: c' = (2c + bit) mod 2^(N-1)."""
        return (2 * context + bit) % self.num_contexts

    def sample_bits(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """One sequence and the table it came from.

        Returns:
          bits: `[length]` int32 in {0, 1}.
          table: `[2^(N-1)]` float32, P(next bit = 1 | context), context read oldest bit first.
        """
        key_table, key_bits = jax.random.split(key)
        table = jax.random.beta(key_table, 0.5, 0.5, (self.num_contexts,))
        uniforms = jax.random.uniform(key_bits, (self.length,))

        def step(context, inputs):
            t, u = inputs
            p = jnp.where(t < self.context_bits, 0.5, table[context])
            bit = (u < p).astype(jnp.int32)
            return self._next_context(context, bit), bit

        _, bits = jax.lax.scan(step, jnp.int32(0), (jnp.arange(self.length), uniforms))
        return bits, table

    def sample_one(self, key: jax.Array) -> Example:
        bits, _ = self.sample_bits(key)
        x = bits.astype(jnp.float32)[:, None]  # [T, 1]
        previous = jnp.concatenate([jnp.zeros((1, 1)), x[:-1]], axis=0)  # [T, 1]
        return Example(previous, x, jnp.ones((self.length,), jnp.float32))

    def optimal_probabilities(self, targets: jax.Array) -> jax.Array:
        """The Bayes-optimal P(x_t = 1 | x_<t) for a batch of sequences.

        Args:
          targets: `[T, B, 1]` the sequences' bits (a Batch's targets).

        Returns:
          `[T, B, 1]`: 1/2 for the first N-1 steps, then (N1 + 1/2) / (N1 + N0 + 1) with N1, N0
          the ones and zeros seen after the current context earlier in the sequence.
        """
        bits = targets[..., 0].astype(jnp.int32)  # [T, B]
        batch = bits.shape[1]
        rows = jnp.arange(batch)

        def step(carry, inputs):
            context, counts = carry  # [B], [B, 2^(N-1), 2]
            t, bit = inputs  # [], [B]
            n0, n1 = counts[rows, context, 0], counts[rows, context, 1]
            p = jnp.where(t < self.context_bits, 0.5, (n1 + 0.5) / (n0 + n1 + 1.0))
            counts = counts.at[rows, context, bit].add(jnp.where(t < self.context_bits, 0.0, 1.0))
            return (self._next_context(context, bit), counts), p

        init = (jnp.zeros((batch,), jnp.int32), jnp.zeros((batch, self.num_contexts, 2)))
        _, p = jax.lax.scan(step, init, (jnp.arange(bits.shape[0]), bits))
        return p[..., None]

    def optimal_costs(self, batch: Batch) -> jax.Array:
        """Bits per sequence, `[B]`, that the Bayes-optimal predictor pays on a batch."""
        p = self.optimal_probabilities(batch.targets)
        likelihood = jnp.where(batch.targets > 0.5, p, 1.0 - p)[..., 0]  # [T, B]
        return -(jnp.log2(likelihood) * batch.mask).sum(axis=0)

    def expected_optimal_cost(self, key: jax.Array, num_sequences: int = 1000) -> float:
        """Monte-Carlo mean of `optimal_costs` over `num_sequences` sequences: the task's floor."""
        return float(jax.jit(lambda k: self.optimal_costs(self.sample(k, num_sequences)).mean())(key))

    @functools.cache
    def floor_cost(self) -> float:
        """The Bayes-optimal predictor's expected cost (10,000 sequences, a fixed key; s.e. ~0.4);
        at the paper's sizes the value that computes to, kept, so that listing tasks needs no JAX
        (a test recomputes it)."""
        if (self.order, self.length) == (PAPER_ORDER, PAPER_LENGTH):
            return PAPER_FLOOR
        return self.expected_optimal_cost(jax.random.key(0), 10_000)

    def describe(self, example: dict[str, np.ndarray]) -> list[str]:
        ones = int(example["targets"].sum())
        return [f"{self.length} bits from a random {self.order}-gram model, {ones} of them ones"]
