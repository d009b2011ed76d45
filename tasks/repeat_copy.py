"""Repeat copy (paper section 4.2): copy a sequence a given number of times, then mark the end.

Layout for length L = 2, n = 3 repeats, width W = 3; T = max_length * (max_repeats + 1) + 2:

            time  0 1 2 3 4 5 6 7 8 9 ...
    input   bits  a b . . . . . . . .       a, b: random W-bit vectors
       delimiter  . . # . . . . . . .       the flag, at step L
         repeats  . . r . . . . . . .       r = (n - mean) / std, on its own channel, at step L
    target  bits  . . . a b a b a b .       the sequence n times, steps L+1 .. L+nL
             end  . . . . . . . . . #       end marker on an extra output channel, step L+nL+1
            mask  . . . # # # # # # #       scored over the nL + 1 answer steps

r is n normalised to mean 0 and variance 1 over the *training* distribution of n (uniform on
[norm_min_repeats, norm_max_repeats], by default the task's own range), so evaluating at more
repeats than training keeps the scalar's meaning. L and n are uniform and independent.
"""

from __future__ import annotations

import dataclasses
import math

from ntm_cli.lazy import jax, jnp, np
from ntm_cli.tasks.base import Example, Reading, SizeAxis, Solved, Task, check, random_bits, size


@dataclasses.dataclass(frozen=True)
class RepeatCopyTask(Task):
    """Repeat copy: the paper's settings are 8-bit vectors, lengths 1-10, repeats 1-10."""

    name = "repeat-copy"
    aliases = ("repeat",)
    summary = "copy a sequence n times, then emit an end marker"
    axes = (
        SizeAxis("lengths", ("min_length", "max_length"), "length {}", "sequence length"),
        SizeAxis("repeats", ("min_repeats", "max_repeats"), "repeats {}", "repeats"),
    )
    paper = {"ntm": Reading(0.0, "~0 by ~150k"), "lstm": Reading(0.0, "~0, after NTM")}
    paper_order = ("ntm", "lstm")  # the NTMs below the LSTM
    solved = Solved("bit_errors", 1.0, "every repeat written, but for less than one bit in all")

    width: int = size(8, "Bits per vector.")  # W
    min_length: int = size(1, "Shortest sequence.")
    max_length: int = size(10, "Longest sequence.")
    min_repeats: int = size(1, "Fewest repeats.")  # fewest copies asked for
    max_repeats: int = size(10, "Most repeats.")  # most copies asked for
    norm_min_repeats: int | None = None  # training range the repeat scalar is normalised over;
    norm_max_repeats: int | None = None  # None means [min_repeats, max_repeats]

    def validate(self) -> None:
        check(self.width >= 1, f"width must be at least 1, got {self.width}.")
        check(self.min_length >= 1, f"min length must be at least 1, got {self.min_length}.")
        check(
            self.max_length >= self.min_length,
            f"max length ({self.max_length}) must not be below min length ({self.min_length}).",
        )
        check(self.min_repeats >= 1, f"min repeats must be at least 1, got {self.min_repeats}.")
        check(
            self.max_repeats >= self.min_repeats,
            f"max repeats ({self.max_repeats}) must not be below min repeats ({self.min_repeats}).",
        )
        low, high = self.repeat_norm_range
        check(low >= 1 and high >= low, f"the repeat normalisation range {low}-{high} is empty.")

    @property
    def repeat_norm_range(self) -> tuple[int, int]:
        """The range of n (inclusive) whose uniform distribution normalises the repeat scalar."""
        low = self.min_repeats if self.norm_min_repeats is None else self.norm_min_repeats
        high = self.max_repeats if self.norm_max_repeats is None else self.norm_max_repeats
        return low, high

    @property
    def repeat_mean_std(self) -> tuple[float, float]:
        """Mean and standard deviation of n uniform on the normalisation range (std 1 if fixed)."""
        low, high = self.repeat_norm_range
        count = high - low + 1
        std = math.sqrt((count * count - 1) / 12.0)
        return (low + high) / 2.0, (std if std > 0 else 1.0)

    def normalise_repeats(self, n: jax.Array) -> jax.Array:
        """r = (n - mean) / std."""
        mean, std = self.repeat_mean_std
        return (n - mean) / std

    @property
    def input_size(self) -> int:
        return self.width + 2

    @property
    def output_size(self) -> int:
        return self.width + 1

    @property
    def max_time(self) -> int:
        return self.max_length * (self.max_repeats + 1) + 2

    @property
    def chance_cost(self) -> float:
        mean_length = (self.min_length + self.max_length) / 2
        mean_repeats = (self.min_repeats + self.max_repeats) / 2
        return (mean_length * mean_repeats + 1) * self.output_size

    def input_labels(self) -> list[str]:
        return [f"bit {i}" for i in range(self.width)] + ["delimiter", "repeats"]

    def output_labels(self) -> list[str]:
        return [f"bit {i}" for i in range(self.width)] + ["end"]

    def sample_one(self, key: jax.Array) -> Example:
        key_length, key_repeats, key_bits = jax.random.split(key, 3)
        length = jax.random.randint(key_length, (), self.min_length, self.max_length + 1)
        repeats = jax.random.randint(key_repeats, (), self.min_repeats, self.max_repeats + 1)
        bits = random_bits(key_bits, (self.max_length, self.width))  # [max_length, W]
        t = jnp.arange(self.max_time)  # [T]

        end = length + repeats * length + 1  # step of the end marker
        is_input = t < length
        is_copy = (t > length) & (t < end)
        # While answering, step t shows vector (t - L - 1) mod L.
        index = jnp.where(is_copy, (t - length - 1) % length, t)
        shown = bits[jnp.clip(index, 0, self.max_length - 1)]  # [T, W]

        at_delimiter = (t == length).astype(jnp.float32)
        inputs = jnp.concatenate(
            [
                shown * is_input[:, None],
                at_delimiter[:, None],
                (at_delimiter * self.normalise_repeats(repeats))[:, None],
            ],
            axis=-1,
        )  # [T, W + 2]
        targets = jnp.concatenate(
            [shown * is_copy[:, None], (t == end)[:, None].astype(jnp.float32)], axis=-1
        )  # [T, W + 1]
        mask = (t > length) & (t <= end)
        return Example(inputs, targets, mask.astype(jnp.float32))

    def describe(self, example: dict[str, np.ndarray]) -> list[str]:
        inputs = example["inputs"]
        length = int(np.argmax(inputs[:, self.width]))
        scalar = float(inputs[length, self.width + 1])
        mean, std = self.repeat_mean_std
        repeats = round(scalar * std + mean)
        return [f"length {length}, repeats {repeats} (repeat channel {scalar:+.3f})"]

    def variant(self, **sizes) -> Task:
        """Keeps the repeat scalar normalised over this task's training range."""
        low, high = self.repeat_norm_range
        return dataclasses.replace(self, **({"norm_min_repeats": low, "norm_max_repeats": high} | sizes))

    def generalisation_sizes(self) -> list[dict[str, int]]:
        """Twice the length and twice the repeats, alone and together (the paper's test)."""
        length, repeats = self.max_length, self.max_repeats
        pairs = ((length, repeats), (2 * length, repeats), (length, 2 * repeats), (2 * length, 2 * repeats))
        return [{"lengths": l, "repeats": n} for l, n in pairs]
