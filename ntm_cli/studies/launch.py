"""What starts a run: its config (the preset's, with the budget and the settings given), its
run folder reserved, a reporter for the terminal; and resuming a run.

`ntm train` and the studies call these with values, never command-line flags. JAX is imported
only when a session is built.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ntm_cli import runs
from ntm_cli.config import Budget, DataFile, TrainConfig
from ntm_cli.errors import InputError
from ntm_cli.models.config import model_family
from ntm_cli.settings import apply_settings
from ntm_cli.reports.consoles import console, error_console

if TYPE_CHECKING:
    from ntm_cli.training.session import EventLog, Reporter, TrainingSession


def build_config(task: str | None, model: str, preset: str, seed: int, budget: Budget,
                 settings: Mapping[str, Any] = MappingProxyType({}), data: DataFile | None = None,
                 data_kind: str = "bits") -> TrainConfig:
    """The preset's TrainConfig for a task (name or alias) and a model name, with the budget and
    every setting given (`ntm_cli.settings`: name -> value as typed) applied and validated.

    With `data` (an archive read by `ntm_cli.training.data.load_data`, whose targets are `data_kind`) the
    task is 'data', and the preset's row is that of copy (bits) or one-shot (classes), where it
    has one for the model: the task's sizes come from the archive.

    Raises:
      InputError (TaskConfigError, ModelConfigError among them): anything that cannot run.
    """
    from ntm_cli.experiments.presets import FAST, preset_config
    from ntm_cli.tasks import canonical_name, make_task, task_class
    from ntm_cli.tasks.registry import check_samples

    canonical = "data" if data is not None else canonical_name(task)
    kind = data_kind if data is not None else task_class(canonical).output_kind
    if model_family(model) == "kv" and kind != "class":
        raise InputError(f"the key-value memory answers with a class, and task {canonical} has bit-vector "
                         "targets; train it on a class task (one-shot, one-shot-digits, rare-events).")
    if data is not None:
        like = "one-shot" if kind == "class" and ("one-shot", model) in FAST else "copy"
        preset_run = dataclasses.replace(preset_config(preset, like, model, seed), task="data", data=data)
        config = apply_settings(preset_run, settings)
        if config.task_sizes:
            raise InputError("an archive's sequences have the sizes they were saved with; give no task size with --data.")
        made = None
    else:
        preset_run = preset_config(preset, canonical, model, seed)
        config = apply_settings(preset_run, settings)
        made = make_task(canonical, **config.task_sizes)  # validates the sizes together
        check_samples(made)  # a plugin's task: its batches keep the contract
    if made is None:  # the archive's task needs JAX: curriculum and solved rules, which it lacks, refused here
        if config.curriculum is not None or config.until_solved is not None:
            raise InputError("an archive's task has no sizes to grow and no solved rule; give no --curriculum "
                             "or --until with --data.")
        return _with_budget(config, preset_run, budget, settings)
    if config.curriculum is not None:
        made.curriculum_stages()  # a task with nothing to grow says so
    if config.curriculum == "solved" and (made.solved is None or made.solved.figure not in ("bit_errors", "cost")):
        raise InputError(f"--curriculum solved moves on when training batches meet a solved rule on bit errors "
                         f"or cost, and task {canonical} has none.")
    if config.until_solved is not None and made.solved is None:
        raise InputError(f"--until solved needs a solved rule, and task {canonical} has none.")
    return _with_budget(config, preset_run, budget, settings)


def _with_budget(config: TrainConfig, preset_run: TrainConfig, budget: Budget, settings: Mapping[str, Any]) -> TrainConfig:
    """The config with the budget given, its learning-rate decay following it where the preset's does."""
    steps = budget.steps_at(config.batch_size, config.steps)
    optimizer = config.optimizer
    if (_decays_over_its_budget(preset_run) and "lr_decay_steps" not in settings
            and (budget.steps is not None or budget.sequences is not None)):
        optimizer = dataclasses.replace(optimizer, decay_steps=steps)
    return dataclasses.replace(config, steps=steps, time_limit=budget.time_limit, optimizer=optimizer)


def _decays_over_its_budget(config: TrainConfig) -> bool:
    """Whether a preset's learning rate decays over the preset's own step budget (rather than a
    horizon tuned apart from it): such a schedule follows a budget given in steps or sequences.
    Under a time budget alone the step count is unknown, and the preset's horizon stays."""
    return config.optimizer.decay_steps is not None and config.optimizer.decay_steps == config.steps


def reporter(json_output: bool) -> Reporter:
    """Progress for people on stderr (a live bar in a terminal, plain lines otherwise), and the
    seeds' table on stdout at the end, unless stdout carries JSON."""
    from ntm_cli.reports.progress import PlainReporter, RichReporter

    results = None if json_output else console
    return RichReporter(error_console, results) if error_console.is_terminal else PlainReporter(error_console,
                                                                                                  results=results)


def event_log(tensorboard: bool) -> EventLog | None:
    """The session's EventLog: TensorBoard's event files with `tensorboard`, else None."""
    if not tensorboard:
        return None
    from ntm_cli.reports.events import TensorBoardEvents

    return TensorBoardEvents()


def named_run(name: str, seeds: Sequence[int], seed: int) -> str:
    """The folder of `seed` for a run named `name` (--name): the name itself for one seed, else
    `<name>-s<seed>`."""
    return name if len(seeds) == 1 else f"{name}-s{seed}"


def check_run_name(name: str | None, out: Path | None = None, seeds: Sequence[int] = (0,)) -> None:
    """A run folder name given with --name must be a plain folder name (never a path), and, with
    `out`, one no run in `out` has yet: a name is where the user will look, so a taken one is
    refused, never quietly made `name-run2` (two processes starting at once still get two)."""
    if name is None:
        return
    if not name.strip() or "/" in name or name.startswith("."):
        raise InputError(f"--name must be a plain folder name, not hidden (no leading '.'), got {name!r}.")
    for seed in seeds if out is not None else ():
        taken = out / named_run(name, seeds, seed)
        if taken.exists():
            raise InputError(f"--name {name}: {taken} already exists; give another name, or continue that run "
                             f"with: ntm train --resume {taken}")


def new_session(config: TrainConfig, seeds: Sequence[int], out: Path, name: str | None,
                progress: Reporter, devices: int | None = None,
                tensorboard: bool = False) -> tuple[TrainingSession, list[Path]]:
    """Builds the models (on `devices` of this machine's devices, default all), then reserves a
    run folder per seed and writes its config, with the devices used. `tensorboard`: reports
    also go to TensorBoard event files in the run folders (not part of the config)."""
    from ntm_cli.training.devices import local_devices
    from ntm_cli.training.session import TrainingSession

    check_run_name(name)
    session = TrainingSession(config, seeds, progress, local_devices(devices), events=event_log(tensorboard))
    run_dirs, locks = [], []
    try:
        for seed in seeds:
            base = runs.default_run_name(config, seed) if name is None else named_run(name, seeds, seed)
            run_dir, lock = runs.reserve_run_dir(out, base, functools.partial(
                runs.write_config, config=dataclasses.replace(config, seed=seed),
                devices=session.trainer.devices_used, trained_with=tuple(seeds)))  # made whole, with its config
            run_dirs.append(run_dir)
            locks.append(lock)
    except BaseException:
        for lock in locks:
            lock.release()
        raise
    session.attach(run_dirs, locks)
    return session, run_dirs


def resume_session(run_dir: Path, budget: Budget, progress: Reporter, devices: int | None = None,
                   tensorboard: bool = False) -> TrainingSession:
    """The session that continues a run from its latest checkpoint, optionally to a new total
    budget, on `devices` of this machine's devices (default all; any number resumes a run made
    on any other). A run stopped before its first checkpoint has nothing to continue from: it
    starts again in the same folder. `tensorboard`: its reports also go to TensorBoard events."""
    from ntm_cli.training.devices import local_devices
    from ntm_cli.training.session import TrainingSession, with_budget

    config = runs.read_config(run_dir)
    summary = runs.read_summary(run_dir)
    if summary is not None and summary.status == "diverged":
        raise InputError(f"{run_dir} diverged at step {summary.diverged_step:,} ({summary.diverged_reason}); it "
                         "cannot be resumed: train it again with other settings (a lower --lr, --clip-norm).")
    chosen = local_devices(devices)
    given_steps = budget.steps is not None or budget.sequences is not None
    steps = budget.steps_at(config.batch_size, config.steps) if given_steps else None
    if runs.checkpoint_path(run_dir, "latest").is_file():
        return TrainingSession.resume(run_dir, progress, steps=steps, time_limit=budget.time_limit, devices=chosen,
                                      events=event_log(tensorboard))
    config = with_budget(config, steps, budget.time_limit)
    session = TrainingSession(config, [config.seed], progress, chosen, events=event_log(tensorboard))
    session.attach([run_dir])
    try:
        runs.truncate_metrics(run_dir, -1)
        runs.write_config(run_dir, config, devices=session.trainer.devices_used)
    except BaseException:
        session.release()
        raise
    return session
