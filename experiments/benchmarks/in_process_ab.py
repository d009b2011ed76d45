"""In-process A/B: training before and after one change, both compiled in one process.

Both variants of one `ntm bench` configuration are compiled in one process and their calls
alternated (rounds x 3 calls of 10 optimiser steps), so that the machine's drift between
processes hits both alike. Prints training sequences per second, median (min-max), and the
median ratio of the rounds. The changes:

- `live-steps`: every time step run (`live` None) against only the live ones (`live_steps`);
- `kernels-t`: the time loop's products plain (`x @ W`) against `layers.dense` with the
  kernels transposed before the loop.

    XLA_FLAGS=--xla_force_host_platform_device_count=1 \
        python experiments/benchmarks/in_process_ab.py live-steps copy ntm-lstm 1 [--rounds 8] [memory_rows=128 ...]

`key=value` pairs change the model's configuration (integers only).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import jax

import ntm_cli.models.base as base
import ntm_cli.models.layers as layers
import ntm_cli.training.trainer as training
from ntm_cli.training.trainer import Trainer

from _case import add_case_arguments, add_changes_argument, case_from  # this folder

STEPS_PER_CALL, CALLS = 10, 3


@contextlib.contextmanager
def every_step():
    """Traces the trainer with `live` None: the loop runs all T steps (as before the change)."""
    saved = base.live_steps, training.live_steps
    base.live_steps = training.live_steps = lambda mask, axis_name=None: None
    try:
        yield
    finally:
        base.live_steps, training.live_steps = saved


@contextlib.contextmanager
def plain_products():
    """Traces the models with `layers.dense` as the plain product (as before the change)."""
    saved = layers.dense
    layers.dense = lambda x, kernel, kernel_t: x @ kernel
    try:
        yield
    finally:
        layers.dense = saved


CHANGES = {"live-steps": ("every step", every_step, "live steps"),
           "kernels-t": ("plain products", plain_products, "kernels transposed")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("change", choices=sorted(CHANGES))
    add_case_arguments(parser)
    parser.add_argument("--rounds", type=int, default=8)
    add_changes_argument(parser)
    args = parser.parse_intermixed_args()  # options may stand between the case and its changes
    config = case_from(args, STEPS_PER_CALL)

    runs = {}
    before, before_context, after = CHANGES[args.change]
    for name, context in ((before, before_context), (after, contextlib.nullcontext)):
        with context():
            trainer = Trainer(config, [0], jax.local_devices()[:1])
            state = trainer.initial_state()
            trainer.compile(state)
        runs[name] = [trainer, state, 0]

    def go(name: str, calls: int) -> None:
        trainer, state, step = runs[name]
        for _ in range(calls):
            state, metrics = trainer.train_chunk(state, step, 2**31 - 1)
            step += STEPS_PER_CALL
        jax.block_until_ready((state, metrics))
        runs[name][1:] = [state, step]

    for name in runs:
        go(name, 2)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(args.rounds):
        for name in list(runs) if r % 2 == 0 else list(runs)[::-1]:
            start = time.perf_counter()
            go(name, CALLS)
            times[name].append(time.perf_counter() - start)
    base_times = times[before]
    for name, ts in times.items():
        rates = [CALLS * STEPS_PER_CALL * args.batch / t for t in ts]
        ratio = statistics.median(b / t for b, t in zip(base_times, ts))
        print(f"{args.task} {args.model} batch {args.batch} {' '.join(args.changes)} {name}: "
              f"{statistics.median(rates):.1f} seq/s ({min(rates):.0f}-{max(rates):.0f}), x{ratio:.2f}")


if __name__ == "__main__":
    main()
