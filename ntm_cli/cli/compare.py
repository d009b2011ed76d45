"""`ntm compare` and `ntm runs`: parse the options into a study, run it, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ntm_cli.cli.options import Preset, Sequences, Steps, TensorBoard, Time, with_setting_lists
from ntm_cli.cli.output import console, show, reported_errors
from ntm_cli.config import MAX_SEEDS


@with_setting_lists
def compare_command(
    run_folders: Annotated[Optional[list[Path]], typer.Argument(help="Run folders you trained (or a glob's): a row per model and task, each run a seed; nothing is trained.", show_default=False)] = None,
    tasks: Annotated[Optional[str], typer.Option(help="Tasks or aliases, comma-separated, such as sort,copy (default: copy).", show_default=False)] = None,
    data: Annotated[Optional[Path], typer.Option(help="Compare on the sequences of this NumPy archive (as `ntm train --data`) instead of tasks; each run trains to the budget (an archive has no solved rule).")] = None,
    models: Annotated[Optional[str], typer.Option(help="Models, comma-separated: lstm, ntm-lstm, ntm-ff, dnc, kv-ff, kv-lstm (default: each task's own; the paper's tasks: lstm,ntm-lstm,ntm-ff).")] = None,
    preset: Annotated[Preset, typer.Option(help="fast or paper.")] = Preset("fast"),
    steps: Steps = None,
    sequences: Sequences = None,
    time_budget: Time = None,
    seeds: Annotated[int, typer.Option(min=1, max=MAX_SEEDS, help="Seeds per model (0, 1, ...): every row says how many of them solved the task, and verdicts go seed by seed.")] = 3,
    workers: Annotated[Optional[int], typer.Option(max=1024, help="Trainings at once, each on its own core (default: what this machine's cores and memory allow).")] = None,
    runs_dir: Annotated[Path, typer.Option("--runs", help="Runs folder: finished runs are reused, new ones go here.")] = Path("runs"),
    out: Annotated[Path, typer.Option(help="Where results.json/.csv/.md and the figures go.")] = Path("runs/compare"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
    tensorboard: TensorBoard = False,
    *,
    grid: dict[str, Any],
) -> None:
    """Compare models task by task, every run with one budget (default: each task's own), each seed
    stopping once solved (--until budget: never), reusing finished runs; tables, result files and
    figures. Any setting `ntm train` takes applies to every model that has it (several values:
    each model with each). Given run folders instead (`ntm compare runs/copy-*`), it trains
    nothing and compares those runs."""
    from ntm_cli.cli.options import budget, given_options, parse_grid, parse_list, parse_models, parse_study_grid
    from ntm_cli.cli.study import report, run_study, study_archive
    from ntm_cli.studies.study import Study
    from ntm_cli.tasks import canonical_name

    if run_folders:
        with reported_errors():
            from ntm_cli.errors import InputError
            from ntm_cli.settings import flags
            from ntm_cli.studies.study import collect_runs

            ignored = given_options(compare_command, locals(), {"run_folders", "out", "json_output"})
            if ignored or grid:
                raise InputError(f"{', '.join(ignored + ([flags(list(grid))] if grid else []))} cannot apply to runs "
                                 "already trained; with run folders, give only --out and --json.")
            results = collect_runs(run_folders)
        report(results, out, json_output)
        return
    with reported_errors():
        archive = study_archive(data, tasks)
        study = Study(
            kind="compare",
            tasks=("data",) if archive else tuple(
                canonical_name(name) for name in parse_list("copy" if tasks is None else tasks, "--tasks")),
            models=parse_models(models) if models is not None else None,
            grid=parse_grid(grid) if archive else parse_study_grid(grid),
            preset=preset,
            seeds=seeds,
            budget=budget(steps, sequences, time_budget),
            **archive,
        )
    run_study(study, runs_dir, out, workers, json_output, tensorboard=tensorboard)


def runs_command(
    runs_dir: Annotated[Path, typer.Option("--runs", help="The runs folder to list.")] = Path("runs"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the rows as JSON on stdout.")] = False,
) -> None:
    """List the runs folder: task, model, seed, status, sequences, best cost, time."""
    from ntm_cli.runs import list_runs

    with reported_errors():
        rows = list_runs(runs_dir)
    if json_output:
        print(json.dumps([row.to_json() for row in rows]))
        return
    if not rows:
        reason = "it does not exist" if not runs_dir.exists() else "it holds no run folders"
        console.print(f"No runs in {runs_dir}: {reason}.", markup=False)
        return
    from ntm_cli.reports.tables import RUNS_OPTIONAL, runs_table

    show(runs_table(rows, runs_dir), RUNS_OPTIONAL)
    for row in rows:
        if row.status == "damaged":
            console.print(f"damaged: {row.problem}", markup=False, soft_wrap=True)
