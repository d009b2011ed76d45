"""Building a model from its config, and counting its parameters."""

from __future__ import annotations

import jax
from flax import nnx

from ntm_cli.models.config import DNCConfig, KVMemoryConfig, LSTMConfig, ModelConfig, ModelConfigError, NTMConfig
from ntm_cli.models.dnc import DNC
from ntm_cli.models.kv_memory import KVMemory
from ntm_cli.models.lstm import LSTMBaseline
from ntm_cli.models.ntm import NTM


def build_model(config: ModelConfig, input_size: int, output_size: int, key: jax.Array) -> nnx.Module:
    """Builds the model a config describes, its parameters drawn from `key`."""
    rngs = nnx.Rngs(params=key)
    if isinstance(config, NTMConfig):
        return NTM(config, input_size, output_size, rngs=rngs)
    if isinstance(config, DNCConfig):
        return DNC(config, input_size, output_size, rngs=rngs)
    if isinstance(config, KVMemoryConfig):
        return KVMemory(config, input_size, output_size, rngs=rngs)
    if isinstance(config, LSTMConfig):
        return LSTMBaseline(config, input_size, output_size, rngs=rngs)
    raise ModelConfigError(f"unknown model config {type(config).__name__}.")


def count_params(model: nnx.Module) -> int:
    """Trainable parameters (nnx.Param entries), the fixed initial memory excluded."""
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
