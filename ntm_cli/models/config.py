"""Typed, frozen model configurations, and the one name of each model.

A model has one identity from the command line to the results files: its name, `lstm`,
`ntm-lstm`, `ntm-ff`, `dnc`, `kv-ff` or `kv-lstm` (`MODEL_NAMES`). `model_name` reads it off a config and
`named_config` builds a config from it; nothing else converts between the two. Validation
raises ModelConfigError with one sentence.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal, Union, get_args

from ntm_cli.errors import InputError

ControllerKind = Literal["lstm", "ff"]
MemoryInit = Literal["constant", "learned", "random"]
MemoryScope = Literal["sequence", "lifelong"]
CONTROLLERS: tuple[str, ...] = get_args(ControllerKind)
MEMORY_INITS: tuple[str, ...] = get_args(MemoryInit)
MEMORY_SCOPES: tuple[str, ...] = get_args(MemoryScope)
# Where evaluation starts a life-long memory from: as training left it, or empty.
MEMORY_STARTS: tuple[str, ...] = ("trained", "empty")

# Every model, by the name used everywhere: options, run folder names, tables, results files.
# A model with a controller choice names it: ntm-lstm and ntm-ff, kv-ff and kv-lstm.
MODEL_NAMES: tuple[str, ...] = ("lstm", "ntm-lstm", "ntm-ff", "dnc", "kv-ff", "kv-lstm")
# The families whose names carry the controller, with the controller `--model <family>` means.
CONTROLLED_FAMILIES: dict[str, str] = {"ntm": "lstm", "kv": "ff"}


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


@dataclasses.dataclass(frozen=True)
class KVMemoryConfig:
    """The life-long key-value memory of Kaiser, Nachum, Roy & Bengio (2017), "Learning to
    Remember Rare Events", behind a controller (see `ntm_cli.models.kv_memory`)."""

    kind: ClassVar[str] = "kv"

    controller: ControllerKind = "ff"  # feedforward (tanh layers; the paper's embedder is one), or an LSTM
    controller_sizes: tuple[int, ...] = (100,)
    memory_rows: int = 1024  # N slots
    key_size: int = 32  # d: the width of a key, and of the query q = normalise(W_q h)
    neighbours: int = 256  # k nearest neighbours by q . K (the paper's 256); at most N
    margin: float = 0.1  # alpha, the loss's margin
    age_noise: float = 8.0  # the oldest slot is argmax(A + U(-noise, noise)), as in the official code
    # "sequence": every sequence starts from an empty memory (the one-shot protocol);
    # "lifelong": one memory for the whole of training, shared by a batch, carried from step to step.
    scope: MemoryScope = "sequence"

    def __post_init__(self) -> None:
        _check(self.controller in CONTROLLERS, f"controller must be 'lstm' or 'ff', got {self.controller!r}.")
        _check_sizes(self.controller_sizes, "the controller")
        _check(self.memory_rows >= 1, f"memory rows must be at least 1, got {self.memory_rows}.")
        _check(self.key_size >= 1, f"the key size must be at least 1, got {self.key_size}.")
        _check(1 <= self.neighbours <= self.memory_rows,
               f"the neighbours k must be between 1 and the memory's {self.memory_rows} rows, got {self.neighbours}.")
        _check(0 < self.margin < 2, f"the margin must be in (0, 2) (cosines lie in [-1, 1]), got {self.margin}.")
        _check(self.age_noise >= 0, f"the age noise must be 0 or more, got {self.age_noise}.")
        _check(self.scope in MEMORY_SCOPES, f"memory scope must be 'sequence' or 'lifelong', got {self.scope!r}.")


ModelConfig = Union[NTMConfig, LSTMConfig, DNCConfig, KVMemoryConfig]


def model_name(config: ModelConfig) -> str:
    """The model's name: 'ntm-lstm', 'ntm-ff', 'dnc', 'lstm', 'kv-ff' or 'kv-lstm'."""
    if config.kind in CONTROLLED_FAMILIES:
        return f"{config.kind}-{config.controller}"
    return config.kind


def model_family(name: str) -> str:
    """'ntm' for both NTMs, 'kv' for both key-value memories, else the name itself: papers
    report their readings by family."""
    family = name.split("-", 1)[0]
    return family if family in CONTROLLED_FAMILIES else name


def named_config(name: str, **fields) -> ModelConfig:
    """The config of the model called `name`, with its defaults but for `fields`.

    Raises:
      ModelConfigError: an unknown name, or fields that do not describe a valid model.
    """
    if name not in MODEL_NAMES:
        raise ModelConfigError(f"Unknown model '{name}'; valid models are {', '.join(MODEL_NAMES)}.")
    family = model_family(name)
    if family in CONTROLLED_FAMILIES:
        return config_class(family)(controller=name.split("-", 1)[1], **fields)
    return {"lstm": LSTMConfig, "dnc": DNCConfig}[name](**fields)


def config_class(kind: str) -> type:
    """The config class of a `kind` as saved in config.json ('ntm', 'dnc', 'lstm' or 'kv')."""
    classes = {cls.kind: cls for cls in (NTMConfig, DNCConfig, LSTMConfig, KVMemoryConfig)}
    if kind not in classes:
        raise ModelConfigError(f"unknown model kind {kind!r}.")
    return classes[kind]
