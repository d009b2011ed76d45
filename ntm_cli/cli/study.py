"""What `ntm compare` and `ntm sweep` share once their options are a Study: check, plan, train
through an executor, collect, write the result files and print the tables."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import typer

from ntm_cli.cli.output import console, show, error_console, reported_errors
from ntm_cli.reports.consoles import say as say_line
from ntm_cli.studies.study import Study


def check_folder(folder: Path, flag: str) -> None:
    """Refuses, before any work, a folder given as `flag` that is a file (InputError) or cannot
    be written (StorageError)."""
    from ntm_cli.errors import InputError
    from ntm_cli.storage import check_writable

    if folder.exists() and not folder.is_dir():
        raise InputError(f"{flag} {folder} is a file, not a folder.")
    check_writable(folder)


def study_archive(data: Path | None, tasks: str | None) -> dict:
    """The Study fields of `--data FILE` (the archive read, checked and said on stderr), or {}.

    Raises:
      InputError: --data with --tasks, or an archive that fails a check (`ntm_cli.training.data`).
    """
    from ntm_cli.errors import InputError

    if data is None:
        return {}
    if tasks is not None:
        raise InputError("--data compares on the archive's sequences; give no --tasks with it.")
    from ntm_cli.training.data import load_data

    record, made, line = load_data(data)
    say_line(line, stderr=True)
    return {"data": record, "data_kind": made.output_kind}


def run_study(study: Study, runs_dir: Path, out: Path, workers: int | None, json_output: bool,
              ray: str | None = None, gpus: float = 0.0, tensorboard: bool = False) -> None:
    """Trains what the study lacks (reusing finished runs), then writes and prints its results;
    `tensorboard`: the runs it trains write TensorBoard events too. Exits 130/143 when
    interrupted (every finished run kept), 1 when a run failed."""
    from ntm_cli.errors import InputError
    from ntm_cli.studies.executors import connect_ray, default_workers, run_here, run_pool, run_ray
    from ntm_cli.studies.launch import reporter
    from ntm_cli.studies.study import collect, plan_jobs

    def say(line: str) -> None:  # progress: stderr, so stdout holds only the results
        say_line(line, stderr=True)

    with reported_errors():
        if workers is not None and workers < 1:
            raise InputError(f"--workers must be at least 1, got {workers}.")
        check_folder(runs_dir, "--runs")
        check_folder(out, "--out")
        total = study.check()  # every run's config is valid before anything runs
        for note in study.ignored():
            say(note)
        if ray is not None:
            connect_ray(ray, cpus=workers or default_workers())
        say(f"{total} run{'s' if total > 1 else ''}: {len(study.tasks)} task(s), {len(study.trials())} "
            f"model setting(s), {study.seeds} seed(s) each")
        jobs, reused = plan_jobs(study, runs_dir, say, tensorboard)
    if ray is not None:
        outcomes = run_ray(jobs, say, cpus=1, gpus=gpus)
    else:
        count = min(workers or default_workers(), len(jobs)) or 1
        outcomes = run_pool(jobs, count, say) if count > 1 else run_here(jobs, reporter(True), say)
    stopped = [o.stop_signal for o in outcomes if o.stop_signal]
    if stopped or len(outcomes) < len(jobs):
        number = stopped[-1] if stopped else signal.SIGINT
        error_console.print(f"{'Stopped by SIGTERM' if number == signal.SIGTERM else 'Interrupted'}; every "
                            "finished run is kept. Run the same command again to resume where it stopped.",
                            markup=False, soft_wrap=True)
        raise typer.Exit(128 + int(number))  # 130 after Ctrl-C, 143 after SIGTERM
    failed = [o for o in outcomes if o.error]
    for outcome in failed:
        error_console.print(f"Error: {outcome.job.label}: {outcome.error}", markup=False, soft_wrap=True)
    with reported_errors():
        results = collect(study, runs_dir, reused)
    report(results, out, json_output)
    if failed:
        raise typer.Exit(1)


def report(results, out: Path, json_output: bool) -> None:
    """Writes a study's result files and figures to `out`, and prints its tables (or its JSON,
    on one line) on stdout; where the files went, on stderr."""
    from ntm_cli.reports.results import write_results

    with reported_errors():
        check_folder(out, "--out")
        paths = write_results(results, out)
    if json_output:
        print(json.dumps(results.to_dict()))
    else:
        from ntm_cli.reports.tables import STUDY_OPTIONAL, study_tables

        for table, closing in study_tables(results):
            show(table, STUDY_OPTIONAL)
            for line in closing:
                console.print(line, markup=False, soft_wrap=True)
    for path in paths:  # where the results went: a note, not a result
        say_line(f"saved {path}", stderr=True)
