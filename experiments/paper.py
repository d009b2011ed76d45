"""The paper's model settings, Tables 1-3 of Graves et al. (2014); memory 128 x 20 everywhere.

"Heads" are read/write pairs; an LSTM controller written "2x100" has two layers of 100. The
parameter counts are the paper's, kept to compare with ours (`ntm params`), not to force.
The paper's readings of its learning curves belong to each task (`Task.paper`).
"""

from __future__ import annotations

from typing import NamedTuple

from ntm_cli.models.config import ModelConfig, named_config


class PaperModel(NamedTuple):
    task: str  # canonical task name
    model: str  # "ntm-ff", "ntm-lstm" or "lstm"
    heads: int  # read/write head pairs (0 for the LSTM baseline)
    sizes: tuple[int, ...]  # controller layer sizes, or the baseline's layers x size
    learning_rate: float  # RMSProp (Graves form), momentum 0.9
    params: int  # the paper's parameter count

    @property
    def label(self) -> str:
        """'100', or 'layers x size' such as '3x256'."""
        return f"{len(self.sizes)}x{self.sizes[0]}" if len(self.sizes) > 1 else str(self.sizes[0])

    def config(self) -> ModelConfig:
        """Our model config for this paper setting."""
        if self.model == "lstm":
            return named_config("lstm", num_layers=len(self.sizes), hidden_size=self.sizes[0])
        return named_config(self.model, controller_sizes=self.sizes, num_read_heads=self.heads,
                            num_write_heads=self.heads, memory_rows=128, memory_width=20)


PAPER_MODELS: tuple[PaperModel, ...] = (
    PaperModel("copy", "ntm-ff", 1, (100,), 1e-4, 17_162),
    PaperModel("copy", "ntm-lstm", 1, (100,), 1e-4, 67_561),
    PaperModel("copy", "lstm", 0, (256, 256, 256), 3e-5, 1_352_969),
    PaperModel("repeat-copy", "ntm-ff", 1, (100,), 1e-4, 16_712),
    PaperModel("repeat-copy", "ntm-lstm", 1, (100,), 1e-4, 66_111),
    PaperModel("repeat-copy", "lstm", 0, (512, 512, 512), 3e-5, 5_312_007),
    PaperModel("associative-recall", "ntm-ff", 4, (256,), 1e-4, 146_845),
    PaperModel("associative-recall", "ntm-lstm", 1, (100,), 1e-4, 70_330),
    PaperModel("associative-recall", "lstm", 0, (256, 256, 256), 1e-4, 1_344_518),
    PaperModel("dynamic-ngrams", "ntm-ff", 1, (100,), 3e-5, 14_656),
    PaperModel("dynamic-ngrams", "ntm-lstm", 1, (100,), 3e-5, 61_749),
    PaperModel("dynamic-ngrams", "lstm", 0, (128, 128, 128), 1e-4, 331_905),
    PaperModel("priority-sort", "ntm-ff", 8, (512,), 3e-5, 508_305),
    PaperModel("priority-sort", "ntm-lstm", 5, (100, 100), 3e-5, 269_038),
    PaperModel("priority-sort", "lstm", 0, (128, 128, 128), 3e-5, 384_424),
)


def paper_model(task: str, model: str) -> PaperModel | None:
    """The paper's setting for a canonical task name and model name, if the paper has one."""
    return next((p for p in PAPER_MODELS if p.task == task and p.model == model), None)


def paper_param_rows() -> list[dict]:
    """One dict per paper configuration: task, model, heads, sizes, ours, paper, difference in %.

    `ours_learned_memory` adds the N x M initial memory, for NTMs built with `memory_init="learned"`.
    Models are built abstractly (`nnx.eval_shape`), so nothing is initialised or allocated.
    """
    import jax
    from flax import nnx

    from ntm_cli.models.build import build_model, count_params
    from ntm_cli.tasks import make_task

    rows = []
    for entry in PAPER_MODELS:
        task = make_task(entry.task)
        config = entry.config()
        model = nnx.eval_shape(lambda: build_model(config, task.input_size, task.output_size, jax.random.key(0)))
        ours = count_params(model)
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
