"""Checkpoints: one seed's training state and the host loop's counters, in one msgpack file
written atomically (`runs.atomic_write_bytes`), and read back into a state of the run's shape.

No pickle: the file holds arrays and numbers only (flax.serialization's msgpack), so a
checkpoint from elsewhere cannot run code. A checkpoint also holds the running sums of the
current report interval, so that a resumed run reports exactly what an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from ntm_cli import runs
from ntm_cli.errors import RunFolderError
from ntm_cli.schema import CHECKPOINT_META, CHECKPOINT_META_OPTIONAL, check_fields
from ntm_cli.training.trainer import TrainState


@dataclasses.dataclass
class RunProgress:
    """Host-side counters of one seed's run, saved in its checkpoints."""

    run_dir: Path
    best_eval_cost: float = math.inf  # the held-out cost of the best checkpoint
    best_eval_errors: float = math.inf  # its errors (what a class task's best is chosen by)
    solved_streak: int = 0  # the latest reports in a row that met the task's solved rule
    best_step: int = -1
    last_eval_cost: float = math.nan
    last_eval_bit_errors: float = math.nan
    last_eval_scores: dict[str, float] = dataclasses.field(default_factory=dict)  # a class task's accuracies
    skipped_at_report: int = 0  # non-finite updates skipped up to the last report
    diverged: str | None = None  # why the seed stopped as diverged (None: it has not)
    diverged_step: int | None = None


@dataclasses.dataclass
class LoopState:
    """Counters shared by the seeds trained together."""

    step: int = 0
    wall_time: float = 0.0  # seconds spent training (compiled calls), over all sessions
    # Running sums since the last report, per seed: cost, bit errors, gradient norm (of the steps
    # not skipped; None reads as zeros), steps.
    pending_cost: np.ndarray | None = None
    pending_errors: np.ndarray | None = None
    pending_gradient_norm: np.ndarray | None = None
    pending_steps: int = 0
    interval_time: float = 0.0


def _seed_slice(tree: Any, index: int) -> Any:
    return jax.tree.map(lambda x: np.asarray(x[index]), tree)


def save_checkpoint(path: Path, state: TrainState, index: int, loop: LoopState, progress: RunProgress) -> None:
    """Writes seed `index`'s state and counters to `path`, atomically."""
    leaves = jax.tree.leaves(_seed_slice(state, index))
    payload = {
        "leaves": {str(i): leaf for i, leaf in enumerate(leaves)},
        "meta": {
            "step": loop.step,
            "wall_time": loop.wall_time,
            "pending_cost": float(loop.pending_cost[index]),
            "pending_errors": float(loop.pending_errors[index]),
            "pending_gradient_norm": (0.0 if loop.pending_gradient_norm is None
                                      else float(loop.pending_gradient_norm[index])),
            "pending_steps": loop.pending_steps,
            "interval_time": loop.interval_time,
            "best_eval_cost": progress.best_eval_cost,
            "best_eval_errors": progress.best_eval_errors,
            "solved_streak": progress.solved_streak,
            "best_step": progress.best_step,
            "last_eval_cost": progress.last_eval_cost,
            "last_eval_bit_errors": progress.last_eval_bit_errors,
            "last_eval_scores": progress.last_eval_scores,
        },
    }
    runs.atomic_write_bytes(path, serialization.msgpack_serialize(payload))


def load_checkpoint(path: Path, template: TrainState) -> tuple[TrainState, dict[str, Any]]:
    """Reads a one-seed checkpoint into the structure of `template` (one seed, no seed axis).

    Raises:
      RunFolderError: the file is missing, corrupt, or holds a state of another shape (another config).
    """
    if not path.is_file():
        raise RunFolderError(f"{path} does not exist; the run has no checkpoint yet.")
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
        leaves = payload["leaves"]
        meta = check_fields(CHECKPOINT_META, payload["meta"], "its counters", CHECKPOINT_META_OPTIONAL)
    except Exception as error:  # msgpack raises several unrelated types on bad bytes
        reason = str(error) if isinstance(error, ValueError) and "counters" in str(error) else type(error).__name__
        raise RunFolderError(f"the checkpoint {path} is corrupt and cannot be read ({reason}).") from None
    expected, treedef = jax.tree.flatten(template)
    if len(leaves) != len(expected):
        raise RunFolderError(f"the checkpoint {path} does not match the run's configuration.")
    restored = []
    for i, want in enumerate(expected):
        got = np.asarray(leaves[str(i)])
        if got.shape != want.shape or got.dtype != want.dtype:
            raise RunFolderError(f"the checkpoint {path} does not match the run's configuration.")
        restored.append(jnp.asarray(got, dtype=want.dtype))
    return jax.tree.unflatten(treedef, restored), meta
