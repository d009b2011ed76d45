"""`ntm train` and `ntm eval`: parse, call the library, report.

JAX is imported inside the commands only.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ntm_cli.cli.options import (
    Checkpoint, Controller, MemoryStart, Model, Preset, Sequences, Steps, TensorBoard, Time, budget, chosen_model,
    given_options, with_axis_values, with_settings,
)
from ntm_cli.cli.output import console, say, show, error_console, interrupted_before_training, reported_errors
from ntm_cli.config import MAX_SEEDS


# What `--resume` takes beside the run folder: a new total budget, and how to print.
_RESUME_OPTIONS = {"task", "steps", "sequences", "time_budget", "resume", "json_output", "devices", "tensorboard"}


@with_settings
def train_command(
    task: Annotated[Optional[str], typer.Argument(help="Task name or alias (see `ntm tasks`).")] = None,
    model: Annotated[Model, typer.Option(help="ntm-lstm, ntm-ff, dnc, kv-ff, kv-lstm (the key-value memory), or lstm (the baseline); ntm or kv: that model with --controller's controller.")] = Model("ntm"),
    controller: Annotated[Optional[Controller], typer.Option(help="With --model ntm or kv: the controller (default: lstm for ntm, ff for kv).")] = None,
    preset: Annotated[Preset, typer.Option(help="fast (tuned for a CPU) or paper (Tables 1-3).")] = Preset("fast"),
    steps: Steps = None,
    sequences: Sequences = None,
    time_budget: Time = None,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="Seed of the run's root PRNG key.")] = 0,
    seeds: Annotated[int, typer.Option(min=1, max=MAX_SEEDS, help="Train this many seeds (seed, seed+1, ...) in one compiled program.")] = 1,
    out: Annotated[Path, typer.Option(help="Folder that holds the run folders.")] = Path("runs"),
    name: Annotated[Optional[str], typer.Option(help="Run folder name (default <task>-<model>-s<seed>).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue this run folder from its latest checkpoint.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout and nothing else there.")] = False,
    devices: Annotated[Optional[int], typer.Option(min=1, max=2**31 - 1, help="Use at most this many of this machine's devices (default: all); seeds, or else the batch, are split across them.")] = None,
    tensorboard: TensorBoard = False,
    data: Annotated[Optional[Path], typer.Option(help="Train on the sequences of this NumPy archive (.npz: inputs [S, T, I], targets [S, T, O], optional mask [S, T], eval_*; see experiments/README.md) instead of a task.")] = None,
    *,
    settings: dict[str, Any],
) -> None:
    """Train a model on a task; every report saves metrics and checkpoints in the run folder."""
    from ntm_cli.errors import InputError
    from ntm_cli.settings import flags
    from ntm_cli.studies.launch import build_config, new_session, reporter, resume_session

    with reported_errors(), interrupted_before_training():
        given_budget = budget(steps, sequences, time_budget)
        if resume is not None:
            if task is not None:
                raise InputError("--resume continues a run with its own task and settings; give no TASK with it.")
            ignored = given_options(train_command, locals(), _RESUME_OPTIONS) + ([flags(list(settings))] if settings else [])
            if ignored:
                raise InputError(
                    f"{', '.join(ignored)} cannot change a run "
                    "being resumed; only --steps, --sequences, --time, --devices, --json and --tensorboard go with "
                    "--resume."
                )
            session = resume_session(resume, given_budget, reporter(json_output), devices, tensorboard)
            run_dirs = [resume]
        else:
            if task is None and data is None:
                raise InputError("name a task to train (see `ntm tasks`), give --data FILE, or --resume a run folder.")
            if task is not None and data is not None:
                raise InputError("--data trains on the archive's sequences; give no TASK with it.")
            record, data_kind = None, "bits"
            if data is not None:
                from ntm_cli.training.data import load_data

                record, made, line = load_data(data)
                data_kind = made.output_kind
                say(line, stderr=True)
            config = build_config(task, chosen_model(model, controller), preset, seed, given_budget, settings,
                                  data=record, data_kind=data_kind)
            from ntm_cli.cli.study import check_folder

            check_folder(out, "--out")  # before compiling, and before a finished run is looked for in it
            if seeds == 1 and name is None and _show_finished(out, config, json_output):
                return
            from ntm_cli.studies.launch import check_run_name

            check_run_name(name, out, range(seed, seed + seeds))
            session, run_dirs = new_session(config, range(seed, seed + seeds), out, name, reporter(json_output),
                                            devices, tensorboard)

    with reported_errors():
        summaries = session.run()
    if json_output:
        from ntm_cli.reports.progress import seed_spread

        result = (summaries[0].to_json() if len(summaries) == 1 else
                  {"runs": [s.to_json() for s in summaries], "spread": seed_spread(summaries)})
        print(json.dumps(result))
    if summaries and all(s.status == "diverged" for s in summaries):
        error_console.print(f"Error: training diverged ({summaries[0].diverged_reason}); nothing usable was "
                            "trained. Try a lower --lr or --clip-norm 50.", markup=False, soft_wrap=True)
        raise typer.Exit(1)
    if session.interrupted:
        how = "Stopped by SIGTERM" if session.stop_signal == signal.SIGTERM else "Interrupted"
        for run_dir in run_dirs:
            error_console.print(
                f"{how} at step {session.loop.step:,}; a checkpoint is saved. "
                f"Resume with: ntm train --resume {run_dir}", markup=False, soft_wrap=True,
            )
        raise typer.Exit(128 + int(session.stop_signal or signal.SIGINT))  # 130 after Ctrl-C, 143 after SIGTERM


def _show_finished(out: Path, config: Any, json_output: bool) -> bool:
    """Where `out` holds a finished run of exactly this config and seed (trained alone), shows
    its summary instead of training it again, says so on stderr, and returns True."""
    from ntm_cli import runs
    from ntm_cli.reports.progress import SUMMARY_OPTIONAL, config_errors, summary_table

    found = runs.find_run(out, config)
    if found is None or runs.status(found) not in runs.DONE:
        return False
    summary = runs.read_summary(found)
    error_console.print(f"{found} is a {summary.status} run of this config and seed: its summary, not trained again "
                        "(--name NAME trains another).", markup=False, soft_wrap=True)
    if json_output:
        print(json.dumps(summary.to_json()))
    else:
        show(summary_table([summary], config_errors(config)), SUMMARY_OPTIONAL)
    return True


@with_axis_values
def eval_command(
    run: Annotated[list[Path], typer.Argument(help="Run folders (several: one table each, one line each in --plot).")],
    batches: Annotated[int, typer.Option(min=1, max=100_000, help="Held-out batches per size (a task's; an archive's held-out sequences are each evaluated once).")] = 10,
    batch_size: Annotated[int, typer.Option(min=1, max=2**31 - 1, help="Sequences per batch.")] = 100,
    checkpoint: Annotated[Checkpoint, typer.Option(help="The best held-out checkpoint, or the latest.")] = Checkpoint("best"),
    memory_rows: Annotated[Optional[int], typer.Option(min=1, max=2**31 - 1, help="DNC runs: evaluate on a memory of this many rows (its parameters do not depend on N); saved as eval-n<rows>.json.")] = None,
    start_memory: Annotated[Optional[MemoryStart], typer.Option(help="Runs with a life-long memory: start every held-out sequence from the memory training left (trained, the default) or from an empty one; saved as eval-empty.json.")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Also draw cost and bit errors against size, a line per run.")] = False,
    out: Annotated[Optional[Path], typer.Option(help="With --plot: a .png file or a folder (default: the first run's folder).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print eval.json's content on stdout (several runs: {\"runs\": [...]}).")] = False,
    devices: Annotated[Optional[int], typer.Option(min=1, max=2**31 - 1, help="Use at most this many of this machine's devices (default: all); each batch is split across them.")] = None,
    data: Annotated[Optional[Path], typer.Option(help="Evaluate on the held-out sequences of this NumPy archive (its eval_* arrays, or its last eighth), whose sizes must be the run's.")] = None,
    *,
    axis_values: dict[str, str],
) -> None:
    """Evaluate runs' best checkpoints at their training sizes and at longer or larger ones."""
    from ntm_cli import runs
    from ntm_cli.errors import InputError
    from ntm_cli.cli.options import parse_axis_values

    with reported_errors():
        configs = [runs.read_config(r) for r in run]
        from ntm_cli.cli.options import given_options

        if (data is not None or any(c.data is not None for c in configs)) and given_options(
                eval_command, {"batches": batches}, set()):
            raise InputError("--batches does not apply to an archive's held-out sequences, which are each "
                             "evaluated once; --batch-size sets how many go at a time.")
        from ntm_cli.training.evaluation import check_memory_start, eval_file_name, evaluate_run, other_memory_rows

        # every run checked before any is evaluated or anything is written
        starts = [check_memory_start(c, start_memory) for c in configs]
        saved = [r / (f"eval-{data.stem}.json" if data is not None else eval_file_name(other_memory_rows(c, memory_rows), s))
                 for r, c, s in zip(run, configs, starts)]  # another archive's figures beside the run's own
        if plot and len({c.task for c in configs}) > 1:
            raise InputError("--plot draws runs of one task; these runs train "
                             f"{', '.join(sorted({c.task for c in configs}))}.")
        figure = None
        if out is not None and not plot:
            raise InputError("--out names where the --plot figure goes; give --plot too.")
        from ntm_cli.storage import check_writable

        for path in saved:  # before evaluating, so that a failure changes nothing
            check_writable(path)
        if plot:
            from ntm_cli.reports.figures import figure_path

            figure = figure_path(out, run[0] / "generalisation.png")
        values = parse_axis_values(axis_values)
        from ntm_cli.training.devices import local_devices

        chosen = local_devices(devices)
        variants = [_variants(c, values, data) for c in configs]
        results = [evaluate_run(r, v, batches=batches, batch_size=batch_size, checkpoint=checkpoint,
                                memory_rows=memory_rows, devices=chosen, memory_start=start,
                                say=lambda line: say(line, stderr=True))
                   for r, v, start in zip(run, variants, starts)]
        for path, result in zip(saved, results):
            runs.atomic_write_json(path, result)
        if figure is not None:
            from ntm_cli.reports.figures import generalisation_figure

            generalisation_figure(results, figure)
    if json_output:
        print(json.dumps(results[0] if len(results) == 1 else {"runs": results}))
        return
    from ntm_cli.reports.tables import eval_table

    for path, result in zip(saved, results):
        show(eval_table(result), ("floor", "chance", "T"))
        error_console.print(f"saved {path}", markup=False, soft_wrap=True)
    if figure is not None:
        error_console.print(f"saved {figure}", markup=False, soft_wrap=True)


def _variants(config: Any, values: dict[str, list[int]], data: Path | None) -> dict[str, Any] | None:
    """What `ntm eval` evaluates a run at: the held-out set of the archive `data` (its sizes
    checked against the run's), or the task's sizes asked for; None: the run's own task's
    (an archive's run reads its archive once, when its model is loaded)."""
    from ntm_cli.errors import InputError
    from ntm_cli.tasks import make_task

    if data is not None:
        if values:
            raise InputError("--data evaluates on an archive's sequences, whose sizes are fixed; give no size options with it.")
        from ntm_cli.training.data import load_data

        record, made, _ = load_data(data)  # its sizes are checked against the run's by `evaluate_run`
        return {f"held-out of {Path(record.path).name}": made.heldout()}
    if config.data is not None:
        if values:
            raise InputError("a run trained on an archive is evaluated on its sequences, whose sizes are fixed; "
                             "give no size options for it.")
        return None
    return make_task(config.task, **config.task_sizes).evaluation_variants(values)
