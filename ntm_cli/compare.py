"""`ntm compare`: train what is missing, reuse what is done, and tabulate models per task.

A comparison is a set of jobs, one per task and model, each with the same budget and seeds.
A job's runs are found in the runs folder by their saved config: a finished run with exactly
the config a job asks for is reused, an unfinished one is resumed, and missing seeds are
trained together in one compiled program.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any, Callable

from ntm_cli import runs
from ntm_cli.config import TIME_ONLY_STEPS, TrainConfig, steps_for_sequences
from ntm_cli.errors import InputError, RunFolderError
from ntm_cli.experiments.presets import preset_config
from ntm_cli.models.config import MODEL_NAMES, model_family
from ntm_cli.progress import format_cost, spread


@dataclasses.dataclass(frozen=True)
class CompareSpec:
    """What to compare and with what budget (time per model, or sequences per model)."""

    tasks: tuple[str, ...]  # canonical task names
    models: tuple[str, ...] = MODEL_NAMES
    preset: str = "fast"
    time_limit: float | None = 60.0  # seconds of training per model and seed group
    sequences: int | None = None  # or a budget in sequences
    seeds: int = 1

    def __post_init__(self) -> None:
        if not self.tasks:
            raise InputError("give at least one task to compare.")
        if not self.models:
            raise InputError("give at least one model to compare.")
        for name in self.models:
            if name not in MODEL_NAMES:
                raise InputError(f"Unknown model '{name}'; valid models are {', '.join(MODEL_NAMES)}.")
        if (self.time_limit is None) == (self.sequences is None):
            raise InputError("give one budget: a time per model or a number of sequences.")
        if self.time_limit is not None and self.time_limit <= 0:
            raise InputError(f"the budget must be positive, got {self.time_limit:g} s.")
        if self.sequences is not None and self.sequences < 1:
            raise InputError(f"the budget must be at least one sequence, got {self.sequences}.")
        if self.seeds < 1:
            raise InputError(f"--seeds must be at least 1, got {self.seeds}.")

    def budget_text(self) -> str:
        return f"{self.time_limit:g} s of training" if self.time_limit is not None else f"{self.sequences:,} sequences"

    def config(self, task: str, model: str, seed: int) -> TrainConfig:
        """The TrainConfig of one run of this comparison."""
        config = preset_config(self.preset, task, model, seed)
        if self.time_limit is not None:
            return dataclasses.replace(config, steps=TIME_ONLY_STEPS, time_limit=self.time_limit)
        return dataclasses.replace(config, steps=steps_for_sequences(self.sequences, config.batch_size), time_limit=None)


def find_run(runs_dir: Path, config: TrainConfig) -> Path | None:
    """The run folder in `runs_dir` made with exactly `config` (a finished one first), or None."""
    if not runs_dir.is_dir():
        return None
    wanted = config.to_dict()
    matches = []
    for config_file in sorted(runs_dir.glob(f"*/{runs.CONFIG}")):
        try:
            saved = json.loads(config_file.read_text())["config"]
        except (json.JSONDecodeError, KeyError, OSError):
            continue
        if saved == json.loads(json.dumps(wanted)):
            summary = runs.read_summary(config_file.parent) or {}
            matches.append((summary.get("status") != "finished", config_file.parent))
    return min(matches)[1] if matches else None


def run_jobs(spec: CompareSpec, runs_dir: Path, train: Callable[[TrainConfig, list[int]], bool],
             resume: Callable[[Path], bool], say: Callable[[str], None]) -> bool:
    """Makes sure every run of the comparison is finished; False if one was interrupted.

    Args:
      train: trains a config for the given seeds in new run folders; returns False if interrupted.
      resume: resumes a run folder; returns False if interrupted.
      say: prints a progress line.
    """
    for task in spec.tasks:
        for model in spec.models:
            missing = []
            for seed in range(spec.seeds):
                config = spec.config(task, model, seed)
                found = find_run(runs_dir, config)
                status = (runs.read_summary(found) or {}).get("status") if found else None
                if found is None:
                    missing.append(seed)
                elif status != "finished":
                    say(f"{task} / {model} / seed {seed}: resuming {found}")
                    if not resume(found):
                        return False
                else:
                    say(f"{task} / {model} / seed {seed}: reusing {found}")
            # Seeds trained together share the CPU, so under a time budget each would see fewer
            # sequences than a seed trained alone: train them one by one. A sequence budget is
            # the same whichever way, so there the seeds share one compiled program.
            groups = [[s] for s in missing] if spec.time_limit is not None else ([missing] if missing else [])
            for group in groups:
                say(f"{task} / {model}: training seed{'s' if len(group) > 1 else ''} "
                    f"{', '.join(map(str, group))} for {spec.budget_text()}")
                if not train(spec.config(task, model, group[0]), group):
                    return False
    return True


def _mean(values: list[float | None]) -> float | None:
    """The mean of the finite values given, None if there are none."""
    figures = spread(values)
    return None if figures is None else figures["mean"]


def collect(spec: CompareSpec, runs_dir: Path) -> dict[str, Any]:
    """The comparison's results from its finished run folders: rows, curves, best model per task."""
    from ntm_cli.tasks import make_task

    tasks = {}
    for task_name in spec.tasks:
        task = make_task(task_name)
        rows, curves = [], {}
        for model in spec.models:
            run_dirs = [find_run(runs_dir, spec.config(task_name, model, seed)) for seed in range(spec.seeds)]
            summaries = [runs.read_summary(d) for d in run_dirs if d is not None]
            summaries = [s for s in summaries if s and s.get("status") == "finished"]
            if not summaries:
                continue
            costs = spread([s["final_eval_cost"] for s in summaries])
            paper = task.paper.get(model_family(model))
            rows.append({
                "task": task_name,
                "model": model,
                "params": summaries[0]["params"],
                "seeds": len(summaries),
                "cost": costs["mean"] if costs else None,
                "cost_std": costs["std"] if costs else None,
                "bit_errors": _mean([s["final_eval_bit_errors"] for s in summaries]),
                "sequences": _mean([s["sequences"] for s in summaries]),
                "wall_time": _mean([s["wall_time"] for s in summaries]),
                "sequences_per_second": _mean([s["sequences_per_second"] for s in summaries]),
                "paper_cost": paper.value if paper else None,
                "paper_cost_text": paper.text if paper else None,
                "run_dirs": [s["run_dir"] for s in summaries],
            })
            curves[model] = [
                [(m["sequences"], m["eval_cost"]) for m in runs.read_metrics(Path(s["run_dir"]))] for s in summaries
            ]
        ranked = sorted((r for r in rows if r["cost"] is not None), key=lambda r: r["cost"])
        tasks[task_name] = {
            "chance_cost": task.chance_cost,
            "floor_cost": task.floor_cost(),
            "floor_text": task.paper_floor,
            "rows": rows,
            "curves": curves,
            "best": ranked[0]["model"] if ranked else None,
            "verdict": verdict(ranked),
        }
    return {
        "preset": spec.preset,
        "budget": spec.budget_text(),
        "time_limit": spec.time_limit,
        "sequences": spec.sequences,
        "seeds": spec.seeds,
        "models": list(spec.models),
        "tasks": tasks,
    }


# Costs closer than this (bits per sequence), or than the seeds' spread, are not told apart.
TIE_BITS = 0.01


def _tied(a: dict[str, Any], b: dict[str, Any]) -> bool:
    spread = (a.get("cost_std") or 0.0) + (b.get("cost_std") or 0.0)
    return b["cost"] - a["cost"] <= max(TIE_BITS, spread)


def verdict(ranked: list[dict[str, Any]]) -> str:
    """'ntm-lstm is best at 0.000177 bits/seq; ntm-ff 0.00025 (+7.3e-05), lstm 52.428 (+52.428).'

    Models within 0.01 bits per sequence of the best, or within the seeds' spread, share first place.
    """
    if not ranked:
        return "no finished runs."
    best = ranked[0]
    if len(ranked) == 1:
        return f"{best['model']} reached {format_cost(best['cost'])} bits/seq (the only model run)."
    others = ", ".join(
        f"{r['model']} {format_cost(r['cost'])} (+{format_cost(r['cost'] - best['cost'])})" for r in ranked[1:]
    )
    tied = [r["model"] for r in ranked[1:] if _tied(best, r)]
    if tied:
        lead = " and ".join([best["model"]] + tied)
        return (f"no clear difference between {lead} (within {TIE_BITS} bits/seq or the seeds' spread); "
                f"{best['model']} {format_cost(best['cost'])} bits/seq; {others}.")
    return f"{best['model']} is best at {format_cost(best['cost'])} bits/seq; {others}."


# --- files ---------------------------------------------------------------------------------------

CSV_FIELDS = ("task", "model", "params", "seeds", "cost", "cost_std", "bit_errors", "sequences", "wall_time",
              "sequences_per_second", "paper_cost")


def results_csv(results: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for task in results["tasks"].values():
        for row in task["rows"]:
            writer.writerow(row)
    return out.getvalue()


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown_rows(task: str, result: dict[str, Any]) -> list[list[str]]:
    """The table of one task as strings (shared by the Markdown file and the terminal table)."""
    rows = []
    for r in result["rows"]:
        spread = f" ± {format_cost(r['cost_std'])}" if r["seeds"] > 1 and r["cost_std"] is not None else ""
        rows.append([
            r["model"], f"{r['params']:,}", f"{format_cost(r['cost'])}{spread}", _num(r["bit_errors"]),
            f"{r['sequences']:,.0f}", _num(r["wall_time"], 1), _num(r["sequences_per_second"], 0),
            r["paper_cost_text"] or "-",
        ])
    if result["floor_cost"]:
        rows.append(["Bayes-optimal", "-", format_cost(result["floor_cost"]), "-", "-", "-", "-",
                     result.get("floor_text") or "-"])
    return rows


# Short enough for an 80-column terminal; TABLE_NOTE explains them.
TABLE_HEADER = ["model", "params", "cost", "bit err", "seqs", "time s", "seq/s", "paper"]
TABLE_NOTE = (
    "cost: binary cross-entropy on a fixed held-out batch, in bits per sequence, at the end of training "
    "(mean ± s.d. over seeds); bit err: bit errors per sequence; seqs: training sequences seen; "
    "time s: seconds of training; paper: approximate readings of its figures at its own "
    "budgets (\"at 1M\": after a million training sequences)."
)


def results_markdown(results: dict[str, Any]) -> str:
    seeds = results["seeds"]
    lines = [
        f"# ntm compare: {results['preset']} preset, {results['budget']} per model, "
        f"{seeds} seed{'s' if seeds > 1 else ''}",
        "",
        TABLE_NOTE,
    ]
    for task, result in results["tasks"].items():
        lines += ["", f"## {task} (chance {result['chance_cost']:g} bits/seq)", ""]
        lines.append("| " + " | ".join(TABLE_HEADER) + " |")
        lines.append("|" + "---|" * len(TABLE_HEADER))
        lines += ["| " + " | ".join(row) + " |" for row in markdown_rows(task, result)]
        lines += ["", result["verdict"]]
    return "\n".join(lines) + "\n"


def learning_curve_figure(task: str, result: dict[str, Any], path: Path, budget: str) -> None:
    """Held-out cost against sequences seen, one line per model, seeds shaded (min to max), log y."""
    import numpy as np

    from ntm_cli.figures import pyplot, save_figure

    plt = pyplot()
    styles = {"lstm": ("0.55", "--"), "ntm-lstm": ("0.0", "-"), "ntm-ff": ("0.3", ":"), "dnc": ("0.15", "-.")}
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for model, seeds in result["curves"].items():
        color, line = styles.get(model, ("0.2", "-."))
        length = min(len(c) for c in seeds)
        if length == 0:
            continue
        x = np.array([p[0] for p in seeds[0][:length]], float)
        y = np.array([[max(p[1], 1e-4) for p in c[:length]] for c in seeds])
        ax.plot(np.maximum(x, 1), y.mean(0), color=color, linestyle=line, linewidth=2, label=model)
        if len(seeds) > 1:
            ax.fill_between(np.maximum(x, 1), y.min(0), y.max(0), color=color, alpha=0.2, linewidth=0)
    ax.axhline(result["chance_cost"], color="0.7", linewidth=1, linestyle="-.", label="chance")
    if result["floor_cost"]:
        ax.axhline(result["floor_cost"], color="0.4", linewidth=1, linestyle="-.", label="Bayes-optimal")
    ax.set_yscale("log")
    ax.set_xlabel("sequences seen")
    ax.set_ylabel("held-out cost (bits per sequence)")
    ax.set_title(f"{task}: learning curves ({budget} per model)")
    ax.grid(True, which="both", color="0.9", linewidth=0.5)
    ax.legend(frameon=False)
    fig.tight_layout()
    save_figure(fig, path)


def public_results(results: dict[str, Any]) -> dict[str, Any]:
    """The results as results.json and `--json` give them: without the learning curves."""
    return {**results, "tasks": {t: {k: v for k, v in r.items() if k != "curves"} for t, r in results["tasks"].items()}}


def write_results(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """results.json, results.csv, results.md and <task>.png in `out_dir`; returns the paths."""
    runs.atomic_write_json(out_dir / "results.json", public_results(results))
    runs.atomic_write_bytes(out_dir / "results.csv", results_csv(results).encode())
    runs.atomic_write_bytes(out_dir / "results.md", results_markdown(results).encode())
    paths = [out_dir / "results.json", out_dir / "results.csv", out_dir / "results.md"]
    for task, result in results["tasks"].items():
        if result["curves"]:
            learning_curve_figure(task, result, out_dir / f"{task}.png", results["budget"])
            paths.append(out_dir / f"{task}.png")
    return paths


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every run folder in `runs_dir`: task, model, seed, status, sequences, best cost, time."""
    rows = []
    if not runs_dir.is_dir():
        return rows
    for run_dir in sorted(p for p in runs_dir.iterdir() if (p / runs.CONFIG).is_file()):
        try:
            config = runs.read_config(run_dir)
        except RunFolderError:
            continue
        summary = runs.read_summary(run_dir) or {}
        rows.append({
            "run_dir": str(run_dir),
            "task": config.task,
            "model": config.model_name,
            "preset": config.preset,
            "seed": config.seed,
            "status": summary.get("status", "not started"),
            "steps": summary.get("steps", 0),
            "sequences": summary.get("sequences", 0),
            "best_eval_cost": summary.get("best_eval_cost"),
            "final_eval_cost": summary.get("final_eval_cost"),
            "wall_time": summary.get("wall_time", 0.0),
        })
    return rows
