"""The task registry: one line per built-in task, then the tasks other packages register under
the entry-point group `ntm.tasks` (`ntm_cli.tasks.plugins`). Names, aliases and sizes come from
the task classes.

Importing the registry imports the task modules and the plugins' but not JAX (see
`ntm_cli.lazy`): the command line reads names, aliases and size options from here at start-up,
so the plugins are found then, once. A plugin that fails to import or breaks the task contract
is left out; naming it (`canonical_name`) raises its one sentence, and `PLUGIN_PROBLEMS` holds
them all for `ntm tasks`.
"""

from __future__ import annotations

from typing import Any

from ntm_cli.tasks.associative_recall import AssociativeRecallTask
from ntm_cli.tasks.base import Task
from ntm_cli.tasks.copy import CopyTask
from ntm_cli.tasks.data import DataTask
from ntm_cli.tasks.dynamic_ngrams import DynamicNGramsTask
from ntm_cli.tasks.errors import TaskConfigError, TaskPluginError, UnknownTaskError
from ntm_cli.tasks.one_shot import OneShotTask
from ntm_cli.tasks.one_shot_digits import OneShotDigitsTask
from ntm_cli.tasks.plugins import Plugin, discover, sample_problem
from ntm_cli.tasks.priority_sort import PrioritySortTask
from ntm_cli.tasks.rare_events import RareEventsTask
from ntm_cli.tasks.repeat_copy import RepeatCopyTask

# The paper's five tasks in its order of presentation, then the class tasks of issue 16
# (one-shot learning and rare events, for the key-value memory).
BUILT_IN: tuple[type[Task], ...] = (
    CopyTask,
    RepeatCopyTask,
    AssociativeRecallTask,
    DynamicNGramsTask,
    PrioritySortTask,
    OneShotTask,
    OneShotDigitsTask,
    RareEventsTask,
)

_FOUND = discover({word: cls.name for cls in (*BUILT_IN, DataTask) for word in (cls.name, *cls.aliases)})
# Where each plugin task comes from (task name -> Plugin), and for each plugin left out, why
# (entry point name -> one sentence).
PLUGINS: dict[str, Plugin] = _FOUND.plugins
PLUGIN_PROBLEMS: dict[str, str] = _FOUND.problems

# Every task a user can name: the built-in ones, then the plugins' that keep the contract.
TASKS: tuple[type[Task], ...] = BUILT_IN + _FOUND.tasks
TASK_NAMES: tuple[str, ...] = tuple(cls.name for cls in TASKS)
# `data` (sequences from an archive, `ntm train --data`) is a name runs carry, not a task to list.
_BY_NAME: dict[str, type[Task]] = {cls.name: cls for cls in TASKS} | {DataTask.name: DataTask}

# Short names a user may type instead of the canonical one.
ALIASES: dict[str, str] = {alias: cls.name for cls in TASKS for alias in cls.aliases}


def valid_names_sentence() -> str:
    """'copy, repeat-copy (or repeat), ...' for error messages and help text."""
    return ", ".join(f"{cls.name} (or {', '.join(cls.aliases)})" if cls.aliases else cls.name for cls in TASKS)


def canonical_name(name: str) -> str:
    """Resolves a task name or alias, ignoring case and '_' vs '-'.

    Raises:
      TaskPluginError: the name is a plugin's that was left out (why, in one sentence).
      UnknownTaskError: the name is no task's.
    """
    key = name.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in _BY_NAME and key in PLUGIN_PROBLEMS:
        raise TaskPluginError(PLUGIN_PROBLEMS[key])
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
      TaskPluginError: the name is a plugin's that was left out.
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


def check_samples(task: Task) -> None:
    """Raises TaskPluginError if a plugin's task draws batches that break the contract (traced
    abstractly with JAX, a few milliseconds); a built-in task is not traced (the tests check it)."""
    plugin = PLUGINS.get(task.name)
    problem = sample_problem(task) if plugin is not None else None
    if problem:
        raise TaskPluginError(f"{plugin} breaks the task contract: {problem}.")


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
