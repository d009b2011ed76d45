"""Which devices a training or an evaluation runs on, and how its arrays are laid out on them.

Everything goes through `jax.sharding`: a one-axis `Mesh` over the local devices, and
`NamedSharding`s that split either the seed axis (seeds trained together in one program are
independent, so each device trains its share) or, where the seeds do not divide, the batch axis
(each device runs its share of the sequences; XLA sums the gradients across devices). The
compiled training chunk stays one program. On one device nothing is placed or constrained:
the program is exactly the single-device one.

On a CPU, XLA makes one host device unless told otherwise, and one training then runs on one
thread's worth of its matrix and elementwise work. `use_every_core` (called by the `ntm`
command before JAX starts) asks for one host device per core this process may use, so that a
training splits its batch (or its seeds) across the cores like any other set of devices: 1.5x
the sequences per second at batch 32 on the 2-core machine (experiments/benchmarks/README.md).
A worker pinned to one core (`ntm compare`'s pool, a Ray trial of one CPU) gets one.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from typing import TYPE_CHECKING, Any, NamedTuple

from ntm_cli.errors import InputError
from ntm_cli.lazy import jax

if TYPE_CHECKING:
    from jax.sharding import Mesh, NamedSharding

AXIS = "devices"
HOST_DEVICES_FLAG = "--xla_force_host_platform_device_count"


def usable_cores() -> int:
    """The cores this process may run on (its affinity; all of them where that is unknown)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def host_device_flags(flags: str, count: int, replace: bool = False) -> str:
    """XLA_FLAGS asking for `count` CPU host devices.

    Args:
      flags: the XLA_FLAGS there are ("" if none).
      count: host devices wanted (>= 1).
      replace: drop a count already in `flags`; otherwise such a count (the user's) is kept.
    """
    pattern = re.compile(re.escape(HOST_DEVICES_FLAG) + r"=\S*")
    if pattern.search(flags):
        if not replace:
            return flags
        flags = pattern.sub("", flags)
    if count <= 1 and not replace:
        return " ".join(flags.split())
    return " ".join(flags.split() + [f"{HOST_DEVICES_FLAG}={max(1, count)}"])


def use_every_core(count: int | None = None, replace: bool = False) -> None:
    """Before JAX starts: one CPU host device per usable core (or `count`), in XLA_FLAGS.

    A count the user put in XLA_FLAGS is kept unless `replace`. XLA reads the flags when JAX
    starts its backends, so once JAX is imported this does nothing.
    """
    if "jax" in sys.modules:
        return
    flags = host_device_flags(os.environ.get("XLA_FLAGS", ""), usable_cores() if count is None else count, replace)
    if flags:
        os.environ["XLA_FLAGS"] = flags
    else:
        os.environ.pop("XLA_FLAGS", None)


# Where compiled programs are kept between commands, unless JAX_COMPILATION_CACHE_DIR says.
CACHE_ENV = "JAX_COMPILATION_CACHE_DIR"
CACHE_LIMIT_BYTES = 4 * 2**30


def use_compilation_cache() -> None:
    """Before JAX starts: keep compiled programs on disk between commands (JAX's persistent
    compilation cache, in $XDG_CACHE_HOME/ntm/jax, else ~/.cache/ntm/jax), so that a run of a
    configuration compiled before starts at once, and a study's seeds, each trained in a process
    of its own, compile once. A folder the user (or the tests) set is kept; NTM_NO_CACHE=1 turns
    it off. The cache is bounded, and a bound gives it the file lock that keeps two processes
    from reading an entry the other is writing. JAX keys entries by the program, the JAX and
    XLA versions and the devices, so a stale entry is never used. Without the filelock package
    (a dependency) JAX refuses the bound on every read, so the cache stays off."""
    if "jax" in sys.modules or CACHE_ENV in os.environ or os.environ.get("NTM_NO_CACHE"):
        return
    if importlib.util.find_spec("filelock") is None:
        return
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    os.environ[CACHE_ENV] = os.path.join(base, "ntm", "jax")
    os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(CACHE_LIMIT_BYTES))


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


# A CPU device's share of a split training batch is at least this many sequences: below it the
# split costs more than it gains (2-core machine: batch 4 on two devices 0.7x one, batch 8 the
# same as one, batch 32 1.5x; experiments/benchmarks/README.md). Accelerators split any batch.
CPU_MIN_SHARE = 8


def _min_share(devices: list[jax.Device]) -> int:
    """The fewest sequences of a batch one of these devices is given (CPU_MIN_SHARE on a CPU)."""
    return CPU_MIN_SHARE if devices[0].platform == "cpu" else 1


def _largest_divisor(count: int, size: int, min_share: int = 1) -> int:
    """The most devices (at most `count`) that split `size` evenly, each getting >= `min_share`."""
    return max(d for d in range(1, count + 1) if size % d == 0 and (d == 1 or size // d >= min_share))


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
        P = jax.sharding.PartitionSpec
        return jax.sharding.NamedSharding(self.mesh, P(AXIS) if self.split == "seeds" else P())

    def batch(self) -> NamedSharding | None:
        """For a time-major batch `[T, B, ...]` when the batch axis is the one split."""
        if self.split != "batch":
            return None
        return jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec(None, AXIS))

    def place(self, tree: Any) -> Any:
        """Puts arrays with a leading seed axis where the layout wants them (unchanged on one device)."""
        sharding = self.seeds()
        return tree if sharding is None else jax.device_put(tree, sharding)

    def constrain_batch(self, tree: Any) -> Any:
        """Inside a compiled function: asks XLA to split a batch's B axis across the devices."""
        sharding = self.batch()
        return tree if sharding is None else jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), tree)


def training_layout(devices: list[jax.Device], seeds: int, batch_size: int) -> Layout:
    """Split the seeds where they divide across more devices than the batch does; else the batch
    (on CPU devices only into shares of CPU_MIN_SHARE sequences or more)."""
    if len(devices) == 1:
        return Layout(None, None)
    by_seeds = _largest_divisor(len(devices), seeds)
    by_batch = _largest_divisor(len(devices), batch_size, _min_share(devices))
    if max(by_seeds, by_batch) == 1:
        return Layout(None, None)
    split, count = ("seeds", by_seeds) if by_seeds >= by_batch else ("batch", by_batch)
    return Layout(jax.sharding.Mesh(devices[:count], (AXIS,)), split)


def evaluation_layout(devices: list[jax.Device], batch_size: int) -> Layout:
    """Evaluation splits the batch across the devices that divide it (shares as in training)."""
    count = _largest_divisor(len(devices), batch_size, _min_share(devices))
    return Layout(None, None) if count == 1 else Layout(jax.sharding.Mesh(devices[:count], (AXIS,)), "batch")
