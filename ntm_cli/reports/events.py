"""TensorBoard event files of runs (`--tensorboard`), written at every report: the training
session's `EventLog` (`TensorBoardEvents`), which the launcher gives it.

Each seed's run folder gets its own writer (tensorboardX: no TensorFlow needed), its event files
directly in the run folder, so that `tensorboard --logdir runs` shows every run under its
folder's name. The global step of every value is the count of training sequences (steps x
batch), the axis on which runs of different batch sizes line up.

Scalars (`report_scalars`): the metrics.jsonl row of the report, plus the learning rate and the
mean gradient norm of the interval. Images (`MemorySnapshot`, NTM and DNC runs): the figure
`ntm memory` draws (inputs, targets, outputs, each head's weighting, the final memory) for one
fixed sample, from the current parameters: a forward pass compiled once, and a matplotlib
figure, per image. The figure takes 0.3-0.6 s on a 2-core CPU, where the fast preset's report
interval trains ~2.5 s, so an image is drawn every IMAGE_EVERY-th report (and at the end of the
step budget), not at every one (`draws_image`).

A resumed run starts a new event file (one per process, as TensorBoard expects) that first
purges what an earlier process wrote after the checkpoint it resumes from (a process killed
after a report's events but before its checkpoint): no step is shown twice.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ntm_cli.reports.figures import MemoryTrace, has_memory_figure, memory_figure, trace_of_sample, trace_program
from ntm_cli.schema import MetricsRow
from ntm_cli.training.trainer import Trainer, TrainState

# A report's scalars: tag -> the MetricsRow field it shows.
ROW_TAGS = {
    "cost/train": "train_cost",
    "cost/held_out": "eval_cost",
    "bit_errors/train": "train_bit_errors",
    "bit_errors/held_out": "eval_bit_errors",
    "speed/sequences_per_second": "sequences_per_second",
    "optimizer/skipped_updates": "skipped_updates",
    "curriculum/stage": "curriculum_stage",
}
MEMORY_TAG = "memory/weightings"
IMAGE_EVERY = 5  # reports between images: the figure then costs ~3-5% of the fast preset's training time
# The sample the images show: example 0 of `sample(jax.random.key(MEMORY_SAMPLE_SEED), B)`, as
# `ntm memory RUN` draws it by default, at the training sizes; the same at every report.
MEMORY_SAMPLE_SEED = 0


class TensorBoardEvents:
    """The `EventLog` of a training session (`training.session`): a `RunEvents` per seed's run
    folder, and for an NTM or DNC the memory's figure at some reports (`draws_image`)."""

    def __init__(self):
        self.runs: list[RunEvents] = []
        self.snapshot: MemorySnapshot | None = None
        self.trainer: Trainer | None = None

    def open(self, run_dirs: list[Path], done_sequences: int, trainer: Trainer) -> None:
        """Starts a writer per run folder (in seed order), whose runs have trained
        `done_sequences` sequences before this process (0: new runs)."""
        self.trainer = trainer
        self.runs = [RunEvents(run_dir, done_sequences) for run_dir in run_dirs]
        self.snapshot = MemorySnapshot(trainer) if has_memory_figure(trainer.config.model.kind) else None

    def write(self, index: int, row: MetricsRow, learning_rate: float, gradient_norm: float | None,
              state: TrainState) -> None:
        """Seed `index`'s report (`report_scalars`), and at the reports that draw one the memory's
        figure from its parameters in `state` (every leaf `[S, ...]`)."""
        config, events = self.trainer.config, self.runs[index]
        events.scalars(row.sequences, report_scalars(row, learning_rate, gradient_norm))
        if self.snapshot is not None and draws_image(row.step, config.report_every, config.steps):
            title = f"{events.run_dir.name} after {row.sequences:,} sequences"
            image = self.snapshot.draw(seed_slice(state.params, index), seed_slice(self.trainer.rest, index), title)
            events.image(MEMORY_TAG, row.sequences, image)
        events.flush()

    def close(self) -> None:
        for events in self.runs:
            events.close()
        self.runs, self.snapshot = [], None


def report_scalars(row: MetricsRow, learning_rate: float, gradient_norm: float | None) -> dict[str, float]:
    """A report's values by tag, those with nothing to show (None) left out.

    Args:
      row: the report's metrics.jsonl row (costs in bits per sequence).
      learning_rate: the rate of the next update (`trainer.learning_rate_at`).
      gradient_norm: the mean over the interval's updates of ||g||_2 before clipping (None: no
        update since the last report).
    """
    values = {tag: getattr(row, field) for tag, field in ROW_TAGS.items()}
    values |= {f"accuracy/{score}": value for score, value in row.eval_scores.items()}
    values |= {"optimizer/learning_rate": learning_rate, "optimizer/gradient_norm": gradient_norm}
    return {tag: float(value) for tag, value in values.items() if value is not None}


class RunEvents:
    """One run folder's event writer.

    Args:
      run_dir: the run folder.
      done_sequences: the sequences the run has trained before this process (0: a new run).
    """

    def __init__(self, run_dir: Path, done_sequences: int):
        from tensorboardX import SummaryWriter

        # Events after the checkpoint resumed from are purged (and a new run's leftovers);
        # the name's suffix orders this process' file after earlier ones of the same second.
        purge = done_sequences + 1 if done_sequences else 0
        self.run_dir = run_dir
        self.writer = SummaryWriter(str(run_dir), purge_step=purge, filename_suffix=f".{time.time_ns()}")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def image(self, tag: str, step: int, image: np.ndarray) -> None:
        """`image`: `[H, W, 3]` uint8 RGB."""
        self.writer.add_image(tag, image, step, dataformats="HWC")

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class MemorySnapshot:
    """Draws the `ntm memory` figure of one fixed sample from a seed's current parameters.

    The forward pass with its trace is compiled on the first draw and reused at every later
    one (the parameters' shapes never change while training).
    """

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.batch = trainer.task.sample_at(jax.random.key(MEMORY_SAMPLE_SEED), 0)  # each leaf [T, 1, ...]
        self._compiled = None

    def trace(self, params: Any, rest: Any) -> MemoryTrace:
        """One seed's trace of the sample (`params`, `rest`: that seed's, no seed axis), as
        `reports.figures.memory_trace` makes it from a checkpoint."""
        params, rest = jax.device_get((params, rest))  # on the host: any layout's seed runs here
        if self._compiled is None:
            self._compiled = trace_program().lower(self.trainer.graphdef, params, rest, self.batch.inputs).compile()
        logits, trace = self._compiled(params, rest, self.batch.inputs)
        return trace_of_sample(self.batch, logits, trace, self.trainer.task.output_kind)

    def draw(self, params: Any, rest: Any, title: str) -> np.ndarray:
        """The figure of one seed's trace as an image `[H, W, 3]` uint8."""
        from PIL import Image

        with tempfile.TemporaryDirectory(prefix="ntm-memory-") as folder:
            path = memory_figure(self.trace(params, rest), Path(folder) / "memory.png", title)
            with Image.open(path) as image:
                return np.asarray(image.convert("RGB"))


def draws_image(step: int, report_every: int, steps: int) -> bool:
    """Whether the report at `step` draws the memory: every IMAGE_EVERY-th report interval
    (step 0 included) and the one at the end of the step budget."""
    return (step // report_every) % IMAGE_EVERY == 0 or step >= steps


def seed_slice(tree: Any, index: int) -> Any:
    """Seed `index` of a tree whose leaves have a leading seed axis `[S, ...]`."""
    return jax.tree.map(lambda x: x[index], tree)

