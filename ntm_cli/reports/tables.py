"""Rich tables for the terminal; functions of plain values, no JAX."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from rich.table import Table

from ntm_cli.reports.progress import compact_table, score_notes_items
from ntm_cli.tasks import task_class

if TYPE_CHECKING:
    from ntm_cli.schema import RunRow, StudyResults
    from ntm_cli.tasks.base import Task


def tasks_table(tasks: Sequence[Task]) -> Table:
    """One row per task: name, aliases, sizes, widths, T, chance and floor costs."""
    table = Table(title="Tasks (costs in bits per sequence)", title_justify="left")
    table.add_column("task", style="bold", no_wrap=True)
    table.add_column("aliases")
    table.add_column("sizes")
    table.add_column("in / out", justify="right")
    table.add_column("T", justify="right")
    table.add_column("chance", justify="right")
    table.add_column("floor", justify="right")
    for task in tasks:
        floor = task.floor_cost()
        table.add_row(
            task.name,
            ", ".join(task.aliases) or "-",
            task.sizes_text(),
            f"{task.input_size} / {task.output_size}",
            str(task.max_time),
            f"{task.chance_cost:g}",
            f"{floor:.1f}" if floor else "0",
        )
    table.caption = (
        "chance: cost of predicting 0.5 for every scored bit (a class task: every class equally likely); "
        "floor: the best expected cost (Bayes-optimal for ngrams)."
    )
    return table


def short_task_name(name: str) -> str:
    """A task's short name for narrow tables ('recall' for associative-recall)."""
    return task_class(name).short_name()


def _learned(row: dict) -> str:
    ours = row["ours_learned_memory"]
    if ours is None:
        return "-"
    return f"{100.0 * (ours - row['paper']) / row['paper']:+.1f}%"


def params_table(rows: Sequence[dict]) -> Table:
    """The paper's configurations: our parameter count beside the paper's, and the difference."""
    table = Table(title="Parameters: the paper's Tables 1-3, memory 128 x 20", title_justify="left")
    for name, justify in [("task", "left"), ("model", "left"), ("heads", "right"), ("size", "right"),
                          ("ours", "right"), ("diff", "right"), ("diff+M", "right"), ("paper", "right")]:
        table.add_column(name, justify=justify, no_wrap=name != "task")
    for row in rows:
        table.add_row(
            short_task_name(row["task"]),
            row["model"],
            str(row["heads"]) if row["heads"] else "-",
            row["size"],
            f"{row['ours']:,}",
            f"{row['difference_percent']:+.1f}%",
            _learned(row),
            f"{row['paper']:,}",
        )
    table.caption = (
        "diff: ours against the paper's; diff+M: the same with the N x M initial memory learned "
        "(memory init 'learned'), as the paper's memory bias. README.md, 'Parameter counts', "
        "explains the rest."
    )
    return table


def eval_table(result: dict) -> Table:
    """`ntm eval`: cost and errors per size, beside chance and the floor (a class task: its
    accuracies instead of T and the floor, to fit 80 columns)."""
    title = (f"{result['task']}, {result['model']}, seed {result['seed']}: {result['checkpoint']} checkpoint "
             f"(step {result['step']:,}, {result['sequences_trained']:,} sequences)"
             + (f", on {result['memory_rows']} memory rows (trained on {result['trained_memory_rows']})"
                if result.get("memory_rows") != result.get("trained_memory_rows") else ""))
    scores = [score for score in task_class(result["task"]).scores
              if any(score.key in row.get("scores", {}) for row in result["results"])]
    if not scores:
        table = Table(title=title, title_justify="left")
        for name in ("sizes", "T", "sequences", "cost (bits/seq) ± s.e.", result.get("errors", "bit errors"), "chance",
                     "floor"):
            table.add_column(name, justify="left" if name == "sizes" else "right")
        for row in result["results"]:
            table.add_row(
                row["label"], str(row["T"]), f"{row['sequences']:,}", f"{row['cost']:.3f} ± {row['cost_se']:.3f}",
                f"{row['bit_errors']:.3f}", f"{row['chance_cost']:g}",
                f"{row['floor_cost']:.1f}" if row["floor_cost"] else "0",
            )
        paired = [f"{row['label']} {row['cost'] - row['floor_cost']:.2f} ± {row['above_floor_se']:.2f}"
                  for row in result["results"] if "above_floor_se" in row]
        if paired:
            table.caption = ("floor: the optimal predictor's cost on the same sequences; the cost above it, "
                             "± its standard error paired by sequence: " + "; ".join(paired))
        return table
    table = compact_table(title)
    for name in ("sizes", "seqs", "cost", "wrong", *(score.label for score in scores), "chance"):
        table.add_column(name, justify="left" if name == "sizes" else "right", no_wrap=True)
    for row in result["results"]:
        accuracy = row.get("scores", {})
        table.add_row(
            row["label"], f"{row['sequences']:,}", f"{row['cost']:.2f}", f"{row['bit_errors']:.3f}",
            *(f"{100 * accuracy[s.key]:.1f}%" if s.key in accuracy else "-" for s in scores), f"{row['chance_cost']:.1f}",
        )
    caption = [f"cost: bits/seq; wrong: {result.get('errors', 'wrong answers')} per sequence; then accuracy"]
    caption += score_notes_items(scores, result.get("score_notes"))
    if result.get("memory_start"):
        start = "the memory training left" if result["memory_start"] == "trained" else "an empty memory"
        caption.append(f"every held-out sequence starts from {start} (its own copy, which it writes as it goes)")
    table.caption = "; ".join(caption) + "."
    return table


# What a narrow terminal leaves out first (`consoles.show`): never a name or the figures compared.
STUDY_OPTIONAL = ("paper", "seqs", "95% interval")
RUNS_OPTIONAL = ("time (s)", "sequences", "best cost", "status", "task")


def study_tables(results: StudyResults) -> list[tuple[Table, list[str]]]:
    """`ntm compare` and `ntm sweep`: one table per task, ranked, and its closing lines."""
    from ntm_cli.reports.results import closing_lines, table_header, table_note, table_rows, title

    out = []
    for name, task in results.tasks.items():
        table = compact_table(title(name, task, results))
        header, rows = table_header(task, terminal=True), table_rows(task, terminal=True)
        for i, column in enumerate(header):
            # A name or a number is never cut: those columns keep their full width, and the
            # columns of several words (the seeds' costs, the interval, the paper's reading)
            # wrap between words on a narrow terminal.
            words = column in ("cost", "wrong", "95% interval", "paper")
            widest = max([len(column), *(len(row[i]) for row in rows)])
            longest_word = max(len(word) for text in (column, *(row[i] for row in rows)) for word in text.split())
            table.add_column(column, justify="left" if column in ("model", "setting", "paper") else "right",
                             no_wrap=not words, min_width=longest_word if words else widest)
        for row in rows:
            table.add_row(*row)
        notes = "; ".join(score_notes_items(task.scores, task.score_notes))
        table.caption = table_note(task) + (f" {notes}." if notes else "")
        out.append((table, closing_lines(name, task, bool(results.grid), score_notes=False)))
    return out


def runs_table(rows: Sequence[RunRow], runs_dir) -> Table:
    """`ntm runs`: one row per run folder (a damaged one with what could be read of it)."""
    table = compact_table(f"Runs in {runs_dir}")
    for name in ("run", "task", "model", "seed", "status", "sequences", "best cost", "time (s)"):
        table.add_column(name, justify="right" if name in ("seed", "sequences", "best cost", "time (s)") else "left",
                         no_wrap=True)
    for r in rows:
        best = r.best_eval_cost
        name = r.run_dir.rsplit("/", 1)[-1]
        if r.status == "damaged":  # what is wrong is printed below the table; the task may be unknown
            table.add_row(name, r.task or "-", r.model or "-", "-" if r.seed is None else str(r.seed), "damaged",
                          f"{r.sequences:,}" if r.steps else "-", "-" if best is None else f"{best:.3f}",
                          f"{r.wall_time:.1f}" if r.steps else "-")
            continue
        table.add_row(
            name, short_task_name(r.task), r.model, str(r.seed),
            r.status, f"{r.sequences:,}", "-" if best is None else f"{best:.3f}", f"{r.wall_time:.1f}",
        )
    return table


def bench_table(result: dict) -> Table:
    """`ntm bench`: speed, compile time and memory per configuration, and the machine."""
    m = result["machine"]
    tasks = ", ".join(dict.fromkeys(short_task_name(r["task"]) for r in result["results"]))
    table = compact_table(f"ntm bench, {tasks}: {m['cpu']}, {m['cores']} cores, {m['backend']}, JAX {m['jax']}")
    for name in ("model", "batch", "seq/s", "min-max", "ms/step", "compile s", "eval seq/s", "peak MB"):
        table.add_column(name, justify="left" if name == "model" else "right", no_wrap=True)
    for r in result["results"]:
        table.add_row(
            r["model"], str(r["batch_size"]), f"{r['train_sequences_per_second']:,.0f}",
            f"{r['train_sequences_per_second_min']:,.0f}-{r['train_sequences_per_second_max']:,.0f}",
            f"{r['ms_per_step']:.2f}", f"{r['compile_seconds']:.1f}", f"{r['eval_sequences_per_second']:,.0f}",
            f"{r['peak_memory_mb']:,.0f}",
        )
    lifelong = ", ".join(f"{r['model']} {r['lifelong_memory_mb']:.1f} MB" for r in result["results"]
                         if r.get("lifelong_memory_mb"))
    table.caption = (f"seq/s: training sequences per second, median over repeats after warm-up (min-max); "
                     f"`ntm --help`: {result['help_seconds']:.2f} s; peak MB: the process's peak resident "
                     "memory so far" + (f", which holds the life-long memory ({lifelong})." if lifelong else "."))
    return table
