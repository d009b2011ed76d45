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
from pathlib import Path
from typing import Any, Callable, NamedTuple

from ntm_cli import runs
from ntm_cli.config import TIME_ONLY_STEPS, TrainConfig, steps_for_sequences
from ntm_cli.errors import InputError, RunFolderError
from ntm_cli.executors import Job
from ntm_cli.experiments.presets import compare_budget, compare_sequences, preset_config
from ntm_cli.models.config import MODEL_NAMES, model_family
from ntm_cli.progress import format_cost, score_notes_items, spread


@dataclasses.dataclass(frozen=True)
class CompareSpec:
    """What to compare and with what budget: a time per model, the same on every task
    (`time_limit`), a number of sequences per model (`sequences`), or neither: the preset's
    time for each task (`compare_budget`), enough for its models to show the paper's result, or
    for a task compared on sequences, its number (`compare_sequences`)."""

    tasks: tuple[str, ...]  # canonical task names
    models: tuple[str, ...] | None = None  # None: each task's own (`Task.compare_models`)
    preset: str = "fast"
    time_limit: float | None = None  # seconds of training per model and seed, on every task
    sequences: int | None = None  # or a budget in sequences
    seeds: int = 1

    def __post_init__(self) -> None:
        if not self.tasks:
            raise InputError("give at least one task to compare.")
        if self.models is not None and not self.models:
            raise InputError("give at least one model to compare.")
        for name in self.models or ():
            if name not in MODEL_NAMES:
                raise InputError(f"Unknown model '{name}'; valid models are {', '.join(MODEL_NAMES)}.")
        if self.time_limit is not None and self.sequences is not None:
            raise InputError("give one budget: a time per model or a number of sequences.")
        if self.time_limit is not None and self.time_limit <= 0:
            raise InputError(f"the budget must be positive, got {self.time_limit:g} s.")
        if self.sequences is not None and self.sequences < 1:
            raise InputError(f"the budget must be at least one sequence, got {self.sequences}.")
        if self.seeds < 1:
            raise InputError(f"--seeds must be at least 1, got {self.seeds}.")

    def models_for(self, task: str) -> tuple[str, ...]:
        """The models compared on a task: those given, else the task's own."""
        from ntm_cli.tasks import task_class

        return self.models if self.models is not None else task_class(task).compare_models

    def seconds(self, task: str) -> float | None:
        """The time budget per model on a task (None under a sequence budget)."""
        if self.sequences is not None:
            return None
        return self.time_limit if self.time_limit is not None else compare_budget(self.preset, task)

    def sequences_for(self, task: str) -> int | None:
        """The sequence budget per model on a task (None under a time budget): the one given, else
        the task's own where it is compared on sequences (`compare_sequences`)."""
        if self.seconds(task) is not None:
            return None
        return self.sequences if self.sequences is not None else compare_sequences(task)

    def budget_text(self, task: str) -> str:
        seconds = self.seconds(task)
        return f"{self.sequences_for(task):,} sequences" if seconds is None else f"{_duration(seconds)} of training"

    def config(self, task: str, model: str, seed: int) -> TrainConfig:
        """The TrainConfig of one run of this comparison."""
        config = preset_config(self.preset, task, model, seed)
        seconds = self.seconds(task)
        if seconds is not None:
            return dataclasses.replace(config, steps=TIME_ONLY_STEPS, time_limit=seconds)
        steps = steps_for_sequences(self.sequences_for(task), config.batch_size)
        return dataclasses.replace(config, steps=steps, time_limit=None)


def _duration(seconds: float) -> str:
    """'60 s', '5 min', '2.5 min'."""
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"


def plan_jobs(spec: CompareSpec, runs_dir: Path, say: Callable[[str], None]) -> list[Job]:
    """The training jobs that finish the comparison: finished runs are reused (and said so),
    and a job makes sure of the rest (continuing unfinished runs, training missing seeds).

    Seeds trained together share a core, so under a time budget each would see fewer sequences
    than a seed trained alone: they are trained one by one. A sequence budget is the same
    whichever way, so there a model's seeds share one compiled program.
    """
    jobs = []
    for task in spec.tasks:
        for model in spec.models_for(task):
            to_do = []
            for seed in range(spec.seeds):
                found = runs.find_run(runs_dir, spec.config(task, model, seed))
                if found is not None and runs.status(found) == "finished":
                    say(f"{task} / {model} / seed {seed}: reusing {found}")
                else:
                    to_do.append(seed)
            groups = [[s] for s in to_do] if spec.seconds(task) is not None else ([to_do] if to_do else [])
            for group in groups:
                label = f"{task} / {model} / seed{'s' if len(group) > 1 else ''} {', '.join(map(str, group))}"
                jobs.append(Job(f"{label} ({spec.budget_text(task)})", spec.config(task, model, group[0]),
                                tuple(group), runs_dir))
    return jobs


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
        for model in spec.models_for(task_name):
            run_dirs = [runs.find_run(runs_dir, spec.config(task_name, model, seed)) for seed in range(spec.seeds)]
            summaries = [runs.read_summary(d) for d in run_dirs if d is not None]
            summaries = [s for s in summaries if s and s.get("status") == "finished"]
            if not summaries:
                continue
            costs = spread([s["final_eval_cost"] for s in summaries])
            errors = spread([s["final_eval_bit_errors"] for s in summaries])
            paper = task.paper.get(model_family(model))
            rows.append({
                "task": task_name,
                "model": model,
                "params": summaries[0]["params"],
                "seeds": len(summaries),
                "cost": costs["mean"] if costs else None,
                "cost_std": costs["std"] if costs else None,
                "bit_errors": errors["mean"] if errors else None,
                "bit_errors_std": errors["std"] if errors else None,
                **({"scores": {score.key: _mean([s.get("final_eval_scores", {}).get(score.key) for s in summaries])
                               for score in task.scores}} if task.scores else {}),
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
        figure = ranking_figure(task.output_kind)
        ranked = sorted((r for r in rows if r[figure.field] is not None), key=lambda r: r[figure.field])
        tasks[task_name] = {
            "budget": spec.budget_text(task_name),
            "time_limit": spec.seconds(task_name),
            "chance_cost": task.chance_cost,
            "floor_cost": task.floor_cost(),
            "floor_text": task.paper_floor,
            "output_kind": task.output_kind,
            "ranked_by": figure.field,
            "scores": [list(score) for score in task.scores],
            "score_notes": task.score_notes(sequences) if (sequences := spec.sequences_for(task_name)) else {},
            "rows": rows,
            "curves": curves,
            "best": ranked[0]["model"] if ranked else None,
            "verdict": verdict(ranked, figure),
            "paper_verdict": paper_verdict(task.paper_order, rows),
        }
    return {
        "preset": spec.preset,
        "sequences": spec.sequences,
        "seeds": spec.seeds,
        "models": list(dict.fromkeys(m for t in spec.tasks for m in spec.models_for(t))),
        "tasks": tasks,
    }


class Figure(NamedTuple):
    """What a comparison ranks models by: a row's field, its unit, and the difference (or the
    seeds' spread) within which two models are not told apart."""

    field: str
    unit: str
    tie: float


# Costs closer than this (bits per sequence), or than the seeds' spread, are not told apart.
TIE_BITS = 0.01
COST = Figure("cost", "bits/seq", TIE_BITS)
# A class task ranks by wrong answers per sequence: a memory's nearest-neighbour answer is not
# a calibrated probability, so its cross-entropy says less than how often it is right.
WRONG = Figure("bit_errors", "wrong answers/seq", 0.05)


def ranking_figure(output_kind: str) -> Figure:
    """Cost for a task of bits, wrong answers for a task of classes."""
    return WRONG if output_kind == "class" else COST


def _tied(a: dict[str, Any], b: dict[str, Any], figure: Figure = COST) -> bool:
    spread = (a.get(f"{figure.field}_std") or 0.0) + (b.get(f"{figure.field}_std") or 0.0)
    return b[figure.field] - a[figure.field] <= max(figure.tie, spread)


def verdict(ranked: list[dict[str, Any]], figure: Figure = COST) -> str:
    """'ntm-lstm is best at 0.000177 bits/seq; ntm-ff 0.00025 (+7.3e-05), lstm 52.428 (+52.428).'

    Models within `figure.tie` of the best (0.01 bits per sequence for the cost), or within the
    seeds' spread, share first place.
    """
    if not ranked:
        return "no finished runs."
    best, field, unit = ranked[0], figure.field, figure.unit
    if len(ranked) == 1:
        return f"{best['model']} reached {format_cost(best[field])} {unit} (the only model run)."
    others = ", ".join(
        f"{r['model']} {format_cost(r[field])} (+{format_cost(r[field] - best[field])})" for r in ranked[1:]
    )
    tied = [r["model"] for r in ranked[1:] if _tied(best, r, figure)]
    if tied:
        lead = " and ".join([best["model"]] + tied)
        return (f"no clear difference between {lead} (within {figure.tie:g} {unit} or the seeds' spread); "
                f"{best['model']} {format_cost(best[field])} {unit}; {others}.")
    return f"{best['model']} is best at {format_cost(best[field])} {unit}; {others}."


def paper_verdict(order: tuple[str, ...], rows: list[dict[str, Any]]) -> str | None:
    """Whether the paper's ordering held: 'as in the paper: ntm-lstm and ntm-ff below lstm.'

    `order` is the task's model families from best to worst in the paper (("ntm", "lstm"): both
    NTMs below the LSTM baseline). Every model of a family is set against every model of the
    families after it; within 0.01 bits/seq or the seeds' spread is no clear difference. None
    when the paper has no ordering for the task or the comparison lacks a family of it.
    """
    by_family: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["cost"] is not None:
            by_family.setdefault(model_family(row["model"]), []).append(row)
    if len(order) < 2 or any(family not in by_family for family in order):
        return None
    held, failed = [], []
    for i, better in enumerate(order):
        for worse in order[i + 1:]:
            for a in by_family[better]:
                for b in by_family[worse]:
                    if a["cost"] < b["cost"] and not _tied(a, b):
                        held.append(f"{a['model']} below {b['model']}")
                    elif _tied(*sorted((a, b), key=lambda r: r["cost"])):
                        failed.append(f"no clear difference between {a['model']} and {b['model']}")
                    else:
                        failed.append(f"{b['model']} below {a['model']}")
    if not failed:
        return f"as in the paper: {', '.join(held)}."
    return f"unlike the paper: {'; '.join(failed)}" + (f" (as in the paper: {', '.join(held)})." if held else ".")


# --- files ---------------------------------------------------------------------------------------

CSV_FIELDS = ("task", "model", "params", "seeds", "cost", "cost_std", "bit_errors", "sequences", "wall_time",
              "sequences_per_second", "paper_cost")


def results_csv(results: dict[str, Any]) -> str:
    """A row per task and model; a class task's accuracies as `accuracy_<score>` columns."""
    score_keys = list(dict.fromkeys(key for task in results["tasks"].values() for key, _ in task.get("scores", [])))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS + tuple(f"accuracy_{k}" for k in score_keys),
                            extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for task in results["tasks"].values():
        for row in task["rows"]:
            writer.writerow(row | {f"accuracy_{k}": v for k, v in (row.get("scores") or {}).items()})
    return out.getvalue()


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown_rows(task: str, result: dict[str, Any]) -> list[list[str]]:
    """The table of one task as strings (shared by the Markdown file and the terminal table),
    in the columns of `table_header`."""
    if result.get("output_kind") == "class":
        return _class_rows(result)
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


def _class_rows(result: dict[str, Any]) -> list[list[str]]:
    """A class task's rows: wrong answers first (what it ranks by), then its accuracies."""
    rows = []
    for r in result["rows"]:
        spread = (f" ± {_num(r['bit_errors_std'], 2)}" if r["seeds"] > 1 and r.get("bit_errors_std") is not None
                  else "")
        scores = r.get("scores") or {}
        rows.append([
            r["model"], f"{r['params']:,}", f"{_num(r['bit_errors'], 2)}{spread}", format_cost(r["cost"]),
            *(_percent(scores.get(key)) for key, _ in result["scores"]),
            f"{r['sequences']:,.0f}", _num(r["sequences_per_second"], 0), r["paper_cost_text"] or "-",
        ])
    return rows


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


# Short enough for an 80-column terminal; TABLE_NOTE explains them.
TABLE_HEADER = ["model", "params", "cost", "bit err", "seqs", "time s", "seq/s", "paper"]
TABLE_NOTE = (
    "cost: binary cross-entropy on a fixed held-out batch, in bits per sequence, at the end of training "
    "(mean ± s.d. over seeds); bit err: bit errors per sequence; seqs: training sequences seen; "
    "time s: seconds of training; paper: approximate readings of its figures at its own "
    "budgets (\"at 1M\": after a million training sequences)."
)
CLASS_NOTE = (
    "wrong: wrong answers per sequence on a fixed held-out batch at the end of training (mean ± s.d. over "
    "seeds; what the models are ranked by); cost: cross-entropy in bits per sequence; then accuracy by "
    "score (a one-shot task's: on a class's k-th showing in its episode, the 2nd being \"1-shot\"); "
    "seqs: training sequences seen; paper: readings on the paper's own data."
)


def table_header(result: dict[str, Any]) -> list[str]:
    """The columns of a task's table: a class task has its accuracies where the bits tasks have
    bit errors and time."""
    if result.get("output_kind") == "class":
        return ["model", "params", "wrong", "cost", *(label for _, label in result["scores"]), "seqs", "seq/s",
                "paper"]
    return TABLE_HEADER


def table_note(result: dict[str, Any]) -> str:
    return CLASS_NOTE if result.get("output_kind") == "class" else TABLE_NOTE


def results_markdown(results: dict[str, Any]) -> str:
    seeds = results["seeds"]
    notes = list(dict.fromkeys(table_note(result) for result in results["tasks"].values()))
    lines = [f"# ntm compare: {results['preset']} preset, {seeds} seed{'s' if seeds > 1 else ''}", "", *notes]
    for task, result in results["tasks"].items():
        header = table_header(result)
        lines += ["", f"## {task} ({result['budget']} per model; chance {result['chance_cost']:g} bits/seq)", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(row) + " |" for row in markdown_rows(task, result)]
        lines += ["", result["verdict"]]
        if notes := score_notes_items(result["scores"], result.get("score_notes")):
            lines += ["", "; ".join(notes) + "."]
        if result["paper_verdict"]:
            lines += ["", result["paper_verdict"][0].upper() + result["paper_verdict"][1:]]
    return "\n".join(lines) + "\n"


def learning_curve_figure(task: str, result: dict[str, Any], path: Path) -> None:
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
    ax.set_title(f"{task}: learning curves ({result['budget']} per model)")
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
            learning_curve_figure(task, result, out_dir / f"{task}.png")
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
            summary = runs.read_summary(run_dir) or {}
        except RunFolderError as error:  # listed as damaged, with why; the others still listed
            rows.append({"run_dir": str(run_dir), "task": None, "model": None, "preset": None, "seed": None,
                         "status": "damaged", "problem": str(error), "steps": 0, "sequences": 0,
                         "best_eval_cost": None, "final_eval_cost": None, "wall_time": 0.0})
            continue
        rows.append({
            "run_dir": str(run_dir),
            "task": config.task,
            "model": config.model_name,
            "preset": config.preset,
            "seed": config.seed,
            "status": summary.get("status", "not started"),
            "problem": None,
            "steps": summary.get("steps", 0),
            "sequences": summary.get("sequences", 0),
            "best_eval_cost": summary.get("best_eval_cost"),
            "final_eval_cost": summary.get("final_eval_cost"),
            "wall_time": summary.get("wall_time", 0.0),
        })
    return rows
