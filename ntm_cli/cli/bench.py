"""`ntm bench`: parse, call ntm_cli.training.bench, report."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from ntm_cli.cli.output import console, show, error_console, reported_errors
from ntm_cli.config import MAX_STEPS_PER_CALL


def bench_command(
    task: Annotated[str, typer.Option(help="Task name or alias.")] = "copy",
    models: Annotated[Optional[str], typer.Option(help="Models, comma-separated: lstm, ntm-lstm, ntm-ff, dnc, kv-ff, kv-lstm.")] = None,
    batch_sizes: Annotated[Optional[str], typer.Option(help="Batch sizes, comma-separated, such as 32,1.")] = None,
    steps_per_call: Annotated[int, typer.Option(min=1, max=MAX_STEPS_PER_CALL, help="Optimiser steps per compiled call.")] = 10,
    repeats: Annotated[int, typer.Option(min=1, max=1000, help="Timed repeats (median, min and max are reported).")] = 5,
    calls: Annotated[int, typer.Option(min=1, max=10_000, help="Compiled calls per repeat.")] = 5,
    json_output: Annotated[bool, typer.Option("--json", help="Print the figures as JSON on stdout.")] = False,
    devices: Annotated[Optional[int], typer.Option(min=1, max=2**31 - 1, help="Use at most this many of this machine's devices (default: all).")] = None,
) -> None:
    """Measure training and evaluation speed, compile time and memory (after warm-up).

    By default: the paper's copy models (memory 128 x 20, lengths 1-20, one head pair), the NTM
    with an LSTM controller at batch 32 and 1, the feedforward NTM and the LSTM baseline at 32.
    """
    from ntm_cli.config import parse_int_list
    from ntm_cli.cli.options import parse_models
    from ntm_cli.tasks import canonical_name

    with reported_errors():
        canonical = canonical_name(task)
        names = parse_models(models) if models is not None else None
        sizes = parse_int_list(batch_sizes, "--batch-sizes") if batch_sizes is not None else None

    from ntm_cli.training.bench import DEFAULT_CASES, bench_config, case_config, help_seconds, machine

    if names is None and sizes is None:
        cases = list(DEFAULT_CASES)
    else:
        cases = [(name, batch) for name in (names or ["ntm-lstm"]) for batch in (sizes or [32])]
    progress = error_console  # stdout holds the results only
    rows = []
    from ntm_cli.training.devices import local_devices

    with reported_errors():
        configs = [case_config(canonical, name, batch, steps_per_call) for name, batch in cases]
        chosen = local_devices(devices)
    for (name, batch), config in zip(cases, configs):
        progress.print(f"measuring {name} on {canonical} at batch {batch} ...", markup=False)
        rows.append(bench_config(config, repeats, calls, devices=chosen))
    result = {"machine": machine(), "help_seconds": help_seconds(), "results": rows}
    if json_output:
        print(json.dumps(result))
        return
    from ntm_cli.reports.tables import bench_table

    show(bench_table(result))
