"""Modules imported on first use.

Task files declare their sizes, evaluation axes and reference figures as plain class data,
which the command line reads to build its options; with JAX and NumPy imported only when a
task first samples or prints, `ntm --help` does not pay their import time (about a second).

    from ntm_cli.lazy import jax, jnp, np     # in a task file, as `import jax` would be
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stands for a module and imports it at the first attribute looked up on it."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        module: ModuleType = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


jax = LazyModule("jax")
jnp = LazyModule("jax.numpy")
np = LazyModule("numpy")
