"""Where a training step's time goes: XLA's operations per time step, and the time between them.

Compiles one `ntm bench` configuration (one device), warms it up, then traces a few calls of
its training chunk with `jax.profiler` and sums the trace's events per HLO operation. Prints:

- the wall time of a call untraced, and the traced operations' sum beside it (tracing slows
  small operations several times: at copy batch 1 they sum to 8x the untraced wall time, at
  sort batch 4 to 1.4x, so the figures rank operations; they do not time them);
- operations per time step run (forward and backward together) and their mean duration;
- the operations that take the most time, by kind (`fusion`, `dot`, `reduce`, ...) and by name.

    XLA_FLAGS=--xla_force_host_platform_device_count=1 \
        python experiments/benchmarks/profile_step.py copy ntm-lstm 1 [--calls 3] [memory_rows=128 ...]

`key=value` pairs change the model's configuration (integers only). The time steps run per
sequence are counted from the batches' masks (`live_steps`), so a copy batch counts the steps
up to its last scored one.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from ntm_cli.models.base import live_steps
from ntm_cli.training.trainer import Trainer

from _case import add_case_arguments, add_changes_argument, case_from  # this folder

STEPS_PER_CALL = 10


def live_steps_per_batch(task, batch_size: int, batches: int = 200) -> float:
    """Mean number of time steps a training batch of `task` runs (`live_steps`)."""
    keys = jax.random.split(jax.random.key(0), batches)
    sample = jax.jit(jax.vmap(lambda k: jnp.sum(live_steps(task.sample(k, batch_size).mask))))
    return float(np.mean(sample(keys)))


def op_events(trace_dir: str) -> list[dict]:
    """The complete events (`ph == "X"`) of the trace `jax.profiler` wrote (`*.trace.json.gz`)."""
    (path,) = glob.glob(f"{trace_dir}/**/*.trace.json.gz", recursive=True)
    with gzip.open(path) as handle:
        events = json.load(handle)["traceEvents"]
    return [e for e in events if e.get("ph") == "X"]


CONTAINERS = ("while", "cond", "conditional", "call")


def kind(name: str) -> str:
    """An HLO operation's kind from its name: `fusion.12` -> `fusion`, `dot.3` -> `dot`."""
    return name.split(".")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_case_arguments(parser)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    add_changes_argument(parser)
    args = parser.parse_intermixed_args()  # options may stand between the case and its changes
    config = case_from(args, STEPS_PER_CALL)

    trainer = Trainer(config, [0], jax.local_devices()[:1])
    state = trainer.initial_state()
    trainer.compile(state)
    step = 0
    for _ in range(3):  # warm-up
        state, metrics = trainer.train_chunk(state, step, 2**31 - 1)
        step += STEPS_PER_CALL
    jax.block_until_ready((state, metrics))

    start = time.perf_counter()
    for _ in range(args.calls):
        state, metrics = trainer.train_chunk(state, step, 2**31 - 1)
        step += STEPS_PER_CALL
    jax.block_until_ready((state, metrics))
    wall = (time.perf_counter() - start) / args.calls

    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir):
            for _ in range(args.calls):
                state, metrics = trainer.train_chunk(state, step, 2**31 - 1)
                step += STEPS_PER_CALL
            jax.block_until_ready((state, metrics))
        events = op_events(trace_dir)

    # The HLO operations: the executor's events naming one; loops and conditions contain others.
    hlo = [e for e in events if "hlo_op" in e.get("args", {})]
    ops = [e for e in hlo if kind(e["name"]) not in CONTAINERS]
    by_name: dict[str, list[float]] = collections.defaultdict(list)
    for e in ops:
        by_name[e["name"]].append(e["dur"])
    by_kind: dict[str, float] = collections.Counter()
    count_kind: dict[str, int] = collections.Counter()
    for name, durations in by_name.items():
        by_kind[kind(name)] += sum(durations)
        count_kind[kind(name)] += len(durations)
    outer = max((e for e in hlo if kind(e["name"]) in CONTAINERS), key=lambda e: e["dur"], default=None)

    steps_run = live_steps_per_batch(trainer.task, args.batch) * STEPS_PER_CALL * args.calls
    total_us = sum(e["dur"] for e in ops)
    print(f"wall per call (untraced): {wall * 1e3:.1f} ms for {STEPS_PER_CALL} optimiser steps "
          f"of batch {args.batch}; {steps_run / args.calls / STEPS_PER_CALL:.1f} time steps run per batch")
    print(f"operations traced: {len(ops)}, {len(ops) / steps_run:.0f} per time step run, "
          f"mean {total_us / max(len(ops), 1):.2f} us; their sum {total_us / 1e3 / args.calls:.1f} ms per call "
          f"= {total_us / 1e6 / args.calls / wall:.0%} of the untraced wall time")
    print(f"time per time step run: wall {wall * 1e6 * args.calls / steps_run:.1f} us, "
          f"in operations {total_us / steps_run:.1f} us")
    if outer is not None:
        print(f"traced: the longest loop ({outer['name']}) {outer['dur'] / 1e3:.1f} ms; tracing slows the "
              f"operations down, so read the shares below, not the absolute times")
    print("\nby kind: total ms per call, operations per time step run, mean us")
    for name, total in sorted(by_kind.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"  {name:28s} {total / 1e3 / args.calls:8.2f} ms  {count_kind[name] / steps_run:7.1f}  "
              f"{total / count_kind[name]:7.2f}")
    print("\nby operation: total ms per call, count per time step run, mean us")
    ranked = sorted(by_name.items(), key=lambda kv: -sum(kv[1]))
    for name, durations in ranked[: args.top]:
        print(f"  {name:28s} {sum(durations) / 1e3 / args.calls:8.2f} ms  {len(durations) / steps_run:7.2f}  "
              f"{np.mean(durations):7.2f}")


if __name__ == "__main__":
    main()
