"""`ntm sweep`: parse the grid, run the trials through an executor, rank and report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ntm_cli.options import Preset
from ntm_cli.output import console, error_console, reported_errors

GRID_HELP = "Values to sweep, comma-separated."


def _grid_file(path: Path) -> dict[str, Any]:
    """A TOML grid: top-level tasks, models, seeds, budget, sequences, preset, and a [grid]
    table of option = [values]."""
    import tomllib

    from ntm_cli.errors import InputError

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--grid {path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"--grid {path} cannot be read ({error}).") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"--grid {path} is not valid TOML ({error}).") from None
    known = {"tasks", "models", "seeds", "budget", "sequences", "preset", "grid"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"--grid {path}: unknown key {', '.join(unknown)}; it takes {', '.join(sorted(known))}.")
    if not isinstance(data.get("grid", {}), dict):
        raise InputError(f"--grid {path}: [grid] must be a table of option = [values].")
    return data


def sweep_command(
    tasks: Annotated[Optional[str], typer.Option(help="Tasks or aliases, comma-separated.")] = None,
    models: Annotated[Optional[str], typer.Option(help="Models, comma-separated: lstm, ntm-lstm, ntm-ff, dnc, kv-ff, kv-lstm.")] = None,
    grid: Annotated[Optional[Path], typer.Option(help="A TOML file with the grid (options given here are added to it).")] = None,
    lr: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    batch_size: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    optimizer: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    clip_norm: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    clip_value: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    lr_decay_steps: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    curriculum: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    heads: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    read_heads: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    write_heads: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    memory: Annotated[Optional[str], typer.Option(help=GRID_HELP + " Each value ROWSxWIDTH.")] = None,
    controller_size: Annotated[Optional[str], typer.Option(help=GRID_HELP + " Each value like 100 or 2x100.")] = None,
    lstm_size: Annotated[Optional[str], typer.Option(help=GRID_HELP + " Each value like 3x256.")] = None,
    memory_init: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    shift_range: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    head_clip: Annotated[Optional[str], typer.Option(help=GRID_HELP)] = None,
    neighbours: Annotated[Optional[str], typer.Option(help=GRID_HELP + " The key-value memory's k.")] = None,
    margin: Annotated[Optional[str], typer.Option(help=GRID_HELP + " The key-value memory's alpha.")] = None,
    memory_scope: Annotated[Optional[str], typer.Option(help=GRID_HELP + " sequence or lifelong.")] = None,
    preset: Annotated[Optional[Preset], typer.Option(help="fast or paper.")] = None,
    budget: Annotated[Optional[str], typer.Option(help="Training time per trial, such as 2m (default: the preset's time for each task).")] = None,
    sequences: Annotated[Optional[int], typer.Option(help="Or a budget in training sequences per trial.")] = None,
    seeds: Annotated[Optional[int], typer.Option(help="Seeds per setting (default 1).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Trainings at once on this machine (default: what its cores and memory allow).")] = None,
    ray: Annotated[Optional[str], typer.Option(help="Run the trials on Ray: local (start one here), auto (the cluster `ray start` made here), or HOST:PORT of a cluster's head.")] = None,
    gpus: Annotated[float, typer.Option(help="GPUs each trial asks Ray for.")] = 0.0,
    runs_dir: Annotated[Path, typer.Option("--runs", help="Runs folder: finished trials are reused, new ones go here.")] = Path("runs"),
    out: Annotated[Path, typer.Option(help="Where sweep.json and sweep.csv go.")] = Path("runs/sweep"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
) -> None:
    """Train every setting of a grid (tasks x models x values x seeds) and rank them by held-out cost."""
    from ntm_cli.config import parse_duration
    from ntm_cli.errors import InputError
    from ntm_cli.executors import connect_ray, default_workers, run_here, run_pool, run_ray
    from ntm_cli.options import parse_models
    from ntm_cli.sessions import reporter
    from ntm_cli.sweep import SweepSpec, check, collect, parse_values, plan_jobs, write_results
    from ntm_cli.tasks import canonical_name

    given = {"lr": lr, "batch-size": batch_size, "optimizer": optimizer, "clip-norm": clip_norm,
             "clip-value": clip_value, "lr-decay-steps": lr_decay_steps, "curriculum": curriculum,
             "heads": heads, "read-heads": read_heads, "write-heads": write_heads, "memory": memory,
             "controller-size": controller_size, "lstm-size": lstm_size, "memory-init": memory_init,
             "shift-range": shift_range, "head-clip": head_clip, "neighbours": neighbours, "margin": margin,
             "memory-scope": memory_scope}
    with reported_errors():
        data = _grid_file(grid) if grid is not None else {}
        file_grid = data.get("grid", {})
        twice = sorted(o for o, v in given.items() if v is not None and o in file_grid)
        if twice:
            raise InputError(f"--{twice[0]} is in the grid file too; give it in one place.")
        values = [(o, parse_values(o, v)) for o, v in file_grid.items()]
        values += [(o, parse_values(o, v)) for o, v in given.items() if v is not None]

        def pick(option, value, key, default):
            if option is not None and key in data:
                raise InputError(f"--{key} is in the grid file too; give it in one place.")
            return option if option is not None else data.get(key, default)

        task_names = pick(tasks, None, "tasks", None)
        if task_names is None:
            raise InputError("give the tasks to sweep: --tasks copy,sort (or tasks = [...] in the grid file).")
        model_names = pick(models, None, "models", "ntm-lstm")
        task_list = task_names.split(",") if isinstance(task_names, str) else list(task_names)
        model_text = model_names if isinstance(model_names, str) else ",".join(model_names)
        budget_text = pick(budget, None, "budget", None)
        spec = SweepSpec(
            tasks=tuple(dict.fromkeys(canonical_name(str(n).strip()) for n in task_list if str(n).strip())),
            models=parse_models(model_text),
            grid=tuple(values),
            preset=str(pick(preset.value if preset else None, None, "preset", "fast")),
            seeds=int(pick(seeds, None, "seeds", 1)),
            time_limit=parse_duration(str(budget_text)) if budget_text is not None else None,
            sequences=pick(sequences, None, "sequences", None),
        )
        if spec.preset not in ("fast", "paper"):
            raise InputError(f"Unknown preset '{spec.preset}'; valid presets are fast, paper.")
        if workers is not None and workers < 1:
            raise InputError(f"--workers must be at least 1, got {workers}.")
        if gpus < 0:
            raise InputError(f"--gpus must be 0 or more, got {gpus:g}.")
        for folder, flag in ((runs_dir, "--runs"), (out, "--out")):
            if folder.exists() and not folder.is_dir():
                raise InputError(f"{flag} {folder} is a file, not a folder.")
        trials = check(spec)  # every trial's config is valid before anything runs
        if ray is not None:
            connect_ray(ray, cpus=workers or default_workers())

    def say(line: str) -> None:
        (error_console if json_output else console).print(line, markup=False, soft_wrap=True)

    with reported_errors():
        say(f"{trials} trial{'s' if trials > 1 else ''}: {len(spec.tasks)} task(s), "
            f"{sum(len(spec.settings(m)) for m in spec.models)} model setting(s), {spec.seeds} seed(s)")
        jobs = plan_jobs(spec, runs_dir, say)
    if ray is not None:
        outcomes = run_ray(jobs, say, cpus=1, gpus=gpus)
    else:
        count = min(workers or default_workers(), len(jobs)) or 1
        outcomes = run_pool(jobs, count, say) if count > 1 else run_here(jobs, reporter(json_output), say)
    stopped = [o.stop_signal for o in outcomes if o.stop_signal]
    if stopped or len(outcomes) < len(jobs):
        import signal

        number = stopped[-1] if stopped else signal.SIGINT
        error_console.print(f"{'Stopped by SIGTERM' if number == signal.SIGTERM else 'Interrupted'}; every "
                            "finished trial is kept. Run the same command again to resume where it stopped.",
                            markup=False, soft_wrap=True)
        raise typer.Exit(128 + int(number))
    failed = [o for o in outcomes if o.error]
    for outcome in failed:
        error_console.print(f"Error: {outcome.job.label}: {outcome.error}", markup=False, soft_wrap=True)
    with reported_errors():
        results = collect(spec, runs_dir)
        paths = write_results(results, out)
    if json_output:
        print(json.dumps(results, indent=2))
    else:
        from ntm_cli.reporting import sweep_tables

        for table, best in sweep_tables(results):
            console.print(table)
            if best:
                console.print(f"best: {best}", markup=False, soft_wrap=True)
        for path in paths:
            console.print(f"saved {path}", markup=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)
