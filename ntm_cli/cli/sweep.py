"""`ntm sweep`: parse the grid (options and/or a TOML file) into a study, run it, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ntm_cli.cli.options import Preset, Sequences, Steps, TensorBoard, Time, with_setting_lists
from ntm_cli.cli.output import reported_errors
from ntm_cli.config import MAX_SEEDS

# The top-level keys of a grid file, beside its [grid] table.
FILE_KEYS = ("tasks", "models", "seeds", "steps", "sequences", "time", "preset")


def _grid_file(path: Path) -> dict[str, Any]:
    """A TOML grid: top-level tasks, models, seeds, steps, sequences, time, preset, and a [grid]
    table of setting = [values]."""
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
    unknown = sorted(set(data) - set(FILE_KEYS) - {"grid"})
    if unknown:
        raise InputError(f"--grid {path}: unknown key {', '.join(unknown)}; it takes {', '.join(FILE_KEYS)} and [grid].")
    if not isinstance(data.get("grid", {}), dict):
        raise InputError(f"--grid {path}: [grid] must be a table of setting = [values].")
    return data


def _text(value: Any) -> str | None:
    """A file's list or scalar as the option's text ('copy,sort')."""
    if value is None or isinstance(value, str):
        return value
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


@with_setting_lists
def sweep_command(
    tasks: Annotated[Optional[str], typer.Option(help="Tasks or aliases, comma-separated.")] = None,
    data_file: Annotated[Optional[Path], typer.Option("--data", help="Sweep on the sequences of this NumPy archive (as `ntm train --data`) instead of tasks; each run trains to the budget.")] = None,
    models: Annotated[Optional[str], typer.Option(help="Models, comma-separated: lstm, ntm-lstm, ntm-ff, dnc, kv-ff, kv-lstm (default: ntm-lstm).")] = None,
    grid_file: Annotated[Optional[Path], typer.Option("--grid", help="A TOML file with the grid (options given here are added to it).")] = None,
    preset: Annotated[Optional[Preset], typer.Option(help="fast or paper.")] = None,
    steps: Steps = None,
    sequences: Sequences = None,
    time_budget: Time = None,
    seeds: Annotated[Optional[int], typer.Option(min=1, max=MAX_SEEDS, help="Seeds per setting (default 1).")] = None,
    workers: Annotated[Optional[int], typer.Option(max=1024, help="Trainings at once on this machine (default: what its cores and memory allow).")] = None,
    ray: Annotated[Optional[str], typer.Option(help="Run the trials on Ray: local (start one here), auto (the cluster `ray start` made here), or HOST:PORT of a cluster's head.")] = None,
    gpus: Annotated[float, typer.Option(help="GPUs each trial asks Ray for.")] = 0.0,
    runs_dir: Annotated[Path, typer.Option("--runs", help="Runs folder: finished trials are reused, new ones go here.")] = Path("runs"),
    out: Annotated[Path, typer.Option(help="Where results.json/.csv/.md and the figures go.")] = Path("runs/sweep"),
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
    tensorboard: TensorBoard = False,
    *,
    grid: dict[str, Any],
) -> None:
    """Train every setting of a grid (tasks x models x values x seeds) and rank them on each task
    by its own criterion (cost; a class task: wrong answers); the best as an `ntm train` command.
    Each seed stops once solved (--until budget: never)."""
    import math

    from ntm_cli.cli.options import budget, parse_grid, parse_list, parse_models, parse_study_grid
    from ntm_cli.cli.study import run_study, study_archive
    from ntm_cli.errors import InputError
    from ntm_cli.settings import setting
    from ntm_cli.studies.study import Study
    from ntm_cli.tasks import canonical_name

    with reported_errors():
        data = _grid_file(grid_file) if grid_file is not None else {}
        file_grid = {setting(name).name: values for name, values in data.get("grid", {}).items()}
        given = {"tasks": tasks, "models": models, "seeds": seeds, "steps": steps, "sequences": sequences,
                 "time": time_budget, "preset": preset.value if preset else None}
        twice = sorted(set(grid) & set(file_grid)) + sorted(k for k, v in given.items() if v is not None and k in data)
        if twice:
            raise InputError(f"--{twice[0].replace('_', '-')} is in the grid file too; give it in one place.")
        merged = {k: v if v is not None else data.get(k) for k, v in given.items()}
        archive = study_archive(data_file, _text(merged["tasks"]))
        if merged["tasks"] is None and not archive:
            raise InputError("give the tasks to sweep: --tasks copy,sort (or tasks = [...] in the grid file), "
                             "or --data FILE.")
        if str(merged["preset"] or "fast") not in ("fast", "paper"):
            raise InputError(f"Unknown preset '{merged['preset']}'; valid presets are fast, paper.")
        if not math.isfinite(gpus) or gpus < 0:
            raise InputError(f"--gpus must be a number, 0 or more, got {gpus:g}.")
        study = Study(
            kind="sweep",
            tasks=("data",) if archive else tuple(canonical_name(name)
                                                  for name in parse_list(_text(merged["tasks"]), "--tasks")),
            models=parse_models("ntm-lstm" if merged["models"] is None else _text(merged["models"])),
            grid=(parse_grid if archive else parse_study_grid)({**file_grid, **grid}),
            preset=str(merged["preset"] or "fast"),
            seeds=1 if merged["seeds"] is None else int(merged["seeds"]),
            budget=budget(merged["steps"], merged["sequences"], _text(merged["time"])),
            **archive,
        )
    run_study(study, runs_dir, out, workers, json_output, ray, gpus, tensorboard)
