"""`ntm sweep`: a grid of settings, every trial an ordinary run folder, ranked by held-out cost.

A sweep is tasks x models x the product of the grid's values x seeds. Each trial is the run
`ntm train TASK --model MODEL --<option> VALUE ... --seed S` would make (the same config.json,
metrics, checkpoints), so a finished trial is found and reused by its saved configuration, an
unfinished one is resumed, as `ntm compare` does; the jobs run through the same executors
(here, local worker processes, or a Ray cluster).

A grid option a model does not take (`--lstm-size` for an NTM, `--heads` for the LSTM) is
left out of that model's settings, so `--models ntm-lstm,lstm --lr 1e-3,3e-4 --heads 1,2`
gives the NTM four settings and the LSTM two.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import shlex
from pathlib import Path
from typing import Any, Callable

from ntm_cli import runs
from ntm_cli.config import TrainConfig
from ntm_cli.errors import InputError
from ntm_cli.executors import Job
from ntm_cli.models.config import MODEL_NAMES, model_family
from ntm_cli.progress import format_cost, spread

# Grid options: name (as on `ntm train`, without --) -> (type, which overrides it sets).
TRAINING_OPTIONS = {"lr": float, "batch-size": int, "optimizer": str, "clip-norm": float, "clip-value": float,
                    "lr-decay-steps": int, "curriculum": int}
MODEL_OPTIONS = {"heads": int, "read-heads": int, "write-heads": int, "memory": str, "controller-size": str,
                 "lstm-size": str, "memory-init": str, "shift-range": int, "head-clip": float, "neighbours": int,
                 "margin": float, "memory-scope": str}
GRID_OPTIONS = TRAINING_OPTIONS | MODEL_OPTIONS
# The model options each family takes (the training options apply to every model).
TAKES = {
    "ntm": {"heads", "read-heads", "write-heads", "memory", "controller-size", "memory-init", "shift-range",
            "head-clip"},
    "dnc": {"heads", "read-heads", "write-heads", "memory", "controller-size", "head-clip"},
    "lstm": {"lstm-size"},
    "kv": {"memory", "controller-size", "neighbours", "margin", "memory-scope"},
}


def parse_values(option: str, values: Any) -> tuple[Any, ...]:
    """A grid option's values, typed: from a comma-separated string ('1e-3,3e-4') or a list (TOML).

    Raises:
      InputError: an unknown option, no values, or a value of the wrong type.
    """
    if option not in GRID_OPTIONS:
        raise InputError(f"'{option}' is not an option a sweep can vary; it can vary {', '.join(GRID_OPTIONS)}.")
    kind = GRID_OPTIONS[option]
    items = [v.strip() for v in values.split(",")] if isinstance(values, str) else list(values)
    if not items or any(isinstance(v, str) and not v for v in items):
        raise InputError(f"--{option} needs values separated by commas, such as 1e-3,3e-4; got {values!r}.")
    typed = []
    for value in items:
        try:
            if isinstance(value, bool) or (kind is int and isinstance(value, float)):
                raise ValueError
            typed.append(kind(value))
        except (TypeError, ValueError):
            what = {int: "whole numbers", float: "numbers", str: "words"}[kind]
            raise InputError(f"--{option} takes {what}, got {value!r}.") from None
    return tuple(dict.fromkeys(typed))


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """What to sweep: tasks x models x grid x seeds, each trial with the same budget (a time or a
    number of sequences per trial; by default the preset's comparison time for the task)."""

    tasks: tuple[str, ...]  # canonical names
    models: tuple[str, ...]
    grid: tuple[tuple[str, tuple[Any, ...]], ...]  # (option, values), in the order given
    preset: str = "fast"
    seeds: int = 1
    time_limit: float | None = None
    sequences: int | None = None

    def __post_init__(self) -> None:
        if not self.tasks:
            raise InputError("give at least one task to sweep.")
        if not self.models:
            raise InputError("give at least one model to sweep.")
        for name in self.models:
            if name not in MODEL_NAMES:
                raise InputError(f"Unknown model '{name}'; valid models are {', '.join(MODEL_NAMES)}.")
        if self.seeds < 1:
            raise InputError(f"--seeds must be at least 1, got {self.seeds}.")
        if self.time_limit is not None and self.sequences is not None:
            raise InputError("give one budget: --budget or --sequences.")
        if self.time_limit is not None and self.time_limit <= 0:
            raise InputError(f"the budget must be positive, got {self.time_limit:g} s.")
        if self.sequences is not None and self.sequences < 1:
            raise InputError(f"the budget must be at least one sequence, got {self.sequences}.")
        families = {model_family(m) for m in self.models}
        for option, _ in self.grid:
            if option in MODEL_OPTIONS and not any(option in TAKES[f] for f in families):
                raise InputError(f"--{option} applies to none of the models swept ({', '.join(self.models)}).")

    def seconds(self, task: str) -> float | None:
        from ntm_cli.experiments.presets import compare_budget

        if self.sequences is not None:
            return None
        return self.time_limit if self.time_limit is not None else compare_budget(self.preset, task)

    def sequences_for(self, task: str) -> int | None:
        """The sequences per trial where the budget is in sequences: given, or the task's default."""
        from ntm_cli.experiments.presets import compare_sequences

        if self.seconds(task) is not None:
            return None
        return self.sequences if self.sequences is not None else compare_sequences(task)

    def settings(self, model: str) -> list[dict[str, Any]]:
        """The model's settings: the product of the values of the options it takes."""
        takes = TAKES[model_family(model)]
        grid = [(option, values) for option, values in self.grid if option in TRAINING_OPTIONS or option in takes]
        return [dict(zip([o for o, _ in grid], combo)) for combo in itertools.product(*[v for _, v in grid])]

    def config(self, task: str, model: str, setting: dict[str, Any], seed: int) -> TrainConfig:
        """The config of one trial, exactly as `ntm train` builds it from the same options.

        Raises:
          InputError: a value the task or model cannot take, named.
        """
        from ntm_cli.sessions import Budget, ModelOverrides, TrainingOverrides, build_config

        fields = {option.replace("-", "_"): value for option, value in setting.items()}
        model_fields = {k: v for k, v in fields.items() if k.replace("_", "-") in MODEL_OPTIONS}
        training_fields = {k: v for k, v in fields.items() if k not in model_fields}
        budget = Budget(sequences=self.sequences_for(task), time_limit=self.seconds(task))
        return build_config(task, model, self.preset, seed, budget, {}, ModelOverrides(**model_fields),
                            TrainingOverrides(**training_fields))

    def trials(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(task, model, setting) for every trial group (a group's seeds share a setting)."""
        return [(task, model, setting) for task in self.tasks for model in self.models
                for setting in self.settings(model)]

    def command(self, task: str, model: str, setting: dict[str, Any]) -> str:
        """The `ntm train` command that makes this setting's run (seed 0)."""
        parts = ["ntm", "train", task, "--model", model]
        if self.preset != "fast":
            parts += ["--preset", self.preset]
        for option, value in setting.items():
            parts += [f"--{option}", f"{value:g}" if isinstance(value, float) else str(value)]
        seconds = self.seconds(task)
        parts += ["--sequences", str(self.sequences_for(task))] if seconds is None else ["--time", f"{seconds:g}s"]
        return shlex.join(parts)


def label(setting: dict[str, Any]) -> str:
    """'lr=0.001 batch-size=8', or 'preset' for no changes."""
    return " ".join(f"{o}={v:g}" if isinstance(v, float) else f"{o}={v}" for o, v in setting.items()) or "preset"


def check(spec: SweepSpec) -> int:
    """Builds every trial's config before anything runs (a bad value stops the sweep here, with
    nothing written); returns the number of trials (runs)."""
    for task, model, setting in spec.trials():
        spec.config(task, model, setting, 0)
    return len(spec.trials()) * spec.seeds


def plan_jobs(spec: SweepSpec, runs_dir: Path, say: Callable[[str], None]) -> list[Job]:
    """The jobs that finish the sweep; finished trials are reused (and said so). Under a time
    budget each seed trains alone (seeds sharing a core would each see fewer sequences)."""
    jobs = []
    for task, model, setting in spec.trials():
        to_do = []
        for seed in range(spec.seeds):
            config = spec.config(task, model, setting, seed)
            found = runs.find_run(runs_dir, config)
            if found is not None and runs.status(found) == "finished":
                say(f"{task} / {model} / {label(setting)} / seed {seed}: reusing {found}")
            else:
                to_do.append(seed)
        groups = [[s] for s in to_do] if spec.seconds(task) is not None else ([to_do] if to_do else [])
        for group in groups:
            name = f"{task} / {model} / {label(setting)} / seed{'s' if len(group) > 1 else ''} {', '.join(map(str, group))}"
            jobs.append(Job(name, spec.config(task, model, setting, group[0]), tuple(group), runs_dir))
    return jobs


def collect(spec: SweepSpec, runs_dir: Path) -> dict[str, Any]:
    """Every setting's result (mean and spread of the final held-out cost over its finished
    seeds), ranked within each task, and each task's best setting as a command."""
    tasks: dict[str, Any] = {}
    for task in spec.tasks:
        rows = []
        for _, model, setting in (t for t in spec.trials() if t[0] == task):
            summaries = []
            for seed in range(spec.seeds):
                found = runs.find_run(runs_dir, spec.config(task, model, setting, seed))
                summary = runs.read_summary(found) if found is not None else None
                if summary is not None and summary.get("status") == "finished":
                    summaries.append(summary | {"run_dir": str(found)})
            costs = spread([s["final_eval_cost"] for s in summaries])
            rows.append({
                "task": task, "model": model, "setting": setting, "label": label(setting),
                "seeds": len(summaries),
                "cost": costs["mean"] if costs else None,
                "cost_std": costs["std"] if costs else None,
                "best_cost": min((s["best_eval_cost"] for s in summaries), default=None),
                "sequences": spread([s["sequences"] for s in summaries])["mean"] if summaries else None,
                "wall_time": spread([s["wall_time"] for s in summaries])["mean"] if summaries else None,
                "command": spec.command(task, model, setting),
                "run_dirs": [s["run_dir"] for s in summaries],
            })
        rows.sort(key=lambda r: (r["cost"] is None, r["cost"] if r["cost"] is not None else 0.0))
        for rank, row in enumerate(rows, 1):
            row["rank"] = rank if row["cost"] is not None else None
        best = rows[0] if rows and rows[0]["cost"] is not None else None
        tasks[task] = {"rows": rows, "best": best["command"] if best else None}
    return {"preset": spec.preset, "seeds": spec.seeds, "models": list(spec.models),
            "grid": {option: list(values) for option, values in spec.grid},
            "budget": {"seconds": spec.time_limit, "sequences": spec.sequences}, "tasks": tasks}


CSV_FIELDS = ("task", "rank", "model", "label", "seeds", "cost", "cost_std", "best_cost", "sequences", "wall_time",
              "command")


def results_csv(results: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for task in results["tasks"].values():
        for row in task["rows"]:
            writer.writerow(row)
    return out.getvalue()


def write_results(results: dict[str, Any], out: Path) -> list[Path]:
    """sweep.json and sweep.csv in `out`, each written whole or not at all."""
    import json

    from ntm_cli.errors import StorageError

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"cannot create {out} ({error.strerror}).") from None
    runs.atomic_write_json(out / "sweep.json", results)
    runs.atomic_write_bytes(out / "sweep.csv", results_csv(results).encode())
    return [out / "sweep.json", out / "sweep.csv"]


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """One task's ranking as strings, for the terminal."""
    rows = []
    for r in result["rows"]:
        cost = "-" if r["cost"] is None else format_cost(r["cost"])
        if r["cost_std"] is not None and r["seeds"] > 1:
            cost += f" ± {format_cost(r['cost_std'])}"
        rows.append([str(r["rank"] or "-"), r["model"], r["label"], cost, str(r["seeds"]),
                     "-" if r["sequences"] is None else f"{r['sequences']:,.0f}",
                     "-" if r["wall_time"] is None else f"{r['wall_time']:.1f}"])
    return rows
