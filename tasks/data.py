"""Your own data: sequences read from a NumPy archive (`ntm train --data mine.npz`).

The archive's arrays are batch-major, `inputs [S, T, I]`, `targets [S, T, O]`, `mask [S, T]`
(see `ntm_cli.training.data` for the format and its checks). The task holds them as device
arrays and draws a batch by indexing them, so a step's data is drawn inside the compiled program
as a generator's would be:

            S sequences on the device       a training batch of B
    inputs  [S, T, I] --------------------> inputs[idx] -> [T, B, I]   idx ~ uniform{0..S-1}^B
    targets [S, T, O] --------------------> targets[idx] -> [T, B, O]  (drawn from the step's key)
    mask    [S, T]    --------------------> mask[idx] -> [T, B]

The held-out set is a task of its own (`heldout()`), never trained on; it is read in order
(sequence i of a batch is held-out sequence i mod its count), so every held-out batch of a
multiple of its count weighs each held-out sequence alike; `ntm eval` reads every held-out
sequence once (`heldout_batches`).

The trainer passes the arrays into its compiled chunk, and `ntm eval` each held-out batch into its
compiled pass, as arguments (`device_data`, `with_device_data`) rather than letting them be baked
into the programs as constants.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ntm_cli.lazy import jax, jnp, np
from ntm_cli.tasks.base import Batch, Example, Task


@dataclasses.dataclass(frozen=True, eq=False)
class DataTask(Task):
    """Sequences from an archive. Equal (and hashed alike) when the data's SHA-256, the part of
    it (training or held-out) and the shapes are: it can be a static argument to `jax.jit`."""

    name = "data"
    summary = "sequences from your own NumPy archive (ntm train --data FILE)"
    compare_models = ("lstm", "ntm-lstm", "ntm-ff")

    inputs: Any = None  # [S, T, I] float32 device array
    targets: Any = None  # [S, T, O] float32 device array
    mask: Any = None  # [S, T] float32 device array
    output_kind: str = "bits"  # 'bits' or 'class' (the archive's `output_kind`, or inferred)
    digest: str = ""  # the archive's SHA-256: with `part` and the shapes, what tells data apart
    part: str = "train"  # 'train': drawn at random; 'heldout': read in order
    chance: float = 0.0  # the chance cost in bits per sequence (computed on the host at load)
    held: DataTask | None = None  # the held-out set (training part only)

    def __post_init__(self) -> None:  # arrays, not sizes: none of the base class' whole-number checks
        pass

    # --- identity: the data, not the arrays' objects -------------------------------------------

    def _identity(self) -> tuple:
        return (self.digest, self.part, self.output_kind, tuple(self.inputs.shape), tuple(self.targets.shape))

    def __hash__(self) -> int:
        return hash(self._identity())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataTask) and self._identity() == other._identity()

    # --- sizes --------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """S: the sequences this part holds."""
        return int(self.inputs.shape[0])

    @property
    def input_size(self) -> int:
        return int(self.inputs.shape[2])

    @property
    def output_size(self) -> int:
        return int(self.targets.shape[2])

    @property
    def max_time(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def chance_cost(self) -> float:
        return self.chance

    @property
    def error_name(self) -> str:
        return "wrong answers" if self.output_kind == "class" else "bit errors"

    def sizes(self) -> dict[str, Any]:
        """No sizes a user may set: the archive fixes them."""
        return {}

    def sizes_text(self) -> str:
        return f"{self.count} sequences of T={self.max_time}"

    def heldout(self) -> Task:
        return self if self.held is None else self.held

    def input_labels(self) -> list[str]:
        return [f"in {i}" for i in range(self.input_size)]

    def output_labels(self) -> list[str]:
        return [f"out {i}" for i in range(self.output_size)]

    # --- the arrays inside a compiled program -------------------------------------------------

    def device_data(self) -> tuple[Any, Any, Any]:
        """(inputs, targets, mask) of the training part, for a compiled program's arguments."""
        return self.inputs, self.targets, self.mask

    def with_device_data(self, data: tuple[Any, Any, Any]) -> DataTask:
        """The task drawing from `data` (the traced arguments of `device_data`)."""
        inputs, targets, mask = data
        return dataclasses.replace(self, inputs=inputs, targets=targets, mask=mask)

    def heldout_batches(self, batch_size: int) -> tuple[list[Any], int]:
        """Batches of `batch_size` reading each sequence of this part once, in order: batch b holds
        sequences bB .. bB + B - 1, the last one filled up from the start (whose results the
        caller drops), each as the `device_data` of a part of B sequences."""
        count = self.count
        batches = []
        for first in range(0, count, batch_size):
            index = np.arange(first, first + batch_size) % count
            batches.append((self.inputs[index], self.targets[index], self.mask[index]))
        return batches, count

    # --- sampling -----------------------------------------------------------------------------

    def indices(self, key: jax.Array, batch_size: int) -> jax.Array:
        """`[B]` int32: the sequences of a batch: uniform draws from `key` (training), or
        0, 1, ... modulo the count (held-out, whatever the key)."""
        if self.part == "heldout":
            return jnp.arange(batch_size, dtype=jnp.int32) % self.count
        return jax.random.randint(key, (batch_size,), 0, self.count, dtype=jnp.int32)

    def sample(self, key: jax.Array, batch_size: int) -> Batch:
        """A batch, time-major: inputs `[T, B, I]`, targets `[T, B, O]`, mask `[T, B]`. Traced in
        the caller's program (not compiled on its own: the arrays are the caller's arguments)."""
        index = self.indices(key, batch_size)
        return Batch(jnp.swapaxes(self.inputs[index], 0, 1), jnp.swapaxes(self.targets[index], 0, 1),
                     jnp.swapaxes(self.mask[index], 0, 1))

    def sample_at(self, key: jax.Array, index: int) -> Batch:
        batch = self.sample(key, index + 1)
        return Batch(*(x[:, index:index + 1] for x in batch))

    def sample_one(self, key: jax.Array) -> Example:
        i = self.indices(key, 1)[0]
        return Example(self.inputs[i], self.targets[i], self.mask[i])

    def describe(self, example: dict[str, np.ndarray]) -> list[str]:
        return [f"{int(example['mask'].sum())} scored steps"]
