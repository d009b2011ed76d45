"""The task registry: one line per task. Names, aliases and sizes come from the task classes.

Importing the registry imports the task modules but not JAX (see `ntm_cli.lazy`): the command
line reads names, aliases and size options from here at start-up.
"""

from __future__ import annotations

from typing import Any

from ntm_cli.tasks.associative_recall import AssociativeRecallTask
from ntm_cli.tasks.base import Task
from ntm_cli.tasks.copy import CopyTask
from ntm_cli.tasks.data import DataTask
from ntm_cli.tasks.dynamic_ngrams import DynamicNGramsTask
from ntm_cli.tasks.errors import TaskConfigError, UnknownTaskError
from ntm_cli.tasks.one_shot import OneShotTask
from ntm_cli.tasks.one_shot_digits import OneShotDigitsTask
from ntm_cli.tasks.priority_sort import PrioritySortTask
from ntm_cli.tasks.rare_events import RareEventsTask
from ntm_cli.tasks.repeat_copy import RepeatCopyTask

# The paper's five tasks in its order of presentation, then the class tasks of issue 16
# (one-shot learning and rare events, for the key-value memory).
TASKS: tuple[type[Task], ...] = (
    CopyTask,
    RepeatCopyTask,
    AssociativeRecallTask,
    DynamicNGramsTask,
    PrioritySortTask,
    OneShotTask,
    OneShotDigitsTask,
    RareEventsTask,
)

TASK_NAMES: tuple[str, ...] = tuple(cls.name for cls in TASKS)
# `data` (sequences from an archive, `ntm train --data`) is a name runs carry, not a task to list.
_BY_NAME: dict[str, type[Task]] = {cls.name: cls for cls in TASKS} | {DataTask.name: DataTask}

# Short names a user may type instead of the canonical one.
ALIASES: dict[str, str] = {alias: cls.name for cls in TASKS for alias in cls.aliases}


def valid_names_sentence() -> str:
    """'copy, repeat-copy (or repeat), ...' for error messages and help text."""
    return ", ".join(f"{cls.name} (or {', '.join(cls.aliases)})" if cls.aliases else cls.name for cls in TASKS)


def canonical_name(name: str) -> str:
    """Resolves a task name or alias, ignoring case and '_' vs '-'; raises UnknownTaskError."""
    key = name.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in _BY_NAME:
        raise UnknownTaskError(f"Unknown task '{name}'; valid tasks are {valid_names_sentence()}.")
    return key


def task_class(name: str) -> type[Task]:
    """The class of a task name or alias."""
    return _BY_NAME[canonical_name(name)]


def make_task(name: str, **sizes: Any) -> Task:
    """Builds a task by name or alias with the paper's defaults, overriding the given sizes.

    Raises:
      UnknownTaskError: the name is not a task.
      TaskConfigError: a size does not belong to this task, or the sizes are impossible.
    """
    cls = task_class(name)
    if cls is DataTask:
        raise TaskConfigError("task data is read from an archive: train it with --data FILE, not by name.")
    options = cls.size_fields()
    internal = {f for f in cls.__dataclass_fields__ if f not in options}  # set by evaluation variants
    unknown = sorted(set(sizes) - set(options) - internal)
    if unknown:
        flags = ", ".join("--" + u.replace("_", "-") for u in unknown)
        takes = ", ".join("--" + f.replace("_", "-") for f in options)
        raise TaskConfigError(
            f"{flags} {'does' if len(unknown) == 1 else 'do'} not apply to task {cls.name}, "
            f"which takes {takes}."
        )
    return cls(**sizes)


def size_options() -> dict[str, tuple[str, list[str]]]:
    """Every size a user may set on some task: field -> (help, short names of the tasks that have
    it). Tasks that mean different things by one field each get their own words in the help:
    'Bits per sequence (ngrams); examples per sequence (rare).'"""
    meanings: dict[str, dict[str, list[str]]] = {}
    for cls in TASKS:
        for field, help_text in cls.size_fields().items():
            meanings.setdefault(field, {}).setdefault(help_text.rstrip("."), []).append(cls.short_name())
    options = {}
    for field, texts in meanings.items():
        tasks = [task for names in texts.values() for task in names]
        if len(texts) == 1:
            options[field] = (f"{next(iter(texts))} ({', '.join(tasks)}).", tasks)
        else:
            parts = [f"{text[0].lower() + text[1:] if i else text} ({', '.join(names)})"
                     for i, (text, names) in enumerate(texts.items())]
            options[field] = ("; ".join(parts) + ".", tasks)
    return options


def axis_options() -> dict[str, tuple[str, list[str]]]:
    """Every evaluation axis: option -> (the axis' title, short names of the tasks that have it)."""
    options: dict[str, tuple[str, list[str]]] = {}
    for cls in TASKS:
        for axis in cls.axes:
            options.setdefault(axis.option, (axis.title, []))[1].append(cls.short_name())
    return options
