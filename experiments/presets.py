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
  Counted over seeds (2026-12-05, `--until solved`, which stops a seed once solved, before any
  spike): decaying over compare's 10,000 sequences, 3 of 5 seeds solved copy; at a constant
  1e-3, 5 of 5, after 5,000-8,000 sequences (the NTM-FF: 3 of 5 decaying, 5 of 5 constant).
  Solving every seed is what a comparison needs, so both copy NTMs now keep a constant rate (as
  does repeat copy's NTM-LSTM); a run trained to its whole budget may end in a spike
  (`--lr-decay-steps 20000` decays as before).
- The other tasks: rows tuned per task and model by sweeps (FAST below, and the record in
  experiments/reproduction/README.md).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from ntm_cli.config import OptimizerConfig, TrainConfig
from ntm_cli.errors import InputError
from ntm_cli.experiments.paper import paper_model
from ntm_cli.models.config import MODEL_NAMES, DNCConfig, KVMemoryConfig, LSTMConfig, ModelConfig, NTMConfig

PRESETS = ("fast", "paper")

# `fast`: optimiser steps in the default budget of a task's batch-1 rows (and the horizon of
# their learning-rate decay).
FAST_STEPS = {
    "copy": 20_000,
    "repeat-copy": 40_000,
    "associative-recall": 40_000,
    "dynamic-ngrams": 20_000,
    "priority-sort": 40_000,
    "one-shot": 10_000,
    "one-shot-digits": 10_000,
    "rare-events": 2_000,
}


class Fast(NamedTuple):
    """One row of the `fast` preset: a model and how it trains (Adam, global-norm clip 50).

    `steps` is the default budget and `decay_steps` the horizon over which the learning rate
    decays (cosine) to a tenth; both default to the task's FAST_STEPS (`decay_steps=0`: a
    constant rate). The sweeps behind each
    row are in experiments/reproduction/README.md.
    """

    model: ModelConfig
    batch_size: int = 1
    learning_rate: float = 1e-3
    steps: int | None = None
    decay_steps: int | None = None
    curriculum: int | None = None  # sequences over which the task grows to its sizes (None: none)


def _paper(task: str, model: str, **changes) -> ModelConfig:
    """The paper's model for a task (Tables 1-3, memory 128 x 20), with changes."""
    return dataclasses.replace(paper_model(task, model).config(), **changes)


# `fast`: each task's models, chosen by the sweeps of experiments/reproduction/README.md (2-core
# CPU, one core per training, wall time to the targets of issue 14). Where a row says nothing,
# it is copy's setting: the paper's sizes, constant 1e-6 memory, head outputs clipped to +/-20,
# Adam 1e-3 decaying to 1e-4, batch 1. Only recall's NTM-LSTM uses a curriculum (the paper had
# none).
#
# - repeat copy, both NTMs: a learned initial memory. With the constant memory the NTM-LSTM was
#   at 141 bits after 3 minutes; learned, at 3.0, and after 55,000 sequences (~5 minutes) at
#   0.012, 161 and 0.062 for seeds 0-2 (seed 1 never left the plateau). The NTM-FF, learned:
#   0.31, 0.0048 and 0.00009 after 5 minutes. The NTM-LSTM's rate is constant (1e-3): decaying
#   over 40,000 steps, 1 seed of 3 solved repeat copy in 5 minutes (the others fell slowly, 263
#   -> 115 bits over 129,000 sequences); constant, 5 of 5 did, after 15,000-21,000 sequences
#   (experiments/reproduction/levers.sh, 2026-12-05).
# - recall, NTM-LSTM: batch 8. At batch 1 every seed sat at ~10 bits (the plateau of the mean
#   answer) for 3 minutes, whatever the memory initialisation; at batch 8 seed 0 left it at
#   once (0.005 bits after 3 minutes), seeds 1 and 2 were still at 8.3 and 6.2 after 5. The
#   paper preset (RMSProp 1e-4, batch 1) did no better: 5.8, 0.0003 and 6.0 for seeds 0-2.
#   A curriculum over the first 100,000 sequences (2 items, then 3, ... then 6) got two seeds
#   of three off it: 0.0017, 6.1 and 0.040 after 5 minutes (at 3e-3: 2.4, 0.029, 1.1). The
#   NTM-FF's seeds did no better with one (30,000 sequences: 10.4, 9e-07, 5e-05; without:
#   0.030, 9.8, 0.58), so its row has none.
#   The NTM-FF (4 heads, 256 units) learns at batch 1 and fails at batch 8; at batch 4 it
#   solved recall on 5 of 5 seeds (16,000-64,000 sequences, ~100 s; levers.sh recall-ff-batch-4,
#   2026-12-05), where batch 1 left 2 of 5 on the plateau, so its row trains at batch 4.
#   Counted over seeds 0-4 (2026-12-05, 5 minutes each, --until solved): that row left 2 of 5 on
#   the plateau; with the NTM-FF's four head pairs instead of one, 5 of 5 solved recall, after
#   50,000-69,000 sequences (~3 minutes; 306 sequences/s against ~830 with one pair), so its row
#   now has four (experiments/reproduction/levers.sh recall-heads-4). Batch 1 without the
#   curriculum at a constant rate kept seeds 0 and 1 at ~10 bits for 68,000 sequences.
# - N-grams: batch 32 (the 200-step sequences make batch 1 slow: batch 32 trains ~2.8x the
#   sequences per second) and Adam 3e-3 for the NTM-LSTM and the LSTM, whose costs after 10
#   minutes were 137.4 and 137.3 (batch 8 at 1e-3: 147 and 156). The NTM-FF stays near 181
#   at batch 8 or 32 with 1e-3 (3e-3: 194); it learns N-grams far more slowly here. (Those
#   runs decayed the rate over 20,000 steps, near constant in their ~3,400; it now decays over
#   the run's own budget, as every row's does.) Counted over seeds 0-4 at compare's then 50,000
#   sequences (2026-12-05, levers.sh ngrams-constant-lr): decaying over the budget, the NTM-LSTM
#   ended at 165, 139, 140, 166, 164 (below the LSTM on 2 of 5); at a constant 3e-3, 137, 138,
#   139, 161, 159 (3 of 5; median 138.7 against 164), so its rate is now constant. Seeds 3 and
#   4 stayed on the plateau (~160) at batch 32, 32 memory rows or Adam 1e-2, and left it at batch
#   8 (four times the steps for the same sequences; ~1.2x the time): over seeds 0-4, batch 8 is
#   below the LSTM on every seed (levers.sh ngrams-b8, 2026-12-05), so the row trains at batch 8
#   (`ntm train`'s default budget for it: 4,000 steps, now 32,000 sequences). At compare's 30,000
#   sequences two seeds of five still sat on the plateau (156.3, 157.1; the others 137.1, 138.9,
#   137.2). With a learned initial memory (its rows distinct from the start, so a key made from
#   the 5-bit context can pick a row before anything is written) every seed left it: 142.3,
#   139.4, 140.2, 139.0, 137.9 (levers.sh ngrams-memory-learned, 2026-12-06; the median 0.5 bits
#   higher, the worst seed 15 lower), so the row has a learned memory.
# - priority sort, both NTMs: two head pairs (the paper's five train 2.6x slower per sequence
#   and no better in 5 minutes), a memory of 32 rows (20 items to hold), a learned initial
#   memory, Adam 3e-3 and batch 4; the learning rate decays over 80,000 steps (~10 minutes):
#   28.7 bits after 10 minutes, against 33.4 decaying over 40,000. The NTM-FF with 100 units,
#   not the paper's 512 x 8 heads: 38.5 after 10 minutes (decaying over 40,000 steps).
#   The LSTM: batch 8 and Adam 3e-3 (88 bits after 5 minutes against 108 at batch 1).
#   Counted over seeds 0-4 at compare's 100,000 sequences (2026-12-05, screens.sh and levers.sh),
#   the NTM-LSTM's memory was the lever: with 32 rows (20 items written by priority collide)
#   its seeds ended at 47.9-60.9 bits (median 54.4); at Adam 1e-2 with 64 rows at 31.6-47.2
#   (36.9), and with the paper's 128 rows at 24.3-40.8 (26.1; 2 of 5 below 25 bits), so its row
#   has 128 rows and Adam 1e-2 (~1.2x the time per sequence of 32 rows).
# - copy, the LSTM: batch 8 and Adam 3e-3. At batch 1 (Adam 1e-3) it trained 19-44 sequences/s
#   here, 230-520 s of a comparison per seed for its 10,000 sequences; at batch 8, ~100 (~100 s).
#   It pays ~2 bits for it at 10,000 sequences: seeds 0-4 ended at 41.3, 37.3, 40.2, 39.2, 44.1
#   (median 40.2) against 38.0, 37.7, 38.3, 40.1, 39.6 (38.3) at batch 1 (levers.sh copy-lstm-b8,
#   2026-12-05); at batch 8 and Adam 1e-2, 54-56 (copy-lstm-b8-lr1e-2). Both are far from copy's
#   1 bit, where the NTMs end.
#
# The DNC keeps the setting measured when it was added (its controller is the NTM-LSTM's, its
# memory sized per task for what the task stores; batch 1, Adam 1e-3): copy 32 x 20, repeat
# copy 16 x 20, recall, N-grams and sort 32 x 20, one read and one write head. Measured with
# `ntm train TASK --model dnc --time 60`: copy < 0.1 bits after 6 s; repeat copy 1.17 bits
# after 60 s (16 rows; 32 rows: 2.6; 4 read heads: 1.8); sort 17.2 bits after 5 minutes. Its
# parameters do not depend on N, so `ntm eval --memory-rows 128` tests it on longer sequences.
_SORT_NTM = dict(num_read_heads=2, num_write_heads=2, memory_rows=32, memory_init="learned")
# The key-value memory (Kaiser et al., 2017): for one-shot episodes a memory per episode with a
# slot for every step (the official code's default memory is the episode's length), k = all of
# them; for the life-long task one memory of 4,096 slots for the whole of training, k = 256.
_KV_EPISODE = KVMemoryConfig(controller="ff", controller_sizes=(100,), memory_rows=50, key_size=32, neighbours=50)
_KV_LIFELONG = KVMemoryConfig(controller="ff", controller_sizes=(100,), memory_rows=4096, key_size=32,
                              neighbours=256, scope="lifelong")
FAST: dict[tuple[str, str], Fast] = {
    ("copy", "ntm-lstm"): Fast(_paper("copy", "ntm-lstm"), decay_steps=0),
    ("copy", "ntm-ff"): Fast(_paper("copy", "ntm-ff"), decay_steps=0),
    ("copy", "lstm"): Fast(_paper("copy", "lstm"), 8, 3e-3),
    ("copy", "dnc"): Fast(DNCConfig(controller_sizes=(100,), memory_rows=32, memory_width=20)),
    ("repeat-copy", "ntm-lstm"): Fast(_paper("repeat-copy", "ntm-lstm", memory_init="learned"), decay_steps=0),
    ("repeat-copy", "ntm-ff"): Fast(_paper("repeat-copy", "ntm-ff", memory_init="learned")),
    ("repeat-copy", "lstm"): Fast(_paper("repeat-copy", "lstm")),
    ("repeat-copy", "dnc"): Fast(DNCConfig(controller_sizes=(100,), memory_rows=16, memory_width=20)),
    ("associative-recall", "ntm-lstm"): Fast(_paper("associative-recall", "ntm-lstm", num_read_heads=4, num_write_heads=4),
                                             batch_size=8, curriculum=100_000),
    ("associative-recall", "ntm-ff"): Fast(_paper("associative-recall", "ntm-ff"), batch_size=4),
    ("associative-recall", "lstm"): Fast(_paper("associative-recall", "lstm")),
    ("associative-recall", "dnc"): Fast(DNCConfig(controller_sizes=(100,), memory_rows=32, memory_width=20)),
    ("dynamic-ngrams", "ntm-lstm"): Fast(_paper("dynamic-ngrams", "ntm-lstm", memory_init="learned"), 8, 3e-3, steps=4_000,
                                         decay_steps=0),
    ("dynamic-ngrams", "ntm-ff"): Fast(_paper("dynamic-ngrams", "ntm-ff"), 32, 1e-3, steps=4_000),
    ("dynamic-ngrams", "lstm"): Fast(_paper("dynamic-ngrams", "lstm"), 32, 3e-3, steps=4_000),
    ("dynamic-ngrams", "dnc"): Fast(DNCConfig(controller_sizes=(100,), memory_rows=32, memory_width=20)),
    ("priority-sort", "ntm-lstm"): Fast(_paper("priority-sort", "ntm-lstm", **(_SORT_NTM | {"memory_rows": 128})), 4, 1e-2,
                                        steps=80_000),
    ("priority-sort", "ntm-ff"): Fast(_paper("priority-sort", "ntm-ff", controller_sizes=(100,), **_SORT_NTM), 4, 3e-3),
    ("priority-sort", "lstm"): Fast(_paper("priority-sort", "lstm"), 8, 3e-3),
    ("priority-sort", "dnc"): Fast(DNCConfig(controller_sizes=(100, 100), memory_rows=32, memory_width=20)),
    **{(task, model): row for task in ("one-shot", "one-shot-digits") for model, row in {
        "kv-ff": Fast(_KV_EPISODE, 16),
        "kv-lstm": Fast(dataclasses.replace(_KV_EPISODE, controller="lstm"), 16),
        "lstm": Fast(LSTMConfig(num_layers=1, hidden_size=200), 16),
        "ntm-lstm": Fast(NTMConfig(controller_sizes=(100,), memory_rows=64, memory_width=20), 16),
        "dnc": Fast(DNCConfig(controller_sizes=(100,), memory_rows=64, memory_width=20), 16),
    }.items()},
    ("rare-events", "kv-ff"): Fast(_KV_LIFELONG, 16),
    ("rare-events", "kv-lstm"): Fast(dataclasses.replace(_KV_LIFELONG, controller="lstm"), 16),
    ("rare-events", "lstm"): Fast(LSTMConfig(num_layers=1, hidden_size=100), 16),
    ("rare-events", "ntm-lstm"): Fast(NTMConfig(controller_sizes=(100,), memory_rows=32, memory_width=20), 16),
}

# `fast` on a task it has no rows for (another package's, `ntm_cli.tasks.plugins`): copy's rows,
# and one-shot's for the key-value memory (which needs a class task), over copy's 20,000 steps.
OTHER_TASKS = "copy"
OTHER_CLASS_TASKS = "one-shot"


def fast_row(task: str, model: str) -> tuple[Fast, int] | None:
    """The `fast` row of a canonical task name and a model, and its default steps; None where
    the preset knows the task but has no row for the model."""
    if task not in FAST_STEPS:
        task = OTHER_CLASS_TASKS if model.startswith("kv-") else OTHER_TASKS
        row = FAST.get((task, model))
        return (row, FAST_STEPS[OTHER_TASKS]) if row else None
    row = FAST.get((task, model))
    return (row, row.steps or FAST_STEPS[task]) if row else None


# `paper`: the horizon of the paper's learning curves, in sequences (= steps at batch 1).
PAPER_STEPS = {
    "copy": 1_000_000,
    "repeat-copy": 500_000,
    "associative-recall": 1_000_000,
    "dynamic-ngrams": 1_000_000,
    "priority-sort": 1_000_000,
}


# `ntm compare`'s default budget per run, by task. Repeat copy and recall get time: the paper's
# LSTM baselines train so slowly per sequence (repeat copy's 5.3M parameters: ~6 sequences per
# second here) that equal sequences would take hours; the verdict is read at equal sequences all
# the same (the fewest an unsolved seed reached, from the learning curves). Copy, N-grams and
# sort get sequences, the same for every model: at 60 s the copy LSTM saw ~2,300 sequences,
# before the NTMs had solved copy (they do by 4,000-27,000). A comparison stops each seed once
# solved (`--until solved`), so the five-task comparison with 3 seeds, three models and two
# workers fits in about an hour (experiments/benchmarks/README.md). N-grams gets 30,000: at
# 50,000 its nine runs took a third of that hour, and the NTM-LSTM's best seeds are flat from
# ~30,000 on (seeds 0-4 at 30,000: 137.1 138.9 156.3 137.2 157.1; at 50,000: 136.6 137.4 151.7
# 136.6 152.3), below the LSTM's on every seed at either budget (the LSTM at 30,000: 162.4-165.0).
# (Those had a constant initial memory; with the learned one of now, at 30,000: 142.3 139.4 140.2
# 139.0 137.9.)
COMPARE_BUDGET = {
    "repeat-copy": 300.0,
    "associative-recall": 300.0,
    "one-shot": 120.0,
    "one-shot-digits": 120.0,
}
# Tasks whose default comparison gives every model the same number of training sequences
# instead. The life-long task's frequency bands mean how often a class was seen in training,
# which must not depend on how fast a model trains.
COMPARE_SEQUENCES = {
    "copy": 10_000,
    "dynamic-ngrams": 30_000,
    "priority-sort": 100_000,
    "rare-events": 16_000,
}


def compare_budget(preset: str, task: str) -> float | None:
    """Seconds of training per model that `ntm compare` gives a task by default (None for a task
    compared on a number of sequences, `compare_sequences`)."""
    return COMPARE_BUDGET.get(task)


def compare_sequences(task: str) -> int | None:
    """Training sequences per model that `ntm compare` gives a task by default, where it gives
    sequences rather than time (copy's for a task the preset has no rows for)."""
    return COMPARE_SEQUENCES.get(task, None if task in FAST_STEPS else COMPARE_SEQUENCES[OTHER_TASKS])


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
    found = fast_row(task, model)
    if found is None:
        raise InputError(f"the fast preset has no {model} for task {task}.")
    row, steps = found
    optimizer = OptimizerConfig(name="adam", learning_rate=row.learning_rate, clip_norm=50.0,
                                decay_steps=None if row.decay_steps == 0 else row.decay_steps or steps)
    return TrainConfig(
        task=task, task_sizes={}, model=row.model, preset=preset, seed=seed, optimizer=optimizer,
        batch_size=row.batch_size, steps=steps, steps_per_call=10, report_every=max(1000 // row.batch_size // 10 * 10, 10),
        eval_batch_size=256, curriculum=row.curriculum,
    )


def _paper_config(task: str, model: str, seed: int) -> TrainConfig:
    """Tables 1-3 as printed: RMSProp in Graves' form, every gradient component clipped to 10, batch 1."""
    if model == "dnc" or model.startswith("kv-"):
        what = "DNC" if model == "dnc" else "key-value memory"
        raise InputError(f"the paper preset has no {what} (the NTM paper has none); use --preset fast.")
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

