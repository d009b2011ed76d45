"""What the JSON files of a run folder must hold, checked when they are read.

A file damaged by hand, by a full disk or by another program is named with what is wrong in
one sentence (never a traceback, never a silently wrong number). Types are written as Python
annotations: `int`, `float` (a whole number is a number too), `str`, `bool`, `X | None`,
`Literal[...]`, `tuple[int, ...]`, `dict[str, int]`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union


def type_error(value: Any, kind: Any) -> str | None:
    """Why `value` (as JSON gives it) is not of `kind`, or None if it is."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        reasons = [type_error(value, option) for option in args]
        return None if any(r is None for r in reasons) else " or ".join(r for r in reasons if r)
    if kind is type(None):
        return None if value is None else "null"
    if origin is Literal:
        return None if value in args else f"one of {', '.join(map(repr, args))}"
    if kind is bool:
        return None if isinstance(value, bool) else "true or false"
    if kind is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "a whole number"
    if kind is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "a number"
    if kind is str:
        return None if isinstance(value, str) else "a string"
    if origin is tuple:
        wrong = not isinstance(value, (list, tuple)) or any(type_error(v, args[0]) for v in value)
        return f"a list (each entry {type_error(None, args[0])})" if wrong else None
    if origin is dict:
        wrong = not isinstance(value, dict) or any(not isinstance(k, str) or type_error(v, args[1])
                                                   for k, v in value.items())
        return f"an object (each value {type_error(None, args[1])})" if wrong else None
    if kind is dict:
        return None if isinstance(value, dict) else "an object"
    if kind is Any:
        return None
    raise TypeError(f"no JSON check for {kind!r}")


def check_fields(fields: dict[str, Any], data: Any, what: str, optional: set[str] | frozenset = frozenset()) -> dict:
    """`data` if it is a JSON object whose entries have the given types; ValueError naming the
    first that does not (`what`: 'the config', 'line 3'). Every named entry must be there but
    those in `optional`; entries not named are left alone."""
    if not isinstance(data, dict):
        raise ValueError(f"{what} is not a JSON object")
    for name, kind in fields.items():
        if name not in data:
            if name not in optional:
                raise ValueError(f"{what} has no {name!r}")
            continue
        reason = type_error(data[name], kind)
        if reason is not None:
            raise ValueError(f"{what}: {name!r} should be {reason}, not {data[name]!r}")
    return data


def dataclass_fields(cls: type, exclude: tuple[str, ...] = ()) -> tuple[dict[str, Any], set[str]]:
    """A dataclass' fields and their types, and the names of those with defaults (optional),
    for `check_fields`."""
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.name not in exclude]
    defaulted = {f.name for f in fields if f.default is not dataclasses.MISSING
                 or f.default_factory is not dataclasses.MISSING}
    return {f.name: hints[f.name] for f in fields}, defaulted


# One line of metrics.jsonl (see TrainingSession._record).
METRICS_RECORD = {
    "step": int, "sequences": int, "train_cost": float | None, "train_bit_errors": float | None,
    "eval_cost": float | None, "eval_bit_errors": float | None, "wall_time": float,
    "sequences_per_second": float | None, "skipped_updates": int,
    "eval_scores": dict[str, float],  # a class task's accuracies (optional: only class tasks have them)
}
METRICS_OPTIONAL = frozenset({"eval_scores"})

# summary.json (see TrainingSession.summary).
SUMMARY = {
    "status": Literal["running", "finished", "interrupted"], "run_dir": str, "task": str, "model": str,
    "preset": str, "seed": int, "params": int, "steps": int, "budget_steps": int, "sequences": int,
    "final_eval_cost": float | None, "final_eval_bit_errors": float | None, "best_eval_cost": float | None,
    "best_step": int | None, "wall_time": float, "compile_seconds": float, "sequences_per_second": float | None,
    "skipped_updates": int, "final_eval_scores": dict[str, float],
}
SUMMARY_OPTIONAL = frozenset({"final_eval_scores"})

# The counters in a checkpoint beside the training state (see train_loop.save_checkpoint).
CHECKPOINT_META = {
    "step": int, "wall_time": float, "pending_cost": float, "pending_errors": float, "pending_steps": int,
    "interval_time": float, "best_eval_cost": float, "best_eval_errors": float, "best_step": int,
    "last_eval_cost": float,
    "last_eval_bit_errors": float, "last_eval_scores": dict[str, float],
}
