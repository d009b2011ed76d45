"""`ntm compare` and `ntm runs`: parse, call ntm_cli.compare, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ntm_cli.output import console, error_console, fail

DEFAULT_BUDGET = "60s"  # per model: `ntm compare --tasks copy` then takes about 4 minutes


def compare_command(
    tasks: Annotated[str, typer.Option(help="Tasks or aliases, comma-separated, such as sort,copy.")] = "copy",
    models: Annotated[str, typer.Option(help="Models, comma-separated: lstm, ntm-lstm, ntm-ff.")] = "lstm,ntm-lstm,ntm-ff",
    preset: Annotated[str, typer.Option(help="fast or paper.")] = "fast",
    budget: Annotated[Optional[str], typer.Option(help=f"Training time per model, such as 90s or 3m (default {DEFAULT_BUDGET}).")] = None,
    sequences: Annotated[Optional[int], typer.Option(help="Or a budget in training sequences per model.")] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per model (trained together).")] = 1,
    runs_dir: Annotated[Path, typer.Option("--runs", help="Runs folder: finished runs are reused, new ones go here.")] = Path("runs"),
    out: Annotated[Path, typer.Option(help="Where results.json/.csv/.md and the figures go.")] = Path("runs/compare"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
) -> None:
    """Compare models task by task with one budget each, reusing finished runs; tables and figures."""
    from ntm_cli.compare import CompareSpec, collect, run_jobs, write_results
    from ntm_cli.config import ConfigError, parse_duration
    from tasks import TaskConfigError, canonical_name

    try:
        names = [t for t in (part.strip() for part in tasks.split(",")) if t]
        labels = tuple(m for m in (part.strip() for part in models.split(",")) if m)
        if budget is not None and sequences is not None:
            raise ConfigError("give one budget: --budget or --sequences.")
        spec = CompareSpec(
            tasks=tuple(dict.fromkeys(canonical_name(n) for n in names)),
            models=tuple(dict.fromkeys(labels)),
            preset=preset,
            time_limit=None if sequences is not None else parse_duration(budget or DEFAULT_BUDGET),
            sequences=sequences,
            seeds=seeds,
        )
        spec.config(spec.tasks[0], spec.models[0], 0)  # validates the preset
        for folder, flag in ((runs_dir, "--runs"), (out, "--out")):
            if folder.exists() and not folder.is_dir():
                raise ConfigError(f"{flag} {folder} is a file, not a folder.")
    except (ConfigError, TaskConfigError) as error:
        fail(str(error))

    progress = error_console if json_output else console

    def say(line: str) -> None:
        progress.print(line, markup=False, soft_wrap=True)

    stopped_by = []  # the signal that interrupted a run, if one did

    def train(config, seed_list) -> bool:
        from ntm_cli.cli_train import new_session

        session, _ = new_session(config, seed_list, runs_dir, None, json_output)
        session.run()
        stopped_by.append(session.stop_signal)
        return not session.interrupted

    def resume(run_dir) -> bool:
        from ntm_cli import runs
        from ntm_cli.cli_train import reporter
        from ntm_cli.train_loop import TrainingSession

        if runs.checkpoint_path(run_dir, "latest").is_file():
            session = TrainingSession.resume(run_dir, reporter(json_output))
        else:  # stopped before its first checkpoint: start it again in the same folder
            config = runs.read_config(run_dir)
            session = TrainingSession(config, [config.seed], reporter(json_output))
            session.attach([run_dir])
            runs.truncate_metrics(run_dir, -1)
        session.run()
        stopped_by.append(session.stop_signal)
        return not session.interrupted

    from ntm_cli.runs import RunError

    try:
        finished = run_jobs(spec, runs_dir, train, resume, say)
    except RunError as error:
        fail(str(error))
    if not finished:
        import signal

        signal_number = stopped_by[-1] if stopped_by and stopped_by[-1] else signal.SIGINT
        error_console.print(
            f"{'Stopped by SIGTERM' if signal_number == signal.SIGTERM else 'Interrupted'}; every finished run is kept. "
            "Run the same command again to resume where it stopped.",
            markup=False, soft_wrap=True,
        )
        raise typer.Exit(128 + int(signal_number))  # 130 after Ctrl-C, 143 after SIGTERM
    results = collect(spec, runs_dir)
    paths = write_results(results, out)
    if json_output:
        public = {**results, "tasks": {t: {k: v for k, v in r.items() if k != "curves"} for t, r in results["tasks"].items()}}
        print(json.dumps(public, indent=2))
        return
    from ntm_cli.reporting import compare_tables

    for table, closing in compare_tables(results):
        console.print(table)
        console.print(closing, markup=False, soft_wrap=True)
    for path in paths:
        console.print(f"saved {path}", markup=False, soft_wrap=True)


def runs_command(
    runs_dir: Annotated[Path, typer.Option("--runs", help="The runs folder to list.")] = Path("runs"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the rows as JSON on stdout.")] = False,
) -> None:
    """List the runs folder: task, model, seed, status, sequences, best cost, time."""
    from ntm_cli.compare import list_runs

    rows = list_runs(runs_dir)
    if json_output:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        reason = "it does not exist" if not runs_dir.exists() else "it holds no run folders"
        console.print(f"No runs in {runs_dir}: {reason}.", markup=False)
        return
    from ntm_cli.reporting import runs_table

    console.print(runs_table(rows, runs_dir))
