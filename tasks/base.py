"""The interface every task shares: a frozen config that samples fixed-shape, masked batches.

A task is a frozen dataclass of sizes (hashable, so it can be a static argument to `jax.jit`).
Its shapes depend only on those sizes: variable lengths are padded to the task's maximum `T`
and a mask marks the steps whose targets count, so one compilation serves a whole run.

Every example is drawn from `fold_in(key, index)`, so example `i` of a key is the same whatever
the batch size.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from tasks.errors import TaskConfigError


class Batch(NamedTuple):
    """A time-major batch of sequences.

    Attributes:
      inputs: `[T, B, input_size]` float32, zero where a sequence has ended.
      targets: `[T, B, output_size]` float32 in {0, 1}, zero where the mask is zero.
      mask: `[T, B]` float32 in {0, 1}: 1 at the steps whose targets are scored.
    """

    inputs: jax.Array
    targets: jax.Array
    mask: jax.Array


class Example(NamedTuple):
    """One sequence, as `Task.sample_one` returns it (no batch axis)."""

    inputs: jax.Array  # [T, input_size]
    targets: jax.Array  # [T, output_size]
    mask: jax.Array  # [T]


def check(condition: bool, message: str) -> None:
    """Raises TaskConfigError(message) unless the condition holds."""
    if not condition:
        raise TaskConfigError(message)


def random_bits(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Independent fair bits as float32 0.0/1.0, `shape`."""
    return jax.random.bernoulli(key, 0.5, shape).astype(jnp.float32)


@dataclasses.dataclass(frozen=True)
class Task:
    """Base class: subclasses add their size fields, `sample_one` and the size properties."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str]

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            check(
                isinstance(value, int) and not isinstance(value, bool),
                f"{field.name.replace('_', ' ')} must be a whole number, got {value!r}.",
            )
        self.validate()

    # --- to implement -------------------------------------------------------------------------

    def validate(self) -> None:
        """Raises TaskConfigError, one sentence, for sizes that describe no valid sequence."""

    @property
    def input_size(self) -> int:
        """Input channels per time step."""
        raise NotImplementedError

    @property
    def output_size(self) -> int:
        """Output (target) channels per time step."""
        raise NotImplementedError

    @property
    def max_time(self) -> int:
        """T: the padded sequence length, inputs and answer together."""
        raise NotImplementedError

    @property
    def chance_cost(self) -> float:
        """Expected cost in bits per sequence of predicting 0.5 for every scored target bit.

        Each scored bit then costs exactly 1 bit, so this is the expected number of scored
        target bits (mask steps x output channels) over the task's distribution.
        """
        raise NotImplementedError

    def sample_one(self, key: jax.Array) -> Example:
        """One example; a pure function of `key` with shapes fixed by the sizes."""
        raise NotImplementedError

    def describe(self, example: dict[str, np.ndarray]) -> list[str]:
        """Lines that explain one example in words (its length, the query, ...)."""
        return []

    def input_labels(self) -> list[str]:
        """A short label per input channel, for printing."""
        raise NotImplementedError

    def output_labels(self) -> list[str]:
        """A short label per output channel, for printing."""
        raise NotImplementedError

    def generalisation_variants(self) -> dict[str, Task]:
        """The paper's evaluation sizes beyond training (label -> task); empty if none."""
        return {}

    # --- shared -------------------------------------------------------------------------------

    @functools.partial(jax.jit, static_argnums=(0, 2))
    def sample(self, key: jax.Array, batch_size: int) -> Batch:
        """Draws a batch; pure, and compiled once per task and batch size.

        Args:
          key: a PRNG key.
          batch_size: B, a Python int.

        Returns:
          Batch(inputs [T, B, input_size], targets [T, B, output_size], mask [T, B]).
        """
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(batch_size))
        example = jax.vmap(self.sample_one)(keys)  # each leaf [B, T, ...]
        return Batch(
            inputs=jnp.swapaxes(example.inputs, 0, 1),
            targets=jnp.swapaxes(example.targets, 0, 1),
            mask=jnp.swapaxes(example.mask, 0, 1),
        )

    @functools.partial(jax.jit, static_argnums=0)
    def sample_at(self, key: jax.Array, index: int) -> Batch:
        """A batch of one: example `index` of `sample(key, B)` for any B > index."""
        example = self.sample_one(jax.random.fold_in(key, index))
        return Batch(example.inputs[:, None], example.targets[:, None], example.mask[:, None])

    def floor_cost(self) -> float:
        """The lowest expected cost in bits per sequence any model can reach (0 if deterministic)."""
        return 0.0

    def sizes_text(self) -> str:
        """The sizes in words, ranges joined: 'width 8, length 1-20'."""
        sizes = {k: v for k, v in self.sizes().items() if v is not None}
        parts = []
        for name, value in sizes.items():
            if "max_" in name and name.replace("max_", "min_") in sizes:
                continue
            if "min_" in name and name.replace("min_", "max_") in sizes:
                high = sizes[name.replace("min_", "max_")]
                value = f"{value}-{high}" if high != value else str(value)
                name = name.replace("min_", "")
            parts.append(f"{name.replace('_', ' ')} {value}")
        return ", ".join(parts)

    def sizes(self) -> dict[str, Any]:
        """The task's size fields as a plain dict (for configs and tables)."""
        return dataclasses.asdict(self)

    def variant(self, **sizes: Any) -> Task:
        """The same task with some sizes changed (for evaluation at other sizes)."""
        return dataclasses.replace(self, **sizes)

    def render(self, batch: Batch, index: int = 0, columns: int = 100, title: str | None = None) -> str:
        """Example `index` of a batch as text: one row per channel, one column per time step.

        Binary channels print '#' for 1 and '.' for 0; other values print '+' or '-' by sign
        (their values are given in the description lines). Steps after the last step that
        carries an input or a scored target are left out; long sequences wrap every `columns`.
        """
        inputs = np.asarray(batch.inputs[:, index])  # [T, in]
        targets = np.asarray(batch.targets[:, index])  # [T, out]
        mask = np.asarray(batch.mask[:, index])  # [T]
        used = np.flatnonzero((np.abs(inputs).sum(-1) > 0) | (mask > 0))
        steps = int(used[-1]) + 1 if used.size else 1
        rows = (
            [("input " + label, inputs[:steps, c]) for c, label in enumerate(self.input_labels())]
            + [("target " + label, targets[:steps, c]) for c, label in enumerate(self.output_labels())]
            + [("mask", mask[:steps])]
        )
        width = max(len(label) for label, _ in rows)
        example = {"inputs": inputs, "targets": targets, "mask": mask}
        title = title or f"{self.name}: example {index}"
        lines = [f"{title}, {steps} of T={self.max_time} steps shown ('#' = 1, '.' = 0)"]
        lines += self.describe(example)
        for start in range(0, steps, columns):
            stop = min(start + columns, steps)
            lines.append("")
            lines.append(f"{'time':>{width}} {start}..{stop - 1}")
            lines += [f"{label:>{width}} {_cells(values[start:stop])}" for label, values in rows]
        return "\n".join(lines)


def _cells(values: np.ndarray) -> str:
    """'#' for 1, '.' for 0, '+' / '-' for other positive / negative values."""
    out = []
    for v in values:
        if v == 1.0:
            out.append("#")
        elif v == 0.0:
            out.append(".")
        else:
            out.append("+" if v > 0 else "-")
    return "".join(out)
