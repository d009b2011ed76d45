"""Which devices a training or an evaluation runs on, and how its arrays are laid out on them.

Everything goes through `jax.sharding`: a one-axis `Mesh` over the local devices, and
`NamedSharding`s that split either the seed axis (seeds trained together in one program are
independent, so each device trains its share) or, where the seeds do not divide, the batch axis
(each device runs its share of the sequences; XLA sums the gradients across devices). The
compiled training chunk stays one program. On one device nothing is placed or constrained:
the program is exactly the single-device one.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ntm_cli.errors import InputError

AXIS = "devices"


def local_devices(limit: int | None = None) -> list[jax.Device]:
    """The devices this process may use: all local ones, or the first `limit`.

    Raises:
      InputError: `limit` is below 1 or above what this machine has.
    """
    devices = jax.local_devices()
    if limit is None:
        return devices
    if limit < 1:
        raise InputError(f"--devices must be at least 1, got {limit}.")
    if limit > len(devices):
        kind = devices[0].platform.upper()
        raise InputError(f"--devices {limit} asks for more devices than this machine has ({len(devices)} {kind} "
                         f"device{'s' if len(devices) > 1 else ''}).")
    return devices[:limit]


def describe(devices: list[jax.Device]) -> dict[str, Any]:
    """For config.json and `ntm bench`: how many devices, of which kind."""
    return {"count": len(devices), "platform": devices[0].platform,
            "kinds": sorted({getattr(d, "device_kind", d.platform) for d in devices})}


def _largest_divisor(count: int, size: int) -> int:
    """The most devices (at most `count`) that split `size` evenly."""
    return max(d for d in range(1, count + 1) if size % d == 0)


class Layout(NamedTuple):
    """How a training's arrays sit on its devices.

    Attributes:
      mesh: the devices in use, one mesh axis (None on one device).
      split: 'seeds' (the leading seed axis of the state is split), 'batch' (each step's batch
        is split along B), or None (one device).
    """

    mesh: Mesh | None
    split: str | None

    @property
    def count(self) -> int:
        return 1 if self.mesh is None else self.mesh.size

    def seeds(self) -> NamedSharding | None:
        """For arrays with a leading seed axis: split it, or copy them to every device."""
        if self.mesh is None:
            return None
        return NamedSharding(self.mesh, PartitionSpec(AXIS) if self.split == "seeds" else PartitionSpec())

    def batch(self) -> NamedSharding | None:
        """For a time-major batch `[T, B, ...]` when the batch axis is the one split."""
        return NamedSharding(self.mesh, PartitionSpec(None, AXIS)) if self.split == "batch" else None

    def place(self, tree: Any) -> Any:
        """Puts arrays with a leading seed axis where the layout wants them (unchanged on one device)."""
        sharding = self.seeds()
        return tree if sharding is None else jax.device_put(tree, sharding)

    def constrain_batch(self, tree: Any) -> Any:
        """Inside a compiled function: asks XLA to split a batch's B axis across the devices."""
        sharding = self.batch()
        return tree if sharding is None else jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), tree)


def training_layout(devices: list[jax.Device], seeds: int, batch_size: int) -> Layout:
    """Split the seeds where they divide across more devices than the batch does; else the batch."""
    if len(devices) == 1:
        return Layout(None, None)
    by_seeds, by_batch = _largest_divisor(len(devices), seeds), _largest_divisor(len(devices), batch_size)
    if max(by_seeds, by_batch) == 1:
        return Layout(None, None)
    split, count = ("seeds", by_seeds) if by_seeds >= by_batch else ("batch", by_batch)
    return Layout(Mesh(devices[:count], (AXIS,)), split)


def evaluation_layout(devices: list[jax.Device], batch_size: int) -> Layout:
    """Evaluation splits the batch across the devices that divide it."""
    count = _largest_divisor(len(devices), batch_size)
    return Layout(None, None) if count == 1 else Layout(Mesh(devices[:count], (AXIS,)), "batch")
