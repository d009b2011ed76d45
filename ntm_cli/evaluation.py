"""Evaluation of a run's checkpoint on many held-out batches, at training and generalisation sizes."""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from ntm_cli import resources, runs
from ntm_cli.config import TrainConfig
from ntm_cli.devices import Layout, evaluation_layout
from ntm_cli.errors import InputError
from ntm_cli.tasks.base import Task
from ntm_cli.train_loop import load_checkpoint
from ntm_cli.training import EVAL_KEY_SEED, Trainer, sequence_metrics


def other_memory_rows(config: TrainConfig, memory_rows: int | None) -> int | None:
    """`--memory-rows` checked against a run: the rows to run its DNC on, or None for the
    memory it trained with (not given, or the trained size).

    A DNC's parameters do not depend on N (its memory, usage and links start at zero), so a DNC
    trained on N rows runs on any other N: longer sequences than fit in the trained memory can
    then be tested. An NTM's learned initial weightings have one entry per row, so it cannot.

    Raises:
      InputError: rows given for a run that is not a DNC (even its own size).
    """
    if memory_rows is None:
        return None
    if config.model.kind != "dnc":
        reason = ("its learned initial weightings have one entry per row" if config.model.kind == "ntm"
                  else "it has no memory")
        raise InputError(f"--memory-rows applies to DNC runs only, not to this {config.model_name} run: {reason}.")
    return None if memory_rows == config.model.memory_rows else memory_rows


def with_memory_rows(config: TrainConfig, memory_rows: int | None) -> TrainConfig:
    """The run's config with its DNC on `memory_rows` rows (see `other_memory_rows`)."""
    rows = other_memory_rows(config, memory_rows)
    if rows is None:
        return config
    return dataclasses.replace(config, model=dataclasses.replace(config.model, memory_rows=rows))


def eval_file_name(memory_rows: int | None) -> str:
    """'eval.json', or 'eval-n<rows>.json' for a DNC evaluated on another memory size (as
    `other_memory_rows` gives it), so that the evaluation at the trained size is kept."""
    return runs.EVAL if memory_rows is None else f"eval-n{memory_rows}.json"


def load_run(run_dir: Path, checkpoint: str = "best", memory_rows: int | None = None,
             config: TrainConfig | None = None) -> tuple[Trainer, Any, Any, dict[str, Any]]:
    """A run's model, ready to apply: (trainer, parameters, non-trained state, checkpoint meta).

    `checkpoint` is 'best' (falling back to 'latest' before the first evaluation) or 'latest';
    meta holds the checkpoint's step and its `path`. `memory_rows` runs a DNC on a memory of
    another size (see `with_memory_rows`). `config` is the run's config if the caller has
    already read it.

    Raises:
      RunFolderError: not a run folder, or no readable checkpoint of this run's shape.
      InputError: `memory_rows` for a run that is not a DNC.
    """
    config = with_memory_rows(config if config is not None else runs.read_config(run_dir), memory_rows)
    trainer = Trainer(config, [config.seed], jax.local_devices()[:1])
    path = runs.checkpoint_path(run_dir, checkpoint)
    if checkpoint == "best" and not path.is_file():
        path = runs.checkpoint_path(run_dir, "latest")
    template = jax.tree.map(lambda x: x[0], trainer.initial_state())
    state, meta = load_checkpoint(path, template)
    rest = jax.tree.map(lambda x: x[0], trainer.rest)
    return trainer, state.params, rest, {**meta, "path": str(path)}


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 6))
def heldout_metrics(graphdef: nnx.GraphDef, task: Task, batch_size: int, params: Any, rest: Any,
                    key: jax.Array, layout: Layout = Layout(None, None)) -> tuple[jax.Array, jax.Array]:
    """Cost and bit errors `[B]` of a model on a batch of a task drawn from `key`, the batch
    split across the layout's devices; compiled once per model structure, task, batch size and
    layout (so several runs of one configuration, or one run evaluated again, reuse it)."""
    batch = layout.constrain_batch(task.sample(key, batch_size))
    logits = nnx.merge(graphdef, params, rest)(batch.inputs)
    return sequence_metrics(logits, batch.targets, batch.mask)


_PROGRAMS: dict[Any, Any] = {}


def metrics_program(graphdef: nnx.GraphDef, task: Task, batch_size: int, params: Any, rest: Any, key: jax.Array,
                    label: str, layout: Layout = Layout(None, None)):
    """`heldout_metrics` compiled ahead of time for these shapes and layout, called as
    `program(params, rest, key)`; kept for the next run of the same structure.

    Raises:
      InputError: the program needs more memory than this machine has (`label` names the size).
    """
    shapes = tuple((x.shape, str(x.dtype)) for x in jax.tree.leaves((params, rest)))
    spec = (graphdef, task, batch_size, jax.tree.structure((params, rest)), shapes, layout)
    if spec not in _PROGRAMS:
        resources.check_fits(resources.batch_bytes(task, batch_size) * 3, f"evaluating at {label}, batch {batch_size},")
        compiled = heldout_metrics.lower(graphdef, task, batch_size, params, rest, key, layout).compile()
        resources.check_fits(resources.program_bytes(compiled), f"evaluating at {label}, batch {batch_size},")
        _PROGRAMS[spec] = compiled
    return _PROGRAMS[spec]


def evaluate_run(
    run_dir: Path, variants: dict[str, Task] | None = None, batches: int = 10, batch_size: int = 100,
    checkpoint: str = "best", memory_rows: int | None = None, devices: list[jax.Device] | None = None,
) -> dict[str, Any]:
    """Cost and bit errors of a run's checkpoint on `batches` held-out batches per size.

    The held-out batches come from fixed keys (distinct from any training data), the same for
    every run, so runs are compared on the same sequences. `memory_rows` evaluates a DNC on a
    memory of another size than it trained with. Each batch is split across `devices` (default:
    every local device) where its size divides.

    Returns:
      A dict for eval.json: the run, the checkpoint's step, and per size the mean cost and bit
      errors per sequence, the cost's standard error, the chance-level and floor costs, and for
      a memory model the memory rows it was evaluated with.
    """
    trained = runs.read_config(run_dir)
    trained_rows = getattr(trained.model, "memory_rows", None)
    trainer, params, rest, meta = load_run(run_dir, checkpoint, memory_rows, config=trained)
    config = trainer.config
    path = Path(meta["path"])
    variants = variants if variants is not None else trainer.task.evaluation_variants()

    base = jax.random.fold_in(jax.random.key(EVAL_KEY_SEED), 1)
    layout = evaluation_layout(devices if devices is not None else jax.local_devices(), batch_size)
    if layout.mesh is not None:  # the model on every device, each batch split along B
        params, rest = jax.device_put((params, rest), NamedSharding(layout.mesh, PartitionSpec()))
    # every size compiled, and checked against this machine's memory, before any is evaluated
    programs = {label: metrics_program(trainer.graphdef, task, batch_size, params, rest, base, label, layout)
                for label, task in variants.items()}
    results = []
    for label, task in variants.items():
        cost, errors = zip(*(programs[label](params, rest, jax.random.fold_in(base, b)) for b in range(batches)))
        cost, errors = np.concatenate([np.asarray(c) for c in cost]), np.concatenate([np.asarray(e) for e in errors])
        results.append({
            "label": label,
            "sizes": task.sizes(),
            "T": task.max_time,
            "sequences": int(cost.size),
            "cost": float(cost.mean()),
            "cost_se": float(cost.std(ddof=1) / math.sqrt(cost.size)) if cost.size > 1 else 0.0,
            "bit_errors": float(errors.mean()),
            "chance_cost": task.chance_cost,
            "floor_cost": task.floor_cost(),
        })
    return {
        "run_dir": str(run_dir),
        "task": config.task,
        "model": config.model_name,
        "seed": config.seed,
        "checkpoint": path.stem,
        "step": int(meta["step"]),
        "sequences_trained": int(meta["step"]) * config.batch_size,
        "devices": layout.count,
        **({"memory_rows": config.model.memory_rows, "trained_memory_rows": trained_rows} if trained_rows else {}),
        "results": results,
    }
