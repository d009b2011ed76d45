"""`ntm plot` and `ntm memory`: parse, call ntm_cli.figures, print where the figure went."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ntm_cli.options import Checkpoint
from ntm_cli.output import console, reported_errors


def plot_command(
    run: Annotated[list[Path], typer.Argument(help="Run folders (seeds of the same task and model share a line).")],
    out: Annotated[Optional[Path], typer.Option(help="A .png file, or a folder (default: the first run's folder).")] = None,
) -> None:
    """Learning curves: held-out cost and bit errors against sequences seen, as a PNG."""
    from ntm_cli.figures import figure_path, learning_curves_figure, run_curve, sparkline

    with reported_errors():
        curves = [run_curve(r) for r in run]
        path = figure_path(out, run[0] / "learning_curves.png")
        learning_curves_figure(curves, path)
    for curve in curves:
        console.print(
            f"{curve.run_dir.name}: held-out {sparkline(curve.cost)} {curve.cost[0]:.3g} -> {curve.cost[-1]:.3g} "
            f"bits/seq over {int(curve.sequences[-1]):,} sequences",
            markup=False, soft_wrap=True,
        )
    console.print(f"saved {path}", markup=False, soft_wrap=True)


def memory_command(
    run: Annotated[Path, typer.Argument(help="A run folder of an NTM or a DNC.")],
    length: Annotated[Optional[int], typer.Option(min=1, help="The sample's size along the task's main axis (length; items for recall); default: the training sizes.")] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="The sample's seed (as in `ntm show`).")] = 0,
    checkpoint: Annotated[Checkpoint, typer.Option(help="The best held-out checkpoint, or the latest.")] = Checkpoint("best"),
    final_memory: Annotated[bool, typer.Option(help="Also draw the memory's contents after the last step.")] = True,
    memory_rows: Annotated[Optional[int], typer.Option(min=1, help="DNC runs: run on a memory of this many rows (its parameters do not depend on N).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="A .png file, or a folder (default: the run's folder).")] = None,
) -> None:
    """The memory at work on one sample: inputs, targets, outputs, every head's weightings (DNC: usage, allocation, read modes)."""
    from ntm_cli.evaluation import other_memory_rows
    from ntm_cli.figures import figure_path, focus_rows, memory_figure, memory_trace
    from ntm_cli.runs import read_config

    with reported_errors():
        config = read_config(run)
        memory_rows = other_memory_rows(config, memory_rows)  # None at the trained size; refused for an NTM
        rows = "" if memory_rows is None else f"-n{memory_rows}"
        name = f"memory-{'train' if length is None else length}{rows}-s{seed}.png"
        path = figure_path(out, run / name)
        trace = memory_trace(run, length=length, seed=seed, checkpoint=checkpoint, memory_rows=memory_rows)
        title = (f"{config.task}, {config.model_name} ({run.name}), sample seed {seed}, "
                 f"{trace.inputs.shape[0]} steps" + ("" if memory_rows is None else f", {memory_rows} memory rows"))
        memory_figure(trace, path, title, final_memory=final_memory)
    console.print(f"{config.task}, {config.model_name}: cost {trace.cost:.3g} bits on this sample", markup=False)
    for kind, weights in (("write", trace.write_weights), ("read", trace.read_weights)):
        rows = focus_rows(weights)
        for h in range(rows.shape[1]):
            console.print(f"{kind} head {h}, row in focus by step: {' '.join(str(r) for r in rows[:, h])}",
                          markup=False, soft_wrap=True)
    console.print(f"saved {path}", markup=False, soft_wrap=True)
