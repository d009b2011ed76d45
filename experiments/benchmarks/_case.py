"""The configuration the benchmark scripts here take on their command line:
`task model batch [key=value ...]`, `ntm bench`'s configuration with model changes."""

from __future__ import annotations

import argparse
import dataclasses

from ntm_cli.training.bench import case_config
from ntm_cli.config import TrainConfig


def add_case_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the positional task, model and batch size (then a script's own options)."""
    parser.add_argument("task")
    parser.add_argument("model")
    parser.add_argument("batch", type=int)


def add_changes_argument(parser: argparse.ArgumentParser) -> None:
    """Adds the trailing model config changes, key=value (integers only)."""
    parser.add_argument("changes", nargs="*", help="model config changes, key=value")


def case_from(args: argparse.Namespace, steps_per_call: int) -> TrainConfig:
    """The fast preset's configuration of `args.task`, `args.model` at `args.batch`, with the
    model changes applied; printed, so that a run's output names what it measured."""
    changes = {key: int(value) for key, value in (pair.split("=") for pair in args.changes)}
    config = case_config(args.task, args.model, args.batch, steps_per_call)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, **changes))
    print(config.model, flush=True)
    return config
