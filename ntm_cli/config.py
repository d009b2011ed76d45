"""Typed, frozen training configuration, its JSON form, and parsers for user-given values.

No JAX here: the CLI builds and validates a config before anything heavy is imported.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Literal, get_args

from ntm_cli.errors import InputError
from ntm_cli.models.config import ModelConfig, config_class, model_name

OptimizerName = Literal["adam", "rmsprop"]
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)

# The step budget of a run limited by time alone (step numbers are int32 inside the program).
TIME_ONLY_STEPS = 2_000_000_000
# The most optimiser steps one compiled call may take: past ~10 the call's overhead is already
# under 1% of a step, and the host answers Ctrl-C and reports only between calls (the session
# also shortens calls that run long: `ntm_cli.training.session.next_call_steps`).
MAX_STEPS_PER_CALL = 1000
# Bounds on what a user may type, far beyond any run this tool can make, so that nothing
# overflows an int32 or loops for ever before the memory check refuses it.
MAX_SEQUENCES = 2**40
MAX_SECONDS = 365 * 24 * 3600.0
MAX_SIZE = 2**31 - 1  # any one size: rows, widths, units
MAX_LAYERS = 1000
MAX_SEEDS = 10_000  # seeds in one run or study


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)


def steps_for_sequences(sequences: int, batch_size: int) -> int:
    """The optimiser steps that train at least `sequences` sequences at `batch_size` (ceiling)."""
    _check(sequences >= 1, f"the budget must be at least one sequence, got {sequences}.")
    return -(-sequences // batch_size)


def off_if_zero(value: float | None, flag: str, what: str = "to turn it off") -> float | None:
    """An option where 0 means off: None for 0, the value if positive; InputError otherwise
    (negative, or not a number)."""
    if value is None or value == 0:
        return None
    _check(math.isfinite(value) and value > 0, f"{flag} must be positive, or 0 {what}, got {value:g}.")
    return value


@dataclasses.dataclass(frozen=True)
class Budget:
    """How long to train, in the words every command uses: --steps or --sequences (at most one),
    and/or --time, which stops a run at the first report after it."""

    steps: int | None = None
    sequences: int | None = None
    time_limit: float | None = None  # seconds of training

    def __post_init__(self) -> None:
        _check(self.steps is None or self.sequences is None, "give at most one of --steps and --sequences.")
        _check(self.steps is None or 1 <= self.steps <= TIME_ONLY_STEPS,
               f"--steps must be between 1 and {TIME_ONLY_STEPS:,}, got {self.steps}.")
        _check(self.sequences is None or 1 <= self.sequences <= MAX_SEQUENCES,
               f"--sequences must be between 1 and {MAX_SEQUENCES:,}, got {self.sequences:,}."
               if self.sequences is not None else "")
        _check(self.time_limit is None or (math.isfinite(self.time_limit) and 0 < self.time_limit <= MAX_SECONDS),
               f"--time must be positive and at most a year, got {self.time_limit:g} s."
               if self.time_limit is not None else "")

    @property
    def given(self) -> bool:
        return self.steps is not None or self.sequences is not None or self.time_limit is not None

    def words(self) -> list[str]:
        """The options that set it: ['--sequences', '--time']."""
        return [flag for flag, value in (("--steps", self.steps), ("--sequences", self.sequences),
                                         ("--time", self.time_limit)) if value is not None]

    def steps_at(self, batch_size: int, default: int) -> int:
        """The step budget at a batch size; `default` when neither steps nor sequences is given
        (or no step limit at all when only a time is)."""
        if self.steps is not None:
            return self.steps
        if self.sequences is not None:
            return steps_for_sequences(self.sequences, batch_size)
        return TIME_ONLY_STEPS if self.time_limit is not None else default

    def text(self) -> str:
        """'2,000 sequences', '500 steps', '60 s of training', '5 min of training'."""
        if self.sequences is not None:
            return f"{self.sequences:,} sequences"
        if self.steps is not None:
            return f"{self.steps:,} steps"
        if self.time_limit is not None:
            seconds = self.time_limit
            return f"{seconds:g} s of training" if seconds < 120 else f"{seconds / 60:g} min of training"
        return "the preset's budget"


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """The optimiser and its gradient clipping (see `training.make_optimizer`)."""

    name: OptimizerName = "adam"  # adam, or rmsprop in the Graves (2013) form
    learning_rate: float = 1e-3
    momentum: float = 0.9  # rmsprop only
    clip_value: float | None = None  # clip every gradient component to +/- this (the paper: 10)
    clip_norm: float | None = None  # clip the gradient's global norm to this (Collier, DNC: 50)
    # Cosine decay of the learning rate to lr * decay_to over decay_steps steps, then constant
    # at that; None keeps it constant. decay_from: the fraction of those steps held at the full
    # rate before the decay starts (0: it starts at once).
    decay_steps: int | None = None
    decay_to: float = 0.1
    decay_from: float = 0.0

    def __post_init__(self) -> None:
        _check(self.name in OPTIMIZERS, f"optimizer must be 'adam' or 'rmsprop', got {self.name!r}.")
        _check(
            math.isfinite(self.learning_rate) and self.learning_rate > 0,
            f"learning rate must be a positive number, got {self.learning_rate}.",
        )
        _check(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}.")
        _check(self.decay_steps is None or self.decay_steps >= 1,
               f"learning-rate decay steps must be at least 1, got {self.decay_steps}.")
        _check(0 < self.decay_to <= 1, f"the decayed learning-rate fraction must be in (0, 1], got {self.decay_to}.")
        _check(0 <= self.decay_from < 1,
               f"the fraction of the decay held at the full rate must be in [0, 1), got {self.decay_from}.")
        for name in ("clip_value", "clip_norm"):
            value = getattr(self, name)
            _check(value is None or value > 0, f"{name.replace('_', ' ')} must be positive, got {value}.")


@dataclasses.dataclass(frozen=True)
class DataFile:
    """The archive a run trains on (`ntm train --data`): where it was, and what it held, so that
    evaluation and resume read the same data or refuse (`ntm_cli.training.data`)."""

    path: str  # the archive, as an absolute path
    bytes: int  # its size on disk
    sha256: str  # its SHA-256, hex: a changed file is refused
    heldout: int  # held-out sequences taken from its end; 0: its eval_* arrays are the held-out set
    output_kind: str  # 'bits' or 'class', declared by its `output_kind` entry or inferred


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run; saved as the run's config.json."""

    task: str  # canonical task name
    task_sizes: dict[str, int]  # size overrides on the task's paper defaults
    model: ModelConfig
    optimizer: OptimizerConfig
    preset: str = "fast"  # the preset this came from (for the record)
    batch_size: int = 32
    steps: int = 1000  # optimiser steps in the budget (a time budget may stop sooner)
    time_limit: float | None = None  # seconds of training; stops at the first report after it
    seed: int = 0
    steps_per_call: int = 10  # optimiser steps per jitted call (an outer lax.scan)
    report_every: int = 100  # steps between reports, evaluations and checkpoints
    eval_batch_size: int = 256  # sequences in the fixed held-out batch
    # Training sequences over which the task grows from its smallest sizes to its own, in equal
    # stages (`Task.curriculum_stages`); "solved": each stage until the training batches meet the
    # task's solved rule (`ntm_cli.training.trainer.Pace`); None: the task's own sizes from the
    # first step, as in the paper.
    curriculum: int | str | None = None
    # Stop when every seed has met the task's solved rule (`Task.solved`) at this many reports in
    # a row (`--until solved`); None: train to the budget.
    until_solved: int | None = None
    # The archive the sequences come from (task 'data'); None: the task generates them.
    data: DataFile | None = None

    def __post_init__(self) -> None:
        _check(self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}.")
        _check(self.steps >= 1, f"the budget must be at least one step, got {self.steps}.")
        _check(self.steps <= TIME_ONLY_STEPS, f"the budget can be at most {TIME_ONLY_STEPS:,} steps, got {self.steps:,}.")
        _check(self.time_limit is None or self.time_limit > 0, f"the time budget must be positive, got {self.time_limit}.")
        _check(1 <= self.steps_per_call <= MAX_STEPS_PER_CALL,
               f"steps per call must be between 1 and {MAX_STEPS_PER_CALL:,}, got {self.steps_per_call:,}.")
        _check(self.report_every >= 1, f"report interval must be at least 1 step, got {self.report_every}.")
        _check(
            self.report_every % self.steps_per_call == 0,
            f"--report-every ({self.report_every:,}) must be a multiple of --steps-per-call ({self.steps_per_call}).",
        )
        _check(self.eval_batch_size >= 1, f"eval batch size must be at least 1, got {self.eval_batch_size}.")
        _check(0 <= self.seed < 2**31, f"seed must be between 0 and 2**31 - 1, got {self.seed}.")
        _check(self.until_solved is None or self.until_solved >= 1,
               f"a run stops when solved at 1 report or more in a row, got {self.until_solved}.")
        _check(self.curriculum is None or self.curriculum == "solved"
               or (isinstance(self.curriculum, int) and self.curriculum >= 1),
               f"the curriculum must be 'solved' or last at least one sequence, got {self.curriculum!r}.")
        if getattr(self.model, "scope", None) == "lifelong":  # a batch writes one slot per sequence
            _check(self.model.memory_rows >= self.batch_size,
                   f"a life-long memory of {self.model.memory_rows} rows cannot take the {self.batch_size} writes "
                   f"of a batch of {self.batch_size}; give it at least as many rows as the batch size.")

    @property
    def model_name(self) -> str:
        """'ntm-lstm', 'ntm-ff', 'dnc', 'lstm', 'kv-ff' or 'kv-lstm'."""
        return model_name(self.model)

    @property
    def time_only(self) -> bool:
        """Whether the budget is the time limit alone (no step count to show progress against)."""
        return self.time_limit is not None and self.steps >= TIME_ONLY_STEPS

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; `from_dict` inverts it."""
        model = dataclasses.asdict(self.model)
        model["kind"] = self.model.kind
        return {
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("model", "optimizer", "data")},
            "model": model,
            "optimizer": dataclasses.asdict(self.optimizer),
            **({"data": dataclasses.asdict(self.data)} if self.data is not None else {}),  # none: as before
        }

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        """Rebuilds a config from `to_dict`'s form, every field checked for its type; raises
        InputError, naming what is wrong, if it is not one."""
        from ntm_cli.schema import check_fields, dataclass_fields

        try:
            top, optional = dataclass_fields(cls, exclude=("model", "optimizer", "data"))
            check_fields(top | {"model": dict, "optimizer": dict, "data": dict | None}, data, "the config",
                         optional | {"data"})
            data_file = None
            if data.get("data") is not None:
                data_file = DataFile(**check_fields(dataclass_fields(DataFile)[0], data["data"], "the data file"))
            model = dict(check_fields({"kind": str}, data["model"], "the model"))
            model_class = config_class(model.pop("kind"))
            for fields_of, what, entries in ((model_class, "the model", model),
                                             (OptimizerConfig, "the optimizer", data["optimizer"])):
                fields, defaulted = dataclass_fields(fields_of)
                check_fields(fields, entries, what, defaulted)
            if "controller_sizes" in model:  # JSON gave a list
                model["controller_sizes"] = tuple(model["controller_sizes"])
            return cls(
                model=model_class(**model),
                optimizer=OptimizerConfig(**data["optimizer"]),
                data=data_file,
                **{k: v for k, v in data.items() if k in top},
            )
        except (TypeError, ValueError) as error:
            raise InputError(f"the saved config is not a valid training config ({str(error).rstrip('.')}).") from None


# --- parsers for values users type ---------------------------------------------------------------


def parse_memory(text: str, what: str = "--memory") -> tuple[int, int]:
    """'128x20' -> (128, 20): rows N by width M."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    _check(match is not None, f"{what} must be written ROWSxWIDTH, such as 128x20, got {text!r}.")
    rows, width = int(match.group(1)), int(match.group(2))
    _check(1 <= rows <= MAX_SIZE and 1 <= width <= MAX_SIZE,
           f"{what} rows and width must be between 1 and {MAX_SIZE:,}, got {text!r}.")
    return rows, width


def parse_layers(text: str, what: str = "layer sizes") -> tuple[int, ...]:
    """'100' -> (100,); '2x100' -> (100, 100); '128,64' -> (128, 64)."""
    text = text.strip()
    repeated = re.fullmatch(r"(\d+)\s*[xX]\s*(\d+)", text)
    if repeated:
        sizes = (int(repeated.group(2)),) * int(repeated.group(1))
    elif re.fullmatch(r"\d+(\s*,\s*\d+)*", text):
        sizes = tuple(int(part) for part in text.split(","))
    else:
        raise InputError(f"{what} must be written like 100, 2x100 or 128,64, got {text!r}.")
    _check(1 <= len(sizes) <= MAX_LAYERS and all(1 <= s <= MAX_SIZE for s in sizes),
           f"{what} must be 1 to {MAX_LAYERS} layers of 1 to {MAX_SIZE:,} units, got {text!r}.")
    return sizes


def parse_duration(text: str, what: str = "--time") -> float:
    """'90', '90s', '5m', '1h30m' -> seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
        _check(
            bool(parts) and "".join(a + b for a, b in parts) == text,
            f"{what} must look like 90s, 5m or 1h30m, got {text!r}.",
        )
        seconds = sum(float(value) * {"h": 3600, "m": 60, "s": 1}[unit] for value, unit in parts)
    _check(0 < seconds <= MAX_SECONDS, f"{what} must be positive and at most a year, got {text!r}.")
    return seconds


def parse_int_list(text: str, what: str) -> list[int]:
    """'10,20,30' -> [10, 20, 30], each at least 1; an empty list or entry ('', '10,,20') is refused."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise InputError(f"{what} must be whole numbers separated by commas, such as 10,20,50, got {text!r}.") from None
    _check(all(1 <= v <= MAX_SIZE for v in values),
           f"{what} must be whole numbers from 1 to {MAX_SIZE:,}, got {text!r}.")
    return values
