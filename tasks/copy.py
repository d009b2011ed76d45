"""Copy (paper section 4.1): read a sequence of random binary vectors, then write it back.

Layout for length L = 3, width W = 4, padded to T = 2 * max_length + 1 (here max_length = 4):

            time  0 1 2 3 4 5 6 7 8
    input   bits  a b c . . . . . .      a, b, c: random W-bit vectors
         delimiter . . . # . . . . .      the flag on its own channel, at step L
    target  bits  . . . . a b c . .      the same vectors, steps L+1 .. 2L
            mask  . . . . # # # . .      scored exactly at the answer steps

No input is given during the answer. L is uniform on [min_length, max_length].
"""

from __future__ import annotations

import dataclasses

from ntm_cli.lazy import jax, jnp, np
from ntm_cli.tasks.base import Example, Reading, SizeAxis, Solved, Task, check, random_bits, size


@dataclasses.dataclass(frozen=True)
class CopyTask(Task):
    """Copy: the paper's settings are 8-bit vectors, lengths 1 to 20."""

    name = "copy"
    summary = "read random binary vectors, then write them back"
    axes = (SizeAxis("lengths", ("min_length", "max_length"), "length {}", "sequence length"),)
    paper = {"ntm": Reading(0.0, "~0 by 100-200k"), "lstm": Reading(1.0, "~0.5-2 at 1M")}
    paper_order = ("ntm", "lstm")  # the NTMs below the LSTM
    solved = Solved("bit_errors", 1.0, "every sequence copied, but for less than one bit in all")

    width: int = size(8, "Bits per vector.")  # W
    min_length: int = size(1, "Shortest sequence.")  # vectors in the shortest sequence
    max_length: int = size(20, "Longest sequence.")  # sets T = 2 * max_length + 1

    def validate(self) -> None:
        check(self.width >= 1, f"width must be at least 1, got {self.width}.")
        check(self.min_length >= 1, f"min length must be at least 1, got {self.min_length}.")
        check(
            self.max_length >= self.min_length,
            f"max length ({self.max_length}) must not be below min length ({self.min_length}).",
        )

    @property
    def input_size(self) -> int:
        return self.width + 1

    @property
    def output_size(self) -> int:
        return self.width

    @property
    def max_time(self) -> int:
        return 2 * self.max_length + 1

    @property
    def chance_cost(self) -> float:
        return (self.min_length + self.max_length) / 2 * self.width

    def input_labels(self) -> list[str]:
        return [f"bit {i}" for i in range(self.width)] + ["delimiter"]

    def output_labels(self) -> list[str]:
        return [f"bit {i}" for i in range(self.width)]

    def sample_one(self, key: jax.Array) -> Example:
        key_length, key_bits = jax.random.split(key)
        length = jax.random.randint(key_length, (), self.min_length, self.max_length + 1)
        bits = random_bits(key_bits, (self.max_length, self.width))  # [max_length, W]
        t = jnp.arange(self.max_time)  # [T]

        is_input = t < length
        is_answer = (t > length) & (t <= 2 * length)
        # Step t shows vector t while reading and vector t - L - 1 while answering.
        shown = bits[jnp.clip(jnp.where(is_answer, t - length - 1, t), 0, self.max_length - 1)]

        inputs = jnp.concatenate(
            [shown * is_input[:, None], (t == length)[:, None].astype(jnp.float32)], axis=-1
        )  # [T, W + 1]
        targets = shown * is_answer[:, None]  # [T, W]
        return Example(inputs, targets, is_answer.astype(jnp.float32))

    def describe(self, example: dict[str, np.ndarray]) -> list[str]:
        return [f"length {int(example['mask'].sum())}"]

    def generalisation_sizes(self) -> list[dict[str, int]]:
        return [{"lengths": n} for n in (10, 20, 30, 50, 120)]
