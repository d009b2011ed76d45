"""Every setting a user can give a run, declared once: its option, type, help, check, and where
its value goes in a TrainConfig.

`ntm train` takes one value of each, `ntm compare` and `ntm sweep` comma-separated lists (a
grid); all three generate their options from `SETTINGS` (`ntm_cli.cli.options`), and every
route from options to a config goes through `apply_settings`. A new option is one row here.

A row applies to some model families (`--memory` to the NTM, the DNC and the key-value memory)
or some tasks (a task size): given to a run whose model or task does not have it, it is refused
with one sentence naming what the run takes; a study leaves it out of the runs it does not
apply to and says so (`ntm_cli.studies.study`).

No JAX and no Typer here: the command line reads the table at start-up.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping

from ntm_cli.config import (MAX_SIZE, MAX_STEPS_PER_CALL, OPTIMIZERS, TrainConfig, off_if_zero,
                            parse_layers, parse_memory)
from ntm_cli.errors import InputError
from ntm_cli.models.config import MEMORY_INITS, MEMORY_SCOPES, model_family

MODEL = "Model (override the preset)"
TRAINING = "Optimisation (override the preset)"
SIZES = "Task sizes (each applies to the tasks that have it)"

FAMILIES = frozenset({"ntm", "dnc", "lstm", "kv"})
FAMILY_NAMES = {"ntm": "the NTM", "dnc": "the DNC", "lstm": "the LSTM baseline", "kv": "the key-value memory"}

# Where a value goes: {'model.memory_rows': 128, 'optimizer.learning_rate': 1e-3, 'batch_size': 8,
# 'task_sizes.max_length': 20}, given the value (as `Setting.read` returns it) and the config
# it changes.
Fields = Callable[[Any, TrainConfig], dict[str, Any]]


def to(*paths: str) -> Fields:
    """The value itself, at each of `paths`."""
    return lambda value, config: {path: value for path in paths}


@dataclasses.dataclass(frozen=True)
class Setting:
    """One option: `--<name with dashes>`, one value of `kind` as typed."""

    name: str
    kind: type  # int, float or str
    help: str
    panel: str
    fields: Fields
    families: frozenset[str] = FAMILIES  # the model families that have it
    tasks: frozenset[str] | None = None  # the tasks that have it (None: every task)
    read: Callable[[Any], Any] | None = None  # checks and converts a typed value; raises InputError
    choices: tuple[str, ...] = ()
    example: str = ""  # two values, for the list form's help: '1e-3,3e-4'

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def applies(self, task: str, model: str) -> bool:
        """Whether a run of `model` on `task` (canonical names) has this setting."""
        return model_family(model) in self.families and (self.tasks is None or task in self.tasks)

    def value(self, given: Any) -> Any:
        """A value as typed (text, or a number from TOML) as the config takes it.

        Raises:
          InputError: a value of the wrong type, not among the choices, or refused by `read`.
        """
        if isinstance(given, str):
            given = given.strip()
        try:
            if isinstance(given, bool) or (self.kind is int and isinstance(given, float) and not given.is_integer()):
                raise ValueError
            typed = self.kind(given)
            if self.kind is float and not math.isfinite(typed):
                raise ValueError
        except (TypeError, ValueError):
            what = {int: "whole numbers", float: "finite numbers", str: "text"}[self.kind]
            raise InputError(f"{self.flag} takes {what}, got {given!r}.") from None
        if self.kind is int and abs(typed) > MAX_SIZE:  # beyond int32: no size or count can be right
            raise InputError(f"{self.flag} must be at most {MAX_SIZE:,}, got {typed:,}.")
        if self.choices and typed not in self.choices:
            raise InputError(f"{self.flag} must be one of {', '.join(self.choices)}, got {typed!r}.")
        return self.read(typed) if self.read is not None else typed


# --- the reading and checking of values that need more than their type --------------------------------


def _at_least(minimum: int, flag: str, most: int | None = None) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < minimum or (most is not None and value > most):
            bound = f"between {minimum:,} and {most:,}" if most is not None else f"at least {minimum:,}"
            raise InputError(f"{flag} must be {bound}, got {value:,}.")
        return value

    return check


def _positive(flag: str) -> Callable[[float], float]:
    def check(value: float) -> float:
        if not value > 0:
            raise InputError(f"{flag} must be a positive number, got {value:g}.")
        return value

    return check


def _lstm_layers(text: str) -> tuple[int, int]:
    """'3x256' -> (3, 256): the baseline's layers all have one size."""
    sizes = parse_layers(text, "--lstm-size")
    if len(set(sizes)) != 1:
        raise InputError(f"--lstm-size: the LSTM baseline's layers all have one size, such as 3x256, got {text!r}.")
    return len(sizes), sizes[0]


def _curriculum(text: str) -> int | str | None:
    """'solved', or a number of sequences (0: none)."""
    if text == "solved":
        return text
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = -1
    if value < 0 or value >= 2**31:
        raise InputError(f"--curriculum must be solved, a number of sequences below 2**31, or 0 for none; "
                         f"got {text!r}.")
    return value or None


def _fraction(flag: str, zero: bool, one: bool) -> Callable[[float], float]:
    """A check of a fraction between 0 and 1, each end allowed where `zero` / `one` says."""
    def check(value: float) -> float:
        if not (value > 0 or zero and value == 0) or not (value < 1 or one and value == 1):
            span = f"{'[' if zero else '('}0, 1{']' if one else ')'}"
            raise InputError(f"{flag} must be a fraction in {span}, got {value:g}.")
        return value

    return check


def _decay_steps(value: int) -> int | None:
    decay = off_if_zero(value, "--lr-decay-steps", "for a constant rate")
    return None if decay is None else int(decay)


def _memory(value: tuple[int, int], config: TrainConfig) -> dict[str, Any]:
    """N x M, or the key-value memory's N x key size."""
    width = "model.key_size" if config.model.kind == "kv" else "model.memory_width"
    return {"model.memory_rows": value[0], width: value[1]}


def _steps_per_call(value: int, config: TrainConfig) -> dict[str, Any]:
    """Reports stay at whole calls: the preset's interval, rounded to a multiple of the calls
    (`--report-every`, later in the table, overrides it)."""
    return {"steps_per_call": value, "report_every": max(config.report_every // value, 1) * value}


# `--until solved`: the reports in a row that must meet the solved rule (one could be a fluke of
# the held-out batch; three reports are a few thousand sequences apart).
SOLVED_REPORTS = 3

_NTM_DNC = frozenset({"ntm", "dnc"})
_MEMORIES = frozenset({"ntm", "dnc", "kv"})

SETTINGS: tuple[Setting, ...] = (
    # --- the model -----------------------------------------------------------------------------
    Setting("heads", int, "Read/write head pairs.", MODEL,
            to("model.num_read_heads", "model.num_write_heads"), _NTM_DNC, read=_at_least(1, "--heads"),
            example="1,2"),
    Setting("read_heads", int, "Read heads.", MODEL, to("model.num_read_heads"), _NTM_DNC,
            read=_at_least(1, "--read-heads"), example="1,2"),
    Setting("write_heads", int, "Write heads.", MODEL, to("model.num_write_heads"), _NTM_DNC,
            read=_at_least(1, "--write-heads"), example="1,2"),
    Setting("memory", str, "Memory ROWSxWIDTH, such as 128x20 (the key-value memory: ROWSxKEY).", MODEL,
            _memory, _MEMORIES, read=parse_memory, example="64x8,128x20"),
    Setting("controller_size", str, "Controller layers: 100, 2x100 or 128,64.", MODEL,
            to("model.controller_sizes"), _MEMORIES, read=lambda text: parse_layers(text, "--controller-size"),
            example="100,2x100"),
    Setting("lstm_size", str, "LSTM baseline layers x size, such as 3x256.", MODEL,
            lambda value, config: {"model.num_layers": value[0], "model.hidden_size": value[1]},
            frozenset({"lstm"}), read=_lstm_layers, example="1x256,3x256"),
    Setting("memory_init", str, "The NTM's initial memory.", MODEL, to("model.memory_init"),
            frozenset({"ntm"}), choices=MEMORY_INITS, example="constant,learned"),
    Setting("shift_range", int, "The NTM's allowed shifts -r..r.", MODEL, to("model.shift_range"),
            frozenset({"ntm"}), read=_at_least(0, "--shift-range"), example="1,2"),
    Setting("head_clip", float, "Clip raw head outputs to +/- this (0: off).", MODEL, to("model.head_clip"),
            _NTM_DNC, read=lambda v: off_if_zero(v, "--head-clip"), example="0,20"),
    Setting("neighbours", int, "Key-value memory: the k nearest neighbours (at most its rows).", MODEL,
            to("model.neighbours"), frozenset({"kv"}), read=_at_least(1, "--neighbours"), example="8,16"),
    Setting("margin", float, "Key-value memory: the loss's margin alpha.", MODEL, to("model.margin"),
            frozenset({"kv"}), example="0.1,0.3"),
    Setting("memory_scope", str, "Key-value memory: a memory per sequence, or one life-long memory kept for "
            "the whole of training.", MODEL, to("model.scope"), frozenset({"kv"}), choices=MEMORY_SCOPES,
            example="sequence,lifelong"),
    # --- optimisation ----------------------------------------------------------------------------
    Setting("lr", float, "Learning rate.", TRAINING, to("optimizer.learning_rate"), read=_positive("--lr"),
            example="1e-3,3e-4"),
    Setting("batch_size", int, "Sequences per optimiser step.", TRAINING, to("batch_size"),
            read=_at_least(1, "--batch-size"), example="1,8"),
    Setting("optimizer", str, "adam or rmsprop (Graves' form).", TRAINING, to("optimizer.name"),
            choices=OPTIMIZERS, example="adam,rmsprop"),
    Setting("clip_norm", float, "Clip the gradient's global norm (0: off).", TRAINING, to("optimizer.clip_norm"),
            read=lambda v: off_if_zero(v, "--clip-norm"), example="0,50"),
    Setting("clip_value", float, "Clip each gradient component (0: off).", TRAINING, to("optimizer.clip_value"),
            read=lambda v: off_if_zero(v, "--clip-value"), example="0,10"),
    Setting("lr_decay_steps", int, "Cosine-decay the learning rate to a tenth (--lr-decay-to) over these steps "
            "(0: constant; default: the preset's, which follows a budget in --steps or --sequences, and under "
            "--time alone spans the preset's default steps).",
            TRAINING, to("optimizer.decay_steps"), read=_decay_steps, example="0,5000"),
    Setting("lr_decay_from", float, "Hold the learning rate for this fraction of the decay's steps (which "
            "follow the budget where the preset's do), then decay it over the rest (default 0: from the start).",
            TRAINING, to("optimizer.decay_from"), read=_fraction("--lr-decay-from", zero=True, one=False), example="0,0.5"),
    Setting("lr_decay_to", float, "The fraction of the learning rate the decay ends at (default 0.1).", TRAINING,
            to("optimizer.decay_to"), read=_fraction("--lr-decay-to", zero=False, one=True), example="0.1,0.01"),
    Setting("curriculum", str, "Grow the task from its smallest sizes to its own: over this many training "
            "sequences, or 'solved': each stage until the training batches meet the task's solved rule (a "
            "moving average over ~50 steps); 0: none, as in the paper.", TRAINING, to("curriculum"),
            read=_curriculum, example="0,solved"),
    Setting("until", str, f"solved: stop each run when it has met its task's solved rule at {SOLVED_REPORTS} "
            "reports in a row (`ntm tasks` gives the rules; seeds trained in one program stop together), or at "
            "the budget; budget: train to the budget (train's default; compare's and sweep's is solved).",
            TRAINING, lambda value, config: {"until_solved": SOLVED_REPORTS if value == "solved" else None},
            choices=("solved", "budget"), example="solved"),
    Setting("steps_per_call", int, "Optimiser steps per compiled call.", TRAINING, _steps_per_call,
            read=_at_least(1, "--steps-per-call", MAX_STEPS_PER_CALL), example="10,50"),
    Setting("report_every", int, "Steps between reports and checkpoints (a multiple of steps per call).",
            TRAINING, to("report_every"), read=_at_least(1, "--report-every"), example="100,500"),
    Setting("eval_batch_size", int, "Sequences in the held-out batch.", TRAINING, to("eval_batch_size"),
            read=_at_least(1, "--eval-batch-size"), example="256,1024"),
)


def _task_sizes() -> tuple[Setting, ...]:
    """A row for every size some task has (`--max-length`, `--num-inputs`, ...), read off the
    task classes; the tasks that mean different things by one size each say so in its help."""
    from ntm_cli.tasks.registry import TASKS, size_options

    rows = []
    for name, (help_text, _) in size_options().items():
        tasks = frozenset(cls.name for cls in TASKS if name in cls.size_fields())
        rows.append(Setting(name, int, help_text, SIZES, to(f"task_sizes.{name}"), tasks=tasks, example="10,20"))
    return tuple(rows)


SIZE_SETTINGS: tuple[Setting, ...] = _task_sizes()
ALL_SETTINGS: tuple[Setting, ...] = SETTINGS + SIZE_SETTINGS
BY_NAME: dict[str, Setting] = {setting.name: setting for setting in ALL_SETTINGS}


def setting(name: str) -> Setting:
    """The row of an option, by its Python name or its flag ('shift_range', '--shift-range',
    'shift-range'); InputError for one that is not a setting."""
    key = name.removeprefix("--").replace("-", "_")
    if key not in BY_NAME:
        raise InputError(f"'{name}' is not a setting; the settings are "
                         f"{', '.join(s.name.replace('_', '-') for s in ALL_SETTINGS)}.")
    return BY_NAME[key]


def flags(names: list[str]) -> str:
    """['memory', 'shift_range'] -> '--memory, --shift-range'."""
    return ", ".join(BY_NAME[name].flag if name in BY_NAME else "--" + name.replace("_", "-") for name in names)


def takes(task: str, model: str) -> list[str]:
    """The settings of `model` on `task` that are not the same for every run: its model options
    and the task's sizes."""
    return [s.name for s in ALL_SETTINGS if s.applies(task, model) and (s.families != FAMILIES or s.tasks)]


def not_applied(names: list[str], task: str, model: str) -> str:
    """One sentence for settings a run does not have: '--memory does not apply to the LSTM
    baseline (lstm), which takes --lstm-size.'"""
    family = model_family(model)
    model_side = [n for n in names if family not in BY_NAME[n].families]
    if model_side:
        own = [n for n in takes(task, model) if BY_NAME[n].tasks is None]
        verb = "does" if len(model_side) == 1 else "do"
        return (f"{flags(model_side)} {verb} not apply to {FAMILY_NAMES[family]} ({model}), which takes "
                f"{flags(own) if own else 'none of the model options'}.")
    sizes = [n for n in names if n not in model_side]
    own = [s.name for s in SIZE_SETTINGS if s.tasks and task in s.tasks]
    verb = "does" if len(sizes) == 1 else "do"
    return f"{flags(sizes)} {verb} not apply to task {task}, which takes {flags(own) if own else 'no sizes'}."


def apply_settings(config: TrainConfig, given: Mapping[str, Any]) -> TrainConfig:
    """`config` with the settings `given` (name -> value as typed) applied, in the table's order,
    and validated by the configs themselves.

    Raises:
      InputError: a setting the run's model or task does not have (one sentence naming what it
        takes), or a value that cannot be (ModelConfigError, TaskConfigError among them).
    """
    rows = [setting(name) for name in given]
    missing = [s.name for s in rows if not s.applies(config.task, config.model_name)]
    if missing:
        raise InputError(not_applied(missing, config.task, config.model_name))
    parts: dict[str, dict[str, Any]] = {"": {}, "model": {}, "optimizer": {}, "task_sizes": dict(config.task_sizes)}
    for row in sorted(rows, key=ALL_SETTINGS.index):
        for path, value in row.fields(row.value(given[row.name]), config).items():
            part, _, field = path.rpartition(".")
            parts[part][field] = value
    optimizer = dataclasses.replace(config.optimizer, **parts["optimizer"])
    shaping = [f"--{name.replace('_', '-')}" for name in ("lr_decay_from", "lr_decay_to") if name in given]
    if shaping and optimizer.decay_steps is None:
        zero = " (--lr-decay-steps 0)" if "lr_decay_steps" in given else ""
        raise InputError(f"{' and '.join(shaping)} shape{'s' if len(shaping) == 1 else ''} a learning-rate decay, and "
                         f"the rate of {config.model_name} on {config.task} is constant{zero}; give --lr-decay-steps a "
                         "number of steps.")
    return dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, **parts["model"]),
        optimizer=optimizer,
        task_sizes=parts["task_sizes"],
        **parts[""],
    )
