"""ntm: train, compare and understand Neural Turing Machines on the paper's algorithmic tasks.

The CLI (`ntm_cli.cli`) imports JAX only inside the commands that need it, so `ntm --help`
answers at once.
"""

__version__ = "0.1.0"
