"""Parameter counts of the paper's configurations, ours beside the paper's."""

from __future__ import annotations

import jax
from flax import nnx

from experiments.paper import PAPER_MODELS
from ntm_cli.models import build_model, count_params
from tasks import make_task


def paper_param_rows() -> list[dict]:
    """One dict per paper configuration: task, model, heads, sizes, ours, paper, difference in %.

    `ours_learned_memory` adds the N x M initial memory, for NTMs built with `memory_init="learned"`.

    Models are built abstractly (`nnx.eval_shape`), so nothing is initialised or allocated.
    """
    rows = []
    for entry in PAPER_MODELS:
        task = make_task(entry.task)
        model = nnx.eval_shape(
            lambda: build_model(entry.config(), task.input_size, task.output_size, jax.random.key(0))
        )
        ours = count_params(model)
        config = entry.config()
        # The paper resets memory to a (learned) bias; our default is the constant 1e-6.
        learned_memory = None if entry.model == "lstm" else ours + config.memory_rows * config.memory_width
        rows.append(
            {
                "task": entry.task,
                "model": entry.model,
                "heads": entry.heads,
                "size": entry.label,
                "learning_rate": entry.learning_rate,
                "input_size": task.input_size,
                "output_size": task.output_size,
                "ours": ours,
                "ours_learned_memory": learned_memory,
                "paper": entry.params,
                "difference_percent": round(100.0 * (ours - entry.params) / entry.params, 2),
            }
        )
    return rows
