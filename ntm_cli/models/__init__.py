"""Models: the NTM, the DNC, the key-value memory and the LSTM baseline, built from a config
behind one interface.

Every model is an `nnx.Module` with `run(batch, memory, key, carry, trace) -> Output` (see
`ntm_cli.models.base`); all but the key-value memory are also called as
`model(inputs [T, B, in]) -> logits [T, B, out]`, or `model(inputs, trace=True) -> (logits,
trace)` for the per-step weightings and memory.

The configs (`ntm_cli.models.config`) import no JAX, so the command line can check them at
start-up; the models and `build_model` load JAX when first used from here.
"""

from __future__ import annotations

from typing import Any

from ntm_cli.models.config import DNCConfig, KVMemoryConfig, LSTMConfig, ModelConfig, ModelConfigError, NTMConfig

_LAZY = {
    "DNC": "ntm_cli.models.dnc",
    "KVMemory": "ntm_cli.models.kv_memory",
    "LSTMBaseline": "ntm_cli.models.lstm",
    "NTM": "ntm_cli.models.ntm",
    "build_model": "ntm_cli.models.build",
    "count_params": "ntm_cli.models.build",
}

__all__ = ["DNCConfig", "KVMemoryConfig", "LSTMConfig", "ModelConfig", "ModelConfigError", "NTMConfig", *_LAZY]


def __getattr__(name: str) -> Any:
    """The JAX-backed parts, imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
