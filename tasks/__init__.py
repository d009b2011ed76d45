"""The five algorithmic tasks of the Neural Turing Machine paper (Graves et al., 2014, section 4).

Importing this package does not import JAX: the registry below resolves names and aliases, and
a task's module (which does import JAX) is loaded only when a task is built.

    >>> from tasks import make_task
    >>> task = make_task("copy", max_length=10)
    >>> batch = task.sample(jax.random.key(0), batch_size=32)   # Batch(inputs, targets, mask)
"""

from tasks.errors import TaskConfigError, UnknownTaskError
from tasks.registry import ALIASES, TASK_NAMES, canonical_name, make_task, task_class

__all__ = [
    "ALIASES",
    "TASK_NAMES",
    "TaskConfigError",
    "UnknownTaskError",
    "canonical_name",
    "make_task",
    "task_class",
]
