"""Task registry: canonical names, aliases, and lazy construction (no JAX import here)."""

from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING, Any

from tasks.errors import TaskConfigError, UnknownTaskError

if TYPE_CHECKING:
    from tasks.base import Task

# Canonical name -> (module, class). Order is the paper's order of presentation.
_TASKS: dict[str, tuple[str, str]] = {
    "copy": ("tasks.copy", "CopyTask"),
    "repeat-copy": ("tasks.repeat_copy", "RepeatCopyTask"),
    "associative-recall": ("tasks.associative_recall", "AssociativeRecallTask"),
    "dynamic-ngrams": ("tasks.dynamic_ngrams", "DynamicNGramsTask"),
    "priority-sort": ("tasks.priority_sort", "PrioritySortTask"),
}

TASK_NAMES: tuple[str, ...] = tuple(_TASKS)

# Short names a user may type instead of the canonical one.
ALIASES: dict[str, str] = {
    "repeat": "repeat-copy",
    "recall": "associative-recall",
    "ngrams": "dynamic-ngrams",
    "sort": "priority-sort",
}


def valid_names_sentence() -> str:
    """'copy, repeat-copy (or repeat), ...' for error messages and help text."""
    by_target: dict[str, list[str]] = {}
    for alias, target in ALIASES.items():
        by_target.setdefault(target, []).append(alias)
    parts = []
    for name in TASK_NAMES:
        aliases = by_target.get(name)
        parts.append(f"{name} (or {', '.join(aliases)})" if aliases else name)
    return ", ".join(parts)


def canonical_name(name: str) -> str:
    """Resolves a task name or alias, ignoring case and '_' vs '-'; raises UnknownTaskError."""
    key = name.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in _TASKS:
        raise UnknownTaskError(f"Unknown task '{name}'; valid tasks are {valid_names_sentence()}.")
    return key


def task_class(name: str) -> type[Task]:
    """The task's class (importing its module, and so JAX)."""
    module_name, class_name = _TASKS[canonical_name(name)]
    return getattr(importlib.import_module(module_name), class_name)


def make_task(name: str, **sizes: Any) -> Task:
    """Builds a task by name or alias with the paper's defaults, overriding the given sizes.

    Raises:
      UnknownTaskError: the name is not a task.
      TaskConfigError: a size does not belong to this task, or the sizes are impossible.
    """
    cls = task_class(name)
    fields = [f.name for f in dataclasses.fields(cls) if f.init]
    options = [f for f in fields if not f.startswith("norm_")]  # internal: set by evaluation variants
    unknown = sorted(set(sizes) - set(fields))
    if unknown:
        flags = ", ".join("--" + u.replace("_", "-") for u in unknown)
        takes = ", ".join("--" + f.replace("_", "-") for f in options)
        raise TaskConfigError(
            f"{flags} {'does' if len(unknown) == 1 else 'do'} not apply to task {cls.name}, "
            f"which takes {takes}."
        )
    return cls(**sizes)
