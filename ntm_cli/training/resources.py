"""Whether a configuration fits this machine's memory, checked before any work starts.

Two estimates, both made without allocating: one from sizes alone (parameters counted on an
abstract model, the data a batch holds), before anything is built; then XLA's own account of a
compiled program (its temporaries, arguments and outputs), before it first runs. A
configuration that cannot fit is refused in one sentence that names the figure; an allocation
that fails all the same is reported the same way (`out_of_memory`).
"""

from __future__ import annotations

import os
from typing import Any

from ntm_cli.errors import InputError

FLOAT_BYTES = 4
# What training keeps per parameter: the parameter, its gradient, Adam's two moments, and the
# update (RMSProp with momentum keeps as many).
TRAINING_COPIES = 5
# Headroom: the process itself (Python, JAX, XLA) and what the estimates leave out.
USABLE_FRACTION = 0.85


def available_bytes() -> int:
    """Memory this process can still take: MemAvailable on Linux, else the physical memory."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def size_text(count: float) -> str:
    """Bytes for people: '512 MB', '3.2 GB', '12 TB'."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if count < 1000 or unit == "PB":
            return f"{count:.0f} {unit}" if unit in ("bytes", "KB", "MB") or count >= 100 else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError


def check_fits(need: float, what: str) -> None:
    """Raises InputError, one sentence naming both figures, if `need` bytes cannot fit."""
    available = available_bytes()
    if need > USABLE_FRACTION * available:
        raise InputError(f"{what} needs about {size_text(need)} of memory, more than this machine can give "
                         f"({size_text(available)} free); make it smaller.")


def batch_bytes(task, batch_size: int) -> int:
    """A batch's inputs, targets and mask: T x B x (in + out + 1) floats."""
    return task.max_time * batch_size * (task.input_size + task.output_size + 1) * FLOAT_BYTES


def program_bytes(compiled: Any) -> int:
    """What a compiled XLA program takes while it runs: temporaries, arguments and outputs."""
    stats = compiled.memory_analysis()
    if stats is None:  # a backend that does not say
        return 0
    return (stats.temp_size_in_bytes + stats.argument_size_in_bytes + stats.output_size_in_bytes
            - stats.alias_size_in_bytes)


def out_of_memory(error: BaseException) -> InputError | None:
    """The one-sentence error for an allocation that failed all the same (None if `error` is not
    one): XLA raises it as a runtime error whose text says RESOURCE_EXHAUSTED."""
    text = str(error)
    if isinstance(error, MemoryError) or "RESOURCE_EXHAUSTED" in text or "Out of memory" in text:
        return InputError(f"this machine ran out of memory ({size_text(available_bytes())} free now); "
                          "make the configuration smaller.")
    return None
