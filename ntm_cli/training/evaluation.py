"""Evaluation of a run's checkpoint on many held-out batches, at training and generalisation sizes."""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from ntm_cli import runs
from ntm_cli.training import resources
from ntm_cli.config import TrainConfig
from ntm_cli.training.devices import Layout, evaluation_layout
from ntm_cli.errors import InputError
from ntm_cli.models.config import MEMORY_STARTS
from ntm_cli.tasks.base import Task
from ntm_cli.training.checkpoints import load_checkpoint
from ntm_cli.training.session import accuracies
from ntm_cli.training.trainer import EVAL_KEY_SEED, Trainer, eval_model_key, score_counts, sequence_metrics


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
        reason = {"ntm": "its learned initial weightings have one entry per row",
                  "kv": "its memory's size is part of the model it trained (a life-long one holds what it learned)",
                  }.get(config.model.kind, "it has no memory")
        raise InputError(f"--memory-rows applies to DNC runs only, not to this {config.model_name} run: {reason}.")
    return None if memory_rows == config.model.memory_rows else memory_rows


def with_memory_rows(config: TrainConfig, memory_rows: int | None) -> TrainConfig:
    """The run's config with its DNC on `memory_rows` rows (see `other_memory_rows`)."""
    rows = other_memory_rows(config, memory_rows)
    if rows is None:
        return config
    return dataclasses.replace(config, model=dataclasses.replace(config.model, memory_rows=rows))


def eval_file_name(memory_rows: int | None, memory_start: str | None = None) -> str:
    """'eval.json'; 'eval-n<rows>.json' for a DNC evaluated on another memory size (as
    `other_memory_rows` gives it), and 'eval-empty.json' for a life-long memory evaluated from
    an empty one, so that the evaluation as trained is kept."""
    if memory_rows is not None:
        return f"eval-n{memory_rows}.json"
    return "eval-empty.json" if memory_start == "empty" else runs.EVAL


class LoadedRun(NamedTuple):
    """A run's model at one checkpoint, ready to apply (one seed, no seed axis).

    Attributes:
      trainer: the run's Trainer (its task, graphdef and config).
      params: the checkpoint's parameters.
      rest: the model's non-trained state (a fixed initial memory).
      memory: the life-long memory the checkpoint holds (() for a model without one).
      meta: the checkpoint's counters, its step among them, and its `path`.
    """

    trainer: Trainer
    params: Any
    rest: Any
    memory: Any
    meta: dict[str, Any]


def check_memory_start(config: TrainConfig, start: str | None) -> str | None:
    """`--start-memory` checked against a run: where evaluation's sequences start from, 'trained'
    (the life-long memory as training left it; the default) or 'empty'; None for a run that
    keeps no memory between sequences.

    Raises:
      InputError: a value given for a run with no life-long memory, or an unknown one.
    """
    lifelong = getattr(config.model, "scope", None) == "lifelong"
    if start is None:
        return "trained" if lifelong else None
    if start not in MEMORY_STARTS:
        raise InputError(f"--start-memory must be 'trained' or 'empty', got {start!r}.")
    if not lifelong:
        raise InputError(f"--start-memory applies to runs with a life-long memory (kv-ff or kv-lstm with "
                         f"--memory-scope lifelong), not to this {config.model_name} run, whose sequences "
                         "each start from a memory of their own.")
    return start


def load_run(run_dir: Path, checkpoint: str = "best", memory_rows: int | None = None,
             config: TrainConfig | None = None, memory_start: str | None = None) -> LoadedRun:
    """A run's model, ready to apply.

    `checkpoint` is 'best' (falling back to 'latest' before the first evaluation) or 'latest'.
    `memory_rows` runs a DNC on a memory of another size (see `with_memory_rows`).
    `memory_start` 'empty' replaces a life-long memory by an empty one (see
    `check_memory_start`). `config` is the run's config if the caller has already read it.

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
    memory = template.memory if memory_start == "empty" else state.memory
    return LoadedRun(trainer, state.params, rest, memory, {**meta, "path": str(path)})


def sequences_floor(task: Task, base: jax.Array, batches: int, batch_size: int, count: int) -> np.ndarray | None:
    """What the Bayes-optimal predictor pays, `[count]` bits, on the held-out sequences
    `heldout_metrics` draws from `fold_in(base, b)` for b < `batches`; None where the task computes
    no such cost (`Task.optimal_costs`)."""
    if not task.computes_optimal_costs:
        return None
    costs = [task.optimal_costs(task.sample(jax.random.fold_in(base, b), batch_size)) for b in range(batches)]
    return None if costs[0] is None else np.concatenate([np.asarray(c) for c in costs])[:count]


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 7))
def heldout_metrics(graphdef: nnx.GraphDef, task: Task, batch_size: int, params: Any, rest: Any, memory: Any,
                    key: jax.Array, layout: Layout = Layout(None, None), data: Any = ()):
    """Cost and errors `[B]` of a model on a batch of a task drawn from `key` (every sequence
    starting from `memory`), and the task's scores (right answers, answers) summed over it; the
    batch split across the layout's devices. `data`: the batch's sequences of a task that holds
    them (`Task.heldout_batches`; an argument, never a constant of the program). Compiled once per
    model structure, task, batch size and layout (so several runs of one configuration, or one run
    evaluated again, reuse it)."""
    batch = layout.constrain_batch(task.with_device_data(data).sample(key, batch_size))
    out = nnx.merge(graphdef, params, rest).run(batch, memory, eval_model_key())
    cost, errors = sequence_metrics(out.logits, batch.targets, batch.mask, task.output_kind, out.answers)
    return cost, errors, score_counts(task, out.logits, batch, out.answers)


_PROGRAMS: dict[Any, Any] = {}


def metrics_program(graphdef: nnx.GraphDef, task: Task, batch_size: int, params: Any, rest: Any, memory: Any,
                    key: jax.Array, label: str, layout: Layout = Layout(None, None), data: Any = ()):
    """`heldout_metrics` compiled ahead of time for these shapes and layout, called as
    `program(params, rest, memory, key, data)` (`data`: a held-out batch's arrays, or ()); kept for
    the next run of the same structure.

    Raises:
      InputError: the program needs more memory than this machine has (`label` names the size).
    """
    shapes = tuple((x.shape, str(x.dtype)) for x in jax.tree.leaves((params, rest, memory)))
    spec = (graphdef, task, batch_size, jax.tree.structure((params, rest, memory)), shapes, layout)
    if spec not in _PROGRAMS:  # the batch's own size is checked by the caller, before any is compiled
        compiled = heldout_metrics.lower(graphdef, task, batch_size, params, rest, memory, key, layout, data).compile()
        resources.check_fits(resources.program_bytes(compiled), f"evaluating at {label}, batch {batch_size},")
        _PROGRAMS[spec] = compiled
    return _PROGRAMS[spec]


def evaluate_run(
    run_dir: Path, variants: dict[str, Task] | None = None, batches: int = 10, batch_size: int = 100,
    checkpoint: str = "best", memory_rows: int | None = None, devices: list[jax.Device] | None = None,
    memory_start: str | None = None, say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Cost and errors of a run's checkpoint on `batches` held-out batches per size; `say` (a
    line on stderr, from the command line) hears what it is doing before each slow part: the
    compilation of every size, then each size with its sequence length.

    The held-out batches come from fixed keys (distinct from any training data), the same for
    every run, so runs are compared on the same sequences; a task with a held-out split (classes
    training never saw) draws them from it. `memory_rows` evaluates a DNC on a memory of another
    size than it trained with; `memory_start` ('trained' or 'empty') is where a life-long
    memory's held-out sequences start from (see `check_memory_start`). Each batch is split
    across `devices` (default: every local device) where its size divides.

    Returns:
      A dict for eval.json: the run, the checkpoint's step, where the memory started, and per
      size the mean cost and errors per sequence, the cost's standard error, the chance-level
      and floor costs, a class task's scores, and for a memory model the memory rows it was
      evaluated with.
    """
    trained = runs.read_config(run_dir)
    trained_rows = getattr(trained.model, "memory_rows", None)
    start = check_memory_start(trained, memory_start)
    loaded = load_run(run_dir, checkpoint, memory_rows, config=trained, memory_start=start)
    trainer, params, rest, memory, meta = loaded
    config = trainer.config
    path = Path(meta["path"])
    variants = variants if variants is not None else trainer.task.evaluation_variants()
    variants = {label: task.heldout() for label, task in variants.items()}
    trained_sizes = (trainer.task.input_size, trainer.task.output_size, trainer.task.output_kind)
    for label, task in variants.items():  # other data (`ntm eval --data`) must fit the model
        if (task.input_size, task.output_size, task.output_kind) != trained_sizes:
            raise InputError(f"{label} has {task.input_size} inputs and {task.output_size} outputs ({task.output_kind}), "
                             f"and {run_dir} trained on {trained_sizes[0]} inputs and {trained_sizes[1]} outputs "
                             f"({trained_sizes[2]}).")

    base = jax.random.fold_in(jax.random.key(EVAL_KEY_SEED), 1)
    layout = evaluation_layout(devices if devices is not None else jax.local_devices(), batch_size)
    if layout.mesh is not None:  # the model on every device, each batch split along B
        params, rest, memory = jax.device_put((params, rest, memory), NamedSharding(layout.mesh, PartitionSpec()))
    # every size compiled, and checked against this machine's memory, before any is evaluated
    tell = say if say is not None else (lambda line: None)
    for label, task in variants.items():  # the sizes alone first: an impossible one is refused before any line
        resources.check_fits(resources.batch_bytes(task, batch_size) * 3, f"evaluating at {label}, batch {batch_size},")
    tell(f"{run_dir}: compiling the held-out pass at {len(variants)} size{'s' if len(variants) > 1 else ''} ...")
    held = {label: task.heldout_batches(batch_size) for label, task in variants.items()}  # an archive's: each once
    programs = {label: metrics_program(trainer.graphdef, task, batch_size, params, rest, memory, base, label, layout,
                                       held[label][0][0] if held[label] else ())
                for label, task in variants.items()}
    results = []
    for label, task in variants.items():
        if held[label] is None:  # `batches` batches drawn from fixed keys
            datas, count = [()] * batches, batches * batch_size
            tell(f"{run_dir}: {label} (T={task.max_time}), {batches} batch{'es' if batches > 1 else ''} of "
                 f"{batch_size} ...")
        else:
            datas, count = held[label]
            tell(f"{run_dir}: {label} (T={task.max_time}), each of its {count:,} held-out sequences once, "
                 f"in {len(datas)} batch{'es' if len(datas) > 1 else ''} of {batch_size} ...")
        outs = [programs[label](params, rest, memory, jax.random.fold_in(base, b), data)
                for b, data in enumerate(datas)]
        cost = np.concatenate([np.asarray(o[0]) for o in outs])[:count]
        errors = np.concatenate([np.asarray(o[1]) for o in outs])[:count]
        counts = {key: (sum(float(o[2][key][0]) for o in outs), sum(float(o[2][key][1]) for o in outs))
                  for key in outs[0][2]}
        floor = sequences_floor(task, base, len(datas), batch_size, count) if held[label] is None else None
        results.append({
            "label": label,
            "sizes": task.sizes(),
            "T": task.max_time,
            "sequences": int(cost.size),
            "cost": float(cost.mean()),
            "cost_se": float(cost.std(ddof=1) / math.sqrt(cost.size)) if cost.size > 1 else 0.0,
            "bit_errors": float(errors.mean()),
            "chance_cost": task.chance_cost,
            # the Bayes-optimal cost on these sequences where the task computes it (`Task.optimal_costs`),
            # and the paired standard error of the cost above it; else the expected floor
            "floor_cost": task.floor_cost() if floor is None else float(floor.mean()),
            "expected_floor_cost": task.floor_cost(),
            **({"above_floor_se": float((cost - floor).std(ddof=1) / math.sqrt(cost.size))}
               if floor is not None and cost.size > 1 else {}),
            **({"scores": accuracies(counts), "score_counts": {k: list(v) for k, v in counts.items()}}
               if counts else {}),
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
        "errors": trainer.task.error_name,
        **({"score_notes": notes} if (notes := trainer.task.score_notes(int(meta["step"]) * config.batch_size)) else {}),
        **({"memory_start": start} if start is not None else {}),
        **({"memory_rows": config.model.memory_rows, "trained_memory_rows": trained_rows} if trained_rows else {}),
        "results": results,
    }
