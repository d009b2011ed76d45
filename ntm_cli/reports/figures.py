"""Figures of runs: learning curves, the memory at work, generalisation to larger sizes.

Each figure has a data function that returns plain arrays (tested for values) and a drawing
function that turns them into a PNG with matplotlib's Agg backend (no display needed), in
shades of grey and line styles so that a figure stays readable printed in black and white.
The figures read what training wrote; the one exception is the memory figure, which
`--tensorboard` also draws from the parameters while training (`reports.events`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from ntm_cli import runs
from ntm_cli.training import resources
from ntm_cli.errors import InputError, RunFolderError
from ntm_cli.storage import check_writable, write_failed
from ntm_cli.tasks import task_class

# Grey levels and line styles, in order, for the lines of a figure.
STYLES = (("0.0", "-"), ("0.45", "--"), ("0.25", ":"), ("0.6", "-."), ("0.1", (0, (5, 1))), ("0.5", (0, (1, 1))))
# One colour and line style per model, in every figure.
MODEL_STYLES = {"lstm": ("tab:gray", "--"), "ntm-lstm": ("tab:blue", "-"), "ntm-ff": ("tab:orange", "-"),
                "dnc": ("tab:green", "-."), "kv-ff": ("tab:purple", "-"), "kv-lstm": ("tab:brown", ":")}
LOG_FLOOR = 1e-4  # costs and bit errors below this are drawn at it on log axes
SPARKS = "▁▂▃▄▅▆▇█"


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plain_log_axis(ax, axis: str = "y") -> None:
    """A log axis labelled in plain numbers (20, 30, 0.5), not 2x10^1; the ticks between powers of
    ten are labelled only where the axis spans little more than one."""
    from matplotlib.ticker import LogFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(LogFormatter())
    target.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1.2, 0.4)))


def model_style(model: str, index: int) -> tuple[str, Any]:
    """A model's colour and line style (`MODEL_STYLES`), else the index-th of `STYLES`."""
    return MODEL_STYLES.get(model, STYLES[index % len(STYLES)])


def figure_path(out: Path | None, default: Path) -> Path:
    """`--out` as given (a .png file, or a folder for the default name), else `default`; checked
    before any work, so that a figure that cannot be saved there costs nothing.

    Raises:
      InputError: a .png name that is a folder, or a folder name that is a file.
      StorageError: a file stands where one of the figure's folders should be, or the folder
        cannot be written to.
    """
    if out is None:
        path = default
    elif out.suffix.lower() == ".png":
        if out.is_dir():
            raise InputError(f"{out} is a folder; give a file name or a folder without .png.")
        path = out
    elif out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; give a folder or a .png file name.")
    else:
        path = out / default.name
    check_writable(path, given=out)
    return path


def save_figure(fig, path: Path) -> Path:
    """Writes `fig` to `path` as PNG through a temporary file (never half-written) and closes it.

    Raises:
      StorageError: the file cannot be written (one sentence, for the commands to print).
    """
    import contextlib

    plt = pyplot()
    tmp = path.with_name(path.name + ".tmp.png")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(tmp)
        tmp.replace(path)
    except OSError as error:
        raise write_failed(path, error) from None
    finally:
        plt.close(fig)
        with contextlib.suppress(OSError):  # none made (a file where its folder should be): nothing to clean
            tmp.unlink(missing_ok=True)
    return path


# --- learning curves ------------------------------------------------------------------------------


class RunCurve(NamedTuple):
    """A run's held-out curve: one entry per report that has a held-out cost.

    Attributes:
      label: '<task> <model>', for the legend.
      seed: the run's seed.
      run_dir: the run folder.
      sequences: `[K]` training sequences seen at each report.
      cost: `[K]` held-out cost, bits per sequence.
      bit_errors: `[K]` held-out bit errors per sequence.
      group: the run's whole configuration but its seed: runs that share it are seeds of
        one line.
    """

    label: str
    seed: int
    run_dir: Path
    sequences: np.ndarray
    cost: np.ndarray
    bit_errors: np.ndarray
    group: str


def run_curve(run_dir: Path) -> RunCurve:
    """The held-out curve in a run folder's metrics.jsonl.

    Raises:
      RunFolderError: not a run folder, or the run has no held-out report yet.
    """
    import dataclasses
    import json

    config = runs.read_config(run_dir)
    records = [r for r in runs.read_metrics(run_dir) if r.eval_cost is not None]
    if not records:
        raise RunFolderError(f"{run_dir} has no held-out report yet; train it first.")
    return RunCurve(
        label=f"{config.task} {config.model_name}",
        seed=config.seed,
        run_dir=run_dir,
        group=json.dumps(dataclasses.replace(config, seed=0).to_dict(), sort_keys=True),
        sequences=np.array([r.sequences for r in records], float),
        cost=np.array([r.eval_cost for r in records], float),
        bit_errors=np.array([r.eval_bit_errors for r in records], float),
    )


def curve_errors(curve: RunCurve) -> str:
    """What a curve's errors count: its run's archive's kind, else its task's."""
    import json

    from ntm_cli.config import TrainConfig
    from ntm_cli.reports.progress import config_errors

    return config_errors(TrainConfig.from_dict(json.loads(curve.group)))  # `group`: the run's config, seed 0


def group_curves(curves: Sequence[RunCurve]) -> dict[str, list[RunCurve]]:
    """Curves of runs that differ only in their seed, by label, in first-seen order.

    Each group is one line of a figure, its seeds shaded. Runs of one config that repeat a seed
    (the same command run twice) make a line of their own. Groups whose labels coincide (two
    copy NTMs of other sizes, or two sets of one config) are told apart by their first run
    folder's name.

    Raises:
      InputError: the same run folder given twice.
    """
    seen = set()
    for curve in curves:
        where = curve.run_dir.resolve() if curve.run_dir is not None else None
        if where is not None and where in seen:
            raise InputError(f"{curve.run_dir} is given twice.")
        seen.add(where)
    by_config: dict[str, list[list[RunCurve]]] = {}
    for curve in curves:  # a config's runs: one line per set of distinct seeds, never a seed twice
        sets = by_config.setdefault(curve.group, [])
        free = next((group for group in sets if all(c.seed != curve.seed for c in group)), None)
        if free is None:
            sets.append(free := [])
        free.append(curve)
    groups = [group for sets in by_config.values() for group in sets]
    labels = [group[0].label for group in groups]
    return {
        (label if labels.count(label) == 1 else f"{label} ({group[0].run_dir.name})"): group
        for label, group in zip(labels, groups)
    }


def seed_band(curves: Sequence[RunCurve], field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Median, min and max of `field` over seeds, on the reports all of them have.

    Returns:
      (sequences `[K]`, median `[K]`, min `[K]`, max `[K]`): the reports up to the shortest
      curve's end, or up to the first one where the seeds' sequence counts differ.
    """
    length = min(len(c.sequences) for c in curves)
    x = curves[0].sequences[:length]
    same = np.all([c.sequences[:length] == x for c in curves], axis=0)  # seeds resumed differently
    if not same.all():
        length = int(np.argmin(same))
        x = x[:length]
    values = np.stack([getattr(c, field)[:length] for c in curves])  # [S, K]
    return x, np.median(values, axis=0), values.min(0), values.max(0)


def learning_curves_figure(curves: Sequence[RunCurve], path: Path) -> Path:
    """Held-out cost and bit errors against sequences seen (log y): a colour per model, each
    line the median of its seeds, every seed a thin line under it."""
    plt = pyplot()
    groups = group_curves(curves)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    models = [group[0].label.split()[-1] for group in groups.values()]  # a label is '<task> <model>'
    for index, ((label, group), model) in enumerate(zip(groups.items(), models)):
        color, line = model_style(model, index) if models.count(model) == 1 else STYLES[index % len(STYLES)]
        seeds = ", ".join(str(c.seed) for c in group)
        name = f"{label} (seed{'s' if len(group) > 1 else ''} {seeds}{'; median' if len(group) > 1 else ''})"
        for ax, field in zip(axes, ("cost", "bit_errors")):
            x, median, _, _ = seed_band(group, field)
            if len(group) > 1:
                for curve in group:
                    ax.plot(np.maximum(curve.sequences, 1), np.maximum(getattr(curve, field), LOG_FLOOR),
                            color=color, linestyle=line, linewidth=0.6, alpha=0.45)
            ax.plot(np.maximum(x, 1), np.maximum(median, LOG_FLOOR), color=color, linestyle=line, linewidth=2,
                    label=name)
    kinds = {curve_errors(c) for c in curves}
    errors = kinds.pop() if len(kinds) == 1 else "errors"
    for ax, unit in zip(axes, ("held-out cost (bits per sequence)", f"held-out {errors} per sequence")):
        ax.set_yscale("log")
        plain_log_axis(ax)
        ax.set_xlabel("training sequences seen")
        ax.set_ylabel(unit)
        ax.grid(True, which="both", color="0.9", linewidth=0.5)
    axes[0].set_title("Held-out cost")
    axes[1].set_title(f"Held-out {errors} (0 drawn at {LOG_FLOOR:g})")
    axes[0].legend(frameon=False, fontsize=8)
    runs_text = ", ".join(c.run_dir.name for c in curves)
    fig.suptitle(f"Learning curves: {runs_text}" if len(runs_text) < 100 else f"Learning curves: {len(curves)} runs")
    fig.tight_layout()
    return save_figure(fig, path)


def sparkline(values: Sequence[float], width: int = 32, scale: tuple[float, float] | None = None) -> str:
    """A one-line chart of positive values on a log scale: '█▇▅▂▁▁' for a falling cost.

    The values are resampled to at most `width` points (the last value always kept); the
    lowest is drawn as '▁' and the highest as '█', or, given a `scale` (low, high) shared by
    several lines, the scale's ends.
    """
    values = np.asarray(values, float)
    values = np.maximum(values[np.isfinite(values)], LOG_FLOOR)  # a diverged report (NaN) is left out
    if values.size == 0:
        return ""
    if values.size > width:
        values = values[np.linspace(0, values.size - 1, width).round().astype(int)]
    logs = np.log10(values)
    low, high = (logs.min(), logs.max()) if scale is None else np.log10(np.maximum(scale, LOG_FLOOR))
    if high - low < 1e-12:
        return SPARKS[0] * values.size
    levels = np.clip(np.floor((logs - low) / (high - low) * (len(SPARKS) - 1) + 0.5), 0, len(SPARKS) - 1).astype(int)
    return "".join(SPARKS[i] for i in levels)


# --- the memory at work ---------------------------------------------------------------------------


class MemoryTrace(NamedTuple):
    """One sequence through a trained NTM, time-major, cut to the sequence's own length T.

    Attributes:
      inputs: `[T, in]`.
      targets: `[T, out]`.
      outputs: `[T, out]` the model's sigmoid outputs.
      mask: `[T]` where the targets are scored.
      write_weights: `[T, W, N]` each write head's weighting at each step.
      read_weights: `[T, R, N]` each read head's weighting at each step.
      memory: `[N, M]` the memory after the last step.
      cost: the sequence's cost in bits.
      usage: `[T, N]` the DNC's usage u_t (None for an NTM).
      allocation: `[T, W, N]` the DNC's allocation weightings (None for an NTM).
      read_modes: `[T, R, 2W + 1]` the DNC's read modes: backward per write head, content,
        forward per write head (None for an NTM).
    """

    inputs: np.ndarray
    targets: np.ndarray
    outputs: np.ndarray
    mask: np.ndarray
    write_weights: np.ndarray
    read_weights: np.ndarray
    memory: np.ndarray
    cost: float
    usage: np.ndarray | None = None
    allocation: np.ndarray | None = None
    read_modes: np.ndarray | None = None


def has_memory_figure(model_kind: str) -> bool:
    """Whether `ntm memory` draws this model's memory (an NTM or a DNC; not the LSTM, which has
    none, nor the key-value memory, whose figure is another)."""
    return model_kind in ("ntm", "dnc")


def memory_trace(run_dir: Path, length: int | None = None, seed: int = 0, checkpoint: str = "best",
                 memory_rows: int | None = None) -> MemoryTrace:
    """Runs one sample (`jax.random.key(seed)`, as `ntm show` draws it) through a run's NTM or DNC.

    Args:
      run_dir: a run folder of an NTM or a DNC.
      length: the sample's size along the task's main axis (the length of copy, repeat copy
        and N-grams, recall's item count); None for the training sizes.
      seed: the sample's key.
      checkpoint: 'best' or 'latest'.
      memory_rows: run a DNC on a memory of this many rows (None: as trained).

    Raises:
      RunFolderError: not a run, or no checkpoint. InputError: an LSTM run, a length the task
      does not take, memory rows for an NTM, or an impossible size.
    """
    import jax

    from ntm_cli.training.evaluation import load_run

    config = runs.read_config(run_dir)
    if not has_memory_figure(config.model.kind):
        raise InputError(f"{run_dir} holds a {config.model_name} run; the memory figure needs an NTM or DNC run.")
    if length is not None and not task_class(config.task).axes:
        raise InputError(f"--length does not apply to task {config.task}, whose sizes are fixed.")
    trainer, params, rest, _, _ = load_run(run_dir, checkpoint, memory_rows, config=config)
    task = trainer.task
    if length is not None:
        task = task.at({task.axes[0].option: length})
    resources.check_fits(resources.batch_bytes(task, 1) * 3, f"a sample of {task.name} with T={task.max_time}")
    batch = task.sample_at(jax.random.key(seed), 0)
    program = trace_program().lower(trainer.graphdef, params, rest, batch.inputs).compile()
    resources.check_fits(resources.program_bytes(program), f"tracing the memory over T={task.max_time} steps")
    logits, trace = program(params, rest, batch.inputs)
    return trace_of_sample(batch, logits, trace, task.output_kind)


def trace_of_sample(batch, logits, trace, output_kind: str = "bits") -> MemoryTrace:
    """A MemoryTrace of one sample (`batch`'s leaves `[T, 1, ...]`) from the model's `logits`
    and its per-step `trace` (a DNC's has usage, allocation and read modes), cut where the
    sample ends: the padding after it carries no input and no target."""
    import jax
    import jax.numpy as jnp

    from ntm_cli.training.trainer import sequence_metrics

    cost, _ = sequence_metrics(logits, batch.targets, batch.mask, output_kind)
    active = np.asarray(jnp.any(batch.inputs[:, 0] != 0, axis=-1) | (batch.mask[:, 0] > 0))
    steps = int(np.nonzero(active)[0].max()) + 1 if active.any() else batch.inputs.shape[0]
    dnc = hasattr(trace, "usage")
    return MemoryTrace(
        inputs=np.asarray(batch.inputs[:steps, 0]),
        targets=np.asarray(batch.targets[:steps, 0]),
        outputs=np.asarray(jax.nn.sigmoid(logits[:steps, 0])),
        mask=np.asarray(batch.mask[:steps, 0]),
        write_weights=np.asarray(trace.write_weights[:steps, 0]),
        read_weights=np.asarray(trace.read_weights[:steps, 0]),
        memory=np.asarray(trace.memory[steps - 1, 0]),
        cost=float(cost[0]),
        usage=np.asarray(trace.usage[:steps, 0]) if dnc else None,
        allocation=np.asarray(trace.allocation[:steps, 0]) if dnc else None,
        read_modes=np.asarray(trace.read_modes[:steps, 0]) if dnc else None,
    )


@functools.cache
def trace_program():
    """The model's logits and trace on given inputs, compiled once per model structure and shape
    (made on first use: drawing learning curves needs no JAX)."""
    import jax
    from flax import nnx

    def run(graphdef, params, rest, inputs):
        return nnx.merge(graphdef, params, rest)(inputs, trace=True)

    return jax.jit(run, static_argnums=0)


def focus_rows(weights: np.ndarray) -> np.ndarray:
    """The row each head weights most at each step: `[T, H, N]` -> `[T, H]`."""
    return np.argmax(weights, axis=-1)


def memory_figure(trace: MemoryTrace, path: Path, title: str, final_memory: bool = True) -> Path:
    """The paper's figure: inputs, targets, outputs, then each head's weighting (rows by time)."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    write_heads, read_heads = trace.write_weights.shape[1], trace.read_weights.shape[1]
    panels = [("inputs", trace.inputs.T, "channel"), ("targets", (trace.targets * trace.mask[:, None]).T, "channel"),
              ("outputs", (trace.outputs * trace.mask[:, None]).T, "channel")]
    panels += [(f"write head {h} weighting", trace.write_weights[:, h].T, "memory row") for h in range(write_heads)]
    panels += [(f"read head {h} weighting", trace.read_weights[:, h].T, "memory row") for h in range(read_heads)]
    heights = [1.0, 1.0, 1.0] + [2.2] * (write_heads + read_heads)
    if trace.usage is not None:  # the DNC's own: usage, allocation, read modes
        panels.append(("usage", trace.usage.T, "memory row"))
        panels += [(f"write head {h} allocation", trace.allocation[:, h].T, "memory row") for h in range(write_heads)]
        mode_names = ", ".join([f"b{w}" for w in range(write_heads)] + ["c"] + [f"f{w}" for w in range(write_heads)])
        panels += [(f"read head {h} modes ({mode_names}; backward, content, forward)", trace.read_modes[:, h].T, "mode")
                   for h in range(read_heads)]
        heights += [2.2] * (1 + write_heads) + [1.0] * read_heads
    columns = 2 if final_memory else 1
    fig = plt.figure(figsize=(10 if final_memory else 8, 1.2 * sum(heights) + 1), dpi=100)
    grid = fig.add_gridspec(len(panels), columns, height_ratios=heights, width_ratios=[4, 1] if final_memory else [1])
    steps = trace.inputs.shape[0]
    for i, (name, image, ylabel) in enumerate(panels):
        ax = fig.add_subplot(grid[i, 0])
        low = min(0.0, float(image.min()))  # priority sort's priorities go down to -1
        ax.imshow(image, aspect="auto", cmap="Greys", vmin=low, vmax=1, interpolation="nearest", origin="upper",
                  extent=(-0.5, steps - 0.5, image.shape[0] - 0.5, -0.5))
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_title(name, fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # channels and rows are whole numbers
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if i < len(panels) - 1:
            ax.set_xticklabels([])
        else:
            ax.set_xlabel("time step")
    if final_memory:
        ax = fig.add_subplot(grid[3:, 1])
        limit = float(np.abs(trace.memory).max()) or 1.0
        ax.imshow(trace.memory, aspect="auto", cmap="Greys", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"final memory (+/-{limit:.2g})", fontsize=8, loc="left")
        ax.set_xlabel("column", fontsize=8)
        ax.set_ylabel("memory row", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{title}\ncost {trace.cost:.3g} bits; dark = 1 (weightings: all of a head's attention)",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


# --- generalisation -------------------------------------------------------------------------------


def size_axis(task: str, sizes: dict[str, Any]) -> tuple[float, str]:
    """Where an evaluated size sits on the x-axis (the task's main axis), and the axis' name."""
    axes = task_class(task).axes
    if not axes:
        return 0.0, "size"
    return float(axes[0].value(sizes)), axes[0].title


def training_range(task: str, sizes: dict[str, Any]) -> tuple[float, float]:
    """The x-range of the training sizes (shaded in the figure)."""
    axes = task_class(task).axes
    if not axes:
        return 0.0, 0.0
    low, high = axes[0].span(sizes)
    return float(low), float(high)


class Series(NamedTuple):
    """One line of the generalisation figure: `name` ('' or 'repeats 20'), x, cost, bit errors."""

    name: str
    x: np.ndarray
    cost: np.ndarray
    bit_errors: np.ndarray


def generalisation_series(result: dict[str, Any]) -> tuple[list[Series], str]:
    """An eval.json's named sizes as lines sorted by x, the task's main axis; a line per value
    of its other axes (repeat copy: a line per repeat count).

    The 'training sizes' entry, an average over the training range, is not a point of any
    line (the figure shades the range instead).
    """
    task = result["task"]
    other_axes = task_class(task).axes[1:]
    points: dict[str, list[tuple[float, float, float]]] = {}
    for r in result["results"]:
        if r["label"] == "training sizes":
            continue
        name = ", ".join(axis.label.format(axis.value(r["sizes"])) for axis in other_axes)
        points.setdefault(name, []).append((size_axis(task, r["sizes"])[0], r["cost"], r["bit_errors"]))
    series = []
    for name, values in points.items():
        values.sort()
        x, cost, errors = (np.array(column, float) for column in zip(*values))
        series.append(Series(name, x, cost, errors))
    return series, size_axis(task, result["results"][0]["sizes"])[1]


def generalisation_figure(results: Sequence[dict[str, Any]], path: Path) -> Path:
    """Cost and bit errors against size, a line per evaluated run, the training range shaded."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    axis_name = "size"
    styles = iter(STYLES * 20)
    for result in results:
        series, axis_name = generalisation_series(result)
        for line in series:
            color, dashes = next(styles)
            name = f"{result['model']} s{result['seed']} ({Path(result['run_dir']).name})"
            if result.get("memory_rows") != result.get("trained_memory_rows"):
                name += f", {result['memory_rows']} rows"
            name += f", {line.name}" if line.name else ""
            for ax, ys in zip(axes, (line.cost, line.bit_errors)):
                ax.plot(line.x, np.maximum(ys, LOG_FLOOR), color=color, linestyle=dashes, marker="o", linewidth=2,
                        label=name)
    first = results[0]
    low, high = training_range(first["task"], first["results"][0]["sizes"])
    for ax, unit in zip(axes, ("cost (bits per sequence)", "bit errors per sequence")):
        ax.axvspan(low - 0.5, high + 0.5, color="0.85", linewidth=0, label="training sizes")
        ax.set_yscale("log")
        plain_log_axis(ax)
        ax.set_xlabel(axis_name)
        ax.set_ylabel(f"{unit}, 0 drawn at {LOG_FLOOR:g}")
        ax.grid(True, which="both", color="0.9", linewidth=0.5)
    axes[0].legend(frameon=False, fontsize=8)
    fig.suptitle(f"{first['task']}: generalisation beyond the training sizes ({first['checkpoint']} checkpoints)")
    fig.tight_layout()
    return save_figure(fig, path)
