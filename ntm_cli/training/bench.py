"""`ntm bench`: training and evaluation throughput, compile time and memory, measured after warm-up.

Timing protocol: the training chunk is compiled ahead of time (compile time measured alone),
called a few times to warm up, then timed over several repeats of several calls each; the
figures are the median, min and max over repeats. The compiled chunk rejects inputs of other
types, so a silent recompile cannot hide in the timings.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import resource
import statistics
import time
from typing import Any

import jax
import numpy as np

from ntm_cli.config import TrainConfig
from ntm_cli.experiments.presets import preset_config
from ntm_cli.training.trainer import Trainer

# (model, batch size): the paper's copy configurations.
DEFAULT_CASES = (("ntm-lstm", 32), ("ntm-lstm", 1), ("ntm-ff", 32), ("lstm", 32))


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    device = jax.devices()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "backend": jax.default_backend(),
        "device": getattr(device, "device_kind", str(device)),
        "devices": len(jax.local_devices()),
        "jax": jax.__version__,
        "python": platform.python_version(),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_config(config: TrainConfig, repeats: int = 5, calls: int = 5, warmup: int = 3,
                 devices: list | None = None) -> dict[str, Any]:
    """Measures one training configuration (one seed), on `devices` (default: all local ones).

    Returns:
      sequences per second and milliseconds per optimiser step (median, min, max over repeats),
      compile seconds, evaluation sequences per second, and peak memory.
    """
    trainer = Trainer(config, [0], devices)
    state = trainer.initial_state()
    trainer.compile(state, reuse=False)  # compile time measured, not a kept program's
    step, end = 0, 2**31 - 1
    for _ in range(warmup):
        state, metrics = trainer.train_chunk(state, step, end)
        step += config.steps_per_call
    jax.block_until_ready(state)
    per_step = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            state, metrics = trainer.train_chunk(state, step, end)
            step += config.steps_per_call
        jax.block_until_ready((state, metrics))
        per_step.append((time.perf_counter() - start) / (calls * config.steps_per_call))

    trainer.evaluate(state)  # warm-up (compiled with the chunk)
    eval_times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(trainer.evaluate(state))
        eval_times.append(time.perf_counter() - start)

    ms = [1000 * t for t in per_step]
    return {
        "task": config.task,
        "model": config.model_name,
        "batch_size": config.batch_size,
        "steps_per_call": config.steps_per_call,
        "params": trainer.params_count,
        "devices": trainer.layout.count,
        "train_sequences_per_second": config.batch_size / statistics.median(per_step),
        "train_sequences_per_second_min": config.batch_size / max(per_step),
        "train_sequences_per_second_max": config.batch_size / min(per_step),
        "ms_per_step": statistics.median(ms),
        "ms_per_step_min": min(ms),
        "ms_per_step_max": max(ms),
        "compile_seconds": trainer.compile_seconds,
        "eval_sequences_per_second": config.eval_batch_size / statistics.median(eval_times),
        "peak_memory_mb": peak_rss_mb(),
        # the life-long memory the training state carries (a key-value memory's; 0 for the others)
        "lifelong_memory_mb": sum(x.nbytes for x in jax.tree.leaves(state.memory)) / 2**20,
        "finite": bool(np.all(np.isfinite(np.asarray(metrics.cost)))),
    }


def case_config(task: str, model: str, batch_size: int, steps_per_call: int) -> TrainConfig:
    """The fast preset's model and training for a task (the NTMs and the LSTM: the paper's sizes,
    memory 128 x 20; the DNC: its own memory size), at a batch size."""
    config = preset_config("fast", task, model)
    return dataclasses.replace(config, batch_size=batch_size, steps_per_call=steps_per_call,
                               report_every=steps_per_call)


def help_seconds(repeats: int = 5) -> float:
    """Median wall time of `ntm --help` in a fresh interpreter."""
    import subprocess
    import sys

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from ntm_cli.cli import main; main()", "--help"],
                       capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
