"""Training presets: `fast` (what trains quickest on a CPU) and `paper` (Tables 1-3 as printed).

A preset gives every field of a TrainConfig for a task and model; the CLI then applies the
user's overrides. Measurements behind `fast` are on a 2-core x86-64 CPU (the CI machine), JAX
0.10.2, with the figures recorded here:

- copy, NTM-LSTM, memory 128 x 20, lengths 1-20, Adam 1e-3, global-norm clip 50:
    batch 32:  ~465 sequences/s, 14.5 steps/s; after 440 steps (14k sequences, 30 s) the
               held-out cost was still ~83 bits (chance 84).
    batch 1:   ~450 sequences/s (450 steps/s); held-out cost 0.029 bits after 9,000 sequences
               (22 s of training on a loaded machine; 14.0 s alone), 0.008 after 12,000, 0.000 after 20,000.
  Per sequence, batch 1 was as fast as batch 32 on this CPU and needs far fewer sequences, so
  `fast` trains with batch 1. (REFERENCE.md section 5 suggested Adam 1e-3 at batch 32.)
  Since the speed work of issue 6 (experiments/benchmarks/README.md) batch 32 runs ~985
  sequences/s against ~705 at batch 1; batch 1 still solves copy in 7,000 sequences (10 s),
  and whether batch 32 now catches up has not been re-measured.
- Learning-rate decay: at a constant 1e-3, seed 0 on copy reached 0.007 bits and then
  spiked, ending its 20,000 steps at 2.7 bits (and a 60 s compare ended at 0.98 in a spike).
  Decaying it (cosine) to 1e-4 over the step budget: < 0.1 bits after 7,000 sequences as
  before, then smooth, ending at 0.0013 (three seeds: 0.0027-0.0052). Past the budget (a
  time-budgeted compare runs longer) it stays at 1e-4.
- Other tasks start from copy's setting with the paper's model sizes and have not been tuned
  separately; their step budgets are rough and can be changed with --steps or --time.
"""

from __future__ import annotations

import dataclasses

from ntm_cli.config import OptimizerConfig, TrainConfig
from ntm_cli.errors import InputError
from ntm_cli.experiments.paper import PAPER_MODELS, paper_model
from ntm_cli.models.config import MODEL_NAMES, DNCConfig, ModelConfig, NTMConfig

PRESETS = ("fast", "paper")

# `fast`: optimiser steps in the default budget (batch 1).
FAST_STEPS = {
    "copy": 20_000,
    "repeat-copy": 40_000,
    "associative-recall": 40_000,
    "dynamic-ngrams": 20_000,
    "priority-sort": 40_000,
}

# `fast`: each task's models. The NTMs and the LSTM baseline have the paper's sizes (Tables 1-3,
# memory 128 x 20); the DNC has the NTM-LSTM's controller (2 x 100 for sort) and a memory sized
# per task, for what the task stores at its training sizes: copy 20 vectors, repeat copy 10,
# recall 6 items of 3 vectors, sort 20 vectors (each with room to spare), N-grams one row per
# context (32 for 6-grams); width 20, one read and one write head (see the notes below).
#
# The DNC under `fast`: the NTM-LSTM's controller (100 units; 2 x 100 for sort), a memory
# sized per task (FAST_MODELS), and the NTM's `fast` training settings (Adam 1e-3 decaying to
# 1e-4, global-norm clipping at 50, batch 1, the same step budgets), so that the two compare
# on equal terms.
#
# Where this comes from: the DNC paper and deepmind/dnc train an LSTM controller with RMSProp
# or Adam and global-norm clipping at 50, on small memories with rows 16 to 20 wide
# (deepmind/dnc's repeat-copy example: 16 rows of 16, 4 read heads, 64 LSTM units, RMSProp
# 1e-4, batch 16). The NTM paper has no DNC, so there is no `paper` preset for it.
#
# Measured (2-core CPU, `ntm train TASK --model dnc --time 60`, seed 0; sequences/s here
# are whole-run averages, evaluations included, below `ntm bench`'s figures):
# - copy, 32 x 20: 806 sequences/s; < 0.1 bits/seq after 5,000 sequences (6 s), 4e-8 at
#   60 s. At 128 x 20 (the NTM's memory) it trains ~4.5x slower per sequence (`ntm bench`:
#   210 against 970 sequences/s). Its parameters do not depend on N, so
#   `ntm eval --memory-rows 128` tests it on lengths 30-120 (0 bits at 50).
# - repeat copy, 16 x 20, 1 read head: 399 sequences/s, 1.17 bits/seq after 60 s (23,940
#   sequences); 32 rows: 2.6 (14,640); 16 rows with 4 read heads: 1.8 (15,240), one seed each.
# - recall, N-grams and sort: sized as above, not tuned; sort gets one read and one write
#   head like the other tasks, not the NTM-LSTM's 5 of each (the paper's choice for the NTM).
FAST_MODELS: dict[tuple[str, str], ModelConfig] = {
    **{(p.task, p.model): p.config() for p in PAPER_MODELS},
    ("copy", "dnc"): DNCConfig(controller_sizes=(100,), memory_rows=32, memory_width=20),
    ("repeat-copy", "dnc"): DNCConfig(controller_sizes=(100,), memory_rows=16, memory_width=20),
    ("associative-recall", "dnc"): DNCConfig(controller_sizes=(100,), memory_rows=32, memory_width=20),
    ("dynamic-ngrams", "dnc"): DNCConfig(controller_sizes=(100,), memory_rows=32, memory_width=20),
    ("priority-sort", "dnc"): DNCConfig(controller_sizes=(100, 100), memory_rows=32, memory_width=20),
}

# `paper`: the horizon of the paper's learning curves, in sequences (= steps at batch 1).
PAPER_STEPS = {
    "copy": 1_000_000,
    "repeat-copy": 500_000,
    "associative-recall": 1_000_000,
    "dynamic-ngrams": 1_000_000,
    "priority-sort": 1_000_000,
}


# `ntm compare`'s default time per model, by task: what the fast preset's NTMs need to show the
# paper's result on this machine (the paper preset is given the same times).
COMPARE_BUDGET = {
    "copy": 60.0,
    "repeat-copy": 300.0,
    "associative-recall": 300.0,
    "dynamic-ngrams": 600.0,
    "priority-sort": 600.0,
}


def compare_budget(preset: str, task: str) -> float:
    """Seconds of training per model that `ntm compare` gives a task by default."""
    return COMPARE_BUDGET[task]


def preset_config(preset: str, task: str, model: str = "ntm-lstm", seed: int = 0) -> TrainConfig:
    """The TrainConfig a preset gives for a canonical task name and a model name.

    Raises:
      InputError: an unknown preset or model, or a pair the preset has no row for.
    """
    if preset not in PRESETS:
        raise InputError(f"Unknown preset '{preset}'; valid presets are {', '.join(PRESETS)}.")
    if model not in MODEL_NAMES:
        raise InputError(f"Unknown model '{model}'; valid models are {', '.join(MODEL_NAMES)}.")
    if preset == "paper":
        return _paper_config(task, model, seed)
    if (task, model) not in FAST_MODELS:
        raise InputError(f"the fast preset has no {model} for task {task}.")
    # fast: constant 1e-6 memory and head outputs clipped to +/-20 (the configs' defaults),
    # Adam 1e-3 decaying to 1e-4 over the budget, global-norm clipping at 50, batch 1.
    return TrainConfig(
        task=task, task_sizes={}, model=FAST_MODELS[task, model], preset=preset, seed=seed,
        optimizer=OptimizerConfig(name="adam", learning_rate=1e-3, clip_norm=50.0, decay_steps=FAST_STEPS[task]),
        batch_size=1, steps=FAST_STEPS[task], steps_per_call=10, report_every=1000, eval_batch_size=256,
    )


def _paper_config(task: str, model: str, seed: int) -> TrainConfig:
    """Tables 1-3 as printed: RMSProp in Graves' form, every gradient component clipped to 10, batch 1."""
    if model == "dnc":
        raise InputError("the paper preset has no DNC (the NTM paper has none); use --preset fast.")
    entry = paper_model(task, model)
    if entry is None:
        raise InputError(f"the paper preset covers the paper's five tasks, not {task}; use --preset fast.")
    config = entry.config()
    if isinstance(config, NTMConfig):
        # The paper resets memory to a learned bias and says nothing of clipping head outputs.
        config = dataclasses.replace(config, memory_init="learned", head_clip=None)
    return TrainConfig(
        task=task, task_sizes={}, model=config, preset="paper", seed=seed,
        optimizer=OptimizerConfig(name="rmsprop", learning_rate=entry.learning_rate, momentum=0.9, clip_value=10.0),
        batch_size=1, steps=PAPER_STEPS[task], steps_per_call=10, report_every=1000, eval_batch_size=256,
    )

