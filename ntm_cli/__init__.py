"""ntm: train, compare and understand Neural Turing Machines on the paper's algorithmic tasks.

The CLI (`ntm_cli.cli`) imports JAX only inside the commands that need it, so `ntm --help`
answers at once.
"""

__version__ = "0.1.0"


def load_run(path, checkpoint: str = "best"):
    """A finished run's trained model: `.config`, `.params` (by name) and `.apply(inputs, targets,
    mask)` -> logits, as `ntm eval` runs it (see `ntm_cli.training.export.load_model`). Imports
    JAX on first call."""
    from ntm_cli.training.export import load_model

    return load_model(path, checkpoint)
