"""`ntm memory` for the key-value memory: what it holds and what it did on one sample.

One held-out sequence runs through a trained key-value memory, starting from the memory the
checkpoint holds (a life-long run) or from an empty one; the data function returns plain arrays
(tested for values), the drawing function a PNG in shades of grey, and `step_lines` the same
story as text: per step the true class, the answer and the slot it came from, and what was
written.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ntm_cli import runs
from ntm_cli.training import resources
from ntm_cli.errors import InputError
from ntm_cli.reports.figures import pyplot, save_figure

SHOWN_NEIGHBOURS = 16  # the nearest neighbours drawn per step


class KVMemoryTrace(NamedTuple):
    """One sequence through a key-value memory, time-major.

    Attributes:
      labels: `[T]` the true class at each step.
      answers: `[T]` the memory's answer V[n_1] (-1 from an empty memory).
      scored: `[T]` whether the step is scored (and so answers and writes).
      slots: `[T, k]` the k nearest neighbours of each step's query, nearest first.
      similarities: `[T, k]` their cosine similarities (-inf: an empty slot).
      values: `[T, k]` their values (-1: an empty slot).
      weights: `[T, k]` softmax(t s) over them.
      written: `[T]` the slot each step wrote (-1: none).
      updated: `[T]` True where the answer was right and its slot was updated in place.
      start_values: `[N]` each slot's value before the sequence (-1: empty).
      start_ages: `[N]` each slot's age before the sequence.
      final_values: `[N]` after it.
      final_ages: `[N]` after it.
      cost: the sequence's cost in bits.
      memory_start: 'trained' (a life-long memory as training left it) or 'empty'.
    """

    labels: np.ndarray
    answers: np.ndarray
    scored: np.ndarray
    slots: np.ndarray
    similarities: np.ndarray
    values: np.ndarray
    weights: np.ndarray
    written: np.ndarray
    updated: np.ndarray
    start_values: np.ndarray
    start_ages: np.ndarray
    final_values: np.ndarray
    final_ages: np.ndarray
    cost: float
    memory_start: str


def kv_memory_trace(run_dir: Path, seed: int = 0, checkpoint: str = "best",
                    memory_start: str | None = None) -> KVMemoryTrace:
    """Runs held-out sample `seed` (`jax.random.key(seed)`, example 0, from the task's held-out
    split) through a run's key-value memory.

    Args:
      run_dir: a run folder of kv-ff or kv-lstm.
      seed: the sample's key.
      checkpoint: 'best' or 'latest'.
      memory_start: 'trained' or 'empty' for a life-long run (default trained); None otherwise.

    Raises:
      RunFolderError: not a run, or no checkpoint. InputError: not a key-value memory run, or
      --start-memory for a run without a life-long memory.
    """
    import jax

    from ntm_cli.training.evaluation import check_memory_start, load_run
    from ntm_cli.models.kv_access import KVState
    from ntm_cli.tasks.base import Batch
    from ntm_cli.training.trainer import sequence_metrics

    config = runs.read_config(run_dir)
    if config.model.kind != "kv":
        raise InputError(f"{run_dir} holds a {config.model_name} run, not a key-value memory (kv-ff, kv-lstm).")
    start = check_memory_start(config, memory_start)
    trainer, params, rest, memory, _ = load_run(run_dir, checkpoint, config=config, memory_start=start)
    task = trainer.task.heldout()
    resources.check_fits(resources.batch_bytes(task, 1) * 3, f"a sample of {task.name} with T={task.max_time}")
    batch = Batch(*task.sample_at(jax.random.key(seed), 0))
    out = _trace_program()(trainer.graphdef, params, rest, memory, batch)
    cost, _ = sequence_metrics(out.logits, batch.targets, batch.mask, task.output_kind, out.answers)
    steps = out.trace
    final = steps.memory  # the sequence's own copy (leading axis B = 1)
    rows = config.model.memory_rows
    lifelong = isinstance(memory, KVState)  # else the sequence started from an empty memory
    start_values = np.asarray(memory.values) if lifelong else np.full(rows, -1)
    start_ages = np.asarray(memory.ages) if lifelong else np.zeros(rows, int)
    return KVMemoryTrace(
        labels=np.asarray(batch.targets[:, 0]).argmax(-1),
        answers=np.asarray(out.answers[:, 0]),
        scored=np.asarray(batch.mask[:, 0]) > 0,
        slots=np.asarray(steps.slots[:, 0]),
        similarities=np.asarray(steps.similarities[:, 0]),
        values=np.asarray(steps.values[:, 0]),
        weights=np.asarray(steps.weights[:, 0]),
        written=np.asarray(steps.written[:, 0]),
        updated=np.asarray(steps.updated[:, 0]),
        start_values=start_values,
        start_ages=start_ages,
        final_values=np.asarray(final.values[0]),
        final_ages=np.asarray(final.ages[0]),
        cost=float(cost[0]),
        memory_start=start or "empty",
    )


@functools.cache
def _trace_program():
    """The model's run with its trace, every sequence on its own copy of the memory; compiled
    once per model structure and shape (made on first use: no JAX at import)."""
    import jax
    from flax import nnx

    from ntm_cli.training.trainer import eval_model_key

    def run(graphdef, params, rest, memory, batch):
        return nnx.merge(graphdef, params, rest).run(batch, memory, eval_model_key(), trace=True)

    return jax.jit(run, static_argnums=0)


def step_lines(trace: KVMemoryTrace) -> list[str]:
    """Per scored step: the class, the answer and the slot it came from, what was written."""
    lines = []
    for t in np.flatnonzero(trace.scored):
        nearest, similarity = trace.slots[t, 0], trace.similarities[t, 0]
        if trace.answers[t] < 0:
            source = "an empty memory"
        else:
            source = f"slot {nearest} (cos {similarity:.2f}, weight {trace.weights[t, 0]:.2f})"
        verdict = "right" if trace.answers[t] == trace.labels[t] else "wrong"
        written = trace.written[t]
        action = (f"updated slot {written}" if trace.updated[t] else f"wrote slot {written}") if written >= 0 else "wrote nothing"
        answer = "-" if trace.answers[t] < 0 else str(trace.answers[t])
        lines.append(f"step {t:>3}: class {trace.labels[t]}, answer {answer} from {source}: {verdict}; {action}")
    return lines


def kv_memory_figure(trace: KVMemoryTrace, path: Path, title: str) -> Path:
    """Four panels over time: the neighbours' similarities (their order down, a mark where a
    neighbour holds the true class), the neighbours' weights, the slots written, and the
    memory's ages at the end (and at the start, for a life-long memory)."""
    plt = pyplot()
    steps = trace.labels.shape[0]
    shown = min(SHOWN_NEIGHBOURS, trace.slots.shape[1])
    similarity = np.where(np.isfinite(trace.similarities[:, :shown]), trace.similarities[:, :shown], np.nan)
    holds = trace.values[:, :shown] == trace.labels[:, None]
    touched = sorted({int(s) for s in trace.written if s >= 0})
    writes = np.zeros((max(len(touched), 1), steps))
    for t, slot in enumerate(trace.written):
        if slot >= 0:
            writes[touched.index(int(slot)), t] = 0.5 if trace.updated[t] else 1.0

    fig = plt.figure(figsize=(10, 9), dpi=100)
    grid = fig.add_gridspec(4, 1, height_ratios=[0.7, 2.2, 2.2, 2.0])
    ax = fig.add_subplot(grid[0])
    right = trace.answers == trace.labels
    t_axis = np.arange(steps)
    ax.plot(t_axis[right & trace.scored], trace.labels[right & trace.scored], "o", color="0.2", markersize=4,
            label="right")
    ax.plot(t_axis[~right & trace.scored], trace.labels[~right & trace.scored], "x", color="0.0", markersize=6,
            label="wrong")
    ax.set_title("true class at each step (o: answered right, x: wrong)", fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    ax.set_xlim(-0.5, steps - 0.5)
    ax = fig.add_subplot(grid[1])
    ax.imshow(similarity.T, aspect="auto", cmap="Greys", vmin=-1, vmax=1, interpolation="nearest",
              extent=(-0.5, steps - 0.5, shown - 0.5, -0.5))
    marks = np.argwhere(holds)
    ax.plot(marks[:, 0], marks[:, 1], "s", markerfacecolor="none", markeredgecolor="0.5", markersize=5)
    ax.set_title(f"the {shown} nearest neighbours' similarity (dark = 1; square: holds the true class)",
                 fontsize=9, loc="left")
    ax.set_ylabel("neighbour", fontsize=8)
    ax.tick_params(labelsize=7)
    ax = fig.add_subplot(grid[2])
    ax.imshow(writes, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest",
              extent=(-0.5, steps - 0.5, len(touched) - 0.5, -0.5))
    ax.set_yticks(range(len(touched)))
    ax.set_yticklabels([str(s) for s in touched], fontsize=6 if len(touched) > 20 else 7)
    ax.set_title("slots written (black: a new entry after a wrong answer; grey: updated after a right one)",
                 fontsize=9, loc="left")
    ax.set_ylabel("slot", fontsize=8)
    ax.set_xlabel("time step", fontsize=8)
    ax.tick_params(labelsize=7)
    ax = fig.add_subplot(grid[3])
    filled = trace.final_values >= 0
    slots = np.arange(trace.final_ages.shape[0])
    if trace.memory_start == "trained":
        ax.plot(slots[trace.start_values >= 0], trace.start_ages[trace.start_values >= 0], ".", color="0.6",
                markersize=2, label="before the sequence")
    ax.plot(slots[filled], trace.final_ages[filled], ".", color="0.0", markersize=2, label="after it")
    ax.set_title(f"ages of the filled slots ({int(filled.sum()):,} of {filled.size:,} filled at the end)",
                 fontsize=9, loc="left")
    ax.set_xlabel("slot", fontsize=8)
    ax.set_ylabel("age (steps)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(frameon=False, fontsize=7)
    fig.suptitle(f"{title}\ncost {trace.cost:.3g} bits; memory starts {trace.memory_start}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
