"""Reverse: read random binary vectors, then write them back last first.

    time   0 1 2 3 4 5 6        length L = 3 of at most 3: T = 2 * 3 + 1
    input  a b c . . . .        a, b, c: random W-bit vectors
           . . . # . . .        the delimiter, on its own channel, at step L
    target . . . . c b a        the vectors last first, steps L+1 .. 2L
    mask   . . . . # # #
"""

from __future__ import annotations  # annotations stay text: `jax.Array` would import JAX

import dataclasses

from ntm_cli.lazy import jax, jnp  # JAX on first use: `ntm --help` stays quick
from ntm_cli.tasks.base import Example, SizeAxis, Solved, Task, check, random_bits, size


@dataclasses.dataclass(frozen=True)
class ReverseTask(Task):
    name = "reverse"  # the entry point's name
    summary = "read random binary vectors, then write them back last first"
    axes = (SizeAxis("lengths", ("max_length",), "length up to {}", "longest sequence"),)
    solved = Solved("bit_errors", 1.0, "every sequence reversed, but for less than one bit in all")

    width: int = size(8, "Bits per vector.")  # W
    max_length: int = size(10, "Longest sequence.")  # L is uniform on [1, max_length]

    def validate(self) -> None:
        check(self.width >= 1 and self.max_length >= 1, "width and max length must be at least 1.")

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
        return (1 + self.max_length) / 2 * self.width  # 1 bit for each scored target bit

    def input_labels(self) -> list[str]:
        return [f"bit {i}" for i in range(self.width)] + ["delimiter"]

    def output_labels(self) -> list[str]:
        return [f"bit {i}" for i in range(self.width)]

    def sample_one(self, key: jax.Array) -> Example:
        key_length, key_bits = jax.random.split(key)
        length = jax.random.randint(key_length, (), 1, self.max_length + 1)
        bits = random_bits(key_bits, (self.max_length, self.width))  # [max_length, W]
        t = jnp.arange(self.max_time)  # [T]
        reading, answering = t < length, (t > length) & (t <= 2 * length)
        shown = bits[jnp.clip(jnp.where(answering, 2 * length - t, t), 0, self.max_length - 1)]  # [T, W]
        delimiter = (t == length).astype(jnp.float32)[:, None]  # [T, 1]
        inputs = jnp.concatenate([shown * reading[:, None], delimiter], axis=-1)  # [T, W + 1]
        return Example(inputs, shown * answering[:, None], answering.astype(jnp.float32))

    def generalisation_sizes(self) -> list[dict[str, int]]:
        return [{"lengths": 20}]
