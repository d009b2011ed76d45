"""`ntm compare` and `ntm runs`: parse, call ntm_cli.compare, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ntm_cli.options import Preset
from ntm_cli.output import console, error_console, reported_errors

DEFAULT_BUDGET = "60s"  # per model: `ntm compare --tasks copy` then takes about 4 minutes


def compare_command(
    tasks: Annotated[str, typer.Option(help="Tasks or aliases, comma-separated, such as sort,copy.")] = "copy",
    models: Annotated[str, typer.Option(help="Models, comma-separated: lstm, ntm-lstm, ntm-ff, dnc.")] = "lstm,ntm-lstm,ntm-ff",
    preset: Annotated[Preset, typer.Option(help="fast or paper.")] = Preset("fast"),
    budget: Annotated[Optional[str], typer.Option(help=f"Training time per model, such as 90s or 3m (default {DEFAULT_BUDGET}).")] = None,
    sequences: Annotated[Optional[int], typer.Option(help="Or a budget in training sequences per model.")] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per model (trained together).")] = 1,
    runs_dir: Annotated[Path, typer.Option("--runs", help="Runs folder: finished runs are reused, new ones go here.")] = Path("runs"),
    out: Annotated[Path, typer.Option(help="Where results.json/.csv/.md and the figures go.")] = Path("runs/compare"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
) -> None:
    """Compare models task by task with one budget each, reusing finished runs; tables and figures."""
    from ntm_cli.compare import CompareSpec, collect, public_results, run_jobs, write_results
    from ntm_cli.config import parse_duration
    from ntm_cli.errors import InputError
    from ntm_cli.options import parse_models
    from ntm_cli.sessions import Budget, new_session, resume_session
    from ntm_cli.tasks import canonical_name

    with reported_errors():
        names = [t for t in (part.strip() for part in tasks.split(",")) if t]
        if budget is not None and sequences is not None:
            raise InputError("give one budget: --budget or --sequences.")
        spec = CompareSpec(
            tasks=tuple(dict.fromkeys(canonical_name(n) for n in names)),
            models=parse_models(models),
            preset=preset,
            time_limit=None if sequences is not None else parse_duration(budget or DEFAULT_BUDGET),
            sequences=sequences,
            seeds=seeds,
        )
        for task in spec.tasks:
            for model in spec.models:
                spec.config(task, model, 0)  # every pair the preset has, before anything runs
        for folder, flag in ((runs_dir, "--runs"), (out, "--out")):
            if folder.exists() and not folder.is_dir():
                raise InputError(f"{flag} {folder} is a file, not a folder.")

    def say(line: str) -> None:
        (error_console if json_output else console).print(line, markup=False, soft_wrap=True)

    stopped_by = []  # the signal that interrupted a run, if one did

    def train(config, seed_list) -> bool:
        session, _ = new_session(config, seed_list, runs_dir, None, json_output)
        session.run()
        stopped_by.append(session.stop_signal)
        return not session.interrupted

    def resume(run_dir) -> bool:
        session = resume_session(run_dir, Budget(), json_output)
        session.run()
        stopped_by.append(session.stop_signal)
        return not session.interrupted

    with reported_errors():
        finished = run_jobs(spec, runs_dir, train, resume, say)
    if not finished:
        import signal

        signal_number = stopped_by[-1] if stopped_by and stopped_by[-1] else signal.SIGINT
        error_console.print(
            f"{'Stopped by SIGTERM' if signal_number == signal.SIGTERM else 'Interrupted'}; every finished run is kept. "
            "Run the same command again to resume where it stopped.",
            markup=False, soft_wrap=True,
        )
        raise typer.Exit(128 + int(signal_number))  # 130 after Ctrl-C, 143 after SIGTERM
    with reported_errors():
        results = collect(spec, runs_dir)
        paths = write_results(results, out)
    if json_output:
        print(json.dumps(public_results(results), indent=2))
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
