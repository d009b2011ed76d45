"""`ntm compare` and `ntm runs`: parse, call ntm_cli.compare, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ntm_cli.options import Preset
from ntm_cli.output import console, error_console, reported_errors

def compare_command(
    tasks: Annotated[str, typer.Option(help="Tasks or aliases, comma-separated, such as sort,copy.")] = "copy",
    models: Annotated[Optional[str], typer.Option(help="Models, comma-separated: lstm, ntm-lstm, ntm-ff, dnc, kv-ff, kv-lstm (default: each task's own; the paper's tasks: lstm,ntm-lstm,ntm-ff).")] = None,
    preset: Annotated[Preset, typer.Option(help="fast or paper.")] = Preset("fast"),
    budget: Annotated[Optional[str], typer.Option(help="Training time per model, such as 90s or 3m, on every task (default: the preset's time for each task).")] = None,
    sequences: Annotated[Optional[int], typer.Option(help="Or a budget in training sequences per model.")] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per model.")] = 1,
    workers: Annotated[Optional[int], typer.Option(help="Trainings at once, each on its own core (default: what this machine's cores and memory allow).")] = None,
    runs_dir: Annotated[Path, typer.Option("--runs", help="Runs folder: finished runs are reused, new ones go here.")] = Path("runs"),
    out: Annotated[Path, typer.Option(help="Where results.json/.csv/.md and the figures go.")] = Path("runs/compare"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
) -> None:
    """Compare models task by task with one budget each, reusing finished runs; tables and figures."""
    from ntm_cli.compare import CompareSpec, collect, plan_jobs, public_results, write_results
    from ntm_cli.config import parse_duration
    from ntm_cli.errors import InputError
    from ntm_cli.executors import default_workers, run_here, run_pool
    from ntm_cli.options import parse_models
    from ntm_cli.sessions import reporter
    from ntm_cli.tasks import canonical_name

    with reported_errors():
        names = [t for t in (part.strip() for part in tasks.split(",")) if t]
        if budget is not None and sequences is not None:
            raise InputError("give one budget: --budget or --sequences.")
        if workers is not None and workers < 1:
            raise InputError(f"--workers must be at least 1, got {workers}.")
        spec = CompareSpec(
            tasks=tuple(dict.fromkeys(canonical_name(n) for n in names)),
            models=parse_models(models) if models is not None else None,
            preset=preset,
            time_limit=parse_duration(budget) if budget is not None else None,
            sequences=sequences,
            seeds=seeds,
        )
        for task in spec.tasks:
            for model in spec.models_for(task):
                spec.config(task, model, 0)  # every pair the preset has, before anything runs
        for folder, flag in ((runs_dir, "--runs"), (out, "--out")):
            if folder.exists() and not folder.is_dir():
                raise InputError(f"{flag} {folder} is a file, not a folder.")

    def say(line: str) -> None:
        (error_console if json_output else console).print(line, markup=False, soft_wrap=True)

    with reported_errors():
        jobs = plan_jobs(spec, runs_dir, say)
    workers = min(workers or default_workers(), len(jobs)) or 1
    outcomes = run_pool(jobs, workers, say) if workers > 1 else run_here(jobs, reporter(json_output), say)
    stopped = [o.stop_signal for o in outcomes if o.stop_signal]
    failed = [o for o in outcomes if o.error]
    if stopped or len(outcomes) < len(jobs):
        import signal

        signal_number = stopped[-1] if stopped else signal.SIGINT
        error_console.print(
            f"{'Stopped by SIGTERM' if signal_number == signal.SIGTERM else 'Interrupted'}; every finished run is kept. "
            "Run the same command again to resume where it stopped.",
            markup=False, soft_wrap=True,
        )
        raise typer.Exit(128 + int(signal_number))  # 130 after Ctrl-C, 143 after SIGTERM
    if failed:
        for outcome in failed:
            error_console.print(f"Error: {outcome.job.label}: {outcome.error}", markup=False, soft_wrap=True)
        raise typer.Exit(1)
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
    for row in rows:
        if row["status"] == "damaged":
            console.print(f"damaged: {row['problem']}", markup=False, soft_wrap=True)
