"""`ntm plot` and `ntm memory`: parse, call ntm_cli.reports.figures, print where the figure went."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ntm_cli.errors import InputError
from ntm_cli.cli.options import Checkpoint, MemoryStart
from ntm_cli.cli.output import console, reported_errors


def plot_command(
    run: Annotated[list[Path], typer.Argument(help="Run folders (seeds of the same task and model share a line).")],
    out: Annotated[Optional[Path], typer.Option(help="A .png file, or a folder (default: the first run's folder).")] = None,
) -> None:
    """Learning curves: held-out cost and bit errors against sequences seen, as a PNG."""
    from ntm_cli.reports.figures import figure_path, learning_curves_figure, run_curve, sparkline

    with reported_errors():
        curves = [run_curve(r) for r in run]
        path = figure_path(out, run[0] / "learning_curves.png")
        learning_curves_figure(curves, path)
    import numpy as np

    finite = np.concatenate([c.cost[np.isfinite(c.cost)] for c in curves])
    scale = (float(finite.min()), float(finite.max())) if finite.size else None  # one scale for every line
    for curve in curves:
        console.print(
            f"{curve.run_dir.name}: held-out {sparkline(curve.cost, scale=scale)} {curve.cost[0]:.3g} -> {curve.cost[-1]:.3g} "
            f"bits/seq over {int(curve.sequences[-1]):,} sequences",
            markup=False, soft_wrap=True,
        )
    console.print(f"saved {path}", markup=False, soft_wrap=True)


def memory_command(
    run: Annotated[Path, typer.Argument(help="A run folder of an NTM, a DNC or a key-value memory.")],
    length: Annotated[Optional[int], typer.Option(min=1, max=2**31 - 1, help="The sample's size along the task's main axis (length; items for recall); default: the training sizes.")] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="The sample's seed (as in `ntm show`).")] = 0,
    checkpoint: Annotated[Checkpoint, typer.Option(help="The best held-out checkpoint, or the latest.")] = Checkpoint("best"),
    final_memory: Annotated[bool, typer.Option(help="Also draw the memory's contents after the last step.")] = True,
    memory_rows: Annotated[Optional[int], typer.Option(min=1, max=2**31 - 1, help="DNC runs: run on a memory of this many rows (its parameters do not depend on N).")] = None,
    start_memory: Annotated[Optional[MemoryStart], typer.Option(help="Runs with a life-long memory: start from the memory training left (trained, the default) or an empty one.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="A .png file, or a folder (default: the run's folder).")] = None,
) -> None:
    """The memory at work on one sample: inputs, targets, outputs, every head's weightings (DNC: usage, allocation, read modes; key-value memory: neighbours, writes, ages)."""
    from ntm_cli.training.evaluation import other_memory_rows
    from ntm_cli.reports.figures import figure_path, focus_rows, memory_figure, memory_trace
    from ntm_cli.runs import read_config

    with reported_errors():
        config = read_config(run)
        if config.model.kind == "kv":
            return _kv_memory(run, config, length, seed, checkpoint, memory_rows, start_memory, out)
        if start_memory is not None:
            raise InputError(f"--start-memory applies to key-value memory runs with a life-long memory, not to "
                             f"this {config.model_name} run.")
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


def _kv_memory(run: Path, config, length: int | None, seed: int, checkpoint: str, memory_rows: int | None,
               start_memory: str | None, out: Path | None) -> None:
    """`ntm memory` on a key-value memory run: a held-out sample's steps and the figure."""
    from ntm_cli.training.evaluation import other_memory_rows
    from ntm_cli.reports.figures import figure_path
    from ntm_cli.reports.kv_figures import kv_memory_figure, kv_memory_trace, step_lines

    if length is not None:
        raise InputError("--length does not apply to a key-value memory run's figure, which draws a held-out "
                         "sample at the run's own sizes.")
    other_memory_rows(config, memory_rows)  # refused, with why
    suffix = "-empty" if start_memory == "empty" else ""
    path = figure_path(out, run / f"memory-s{seed}{suffix}.png")  # checked before the model runs
    trace = kv_memory_trace(run, seed=seed, checkpoint=checkpoint, memory_start=start_memory)
    title = (f"{config.task}, {config.model_name} ({run.name}), held-out sample seed {seed}, "
             f"{trace.labels.shape[0]} steps")
    kv_memory_figure(trace, path, title)
    right = int(((trace.answers == trace.labels) & trace.scored).sum())
    console.print(f"{config.task}, {config.model_name}: {right} of {int(trace.scored.sum())} answers right, "
                  f"cost {trace.cost:.3g} bits on this sample (memory starts {trace.memory_start})", markup=False,
                  soft_wrap=True)
    for line in step_lines(trace):
        console.print(line, markup=False, soft_wrap=True)
    console.print(f"saved {path}", markup=False, soft_wrap=True)
