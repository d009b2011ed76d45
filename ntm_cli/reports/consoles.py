"""Terminal output: one console for results (stdout) and one for progress and errors (stderr),
and tables printed so that no value is ever cut."""

from __future__ import annotations

import os
from typing import Sequence

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

# Rich looks up sys.stdout / sys.stderr at print time, so test runners can capture both.
console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

# SIMPLE_HEAD (a rule under the header, nothing else) in plain characters, for pipes and files.
PLAIN_HEAD = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)


def say(line: str, stderr: bool = False) -> None:
    """One plain line (no markup, never wrapped mid-path) on stdout, or stderr."""
    (error_console if stderr else console).print(line, markup=False, soft_wrap=True)


def show(table: Table, optional: Sequence[str] = (), target: Console | None = None) -> None:
    """Prints a table so that no number or name in it is cut.

    On a terminal too narrow for every column, the `optional` columns (by header, the first
    named goes first) are left out until the rest fit, and a line below says which; a cell that
    still does not fit wraps (never an ellipsis). Piped or redirected (no COLUMNS given), the
    table is printed at its full width, in plain characters.
    """
    target = target or console
    for column in table.columns:
        column.overflow = "fold"
    if not target.is_terminal and "COLUMNS" not in os.environ:
        if table.box is not None:
            table.box = PLAIN_HEAD if not table.show_edge else box.ASCII
        width = max(_widths(table, target, 10_000).maximum, 80)
        Console(width=width, stderr=target.stderr, highlight=False, no_color=True).print(table)
        return
    left_out = []
    for name in optional:
        if _widths(table, target, 10_000).minimum <= target.width:
            break
        index = next((i for i, column in enumerate(table.columns) if str(column.header) == name), None)
        if index is not None:
            table.columns.pop(index)
            left_out.append(name)
    target.print(table)
    if left_out:
        target.print(f"(left out at {target.width} columns: {', '.join(left_out)}; a wider terminal shows "
                     "them, as do the result files)", markup=False, soft_wrap=True)


def _widths(table: Table, target: Console, width: int) -> Measurement:
    """The narrowest and widest the table can be printed without cutting a word."""
    return Measurement.get(target, target.options.update_width(width), table)
