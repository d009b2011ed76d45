"""Priority sort (paper section 4.5): output the highest-priority vectors, highest first.

The input is `num_inputs` random W-bit vectors, each with a scalar priority drawn uniformly
from [-1, 1] on an extra channel; then a delimiter. The target is the `num_outputs` vectors of
highest priority, whole vectors in decreasing order of priority. Layout for 4 inputs, 2 outputs:

            time  0  1  2  3  4  5  6
    input   bits  a  b  c  d  .  .  .      a..d: random W-bit vectors
        priority  pa pb pc pd .  .  .      e.g. pa=-0.2 pb=0.9 pc=0.1 pd=0.5
       delimiter  .  .  .  .  #  .  .
    target  bits  .  .  .  .  .  b  d      the top-2 by priority, highest first
            mask  .  .  .  .  .  #  #

Every sequence has the same length, T = num_inputs + 1 + num_outputs.
"""

from __future__ import annotations

import dataclasses

from ntm_cli.lazy import jax, jnp, np
from ntm_cli.tasks.base import Example, Reading, Solved, Task, check, random_bits, size


@dataclasses.dataclass(frozen=True)
class PrioritySortTask(Task):
    """Priority sort: the paper sorts 20 inputs into the top 16 (vector width 8 is the usual)."""

    name = "priority-sort"
    aliases = ("sort",)
    summary = "output the highest-priority input vectors in order of priority"
    paper = {"ntm": Reading(19.0, "~18-20"), "lstm": Reading(58.0, "~58")}
    paper_order = ("ntm", "lstm")  # the NTMs below the LSTM
    # Not "no errors": the paper's NTM itself ends at ~18-20 bits per sequence (its LSTM at ~58).
    solved = Solved("cost", 25.0, "the level of the paper's NTM, ~18-20 bits/seq, within 5")

    width: int = size(8, "Bits per vector.")  # W (not stated in the paper; 8 is the common choice)
    num_inputs: int = size(20, "Vectors to sort.")  # vectors read
    num_outputs: int = size(16, "Top vectors to output.")  # highest-priority vectors to write, highest first

    def validate(self) -> None:
        check(self.width >= 1, f"width must be at least 1, got {self.width}.")
        check(self.num_inputs >= 1, f"num inputs must be at least 1, got {self.num_inputs}.")
        check(self.num_outputs >= 1, f"num outputs must be at least 1, got {self.num_outputs}.")
        check(
            self.num_outputs <= self.num_inputs,
            f"num outputs ({self.num_outputs}) cannot exceed num inputs ({self.num_inputs}).",
        )

    @property
    def input_size(self) -> int:
        return self.width + 2

    @property
    def output_size(self) -> int:
        return self.width

    @property
    def max_time(self) -> int:
        return self.num_inputs + 1 + self.num_outputs

    @property
    def chance_cost(self) -> float:
        return float(self.num_outputs * self.width)

    def input_labels(self) -> list[str]:
        return [f"bit {i}" for i in range(self.width)] + ["priority", "delimiter"]

    def output_labels(self) -> list[str]:
        return [f"bit {i}" for i in range(self.width)]

    def sample_one(self, key: jax.Array) -> Example:
        key_bits, key_priority = jax.random.split(key)
        n_in, n_out = self.num_inputs, self.num_outputs
        vectors = random_bits(key_bits, (n_in, self.width))  # [n_in, W]
        priority = jax.random.uniform(key_priority, (n_in,), minval=-1.0, maxval=1.0)
        ranked = jnp.argsort(-priority)[:n_out]  # input index of each output, highest first

        read = jnp.concatenate(
            [vectors, priority[:, None], jnp.zeros((n_in, 1))], axis=-1
        )  # [n_in, W + 2]
        delimiter = jnp.zeros((1, self.width + 2)).at[0, -1].set(1.0)
        inputs = jnp.concatenate([read, delimiter, jnp.zeros((n_out, self.width + 2))], axis=0)
        targets = jnp.concatenate([jnp.zeros((n_in + 1, self.width)), vectors[ranked]], axis=0)
        mask = jnp.concatenate([jnp.zeros(n_in + 1), jnp.ones(n_out)])
        return Example(inputs, targets, mask)

    def describe(self, example: dict[str, np.ndarray]) -> list[str]:
        priority = example["inputs"][: self.num_inputs, self.width]
        order = np.argsort(-priority, kind="stable")[: self.num_outputs]
        return [
            "priorities by input step: " + " ".join(f"{p:+.2f}" for p in priority),
            "answer takes input steps: " + " ".join(str(i) for i in order),
        ]
