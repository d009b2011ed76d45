"""Typed, frozen model configurations, and the one name of each model.

A model has one identity from the command line to the results files: its name, `lstm`,
`ntm-lstm`, `ntm-ff` or `dnc` (`MODEL_NAMES`). `model_name` reads it off a config and
`named_config` builds a config from it; nothing else converts between the two. Validation
raises ModelConfigError with one sentence.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal, Union, get_args

from ntm_cli.errors import InputError

ControllerKind = Literal["lstm", "ff"]
MemoryInit = Literal["constant", "learned", "random"]
CONTROLLERS: tuple[str, ...] = get_args(ControllerKind)
MEMORY_INITS: tuple[str, ...] = get_args(MemoryInit)

# Every model, by the name used everywhere: options, run folder names, tables, results files.
MODEL_NAMES: tuple[str, ...] = ("lstm", "ntm-lstm", "ntm-ff", "dnc")


class ModelConfigError(InputError):
    """A model configuration that cannot be built (for example zero heads)."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ModelConfigError(message)


def _check_sizes(sizes: tuple[int, ...], what: str) -> None:
    _check(len(sizes) >= 1, f"{what} needs at least one layer.")
    for size in sizes:
        _check(isinstance(size, int) and size >= 1, f"every {what} size must be a positive whole number, got {size!r}.")


def _check_memory_model(config, name: str) -> None:
    """The checks the NTM and the DNC share: controller, heads, memory size, head clipping."""
    _check_sizes(config.controller_sizes, "the controller")
    _check(config.num_read_heads >= 1, f"the {name} needs at least one read head, got {config.num_read_heads}.")
    _check(config.num_write_heads >= 1, f"the {name} needs at least one write head, got {config.num_write_heads}.")
    _check(config.memory_rows >= 1, f"memory rows must be at least 1, got {config.memory_rows}.")
    _check(config.memory_width >= 1, f"memory width must be at least 1, got {config.memory_width}.")
    _check(config.head_clip is None or config.head_clip > 0, f"head clip must be positive, got {config.head_clip}.")


@dataclasses.dataclass(frozen=True)
class NTMConfig:
    """A Neural Turing Machine: controller, heads and an N x M memory."""

    kind: ClassVar[str] = "ntm"

    controller: ControllerKind = "lstm"  # an LSTM, or a feedforward network (tanh layers)
    controller_sizes: tuple[int, ...] = (100,)  # LSTM layer sizes, or feedforward hidden sizes
    num_read_heads: int = 1  # the paper's "heads" are read/write pairs: set both
    num_write_heads: int = 1
    memory_rows: int = 128  # N
    memory_width: int = 20  # M
    shift_range: int = 1  # allowed shifts -r .. +r
    memory_init: MemoryInit = "constant"  # constant 1e-6; learned; or random (fixed, not trained)
    head_clip: float | None = 20.0  # clip the controller's raw head outputs to +/- this; None: off

    def __post_init__(self) -> None:
        _check(self.controller in CONTROLLERS, f"controller must be 'lstm' or 'ff', got {self.controller!r}.")
        _check_memory_model(self, "NTM")
        _check(self.shift_range >= 0, f"shift range must be 0 or more, got {self.shift_range}.")
        _check(
            2 * self.shift_range + 1 <= self.memory_rows,
            f"shift range {self.shift_range} needs at least {2 * self.shift_range + 1} memory rows, "
            f"got {self.memory_rows}.",
        )
        _check(
            self.memory_init in MEMORY_INITS,
            f"memory init must be 'constant', 'learned' or 'random', got {self.memory_init!r}.",
        )

    @property
    def num_shifts(self) -> int:
        """S = 2 r + 1."""
        return 2 * self.shift_range + 1


@dataclasses.dataclass(frozen=True)
class LSTMConfig:
    """The paper's baseline: stacked LSTM layers (Graves 2013 form, with skip connections)."""

    kind: ClassVar[str] = "lstm"

    num_layers: int = 3
    hidden_size: int = 256
    # Graves (2013): every layer also sees the input, and the output reads every layer.
    skip_connections: bool = True

    def __post_init__(self) -> None:
        _check(self.num_layers >= 1, f"the LSTM needs at least one layer, got {self.num_layers}.")
        _check(self.hidden_size >= 1, f"the LSTM hidden size must be at least 1, got {self.hidden_size}.")


@dataclasses.dataclass(frozen=True)
class DNCConfig:
    """A Differentiable Neural Computer: an LSTM controller with the DNC's memory access."""

    kind: ClassVar[str] = "dnc"

    controller_sizes: tuple[int, ...] = (100,)  # LSTM layer sizes
    num_read_heads: int = 1
    num_write_heads: int = 1
    memory_rows: int = 128  # N
    memory_width: int = 20  # M
    head_clip: float | None = 20.0  # clip the controller's raw interface outputs to +/- this; None: off

    def __post_init__(self) -> None:
        _check_memory_model(self, "DNC")

    @property
    def num_read_modes(self) -> int:
        """Backward per write head, content, forward per write head: 2 W + 1."""
        return 2 * self.num_write_heads + 1


ModelConfig = Union[NTMConfig, LSTMConfig, DNCConfig]


def model_name(config: ModelConfig) -> str:
    """The model's name: 'ntm-lstm', 'ntm-ff', 'dnc' or 'lstm'."""
    if isinstance(config, NTMConfig):
        return f"ntm-{config.controller}"
    return config.kind


def model_family(name: str) -> str:
    """'ntm' for both NTMs, else the name itself: the paper reports its readings by family."""
    return "ntm" if name.startswith("ntm-") else name


def named_config(name: str, **fields) -> ModelConfig:
    """The config of the model called `name`, with its defaults but for `fields`.

    Raises:
      ModelConfigError: an unknown name, or fields that do not describe a valid model.
    """
    if name not in MODEL_NAMES:
        raise ModelConfigError(f"Unknown model '{name}'; valid models are {', '.join(MODEL_NAMES)}.")
    if name.startswith("ntm-"):
        return NTMConfig(controller=name.removeprefix("ntm-"), **fields)
    return {"lstm": LSTMConfig, "dnc": DNCConfig}[name](**fields)


def config_class(kind: str) -> type:
    """The config class of a `kind` as saved in config.json ('ntm', 'dnc' or 'lstm')."""
    classes = {cls.kind: cls for cls in (NTMConfig, DNCConfig, LSTMConfig)}
    if kind not in classes:
        raise ModelConfigError(f"unknown model kind {kind!r}.")
    return classes[kind]
