"""Rich tables for the terminal; functions of plain values, no JAX."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from rich.table import Table

if TYPE_CHECKING:
    from tasks.base import Task


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
        "chance: cost of predicting 0.5 for every scored bit; "
        "floor: the best expected cost (Bayes-optimal for ngrams)."
    )
    return table
