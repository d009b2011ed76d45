"""Training progress for people: a live Rich progress bar in a terminal, plain lines otherwise."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ntm_cli.reports.consoles import show

from ntm_cli.schema import MetricsRow, Summary

if TYPE_CHECKING:
    from ntm_cli.config import TrainConfig


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_cost(value: float | None) -> str:
    """Bits per sequence: three decimals, or three significant digits below 0.01 (never '0.000')."""
    if value is None:
        return "-"
    if value != 0 and abs(value) < 0.01:
        return f"{value:.3g}"
    return f"{value:,.3f}"


def compact_table(title: str) -> Table:
    """A borderless table with two spaces between columns, so wide tables fit 80 columns."""
    return Table(title=title, title_justify="left", caption_justify="left", box=box.SIMPLE_HEAD,
                 show_edge=False, padding=(0, 1, 0, 0))


def describe_config(info: dict[str, Any]) -> str:
    """One line naming what is being trained."""
    config = info["config"]
    seeds = ", ".join(str(s) for s in info["seeds"])
    if config.time_only:
        budget = f"for {config.time_limit:g} s"
    else:
        budget = f"{config.steps:,} steps" + (f" or {config.time_limit:g} s" if config.time_limit else "")
    start = f", resuming at step {info['start_step']:,}" if info["start_step"] else ""
    return (
        f"Training {config.model_name} on {config.task} ({config.preset} preset; seed {seeds}; "
        f"{info['params']:,} parameters; batch {config.batch_size}; {budget}{start})"
    )


def task_errors(task: str) -> str:
    """What a task's errors count: 'bit errors' or 'wrong answers' (`Task.error_name`)."""
    from ntm_cli.tasks import task_class
    from ntm_cli.tasks.base import errors_counted

    return errors_counted(task_class(task).output_kind)


def config_errors(config: TrainConfig) -> str:
    """What a run's errors count: its archive's kind (`--data`), else its task's."""
    from ntm_cli.tasks.base import errors_counted

    return errors_counted(config.data.output_kind) if config.data is not None else task_errors(config.task)


def scores_text(task: str, scores: dict[str, float] | None) -> str:
    """A class task's accuracies in its own order: '1st 3.6%, 2nd 98.5%, ...' ('' for none)."""
    from ntm_cli.tasks import task_class

    if not scores:
        return ""
    return ", ".join(f"{score.label} {100 * scores[score.key]:.1f}%" for score in task_class(task).scores
                     if score.key in scores)


def score_notes_items(scores, notes: dict[str, str] | None) -> list[str]:
    """'<score label>: <note>' for each of a class task's scores (`Task.scores`, or its
    [key, label] pairs as results files keep them) that has a note (`Task.score_notes`)."""
    notes = notes or {}
    return [f"{label}: {notes[key]}" for key, label in scores if key in notes]


def record_line(seed: int, record: MetricsRow, errors: str = "bit errors", task: str | None = None) -> str:
    """One report as a plain line (a class task's accuracies at the end)."""
    speed = record.sequences_per_second
    scores = scores_text(task, record.eval_scores) if task else ""
    return (
        f"seed {seed} step {record.step:>7,} seq {record.sequences:>9,} "
        f"train {_fmt(record.train_cost)} held-out {_fmt(record.eval_cost)} bits/seq, "
        f"{_fmt(record.eval_bit_errors)} {errors}, "
        f"{'-' if speed is None else f'{speed:,.0f}'} seq/s, {record.wall_time:.1f} s"
        + (f", {record.skipped_updates} skipped" if record.skipped_updates else "")
        + (f", curriculum stage {record.curriculum_stage}" if record.curriculum_stage is not None else "")
        + (f"; accuracy {scores}" if scores else "")
    )


# What a narrow terminal leaves out of the seeds' table first (`consoles.show`).
SUMMARY_OPTIONAL = ("time s", "seq/s", "best", "bit err", "wrong", "steps")


def summary_table(summaries: list[Summary], errors: str | None = None) -> Table:
    """Each seed's final figures, and their mean and spread when there are several. `errors`:
    what the runs' errors count (`config_errors`; default: their task's)."""
    task = summaries[0].task if summaries else None
    table = compact_table("Held-out cost in bits per sequence")
    errors = errors if errors is not None else task_errors(task) if task else "bit errors"
    errors = "wrong" if errors == "wrong answers" else "bit err"
    for name in ("seed", "steps", "seqs", "final", "best", errors, "seq/s", "time s", "status"):
        table.add_column(name, justify="left" if name == "status" else "right", no_wrap=True)
    for s in summaries:
        table.add_row(
            str(s.seed), f"{s.steps:,}", f"{s.sequences:,}", format_cost(s.final_eval_cost),
            format_cost(s.best_eval_cost), _fmt(s.final_eval_bit_errors),
            "-" if s.sequences_per_second is None else f"{s.sequences_per_second:,.0f}",
            f"{s.wall_time:.1f}", s.status,
        )
    spread = seed_spread(summaries)
    lines = []
    if spread:
        lines.append(
            f"over {spread['seeds']} seeds: final cost mean {format_cost(spread['mean'])}, "
            f"s.d. {format_cost(spread['std'])}, min {format_cost(spread['min'])}, max {format_cost(spread['max'])}"
        )
    for s in summaries:
        if s.final_eval_scores:
            lines.append(f"seed {s.seed} held-out accuracy: {scores_text(task, s.final_eval_scores)}")
    table.caption = "\n".join(lines) or None
    return table


def spread(values: list[float | None]) -> dict[str, float] | None:
    """Count, mean, s.d. (0 for one value), min and max of the finite values given; None if
    there are none."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None
    return {
        "seeds": len(values),
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def seed_spread(summaries: list[Summary]) -> dict[str, float] | None:
    """The spread of the final held-out cost across seeds (None for one seed)."""
    return spread([s.final_eval_cost for s in summaries]) if len(summaries) > 1 else None


class PlainReporter:
    """A line per report on `console` (stderr: progress is not a result), and the seeds' summary
    table at the end on `results` (stdout; None: no table, as under --json)."""

    def __init__(self, console: Console, quiet: bool = False, prefix: str = "", results: Console | None = None):
        self.console = console
        self.quiet = quiet
        self.prefix = prefix  # before every line, where several trainings share one terminal
        self.results = results
        self.seeds: list[int] = []
        self.task: str | None = None
        self.errors = "bit errors"  # what the run's errors count (`config_errors`)

    def _line(self, text: str) -> None:
        if not self.quiet:
            self.console.print(self.prefix + text, markup=False, soft_wrap=True)

    def note(self, line: str) -> None:
        self._line(line)

    def start(self, info: dict[str, Any]) -> None:
        self.seeds = info["seeds"]
        self.task = info["config"].task
        self.errors = config_errors(info["config"])
        self._line(describe_config(info))
        for run_dir in info["run_dirs"]:
            self._line(f"run folder: {run_dir}")

    def report(self, records: list[MetricsRow]) -> None:
        for seed, record in zip(self.seeds, records):
            self._line(record_line(seed, record, self.errors, self.task))

    def finish(self, summaries: list[Summary]) -> None:
        if self.prefix:
            for summary in summaries:
                self._line(f"seed {summary.seed} {summary.status}: final held-out "
                           f"{format_cost(summary.final_eval_cost)} bits/seq after {summary.sequences:,} sequences")
        elif self.results is not None:
            show(summary_table(summaries, self.errors), SUMMARY_OPTIONAL, self.results)


class RichReporter(PlainReporter):
    """A live progress bar with the latest training and held-out cost, for terminals."""

    def __init__(self, console: Console, results: Console | None = None):
        super().__init__(console, results=results)
        self.progress: Progress | None = None
        self.task_id = None

    def start(self, info: dict[str, Any]) -> None:
        super().start(info)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("held-out {task.fields[eval]} bits/seq, train {task.fields[train]}, {task.fields[speed]} seq/s"),
            TimeElapsedColumn(), console=self.console, transient=False,
        )
        config = info["config"]
        self.task_id = self.progress.add_task(
            "steps", total=None if config.time_only else config.steps,
            completed=info["start_step"], eval="-", train="-", speed="-",
        )
        self.progress.start()

    def report(self, records: list[MetricsRow]) -> None:
        if self.progress is None:
            return
        costs = [r.eval_cost for r in records if r.eval_cost is not None]
        train = [r.train_cost for r in records if r.train_cost is not None]
        speed = records[0].sequences_per_second
        self.progress.update(
            self.task_id, completed=records[0].step,
            eval=_fmt(sum(costs) / len(costs)) if costs else "-",
            train=_fmt(sum(train) / len(train)) if train else "-",
            speed="-" if speed is None else f"{speed * len(records):,.0f}",
        )

    def finish(self, summaries: list[Summary]) -> None:
        if self.progress is not None:
            self.progress.stop()
        if self.results is not None:
            show(summary_table(summaries, self.errors), SUMMARY_OPTIONAL, self.results)
