"""Tasks from other packages: each a `Task` subclass that its package registers under the Python
entry-point group `ntm.tasks`, the entry point's name being the task's name:

    [project.entry-points."ntm.tasks"]
    reverse = "ntm_reverse:ReverseTask"

The registry loads them once, when it is first imported (the command line's options include
their sizes), and keeps those that keep the contract (experiments/README.md, "Your own tasks");
each one that fails to import or breaks it is left out, with one sentence naming it (entry point
and distribution) and what is wrong. Loading a plugin imports its module, nothing more: a module
that imports JAX through `ntm_cli.lazy`, as the built-in tasks do, keeps `ntm --help` quick.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Iterable, NamedTuple

from ntm_cli.tasks.base import Batch, Task

GROUP = "ntm.tasks"

# What a task's name and aliases look like: what `canonical_name` makes of what a user types
# (lower case, '-' for '_').
NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class Plugin(NamedTuple):
    """Where a plugin task comes from, to name it in messages."""

    name: str  # the entry point's name, which is the task's name
    value: str  # what it loads: 'module:Class'
    distribution: str  # the package that declares it, with its version: 'ntm-reverse 0.1.0'

    def __str__(self) -> str:
        """"task plugin 'reverse' (ntm_reverse:ReverseTask, from ntm-reverse 0.1.0)"."""
        return f"task plugin '{self.name}' ({self.value}, from {self.distribution})"


class Found(NamedTuple):
    """What the entry points of the group gave."""

    tasks: tuple[type[Task], ...]  # the plugins' task classes that keep the contract
    plugins: dict[str, Plugin]  # task name -> where it came from, for each of `tasks`
    problems: dict[str, str]  # entry point name (as `canonical_name` spells it) -> why that plugin is left out


def plugin_of(entry_point: Any) -> Plugin:
    """The Plugin an `importlib.metadata.EntryPoint` describes."""
    dist = getattr(entry_point, "dist", None)
    distribution = f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"
    return Plugin(entry_point.name, entry_point.value, distribution)


def contract_problem(loaded: Any, entry_name: str) -> str | None:
    """What, in words, keeps what an entry point loaded from being a task ('it is not a frozen
    dataclass'); None if it keeps the contract as far as can be told without sampling (which
    `sample_problem` checks).

    It must be a frozen dataclass subclassing `Task`, named as its entry point, with aliases and
    summary of the right kind, and its default sizes must make a task of positive sizes.
    """
    if not (isinstance(loaded, type) and issubclass(loaded, Task)) or loaded is Task:
        return f"it loads {loaded!r}, which is not a subclass of ntm_cli.tasks.base.Task"
    params = getattr(loaded, "__dataclass_params__", None)
    if "__dataclass_fields__" not in vars(loaded) or params is None or not params.frozen:
        return "it is not a frozen dataclass (decorate it with @dataclasses.dataclass(frozen=True))"
    name = getattr(loaded, "name", None)
    if name != entry_name:
        return f"its name {name!r} is not its entry point's name '{entry_name}'"
    if not NAME.fullmatch(name):
        return f"its name '{name}' is not lower-case letters, digits and single dashes"
    aliases = loaded.aliases
    if not isinstance(aliases, tuple) or not all(isinstance(a, str) and NAME.fullmatch(a) for a in aliases):
        return f"its aliases {aliases!r} are not a tuple of lower-case names"
    if not isinstance(getattr(loaded, "summary", None), str):
        return "it has no summary (one line for `ntm tasks`)"
    if loaded.output_kind not in ("bits", "class"):
        return f"its output_kind {loaded.output_kind!r} is neither 'bits' nor 'class'"
    try:
        task = loaded()
        sizes = {"input_size": task.input_size, "output_size": task.output_size, "max_time": task.max_time}
        float(task.chance_cost)
    except Exception as error:  # the plugin's own code: anything may go wrong
        return f"its default sizes do not make a task ({describe(error)})"
    wrong = [f"{key} {value!r}" for key, value in sizes.items() if not (isinstance(value, int) and value >= 1)]
    if wrong:
        return f"its default task has {', '.join(wrong)}, where each must be a whole number of at least 1"
    return None


def load(entry_points: Iterable[Any], taken: dict[str, str]) -> Found:
    """Loads and checks every entry point; a name or alias that a built-in task has (`taken`:
    word -> its task's name) or that two plugins claim leaves the plugins that claim it out.

    Args:
      entry_points: `importlib.metadata.EntryPoint`s (anything with name, value, dist, load()).
      taken: the built-in tasks' names and aliases, each -> the task's name.
    """
    loaded: list[tuple[Plugin, type[Task]]] = []
    problems: dict[str, str] = {}
    for entry_point in entry_points:
        plugin = plugin_of(entry_point)
        key = plugin.name.lower().replace("_", "-")  # as a user may type it
        try:
            cls = entry_point.load()
        except Exception as error:  # an ImportError, or anything the module raises as it runs
            problems[key] = f"{plugin} failed to import: {describe(error)}."
            continue
        problem = contract_problem(cls, plugin.name)
        if problem:
            problems[key] = f"{plugin} breaks the task contract: {problem}."
        else:
            loaded.append((plugin, cls))

    claims: dict[str, list[Plugin]] = {}
    for plugin, cls in loaded:
        for word in (cls.name, *cls.aliases):
            claims.setdefault(word, []).append(plugin)
    kept = []
    for plugin, cls in loaded:
        clash = next((word for word in (cls.name, *cls.aliases) if word in taken or len(claims[word]) > 1), None)
        if clash is None:
            kept.append((plugin, cls))
            continue
        what = "name" if clash == cls.name else "alias"
        other = (f"taken by the built-in task {taken[clash]}" if clash in taken else
                 f"claimed by {next((p for p in claims[clash] if p != plugin), plugin)} as well")
        problems[plugin.name] = f"{plugin} is left out: its {what} '{clash}' is {other}."
    return Found(tuple(cls for _, cls in kept), {cls.name: plugin for plugin, cls in kept}, problems)


def discover(taken: dict[str, str]) -> Found:
    """The task plugins of the installed packages (the entry points of `GROUP` on `sys.path`)."""
    from importlib.metadata import entry_points

    return load(entry_points(group=GROUP), taken)


def sample_problem(task: Task) -> str | None:
    """What is wrong with the batches a task draws, found by tracing `sample` abstractly (no
    numbers are computed): an error, or shapes and dtypes other than Batch(inputs [T, B, in],
    targets [T, B, out], mask [T, B]), float32, T = max_time. None if there is nothing."""
    import jax
    import numpy as np

    batch = 2
    try:
        drawn = jax.eval_shape(lambda key: task._sample(key, batch), jax.random.key(0))
    except Exception as error:  # the plugin's own code
        return f"sampling a batch fails ({describe(error)})"
    expected = Batch((task.max_time, batch, task.input_size), (task.max_time, batch, task.output_size),
                     (task.max_time, batch))
    for field, got, shape in zip(Batch._fields, drawn, expected):
        if tuple(got.shape) != shape or got.dtype != np.float32:
            return (f"its {field} come out {got.dtype}{list(got.shape)} where float32{list(shape)} was due "
                    f"(T = max_time {task.max_time}, B = {batch}, in {task.input_size}, out {task.output_size})")
    return None


def describe(error: BaseException) -> str:
    """An exception in one line: 'ModuleNotFoundError: No module named 'x''."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0].rstrip('.')}" if text else type(error).__name__
