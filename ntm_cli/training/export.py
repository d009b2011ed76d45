"""A trained model out of ntm: `ntm export RUN` writes a folder that JAX alone can run, and
`load_model` gives a run's model as a Python callable.

The export folder:

    model.jaxexport   the forward pass, serialised by `jax.export` (StableHLO), for any batch size:
                      logits [T, B, out] = f(params, inputs [T, B, in], targets [T, B, out], mask [T, B])
                      (targets matter only to the key-value memory, which writes each sequence's
                      labels as it reads them; give zeros elsewhere)
    params.npz        the parameters, one array per name (the dict `f` takes)
    orbax/            the same parameters as an Orbax checkpoint (nested, as Flax restores them)
    config.json       the run's config, the task's sizes and T, and the checkpoint's step
    README.txt        the five lines that run it

In a Python without this package:

    import jax, numpy as np
    f = jax.export.deserialize(open("model.jaxexport", "rb").read())
    params = dict(np.load("params.npz"))
    logits = f.call(params, inputs, targets, mask)
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ntm_cli import runs
from ntm_cli.config import TrainConfig
from ntm_cli.errors import InputError
from ntm_cli.storage import check_writable, write_failed
from ntm_cli.tasks.base import Batch
from ntm_cli.training.evaluation import load_run
from ntm_cli.training.trainer import eval_model_key

EXPORT_FILES = ("model.jaxexport", "params.npz", "config.json", "README.txt")

USAGE = """Run this model with JAX alone (no ntm needed):

    import jax, numpy as np
    f = jax.export.deserialize(open("model.jaxexport", "rb").read())
    params = dict(np.load("params.npz"))
    logits = f.call(params, inputs, targets, mask)   # [T, B, {inputs}] [T, B, {outputs}] [T, B] -> [T, B, {outputs}]

T is {time} (the task's padded length at its training sizes); a mask is 1 where a step is scored.
Outputs are logits: sigmoid for {kind}. Targets matter only to a key-value memory; else zeros.
"""


class Model(NamedTuple):
    """A run's trained model (`load_model`).

    Attributes:
      config: the run's TrainConfig.
      params: the parameters, by name (as params.npz holds them).
      apply: logits `[T, B, out]` = apply(inputs `[T, B, in]`, targets `[T, B, out]`, mask `[T, B]`),
        with these parameters; jitted.
      step: the checkpoint's training step.
    """

    config: TrainConfig
    params: dict[str, np.ndarray]
    apply: Callable[..., jax.Array]
    step: int


def _forward(run_dir: Path, checkpoint: str):
    """The run's forward pass as a pure function of (params by name, inputs, targets, mask), its
    parameters by name, and the loaded run."""
    loaded = load_run(run_dir, checkpoint)
    paths_leaves, treedef = jax.tree_util.tree_flatten_with_path(loaded.params)
    names = [jax.tree_util.keystr(path) for path, _ in paths_leaves]
    graphdef, rest, memory = loaded.trainer.graphdef, loaded.rest, loaded.memory

    def forward(params: dict[str, jax.Array], inputs: jax.Array, targets: jax.Array, mask: jax.Array) -> jax.Array:
        tree = jax.tree_util.tree_unflatten(treedef, [params[name] for name in names])
        return nnx.merge(graphdef, tree, rest).run(Batch(inputs, targets, mask), memory, eval_model_key()).logits

    params = {name: np.asarray(leaf) for name, (_, leaf) in zip(names, paths_leaves)}
    return forward, params, loaded


def _finished(run_dir: Path) -> None:
    runs.done_run(run_dir, ("finished",), f"export a finished run (`ntm train --resume {run_dir}` finishes it).")


def load_model(run_dir: Path | str, checkpoint: str = "best") -> Model:
    """A finished run's model, ready to call on a batch.

    Raises:
      InputError (RunFolderError among them): not a run folder, damaged, or not finished.
    """
    run_dir = Path(run_dir)
    _finished(run_dir)
    forward, params, loaded = _forward(run_dir, checkpoint)
    jitted = jax.jit(forward)
    return Model(loaded.trainer.config, params, lambda inputs, targets, mask: jitted(params, inputs, targets, mask),
                 int(loaded.meta["step"]))


def export_run(run_dir: Path, out: Path, checkpoint: str = "best") -> list[Path]:
    """Writes the export folder `out` (see the module's docstring) for a finished run; all of it
    or nothing.

    Raises:
      InputError: the run cannot be exported (see `load_model`), or `out` exists and is not an
        empty folder.
      StorageError: `out` cannot be written (checked before any work).
    """
    _finished(run_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out} exists and is not an empty folder; give a new one.")
    check_writable(out)
    forward, params, loaded = _forward(run_dir, checkpoint)
    task = loaded.trainer.task
    time, inputs, outputs = task.max_time, task.input_size, task.output_size
    (batch,) = jax.export.symbolic_shape("b")
    specs = ({name: jax.ShapeDtypeStruct(value.shape, value.dtype) for name, value in params.items()},
             jax.ShapeDtypeStruct((time, batch, inputs), jnp.float32),
             jax.ShapeDtypeStruct((time, batch, outputs), jnp.float32),
             jax.ShapeDtypeStruct((time, batch), jnp.float32))
    exported = jax.export.export(jax.jit(forward))(*specs)
    config = loaded.trainer.config
    description = {
        "config": config.to_dict(), "task": task.name, "task_sizes": task.sizes(), "max_time": time,
        "input_size": inputs, "output_size": outputs, "output_kind": task.output_kind,
        "checkpoint": checkpoint, "step": int(loaded.meta["step"]), "run_dir": str(run_dir),
        "call": "logits = f.call(params, inputs [T, B, in], targets [T, B, out], mask [T, B])",
    }
    usage = USAGE.format(inputs=inputs, outputs=outputs, time=time,
                         kind="each bit" if task.output_kind == "bits" else "a softmax over the classes")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as error:
        raise write_failed(out, error) from None
    try:
        (staging / "model.jaxexport").write_bytes(exported.serialize())
        np.savez(staging / "params.npz", **params)
        (staging / "config.json").write_text(json.dumps(description, indent=2) + "\n")
        (staging / "README.txt").write_text(usage)
        _orbax(staging / "orbax", loaded.params)
        staging.chmod(0o777 & ~runs.process_umask())
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    except OSError as error:
        raise write_failed(out, error) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in (*EXPORT_FILES, "orbax")]


def _orbax(path: Path, params: Any) -> None:
    """The parameters as an Orbax checkpoint of plain nested dicts (`nnx.State.to_pure_dict`)."""
    import orbax.checkpoint as ocp

    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(path.resolve(), nnx.to_pure_dict(params))
    checkpointer.wait_until_finished()
