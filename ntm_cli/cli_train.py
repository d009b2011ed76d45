"""`ntm train` and `ntm eval`: parse, build the config, call the library, report.

JAX is imported inside the commands only.
"""

from __future__ import annotations

import dataclasses
import json
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer

from ntm_cli.options import (
    ItemSize, Length, MaxItems, MaxLength, MaxRepeats, MinItems, MinLength, MinRepeats, NumInputs, NumOutputs, Order,
    Width, given,
)
from ntm_cli.output import console, error_console, fail

_MODEL = "Model (override the preset)"
_OPTIM = "Optimisation (override the preset)"
_BUDGET = "Budget (one of --steps, --sequences; --time may join either)"


def _override_model(model, *, heads, read_heads, write_heads, memory, controller_size, lstm_size, memory_init,
                    shift_range, head_clip):
    """The preset's model config with the user's model options applied; errors name misplaced options."""
    from ntm_cli.config import ConfigError, parse_layers, parse_memory
    from ntm_cli.models.config import DNCConfig, NTMConfig

    ntm_only = {"--heads": heads, "--read-heads": read_heads, "--write-heads": write_heads, "--memory": memory,
                "--controller-size": controller_size, "--memory-init": memory_init, "--shift-range": shift_range,
                "--head-clip": head_clip}
    if isinstance(model, DNCConfig):
        misplaced = [flag for flag, value in (("--memory-init", memory_init), ("--shift-range", shift_range),
                                              ("--lstm-size", lstm_size)) if value is not None]
        if misplaced:
            raise ConfigError(f"{', '.join(misplaced)} does not apply to the DNC.")
    elif not isinstance(model, NTMConfig):
        misplaced = [flag for flag, value in ntm_only.items() if value is not None]
        if misplaced:
            raise ConfigError(f"{', '.join(misplaced)} applies to the NTM only; the LSTM baseline takes --lstm-size.")
        if lstm_size is None:
            return model
        sizes = parse_layers(lstm_size)
        if len(set(sizes)) != 1:
            raise ConfigError(f"the LSTM baseline's layers all have one size, such as 3x256, got {lstm_size!r}.")
        return dataclasses.replace(model, num_layers=len(sizes), hidden_size=sizes[0])
    if lstm_size is not None:
        raise ConfigError("--lstm-size applies to the LSTM baseline only; the NTM takes --controller-size.")
    changes = {}
    if heads is not None:
        changes |= {"num_read_heads": heads, "num_write_heads": heads}
    if read_heads is not None:
        changes["num_read_heads"] = read_heads
    if write_heads is not None:
        changes["num_write_heads"] = write_heads
    if memory is not None:
        changes["memory_rows"], changes["memory_width"] = parse_memory(memory)
    if controller_size is not None:
        changes["controller_sizes"] = parse_layers(controller_size)
    if memory_init is not None:
        changes["memory_init"] = memory_init
    if shift_range is not None:
        changes["shift_range"] = shift_range
    if head_clip is not None:
        if head_clip < 0:
            raise ConfigError(f"--head-clip must be positive, or 0 to turn clipping off, got {head_clip:g}.")
        changes["head_clip"] = head_clip if head_clip > 0 else None
    return dataclasses.replace(model, **changes)


def train_command(
    task: Annotated[Optional[str], typer.Argument(help="Task name or alias (see `ntm tasks`).")] = None,
    model: Annotated[str, typer.Option(help="ntm, dnc, or lstm (the baseline).")] = "ntm",
    controller: Annotated[str, typer.Option(help="The NTM's controller: lstm or ff.")] = "lstm",
    preset: Annotated[str, typer.Option(help="fast (tuned for a CPU) or paper (Tables 1-3).")] = "fast",
    steps: Annotated[Optional[int], typer.Option(help="Optimiser steps.", rich_help_panel=_BUDGET)] = None,
    sequences: Annotated[Optional[int], typer.Option(help="Training sequences (steps x batch).", rich_help_panel=_BUDGET)] = None,
    time_budget: Annotated[Optional[str], typer.Option("--time", help="Wall time, such as 90s, 5m or 1h.", rich_help_panel=_BUDGET)] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="Seed of the run's root PRNG key.")] = 0,
    seeds: Annotated[int, typer.Option(help="Train this many seeds (seed, seed+1, ...) in one compiled program.")] = 1,
    out: Annotated[Path, typer.Option(help="Folder that holds the run folders.")] = Path("runs"),
    name: Annotated[Optional[str], typer.Option(help="Run folder name (default <task>-<model>-s<seed>).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue this run folder from its latest checkpoint.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout and nothing else there.")] = False,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate.", rich_help_panel=_OPTIM)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Sequences per optimiser step.", rich_help_panel=_OPTIM)] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="adam or rmsprop (Graves' form).", rich_help_panel=_OPTIM)] = None,
    clip_norm: Annotated[Optional[float], typer.Option(help="Clip the gradient's global norm (0: off).", rich_help_panel=_OPTIM)] = None,
    clip_value: Annotated[Optional[float], typer.Option(help="Clip each gradient component (0: off).", rich_help_panel=_OPTIM)] = None,
    lr_decay_steps: Annotated[Optional[int], typer.Option(help="Cosine-decay the learning rate to a tenth over these steps (0: constant).", rich_help_panel=_OPTIM)] = None,
    steps_per_call: Annotated[Optional[int], typer.Option(help="Optimiser steps per compiled call.", rich_help_panel=_OPTIM)] = None,
    report_every: Annotated[Optional[int], typer.Option(help="Steps between reports and checkpoints.", rich_help_panel=_OPTIM)] = None,
    eval_batch_size: Annotated[Optional[int], typer.Option(help="Sequences in the held-out batch.", rich_help_panel=_OPTIM)] = None,
    heads: Annotated[Optional[int], typer.Option(help="Read/write head pairs.", rich_help_panel=_MODEL)] = None,
    read_heads: Annotated[Optional[int], typer.Option(help="Read heads.", rich_help_panel=_MODEL)] = None,
    write_heads: Annotated[Optional[int], typer.Option(help="Write heads.", rich_help_panel=_MODEL)] = None,
    memory: Annotated[Optional[str], typer.Option(help="Memory ROWSxWIDTH, such as 128x20.", rich_help_panel=_MODEL)] = None,
    controller_size: Annotated[Optional[str], typer.Option(help="NTM controller layers: 100, 2x100 or 128,64.", rich_help_panel=_MODEL)] = None,
    lstm_size: Annotated[Optional[str], typer.Option(help="LSTM baseline layers x size, such as 3x256.", rich_help_panel=_MODEL)] = None,
    memory_init: Annotated[Optional[str], typer.Option(help="constant, learned or random.", rich_help_panel=_MODEL)] = None,
    shift_range: Annotated[Optional[int], typer.Option(help="Allowed shifts -r..r.", rich_help_panel=_MODEL)] = None,
    head_clip: Annotated[Optional[float], typer.Option(help="Clip raw head outputs to +/- this (0: off).", rich_help_panel=_MODEL)] = None,
    width: Width = None,
    min_length: MinLength = None,
    max_length: MaxLength = None,
    min_repeats: MinRepeats = None,
    max_repeats: MaxRepeats = None,
    min_items: MinItems = None,
    max_items: MaxItems = None,
    item_size: ItemSize = None,
    order: Order = None,
    length: Length = None,
    num_inputs: NumInputs = None,
    num_outputs: NumOutputs = None,
) -> None:
    """Train a model on a task; every report saves metrics and checkpoints in the run folder."""
    from ntm_cli.config import ConfigError, parse_duration
    from ntm_cli.models.config import ModelConfigError
    from ntm_cli.runs import RunError
    from tasks import TaskConfigError

    try:
        if sum(x is not None for x in (steps, sequences)) > 1:
            raise ConfigError("give at most one of --steps and --sequences.")
        time_limit = parse_duration(time_budget) if time_budget is not None else None
        if resume is not None:
            if task is not None:
                raise ConfigError("--resume continues a run with its own task and settings; give no TASK with it.")
            ignored = _options_given_with_resume(locals())
            if ignored:
                raise ConfigError(
                    f"{', '.join(ignored)} cannot change a run being resumed; only --steps, --sequences, --time "
                    "and --json go with --resume."
                )
            session = _resume_session(resume, steps, sequences, time_limit, json_output)
            run_dirs = [resume]
        else:
            if task is None:
                raise ConfigError("name a task to train (see `ntm tasks`), or --resume a run folder.")
            if seeds < 1:
                raise ConfigError(f"--seeds must be at least 1, got {seeds}.")
            config = _build_config(
                task, model, controller, preset, seed, steps, sequences, time_limit,
                task_sizes=given(width=width, min_length=min_length, max_length=max_length, min_repeats=min_repeats,
                                 max_repeats=max_repeats, min_items=min_items, max_items=max_items,
                                 item_size=item_size, order=order, length=length, num_inputs=num_inputs,
                                 num_outputs=num_outputs),
                optim=dict(lr=lr, batch_size=batch_size, optimizer=optimizer, clip_norm=clip_norm,
                           clip_value=clip_value, lr_decay_steps=lr_decay_steps, steps_per_call=steps_per_call, report_every=report_every,
                           eval_batch_size=eval_batch_size),
                model_options=dict(heads=heads, read_heads=read_heads, write_heads=write_heads, memory=memory,
                                   controller_size=controller_size, lstm_size=lstm_size, memory_init=memory_init,
                                   shift_range=shift_range, head_clip=head_clip),
            )
            session, run_dirs = new_session(config, list(range(seed, seed + seeds)), out, name, json_output)
    except (ConfigError, ModelConfigError, TaskConfigError, RunError) as error:
        fail(str(error))

    summaries = session.run()
    if json_output:
        from ntm_cli.progress import seed_spread

        result = summaries[0] if len(summaries) == 1 else {"runs": summaries, "spread": seed_spread(summaries)}
        print(json.dumps(result, indent=2))
    if session.interrupted:
        how = "Stopped by SIGTERM" if session.stop_signal == signal.SIGTERM else "Interrupted"
        for run_dir in run_dirs:
            error_console.print(
                f"{how} at step {session.loop.step:,}; a checkpoint is saved. "
                f"Resume with: ntm train --resume {run_dir}", markup=False, soft_wrap=True,
            )
        raise typer.Exit(128 + int(session.stop_signal or signal.SIGINT))  # 130 after Ctrl-C, 143 after SIGTERM


def _options_given_with_resume(values: dict) -> list[str]:
    """The options given beside --resume that a resumed run would have to ignore."""
    import inspect

    allowed = {"task", "steps", "sequences", "time_budget", "resume", "json_output"}
    given_options = []
    for name, parameter in inspect.signature(train_command).parameters.items():
        if name in allowed:
            continue
        if values[name] != parameter.default:
            given_options.append("--" + name.replace("_", "-"))
    return given_options


def _build_config(task, model, controller, preset, seed, steps, sequences, time_limit, task_sizes, optim, model_options):
    """The preset's TrainConfig with every override applied and validated."""
    from experiments.presets import preset_config
    from ntm_cli.config import TIME_ONLY_STEPS, ConfigError, OptimizerConfig
    from tasks import canonical_name, make_task

    canonical = canonical_name(task)
    if model == "lstm" and controller != "lstm":
        raise ConfigError("--controller applies to the NTM only; the LSTM baseline has none.")
    config = preset_config(preset, canonical, model, controller, seed)
    make_task(canonical, **task_sizes)  # validates the sizes
    batch = optim["batch_size"] if optim["batch_size"] is not None else config.batch_size
    if batch < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch}.")
    opt = config.optimizer
    changes = {}
    if optim["optimizer"] is not None:
        changes["name"] = optim["optimizer"]
    if optim["lr"] is not None:
        changes["learning_rate"] = optim["lr"]
    for name in ("clip_norm", "clip_value"):
        if optim[name] is not None:
            if optim[name] < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, or 0 to turn it off, got {optim[name]:g}.")
            changes[name] = optim[name] or None
    if optim["lr_decay_steps"] is not None:
        if optim["lr_decay_steps"] < 0:
            raise ConfigError(f"--lr-decay-steps must be positive, or 0 for a constant rate, got {optim['lr_decay_steps']}.")
        changes["decay_steps"] = optim["lr_decay_steps"] or None
    if changes:
        opt = OptimizerConfig(**{**dataclasses.asdict(opt), **changes})
    if steps is not None:
        budget = steps
    elif sequences is not None:
        if sequences < 1:
            raise ConfigError(f"the budget must be at least one sequence, got {sequences}.")
        budget = -(-sequences // batch)
    else:
        budget = TIME_ONLY_STEPS if time_limit is not None else config.steps
    steps_per_call = optim["steps_per_call"] if optim["steps_per_call"] is not None else config.steps_per_call
    report_every = (optim["report_every"] if optim["report_every"] is not None
                    else max(config.report_every // max(steps_per_call, 1), 1) * steps_per_call)
    return dataclasses.replace(
        config,
        task_sizes=task_sizes,
        model=_override_model(config.model, **model_options),
        optimizer=opt,
        batch_size=batch,
        steps=budget,
        time_limit=time_limit,
        steps_per_call=steps_per_call,
        report_every=report_every,
        eval_batch_size=optim["eval_batch_size"] if optim["eval_batch_size"] is not None else config.eval_batch_size,
    )


def reporter(json_output: bool):
    from ntm_cli.progress import PlainReporter, RichReporter

    target = error_console if json_output else console
    return RichReporter(target) if target.is_terminal else PlainReporter(target)


def new_session(config, seeds, out, name, json_output):
    """Builds the models, then reserves a run folder per seed and writes its config."""
    from ntm_cli import runs
    from ntm_cli.config import ConfigError
    from ntm_cli.train_loop import TrainingSession

    if name is not None and (not name.strip() or "/" in name or name in (".", "..")):
        raise ConfigError(f"--name must be a plain folder name, got {name!r}.")
    session = TrainingSession(config, seeds, reporter(json_output))
    run_dirs = []
    for seed in seeds:
        base = runs.default_run_name(config, seed) if name is None else (name if len(seeds) == 1 else f"{name}-s{seed}")
        run_dir = runs.reserve_run_dir(out, base)
        runs.write_config(run_dir, dataclasses.replace(config, seed=seed))
        run_dirs.append(run_dir)
    session.attach(run_dirs)
    return session, run_dirs


def _resume_session(run_dir, steps, sequences, time_limit, json_output):
    from ntm_cli import runs
    from ntm_cli.train_loop import TrainingSession

    if sequences is not None:
        if sequences < 1:
            from ntm_cli.config import ConfigError

            raise ConfigError(f"the budget must be at least one sequence, got {sequences}.")
        config = runs.read_config(run_dir)
        steps = -(-sequences // config.batch_size)
    return TrainingSession.resume(run_dir, reporter(json_output), steps=steps, time_limit=time_limit)


def eval_command(
    run: Annotated[list[Path], typer.Argument(help="Run folders (several: one table each, one line each in --plot).")],
    lengths: Annotated[Optional[str], typer.Option(help="Sequence lengths, such as 10,20,30,50,120 (copy, repeat, ngrams).")] = None,
    items: Annotated[Optional[str], typer.Option(help="Item counts, such as 6,10,15,20 (recall).")] = None,
    repeats: Annotated[Optional[str], typer.Option(help="Repeat counts, such as 10,20 (repeat).")] = None,
    batches: Annotated[int, typer.Option(min=1, help="Held-out batches per size.")] = 10,
    batch_size: Annotated[int, typer.Option(min=1, help="Sequences per batch.")] = 100,
    checkpoint: Annotated[str, typer.Option(help="best or latest.")] = "best",
    memory_rows: Annotated[Optional[int], typer.Option(min=1, help="DNC runs: evaluate on a memory of this many rows (its parameters do not depend on N); saved as eval-n<rows>.json.")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Also draw cost and bit errors against size, a line per run.")] = False,
    out: Annotated[Optional[Path], typer.Option(help="With --plot: a .png file or a folder (default: the first run's folder).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print eval.json's content on stdout (several runs: {\"runs\": [...]}).")] = False,
) -> None:
    """Evaluate runs' best checkpoints at their training sizes and at longer or larger ones."""
    from ntm_cli.config import ConfigError, parse_int_list
    from ntm_cli.runs import RunError
    from tasks import TaskConfigError

    try:
        if checkpoint not in ("best", "latest"):
            raise ConfigError(f"--checkpoint must be best or latest, got {checkpoint!r}.")
        from ntm_cli import runs

        configs = [runs.read_config(r) for r in run]
        from ntm_cli.evaluation import eval_file_name, evaluate_run, other_memory_rows, size_variants

        # every run checked before any is evaluated or anything is written
        saved = [r / eval_file_name(other_memory_rows(c, memory_rows)) for r, c in zip(run, configs)]
        if plot and len({c.task for c in configs}) > 1:
            raise ConfigError("--plot draws runs of one task; these runs train "
                              f"{', '.join(sorted({c.task for c in configs}))}.")
        figure = None
        if out is not None and not plot:
            raise ConfigError("--out names where the --plot figure goes; give --plot too.")
        if plot:
            from ntm_cli.cli_figures import figure_path, writable_folder

            figure = figure_path(out, run[0] / "generalisation.png")
            writable_folder(figure.parent)  # before evaluating, so that a failure changes nothing
        from tasks import make_task

        sizes = dict(
            lengths=parse_int_list(lengths, "--lengths") if lengths else None,
            items=parse_int_list(items, "--items") if items else None,
            repeats=parse_int_list(repeats, "--repeats") if repeats else None,
        )
        variants = [size_variants(make_task(c.task, **c.task_sizes), **sizes) for c in configs]
        results = [evaluate_run(r, v, batches=batches, batch_size=batch_size, checkpoint=checkpoint,
                                memory_rows=memory_rows) for r, v in zip(run, variants)]
    except (ConfigError, TaskConfigError, RunError) as error:
        fail(str(error))
    for path, result in zip(saved, results):
        runs.atomic_write_json(path, result)
    if figure is not None:
        from ntm_cli.figures import generalisation_figure

        try:
            generalisation_figure(results, figure)
        except ConfigError as error:
            fail(str(error))
    if json_output:
        print(json.dumps(results[0] if len(results) == 1 else {"runs": results}, indent=2))
        return
    from ntm_cli.reporting import eval_table

    for path, result in zip(saved, results):
        console.print(eval_table(result))
        console.print(f"saved {path}", markup=False, soft_wrap=True)
    if figure is not None:
        console.print(f"saved {figure}", markup=False, soft_wrap=True)
