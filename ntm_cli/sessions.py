"""From what a user asked for to a training session: the preset's config with the user's
overrides, run folders reserved, a reporter for the terminal; and resuming a run.

The commands (`ntm train`, `ntm compare`) parse options into the values below and call these;
nothing here reads command-line flags. JAX is imported only when a session is built.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ntm_cli import runs
from ntm_cli.config import (
    TIME_ONLY_STEPS, OptimizerConfig, TrainConfig, off_if_zero, parse_layers, parse_memory, steps_for_sequences,
)
from ntm_cli.errors import InputError
from ntm_cli.models.config import DNCConfig, KVMemoryConfig, LSTMConfig, ModelConfig, NTMConfig, model_family
from ntm_cli.output import console, error_console

if TYPE_CHECKING:
    from ntm_cli.train_loop import Reporter, TrainingSession


@dataclasses.dataclass(frozen=True)
class Budget:
    """How long to train: a number of steps or sequences (at most one), and/or a time."""

    steps: int | None = None
    sequences: int | None = None
    time_limit: float | None = None  # seconds of training

    def __post_init__(self) -> None:
        if self.steps is not None and self.sequences is not None:
            raise InputError("give at most one of --steps and --sequences.")

    def steps_at(self, batch_size: int, default: int) -> int:
        """The step budget at a batch size; `default` when neither steps nor sequences is given
        (or no step limit at all when only a time is)."""
        if self.steps is not None:
            return self.steps
        if self.sequences is not None:
            return steps_for_sequences(self.sequences, batch_size)
        return TIME_ONLY_STEPS if self.time_limit is not None else default


@dataclasses.dataclass(frozen=True)
class ModelOverrides:
    """The model options a user gave (None: the preset's). Sizes are as typed ('128x20', '2x100')."""

    heads: int | None = None  # read/write head pairs
    read_heads: int | None = None
    write_heads: int | None = None
    memory: str | None = None
    controller_size: str | None = None
    lstm_size: str | None = None
    memory_init: str | None = None
    shift_range: int | None = None
    head_clip: float | None = None  # 0: off
    neighbours: int | None = None  # the key-value memory's k
    margin: float | None = None  # its alpha
    memory_scope: str | None = None  # its scope: sequence or lifelong

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}

    def apply(self, model: ModelConfig) -> ModelConfig:
        """The preset's model config with these options applied.

        Raises:
          InputError: an option the model does not have, named with the ones it takes.
        """
        given = self.given()
        kv_only = {"neighbours", "margin", "memory_scope"}
        if isinstance(model, KVMemoryConfig):
            return self._apply_kv(model)
        if set(given) & kv_only:
            raise InputError(f"{_flags(sorted(set(given) & kv_only))} applies to the key-value memory only "
                             "(--model kv-ff or kv-lstm).")
        if isinstance(model, LSTMConfig):
            misplaced = sorted(set(given) - {"lstm_size"})
            if misplaced:
                raise InputError(f"{_flags(misplaced)} applies to the NTM only; the LSTM baseline takes --lstm-size.")
            if self.lstm_size is None:
                return model
            sizes = parse_layers(self.lstm_size)
            if len(set(sizes)) != 1:
                raise InputError(f"the LSTM baseline's layers all have one size, such as 3x256, got {self.lstm_size!r}.")
            return dataclasses.replace(model, num_layers=len(sizes), hidden_size=sizes[0])
        if isinstance(model, DNCConfig):
            misplaced = sorted(set(given) & {"memory_init", "shift_range", "lstm_size"})
            if misplaced:
                raise InputError(f"{_flags(misplaced)} does not apply to the DNC.")
        elif self.lstm_size is not None:
            raise InputError("--lstm-size applies to the LSTM baseline only; the NTM takes --controller-size.")
        changes: dict[str, Any] = {}
        if self.heads is not None:
            changes |= {"num_read_heads": self.heads, "num_write_heads": self.heads}
        if self.read_heads is not None:
            changes["num_read_heads"] = self.read_heads
        if self.write_heads is not None:
            changes["num_write_heads"] = self.write_heads
        if self.memory is not None:
            changes["memory_rows"], changes["memory_width"] = parse_memory(self.memory)
        if self.controller_size is not None:
            changes["controller_sizes"] = parse_layers(self.controller_size)
        if self.memory_init is not None:
            changes["memory_init"] = self.memory_init
        if self.shift_range is not None:
            changes["shift_range"] = self.shift_range
        if self.head_clip is not None:
            changes["head_clip"] = off_if_zero(self.head_clip, "--head-clip")
        return dataclasses.replace(model, **changes)

    def _apply_kv(self, model: KVMemoryConfig) -> KVMemoryConfig:
        """The key-value memory's options: --memory ROWSxKEY, --controller-size, --neighbours,
        --margin, --memory-scope."""
        misplaced = sorted(set(self.given()) - {"memory", "controller_size", "neighbours", "margin", "memory_scope"})
        if misplaced:
            raise InputError(f"{_flags(misplaced)} does not apply to the key-value memory, which takes --memory "
                             "(ROWSxKEY), --controller-size, --neighbours, --margin and --memory-scope.")
        changes: dict[str, Any] = {}
        if self.memory is not None:
            changes["memory_rows"], changes["key_size"] = parse_memory(self.memory)
        if self.controller_size is not None:
            changes["controller_sizes"] = parse_layers(self.controller_size)
        if self.neighbours is not None:
            changes["neighbours"] = self.neighbours
        if self.margin is not None:
            changes["margin"] = self.margin
        if self.memory_scope is not None:
            changes["scope"] = self.memory_scope
        return dataclasses.replace(model, **changes)


@dataclasses.dataclass(frozen=True)
class TrainingOverrides:
    """The optimisation options a user gave (None: the preset's; 0 turns a clip or the decay off)."""

    lr: float | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    clip_norm: float | None = None
    clip_value: float | None = None
    lr_decay_steps: int | None = None
    steps_per_call: int | None = None
    report_every: int | None = None
    eval_batch_size: int | None = None
    curriculum: int | None = None  # training sequences; 0: none

    def optimizer_config(self, preset: OptimizerConfig) -> OptimizerConfig:
        changes: dict[str, Any] = {}
        if self.optimizer is not None:
            changes["name"] = self.optimizer
        if self.lr is not None:
            changes["learning_rate"] = self.lr
        for name in ("clip_norm", "clip_value"):
            if getattr(self, name) is not None:
                changes[name] = off_if_zero(getattr(self, name), "--" + name.replace("_", "-"))
        if self.lr_decay_steps is not None:
            decay = off_if_zero(self.lr_decay_steps, "--lr-decay-steps", "for a constant rate")
            changes["decay_steps"] = None if decay is None else int(decay)
        return dataclasses.replace(preset, **changes)


def _flags(names: list[str]) -> str:
    return ", ".join("--" + name.replace("_", "-") for name in names)


def build_config(task: str, model: str, preset: str, seed: int, budget: Budget, task_sizes: dict[str, int],
                 model_options: ModelOverrides = ModelOverrides(),
                 training: TrainingOverrides = TrainingOverrides()) -> TrainConfig:
    """The preset's TrainConfig for a task (name or alias) and a model name, with every
    override applied and validated.

    Raises:
      InputError (TaskConfigError, ModelConfigError among them): anything that cannot run.
    """
    from ntm_cli.experiments.presets import preset_config
    from ntm_cli.tasks import canonical_name, make_task, task_class

    canonical = canonical_name(task)
    if model_family(model) == "kv" and task_class(canonical).output_kind != "class":
        raise InputError(f"the key-value memory answers with a class, and task {canonical} has bit-vector "
                         "targets; train it on a class task (one-shot, one-shot-digits, rare-events).")
    config = preset_config(preset, canonical, model, seed)
    made = make_task(canonical, **task_sizes)  # validates the sizes
    curriculum = config.curriculum
    if training.curriculum is not None:
        if training.curriculum < 0:
            raise InputError(f"--curriculum must be a number of sequences, or 0 for none; got {training.curriculum}.")
        curriculum = training.curriculum or None
    if curriculum is not None:
        made.curriculum_stages()  # a task with nothing to grow says so
    if training.batch_size is not None:
        config = dataclasses.replace(config, batch_size=training.batch_size)  # validated before it divides
    steps_per_call = training.steps_per_call if training.steps_per_call is not None else config.steps_per_call
    report_every = (training.report_every if training.report_every is not None
                    else max(config.report_every // max(steps_per_call, 1), 1) * steps_per_call)
    return dataclasses.replace(
        config,
        task_sizes=task_sizes,
        model=model_options.apply(config.model),
        optimizer=training.optimizer_config(config.optimizer),
        steps=budget.steps_at(config.batch_size, config.steps),
        time_limit=budget.time_limit,
        steps_per_call=steps_per_call,
        report_every=report_every,
        eval_batch_size=training.eval_batch_size if training.eval_batch_size is not None else config.eval_batch_size,
        curriculum=curriculum,
    )


def reporter(json_output: bool) -> Reporter:
    """Progress for people: a live bar in a terminal, plain lines otherwise; on stderr when
    stdout carries JSON."""
    from ntm_cli.progress import PlainReporter, RichReporter

    target = error_console if json_output else console
    return RichReporter(target) if target.is_terminal else PlainReporter(target)


def check_run_name(name: str | None) -> None:
    """A run folder name given with --name must be a plain folder name (never a path)."""
    if name is not None and (not name.strip() or "/" in name or name in (".", "..")):
        raise InputError(f"--name must be a plain folder name, got {name!r}.")


def new_session(config: TrainConfig, seeds: Sequence[int], out: Path, name: str | None,
                progress: Reporter, devices: int | None = None) -> tuple[TrainingSession, list[Path]]:
    """Builds the models (on `devices` of this machine's devices, default all), then reserves a
    run folder per seed and writes its config, with the devices used."""
    from ntm_cli.devices import local_devices
    from ntm_cli.train_loop import TrainingSession

    check_run_name(name)
    session = TrainingSession(config, seeds, progress, local_devices(devices))
    run_dirs, locks = [], []
    try:
        for seed in seeds:
            base = runs.default_run_name(config, seed) if name is None else (name if len(seeds) == 1 else f"{name}-s{seed}")
            run_dir, lock = runs.reserve_run_dir(out, base)  # locked before its config exists
            run_dirs.append(run_dir)
            locks.append(lock)
            runs.write_config(run_dir, dataclasses.replace(config, seed=seed), devices=session.trainer.devices_used)
    except BaseException:
        for lock in locks:
            lock.release()
        raise
    session.attach(run_dirs, locks)
    return session, run_dirs


def resume_session(run_dir: Path, budget: Budget, progress: Reporter, devices: int | None = None) -> TrainingSession:
    """The session that continues a run from its latest checkpoint, optionally to a new total
    budget, on `devices` of this machine's devices (default all; any number resumes a run made
    on any other). A run stopped before its first checkpoint has nothing to continue from: it
    starts again in the same folder."""
    from ntm_cli.devices import local_devices
    from ntm_cli.train_loop import TrainingSession, with_budget

    config = runs.read_config(run_dir)
    chosen = local_devices(devices)
    given_steps = budget.steps is not None or budget.sequences is not None
    steps = budget.steps_at(config.batch_size, config.steps) if given_steps else None
    if runs.checkpoint_path(run_dir, "latest").is_file():
        return TrainingSession.resume(run_dir, progress, steps=steps, time_limit=budget.time_limit, devices=chosen)
    config = with_budget(config, steps, budget.time_limit)
    session = TrainingSession(config, [config.seed], progress, chosen)
    session.attach([run_dir])
    try:
        runs.truncate_metrics(run_dir, -1)
        runs.write_config(run_dir, config, devices=session.trainer.devices_used)
    except BaseException:
        session.release()
        raise
    return session
