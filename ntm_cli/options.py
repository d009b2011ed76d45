"""What several commands take: the fixed choices (as enums, so `--help` lists them and Typer
refuses anything else), the task-size and evaluation-size options (read off the tasks, declared
once here for every command), and the parsers of comma-separated lists.

No JAX here: the command line reads all of it at start-up.
"""

from __future__ import annotations

import functools
import inspect
from enum import StrEnum
from typing import Annotated, Any, Callable, Optional

import typer

from ntm_cli.config import OPTIMIZERS
from ntm_cli.errors import InputError
from ntm_cli.experiments.presets import PRESETS
from ntm_cli.models.config import (
    CONTROLLED_FAMILIES, CONTROLLERS, MEMORY_INITS, MEMORY_SCOPES, MEMORY_STARTS, MODEL_NAMES,
)
from ntm_cli.runs import CHECKPOINT_KINDS
from ntm_cli.tasks.registry import axis_options, size_options


def _choices(name: str, values: tuple[str, ...]) -> type[StrEnum]:
    """An enum of `values` for Typer to list in --help and check; its members are the strings
    themselves (`Model("dnc") == "dnc"`), so they pass into configs as they are."""
    return StrEnum(name, [(value, value) for value in values])


# `ntm` is the NTM with --controller's choice of controller, as before model names existed;
# `kv` the key-value memory likewise.
Model = _choices("Model", (*MODEL_NAMES, *CONTROLLED_FAMILIES))
Controller = _choices("Controller", CONTROLLERS)
MemoryScope = _choices("MemoryScope", MEMORY_SCOPES)
MemoryStart = _choices("MemoryStart", MEMORY_STARTS)
Preset = _choices("Preset", PRESETS)
Optimizer = _choices("Optimizer", OPTIMIZERS)
MemoryInit = _choices("MemoryInit", MEMORY_INITS)
Checkpoint = _choices("Checkpoint", CHECKPOINT_KINDS)


def chosen_model(model: str, controller: str | None) -> str:
    """The one model name that --model and --controller give: `ntm` with --controller ff is
    'ntm-ff' (lstm by default), `kv` with --controller lstm is 'kv-lstm' (ff by default); any
    other --model is the name itself, and takes no --controller but its own.

    Raises:
      InputError: a --controller that contradicts the model.
    """
    if model in CONTROLLED_FAMILIES:
        return f"{model}-{controller or CONTROLLED_FAMILIES[model]}"
    if controller is not None and model != f"{model.split('-', 1)[0]}-{controller}":
        raise InputError(f"--controller {controller} does not apply to --model {model}; it picks the controller "
                         "of --model ntm or kv (or name the model: ntm-lstm, ntm-ff, kv-ff, kv-lstm).")
    return model


def parse_names(text: str, valid: tuple[str, ...], what: str) -> tuple[str, ...]:
    """'lstm, ntm-lstm' -> ('lstm', 'ntm-lstm'), duplicates dropped; InputError for an unknown
    name or none at all."""
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise InputError(f"give at least one {what}.")
    for name in names:
        if name not in valid:
            raise InputError(f"Unknown {what} '{name}'; valid {what}s are {', '.join(valid)}.")
    return names


def parse_models(text: str) -> tuple[str, ...]:
    """A comma-separated list of model names."""
    return parse_names(text, MODEL_NAMES, "model")


# --- options read off the tasks ------------------------------------------------------------------

SIZES_PANEL = "Task sizes (each applies to the tasks that have it)"


def _option(name: str, kind: type, help_text: str, panel: str | None = None) -> inspect.Parameter:
    """An optional keyword parameter `name` of type `kind`, declared as the option `--<name>`."""
    option = typer.Option("--" + name.replace("_", "-"), help=help_text, rich_help_panel=panel)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[Optional[kind], option])


def _with_options(command: Callable, extra: dict[str, inspect.Parameter], into: str) -> Callable:
    """`command` with the parameters `extra` added to its signature; those given (not None) are
    passed to it as one dict, the argument `into`."""
    signature = inspect.signature(command, eval_str=True)  # Typer reads the Annotated options
    kept = [p for p in signature.parameters.values() if p.name != into]

    @functools.wraps(command)
    def wrapper(**kwargs):
        given = {name: kwargs.pop(name) for name in extra}
        return command(**kwargs, **{into: {name: value for name, value in given.items() if value is not None}})

    wrapper.__signature__ = signature.replace(parameters=kept + list(extra.values()))
    return wrapper


def with_task_sizes(command: Callable) -> Callable:
    """Gives a command an option for every size a task has (`--max-length`, `--num-inputs`, ...;
    the union over the registered tasks, each option's help naming the tasks that have it) and
    passes those given as `task_sizes: dict[str, int]`. A size the chosen task lacks is refused
    when the task is built (`make_task`), naming the ones it takes."""
    extra = {
        field: _option(field, int, help_text, SIZES_PANEL)
        for field, (help_text, tasks) in size_options().items()
    }
    return _with_options(command, extra, "task_sizes")


def with_axis_values(command: Callable) -> Callable:
    """Gives a command an option for every evaluation axis a task has (`--lengths 10,20`,
    `--items`, `--repeats`, ...) and passes those given as `axis_values: dict[str, str]`, the
    text as typed (see `parse_axis_values`)."""
    extra = {
        option: _option(option, str, f"Values of {title} to evaluate at, such as 10,20,50 ({', '.join(tasks)}).")
        for option, (title, tasks) in axis_options().items()
    }
    return _with_options(command, extra, "axis_values")


def parse_axis_values(axis_values: dict[str, str]) -> dict[str, list[int]]:
    """{'lengths': '10,20'} -> {'lengths': [10, 20]}."""
    from ntm_cli.config import parse_int_list

    return {option: parse_int_list(text, f"--{option}") for option, text in axis_values.items()}


def given_options(command: Callable, values: dict[str, Any], allowed: set[str]) -> list[str]:
    """The options of `command` (as '--flag') that `values` sets to other than their defaults,
    but for those in `allowed`."""
    flags = []
    for name, parameter in inspect.signature(command).parameters.items():
        if name not in allowed and name in values and values[name] != parameter.default:
            flags.append("--" + name.replace("_", "-"))
    return flags
