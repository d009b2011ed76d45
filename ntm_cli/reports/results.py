"""A study's results as files and table rows: results.json, .csv, .md and a learning-curve figure
per task, the same for `ntm compare` and `ntm sweep` (`StudyResults`, in `ntm_cli.schema`).

The terminal table (`ntm_cli.reports.tables.study_tables`) and the Markdown file share the rows
made here, so the two never disagree.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

from ntm_cli import runs
from ntm_cli.reports.progress import format_cost, score_notes_items
from ntm_cli.schema import ResultRow, StudyResults, TaskResults

RESULT_FILES = ("results.json", "results.csv", "results.md")

BITS_NOTE = (
    "cost: binary cross-entropy on a fixed held-out batch, in bits per sequence, at the end of training "
    "(mean ± s.d. over the finished seeds, what the rows are ranked by); bit err: bit errors per sequence; "
    "seeds: finished of asked; seqs: training sequences seen; time s: seconds of training; paper: approximate "
    "readings of its figures at its own budgets (\"at 1M\": after a million training sequences)."
)
CLASS_NOTE = (
    "wrong: wrong answers per sequence on a fixed held-out batch at the end of training (mean ± s.d. over the "
    "finished seeds; what the rows are ranked by); cost: cross-entropy in bits per sequence; then accuracy by "
    "score (a one-shot task's: on a class's k-th showing in its episode, the 2nd being \"1-shot\"); "
    "seeds: finished of asked; seqs: training sequences seen; paper: readings on the paper's own data."
)


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _with_spread(text: str, row: ResultRow, std: float | None, digits: int | None = None) -> str:
    if row.seeds < 2 or std is None:
        return text
    return f"{text} ± {format_cost(std) if digits is None else _num(std, digits)}"


def has_settings(task: TaskResults) -> bool:
    """Whether the task's rows differ in their settings (a sweep's), so the table needs the column."""
    return any(row.label for row in task.rows)


def table_header(task: TaskResults) -> list[str]:
    """The columns of a task's table; a class task has its accuracies where the bits tasks have bit
    errors and time."""
    setting = ["setting"] if has_settings(task) else []
    if task.output_kind == "class":
        return ["model", *setting, "params", "wrong", "cost", *(label for _, label in task.scores),
                "seeds", "seqs", "seq/s", "paper"]
    return ["model", *setting, "params", "cost", "bit err", "seeds", "seqs", "time s", "seq/s", "paper"]


def table_rows(task: TaskResults) -> list[list[str]]:
    """A task's rows as strings, best first, in the columns of `table_header`; the task's
    Bayes-optimal floor last, where it has one."""
    out = []
    for r in task.rows:
        lead = [r.model, *([r.label] if has_settings(task) else []),
                "-" if r.params is None else f"{r.params:,}"]
        tail = [f"{r.seeds}/{r.seeds_planned}", _num(r.sequences, 0)]
        if task.output_kind == "class":
            out.append([*lead, _with_spread(_num(r.bit_errors, 2), r, r.bit_errors_std, 2), format_cost(r.cost),
                        *(_percent(r.scores.get(key)) for key, _ in task.scores), *tail,
                        _num(r.sequences_per_second, 0), r.paper_cost_text or "-"])
        else:
            out.append([*lead, _with_spread(format_cost(r.cost), r, r.cost_std), _num(r.bit_errors), *tail,
                        _num(r.wall_time, 1), _num(r.sequences_per_second, 0), r.paper_cost_text or "-"])
    if task.floor_cost and task.output_kind != "class":
        width = len(table_header(task))
        floor = ["Bayes-optimal"] + ["-"] * (width - 1)
        floor[table_header(task).index("cost")] = format_cost(task.floor_cost)
        floor[-1] = task.floor_text or "-"
        out.append(floor)
    return out


def table_note(task: TaskResults) -> str:
    return CLASS_NOTE if task.output_kind == "class" else BITS_NOTE


def closing_lines(name: str, task: TaskResults, grid: bool, score_notes: bool = True) -> list[str]:
    """What a task's table says: the verdict, the notes on its scores (unless its caption has
    them), the paper's ordering, and with a grid the best setting as an `ntm train` command."""
    lines = [f"{name}: {task.verdict}"]
    if score_notes and (notes := score_notes_items(task.scores, task.score_notes)):
        lines.append("; ".join(notes) + ".")
    if task.paper_verdict:
        lines.append(task.paper_verdict[0].upper() + task.paper_verdict[1:])
    if grid and task.best_command:
        lines.append(f"best: {task.best_command}")
    return lines


def title(name: str, task: TaskResults, results: StudyResults) -> str:
    """'copy: fast preset, memory=16x8, 2,000 sequences per run, 3 seeds (chance 84 bits/seq)'."""
    seeds = f"{results.seeds} seed{'s' if results.seeds > 1 else ''}"
    fixed = "".join(f", {name.replace('_', '-')}={value:g}" if isinstance(value, float) else
                    f", {name.replace('_', '-')}={value}" for name, value in results.fixed.items())
    return (f"{name}: {results.preset} preset{fixed}, {task.budget} per run, {seeds} "
            f"(chance {task.chance_cost:g} bits/seq)")


CSV_FIELDS = ("task", "rank", "model", "label", "params", "seeds", "seeds_planned", "cost", "cost_std", "bit_errors",
              "bit_errors_std", "best_cost", "sequences", "wall_time", "sequences_per_second", "paper_cost", "command")


def results_csv(results: StudyResults) -> str:
    """A row per task, model and setting; a class task's accuracies as `accuracy_<score>` columns."""
    score_keys = list(dict.fromkeys(key for task in results.tasks.values() for key, _ in task.scores))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS + tuple(f"accuracy_{k}" for k in score_keys),
                            extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for task in results.tasks.values():
        for row in task.rows:
            writer.writerow(dataclasses.asdict(row) | {f"accuracy_{k}": v for k, v in row.scores.items()})
    return out.getvalue()


def results_markdown(results: StudyResults) -> str:
    seeds = results.seeds
    notes = list(dict.fromkeys(table_note(task) for task in results.tasks.values()))
    lines = [f"# ntm {results.kind}: {results.preset} preset, {seeds} seed{'s' if seeds > 1 else ''}", "", *notes]
    for name, task in results.tasks.items():
        header = table_header(task)
        lines += ["", f"## {title(name, task, results)}", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(row) + " |" for row in table_rows(task)]
        lines += ["", *closing_lines(name, task, bool(results.grid))]
    return "\n".join(lines) + "\n"


def learning_curve_figure(name: str, task: TaskResults, path: Path) -> None:
    """Held-out cost against sequences seen, one line per row (the mean of its seeds), the seeds'
    range shaded, log y."""
    import numpy as np

    from ntm_cli.reports.figures import pyplot, save_figure

    plt = pyplot()
    styles = {"lstm": ("0.55", "--"), "ntm-lstm": ("0.0", "-"), "ntm-ff": ("0.3", ":"), "dnc": ("0.15", "-.")}
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for row in task.rows:
        curves = [[(m.sequences, m.eval_cost) for m in runs.read_metrics(Path(d)) if m.eval_cost is not None]
                  for d in row.run_dirs]
        length = min((len(c) for c in curves), default=0)
        if length == 0:
            continue
        color, line = styles.get(row.model, ("0.2", "-.")) if not has_settings(task) else (None, "-")
        x = np.maximum(np.array([p[0] for p in curves[0][:length]], float), 1)
        y = np.array([[max(p[1], 1e-4) for p in c[:length]] for c in curves])
        label = f"{row.model} {row.label}".strip()
        drawn = ax.plot(x, y.mean(0), color=color, linestyle=line, linewidth=2, label=f"{label} ({len(curves)} seeds)")
        if len(curves) > 1:
            ax.fill_between(x, y.min(0), y.max(0), color=drawn[0].get_color(), alpha=0.2, linewidth=0)
    ax.axhline(task.chance_cost, color="0.7", linewidth=1, linestyle="-.", label="chance")
    if task.floor_cost:
        ax.axhline(task.floor_cost, color="0.4", linewidth=1, linestyle="-.", label="Bayes-optimal")
    ax.set_yscale("log")
    ax.set_xlabel("sequences seen")
    ax.set_ylabel("held-out cost (bits per sequence)")
    ax.set_title(f"{name}: learning curves ({task.budget} per run)")
    ax.grid(True, which="both", color="0.9", linewidth=0.5)
    ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)


def write_results(results: StudyResults, out_dir: Path) -> list[Path]:
    """results.json, results.csv, results.md and <task>.png in `out_dir`, each written whole or not
    at all; returns the paths."""
    from ntm_cli.errors import StorageError

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"cannot create {out_dir} ({error.strerror}).") from None
    runs.atomic_write_json(out_dir / "results.json", results.to_dict())
    runs.atomic_write_bytes(out_dir / "results.csv", results_csv(results).encode())
    runs.atomic_write_bytes(out_dir / "results.md", results_markdown(results).encode())
    paths = [out_dir / name for name in RESULT_FILES]
    for name, task in results.tasks.items():
        if any(row.run_dirs for row in task.rows):
            learning_curve_figure(name, task, out_dir / f"{name}.png")
            paths.append(out_dir / f"{name}.png")
    return paths
