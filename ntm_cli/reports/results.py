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
from typing import Callable, NamedTuple

from ntm_cli import runs
from ntm_cli.reports.progress import format_cost, score_notes_items
from ntm_cli.schema import ResultRow, StudyResults, TaskResults

RESULT_FILES = ("results.json", "results.csv", "results.md")

def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _figure(task: TaskResults, value: float | None) -> str:
    """A cost in bits, or a class task's wrong answers per sequence."""
    return _num(value, 2) if task.output_kind == "class" else format_cost(value)


def _interval(task: TaskResults, interval: tuple[float, ...] | None) -> str:
    return "-" if interval is None else f"{_figure(task, interval[0])} - {_figure(task, interval[1])}"


def split(row: ResultRow) -> bool:
    """Whether the row's seeds split: some solved and some not, or final figures more than a
    factor of ten apart. Such a row shows its seeds, not only their median."""
    costs = [c for c in row.seed_costs if c is not None]
    mixed = row.solved is not None and 0 < row.solved < row.seeds
    return row.seeds > 1 and (mixed or row.diverged > 0
                              or (bool(costs) and min(costs) > 0 and max(costs) / min(costs) > 10))


def _seeds_figures(task: TaskResults, row: ResultRow) -> str:
    """Each seed's final figure, in seed order; 'diverged' for a seed stopped so."""
    values = row.seed_costs if task.output_kind != "class" else row.seed_bit_errors
    gone = row.seed_diverged or (False,) * len(values)
    return " ".join("diverged" if out else _figure(task, v) for v, out in zip(values, gone)) if row.seeds > 1 else "-"


def _solved(row: ResultRow) -> str:
    if row.solved is None:
        return "-"
    missing = row.seeds_planned - row.seeds
    return f"{row.solved}/{row.seeds}" + (f" ({missing} missing)" if missing > 0 else "")


class Column(NamedTuple):
    """A column of the results tables: its header, its cell, and whether the terminal shows it
    (the Markdown file shows every column)."""

    header: str
    cell: Callable[[TaskResults, ResultRow], str]
    terminal: bool = True


def columns(task: TaskResults, terminal: bool = False) -> list[Column]:
    """The columns of a task's table: the settings only where they vary; a class task ranks by
    wrong answers and shows its accuracies."""
    equal = "-" if task.equal_sequences is None else f"{task.equal_sequences:,.0f}"
    figure = "wrong" if task.output_kind == "class" else "cost"
    at_equal = (lambda t, r: _figure(t, r.errors_at_equal_sequences)) if task.output_kind == "class" else \
        (lambda t, r: format_cost(r.cost_at_equal_sequences))
    out = [
        Column("model", lambda t, r: r.model + ("*" if r.reused else "")),
        *([Column("setting", lambda t, r: r.label)] if has_settings(task) else []),
        Column("params", lambda t, r: "-" if r.params is None else f"{r.params:,}", terminal=False),
        Column("solved", lambda t, r: _solved(r)),
        Column(figure, lambda t, r: _seeds_figures(t, r) if split(r) else
               "diverged" if r.diverged else _figure(t, r.bit_errors if t.output_kind == "class" else r.cost)),
        Column("95% interval", lambda t, r: _interval(t, r.bit_errors_interval if t.output_kind == "class" else r.cost_interval)),
        Column(f"at {equal} seqs", at_equal),
        Column("seeds' " + figure, _seeds_figures, terminal=False),
        *([Column("cost", lambda t, r: format_cost(r.cost))] if task.output_kind == "class" else
          [Column("best", lambda t, r: format_cost(r.best_cost), terminal=False),
           Column("bit err", lambda t, r: _num(r.bit_errors), terminal=False)]),
        *(Column(label, lambda t, r, key=key: _percent(r.scores.get(key))) for key, label in task.scores),
        Column("seqs to solve", lambda t, r: _num(r.sequences_to_solve, 0), terminal=False),
        Column("seqs", lambda t, r: _num(r.sequences, 0)),
        Column("time s", lambda t, r: _num(r.wall_time, 1), terminal=False),
        Column("seq/s", lambda t, r: _num(r.sequences_per_second, 0), terminal=False),
        Column("paper", lambda t, r: r.paper_cost_text or "-"),
    ]
    return [c for c in out if c.terminal or not terminal]


def has_settings(task: TaskResults) -> bool:
    """Whether the task's rows differ in their settings (a sweep's), so the table needs the column."""
    return any(row.label for row in task.rows)


def table_header(task: TaskResults, terminal: bool = False) -> list[str]:
    return [c.header for c in columns(task, terminal)]


def table_rows(task: TaskResults, terminal: bool = False) -> list[list[str]]:
    """A task's rows as strings, best first, in the columns of `table_header`; the task's
    Bayes-optimal floor last, where it has one."""
    cols = columns(task, terminal)
    out = [[c.cell(task, r) for c in cols] for r in task.rows]
    if task.floor_cost and task.output_kind != "class":
        floor = ["Bayes-optimal"] + ["-"] * (len(cols) - 1)
        floor[[c.header for c in cols].index("cost")] = format_cost(task.floor_cost)
        floor[-1] = task.floor_text or "-"
        out.append(floor)
    return out


def table_note(task: TaskResults) -> str:
    """What the columns mean."""
    figure = ("wrong: wrong answers per sequence on a fixed held-out batch at the end of training"
              if task.output_kind == "class" else
              "cost: held-out cost (binary cross-entropy) in bits per sequence at the end of training")
    equal = ("-" if task.equal_sequences is None else f"{task.equal_sequences:,.0f}")
    parts = [
        f"{figure}, the median over seeds (the rows are ranked by it; seeds that split are shown one by one); "
        "95% interval: a bootstrap over seeds of the median",
        f"at {equal} seqs: the same, read from each seed's learning curve at {equal} training sequences, the "
        "fewest any unsolved seed reached (a seed stopped once solved keeps its last reading): the verdict "
        "compares rows there, seed by seed",
    ]
    if task.solved_rule:
        parts.append(f"solved: seeds that end meeting the rule {task.solved_rule}")
    if task.floor_cost and task.output_kind != "class":
        parts.append("Bayes-optimal: what the optimal predictor pays on the same held-out sequences (the floor "
                     "the solved rule measures from; its expectation over all sequences is the task's floor)")
    if any(row.reused for row in task.rows):
        parts.append("*: reuses runs an earlier command finished with the same config and budget")
    parts.append("seqs: training sequences seen (mean); paper: approximate readings of its figures at its own "
                 "budgets (\"at 1M\": after a million training sequences)")
    return "; ".join(parts) + "."


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


CSV_FIELDS = ("task", "rank", "model", "label", "params", "seeds", "seeds_planned", "reused", "solved", "cost",
              "cost_low", "cost_high", "cost_iqm", "cost_mean", "cost_std", "cost_at_equal_sequences", "equal_sequences",
              "bit_errors", "errors_at_equal_sequences", "best_cost", "sequences_to_solve", "seconds_to_solve",
              "sequences", "wall_time", "sequences_per_second", "paper_cost", "command")


def results_csv(results: StudyResults) -> str:
    """A row per task, model and setting (figures over seeds; the per-seed values are in
    results.json); a class task's accuracies as `accuracy_<score>` columns."""
    score_keys = list(dict.fromkeys(key for task in results.tasks.values() for key, _ in task.scores))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS + tuple(f"accuracy_{k}" for k in score_keys),
                            extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for task in results.tasks.values():
        for row in task.rows:
            low, high = row.cost_interval or (None, None)
            writer.writerow(dataclasses.asdict(row) | {f"accuracy_{k}": v for k, v in row.scores.items()}
                            | {"cost_low": low, "cost_high": high, "equal_sequences": task.equal_sequences})
    return out.getvalue()


def results_markdown(results: StudyResults) -> str:
    seeds = results.seeds
    lines = [f"# ntm {results.kind}: {results.preset} preset, {seeds} seed{'s' if seeds > 1 else ''}"]
    for name, task in results.tasks.items():
        header = table_header(task)
        lines += ["", f"## {title(name, task, results)}", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(row) + " |" for row in table_rows(task)]
        lines += ["", table_note(task), "", *closing_lines(name, task, bool(results.grid))]
    return "\n".join(lines) + "\n"


def learning_curve_figure(name: str, task: TaskResults, path: Path) -> None:
    """Held-out cost against sequences seen: each seed a thin line, each row's median a thick one
    (a median of seeds, never a mean no seed is near), log y; the verdicts' sequence count marked."""
    import numpy as np

    from ntm_cli.reports.figures import model_style, plain_log_axis, pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for index, row in enumerate(task.rows):
        curves = [[(m.sequences, m.eval_cost) for m in runs.read_metrics(Path(d)) if m.eval_cost is not None]
                  for d in row.run_dirs]
        length = min((len(c) for c in curves), default=0)
        if length == 0:
            continue
        color, line = model_style(row.model, index) if not has_settings(task) else (None, "-")
        x = np.maximum(np.array([p[0] for p in curves[0][:length]], float), 1)
        y = np.array([[max(p[1], 1e-4) for p in c[:length]] for c in curves])
        solved = "" if row.solved is None else f", solved {row.solved}/{row.seeds}"
        label = f"{row.model} {row.label}".strip() + f" (median of {len(curves)} seed{'s' if len(curves) > 1 else ''}{solved})"
        drawn = ax.plot(x, np.median(y, axis=0), color=color, linestyle=line, linewidth=2, label=label)
        if len(curves) > 1:
            for seed_curve in y:
                ax.plot(x, seed_curve, color=drawn[0].get_color(), linestyle=line, linewidth=0.6, alpha=0.5)
    ax.axhline(task.chance_cost, color="0.7", linewidth=1, linestyle="-.", label="chance")
    if task.floor_cost:
        ax.axhline(task.floor_cost, color="0.4", linewidth=1, linestyle="-.", label="Bayes-optimal")
    if task.equal_sequences:
        ax.axvline(task.equal_sequences, color="0.6", linewidth=0.8, linestyle=":",
                   label=f"verdicts read here ({task.equal_sequences:,.0f} seqs)")
    ax.set_yscale("log")
    plain_log_axis(ax)
    ax.set_xlabel("sequences seen")
    ax.set_ylabel("held-out cost (bits per sequence)")
    ax.set_title(f"{name}: learning curves ({task.budget} per run)")
    ax.grid(True, which="both", color="0.9", linewidth=0.5)
    ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)


def write_results(results: StudyResults, out_dir: Path) -> list[Path]:
    """results.json, results.csv, results.md and <task>.png in `out_dir`, each written whole or not
    at all; returns the paths.

    Raises:
      StorageError: `out_dir` cannot be written (checked before anything is written).
    """
    from ntm_cli.storage import check_writable, write_failed

    check_writable(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_failed(out_dir, error) from None
    runs.atomic_write_json(out_dir / "results.json", results.to_dict())
    runs.atomic_write_bytes(out_dir / "results.csv", results_csv(results).encode())
    runs.atomic_write_bytes(out_dir / "results.md", results_markdown(results).encode())
    paths = [out_dir / name for name in RESULT_FILES]
    for name, task in results.tasks.items():
        if any(row.run_dirs for row in task.rows):
            learning_curve_figure(name, task, out_dir / f"{name}.png")
            paths.append(out_dir / f"{name}.png")
    return paths
