"""The algorithmic tasks of the Neural Turing Machine paper (Graves et al., 2014, section 4).

The class tasks of issue 16 join them, and any task another package registers under the
entry-point group `ntm.tasks` (`ntm_cli.tasks.plugins`; experiments/README.md, "Your own tasks").

Installed as `ntm_cli.tasks` (the folder stays at the repository's top level). Importing it
does not import JAX: a task's names, sizes and reference figures are plain class data, and JAX
is loaded when a task first samples.

    >>> from ntm_cli.tasks import make_task
    >>> task = make_task("copy", max_length=10)
    >>> batch = task.sample(jax.random.key(0), batch_size=32)   # Batch(inputs, targets, mask)
"""

from ntm_cli.tasks.errors import TaskConfigError, TaskPluginError, UnknownTaskError
from ntm_cli.tasks.registry import ALIASES, TASK_NAMES, TASKS, canonical_name, make_task, task_class

__all__ = [
    "ALIASES",
    "TASKS",
    "TASK_NAMES",
    "TaskConfigError",
    "TaskPluginError",
    "UnknownTaskError",
    "canonical_name",
    "make_task",
    "task_class",
]
