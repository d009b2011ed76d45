"""What several commands take: the fixed choices (as enums, so `--help` lists them and Typer
refuses anything else), the options generated from the settings table (`ntm_cli.settings`) and
the tasks' evaluation axes, the budget's three options, and the one reader of comma-separated
lists.

No JAX here: the command line reads all of it at start-up.
"""

from __future__ import annotations

import functools
import inspect
from enum import StrEnum
from typing import Annotated, Any, Callable, Optional

import typer

from ntm_cli.config import MAX_SIZE, Budget, parse_duration
from ntm_cli.errors import InputError
from ntm_cli.experiments.presets import PRESETS
from ntm_cli.models.config import CONTROLLED_FAMILIES, CONTROLLERS, MEMORY_STARTS, MODEL_NAMES
from ntm_cli.runs import CHECKPOINT_KINDS
from ntm_cli.settings import ALL_SETTINGS, SIZE_SETTINGS, Setting, setting
from ntm_cli.tasks.registry import axis_options


def _choices(name: str, values: tuple[str, ...]) -> type[StrEnum]:
    """An enum of `values` for Typer to list in --help and check; its members are the strings
    themselves (`Model("dnc") == "dnc"`), so they pass into configs as they are."""
    return StrEnum(name, [(value, value) for value in values])


# `ntm` is the NTM with --controller's choice of controller, as before model names existed;
# `kv` the key-value memory likewise.
Model = _choices("Model", (*MODEL_NAMES, *CONTROLLED_FAMILIES))
Controller = _choices("Controller", CONTROLLERS)
MemoryStart = _choices("MemoryStart", MEMORY_STARTS)
Preset = _choices("Preset", PRESETS)
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
    """'lstm, ntm-lstm' -> ('lstm', 'ntm-lstm'); InputError for an unknown name, an empty item or
    a name given twice."""
    names = parse_list(text, f"--{what}s")
    for name in names:
        if name not in valid:
            raise InputError(f"Unknown {what} '{name}'; valid {what}s are {', '.join(valid)}.")
    return names


def parse_models(text: str) -> tuple[str, ...]:
    """A comma-separated list of model names; the family names `--model` takes stand for their
    default controller, as there ('ntm': ntm-lstm, 'kv': kv-ff)."""
    named = ",".join(chosen_model(name.strip(), None) if name.strip() in CONTROLLED_FAMILIES else name
                     for name in text.split(","))
    return parse_names(named, MODEL_NAMES, "model")


# --- options generated from the tables: settings (`ntm_cli.settings`) and the tasks' axes -------------


# `--tensorboard` (train, compare, sweep): how reports are written, not a setting of the run, so it
# is not in config.json and a study reuses a finished run with or without it.
TensorBoard = Annotated[bool, typer.Option(
    "--tensorboard",
    help="Also write TensorBoard event files into each run folder (view with `tensorboard --logdir runs`): "
         "cost, bit errors (train and held-out), sequences/s, learning rate and mean gradient norm at every "
         "report, against training sequences; for an NTM or DNC also the `ntm memory` figure, every 5th report "
         "and at the end (a forward pass and a drawing, ~0.5 s each on a CPU).")]


def _option(name: str, kind: Any, help_text: str, panel: str | None = None,
            metavar: str | None = None) -> inspect.Parameter:
    """An optional keyword parameter `name` of type `kind`, declared as the option `--<name>`."""
    bounds = {"max": MAX_SIZE} if kind is int else {}  # beyond int32 no size is right
    option = typer.Option("--" + name.replace("_", "-"), help=help_text, rich_help_panel=panel, metavar=metavar,
                          **bounds)
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


def _one_value_type(row: Setting) -> Any:
    """What Typer parses one value of a setting as: its choices as an enum, else its type."""
    return _choices(row.name.title().replace("_", ""), row.choices) if row.choices else row.kind


def with_settings(command: Callable) -> Callable:
    """Gives a command (`ntm train`) an option for every setting, one value each, and passes
    those given as `settings: dict[str, value]`."""
    extra = {row.name: _option(row.name, _one_value_type(row), row.help, row.panel) for row in ALL_SETTINGS}
    return _with_options(command, extra, "settings")


def with_setting_lists(command: Callable) -> Callable:
    """Gives a command (`ntm compare`, `ntm sweep`) an option for every setting, each a
    comma-separated list of values (a grid), and passes those given as `grid: dict[str, str]`,
    the text as typed (see `parse_grid`)."""
    extra = {
        row.name: _option(row.name, str, f"{row.help} Several: comma-separated, such as {row.example}.",
                          row.panel, metavar="VALUES")
        for row in ALL_SETTINGS
    }
    return _with_options(command, extra, "grid")


def with_task_sizes(command: Callable) -> Callable:
    """Gives a command (`ntm show`) an option for every size a task has and passes those given as
    `task_sizes: dict[str, int]`. A size the chosen task lacks is refused when the task is built
    (`make_task`), naming the ones it takes."""
    extra = {row.name: _option(row.name, int, row.help, row.panel) for row in SIZE_SETTINGS}
    return _with_options(command, extra, "task_sizes")


def parse_list(text: str, what: str) -> tuple[str, ...]:
    """'copy, sort' -> ('copy', 'sort'): every command's one reader of a comma-separated list.

    Raises:
      InputError: an empty list, an empty item ('copy,,sort') or an item given twice.
    """
    items = tuple(part.strip() for part in text.split(","))
    if not any(items):
        raise InputError(f"{what} needs at least one value, got {text!r}.")
    if not all(items):
        raise InputError(f"{what} has an empty item in {text!r}; separate values by single commas.")
    twice = sorted({item for item in items if items.count(item) > 1})
    if twice:
        raise InputError(f"{what} gives {', '.join(twice)} twice.")
    return items


def parse_grid(grid: dict[str, Any]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """{'lr': '1e-3,3e-4'} (or a TOML list) -> (('lr', ('1e-3', '3e-4')),): each value checked for
    its type and choices as the setting reads it, kept as typed (so labels and commands show what
    the user wrote)."""
    parsed = []
    for name, values in grid.items():
        row = setting(name)
        items = parse_list(values, row.flag) if isinstance(values, str) else tuple(values)
        if not items:
            raise InputError(f"{row.flag} needs at least one value.")
        for item in items:
            row.value(item)  # refused here, before anything is trained
        parsed.append((row.name, tuple(_typed(row, item) for item in items)))
    return tuple(parsed)


def parse_study_grid(grid: dict[str, Any]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """`parse_grid` for a study (`ntm compare`, `ntm sweep`): every seed stops once solved unless
    `--until budget` is given, so seeds that have solved cost nothing more."""
    return parse_grid(grid if grid.get("until") is not None else {**grid, "until": "solved"})


def _typed(row: Setting, item: Any) -> Any:
    """A grid value in its setting's type, as written ('128x20', 0.001, 4)."""
    return row.kind(item.strip() if isinstance(item, str) else item)


# --- the budget: the same three options on train, compare and sweep ------------------------------------------

BUDGET_PANEL = "Budget (one of --steps, --sequences, --time; train: --time may join either)"
Steps = Annotated[Optional[int], typer.Option(help="Optimiser steps per run.", rich_help_panel=BUDGET_PANEL)]
Sequences = Annotated[Optional[int], typer.Option(help="Training sequences per run (steps x batch).",
                                                   rich_help_panel=BUDGET_PANEL)]
Time = Annotated[Optional[str], typer.Option("--time", help="Training time per run, such as 90s, 5m or 1h.",
                                             rich_help_panel=BUDGET_PANEL)]


def budget(steps: int | None, sequences: int | None, time: str | None) -> Budget:
    """The budget the three options give (InputError for a bad one)."""
    return Budget(steps, sequences, parse_duration(time) if time is not None else None)


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
