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


class Record:
    """A JSON record declared once, as a frozen dataclass: written through `to_json`, read back
    and checked through `from_json` (a field with a default may be missing from older files)."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any, what: str):
        """The record `data` holds; ValueError naming the first entry that is missing or of the
        wrong type. Entries it does not declare are ignored."""
        fields, optional = dataclass_fields(cls)
        check_fields(fields, data, what, optional)
        return cls(**{name: data[name] for name in fields if name in data})


@dataclasses.dataclass(frozen=True)
class MetricsRow(Record):
    """One line of metrics.jsonl: a report of one seed (see TrainingSession._record). Costs are
    bits per sequence; None where there is nothing to report yet (no training step)."""

    step: int
    sequences: int
    train_cost: float | None  # mean over the steps since the last report
    train_bit_errors: float | None
    eval_cost: float | None  # on the fixed held-out batch
    eval_bit_errors: float | None
    wall_time: float  # seconds of training so far
    sequences_per_second: float | None  # since the last report
    skipped_updates: int  # non-finite updates skipped so far
    eval_scores: dict[str, float] = dataclasses.field(default_factory=dict)  # a class task's accuracies
    curriculum_stage: int | None = None  # the stage of a curriculum that moves on when solved (0: first)


@dataclasses.dataclass(frozen=True)
class Summary(Record):
    """summary.json: where a run stands (see TrainingSession.summary)."""

    status: Literal["running", "finished", "interrupted", "diverged"]
    run_dir: str
    task: str
    model: str
    preset: str
    seed: int
    params: int
    steps: int
    budget_steps: int
    sequences: int
    final_eval_cost: float | None
    final_eval_bit_errors: float | None
    best_eval_cost: float | None
    best_step: int | None
    wall_time: float
    compile_seconds: float
    sequences_per_second: float | None
    skipped_updates: int
    final_eval_scores: dict[str, float] = dataclasses.field(default_factory=dict)
    diverged_step: int | None = None  # a diverged run: the report at which it was stopped
    diverged_reason: str | None = None


@dataclasses.dataclass(frozen=True)
class RunRow(Record):
    """One run folder as `ntm runs` lists it."""

    run_dir: str
    status: str  # running, finished, diverged, interrupted, not started, or damaged (see runs.run_row)
    task: str | None = None  # None: a folder whose config cannot be read
    model: str | None = None
    preset: str | None = None
    seed: int | None = None
    problem: str | None = None  # what is wrong with a damaged folder
    steps: int = 0
    sequences: int = 0
    best_eval_cost: float | None = None
    final_eval_cost: float | None = None
    wall_time: float = 0.0


# The counters in a checkpoint beside the training state (see train_loop.save_checkpoint).
CHECKPOINT_META = {
    "step": int, "wall_time": float, "pending_cost": float, "pending_errors": float, "pending_steps": int,
    "interval_time": float, "best_eval_cost": float, "best_eval_errors": float, "best_step": int,
    "last_eval_cost": float,
    "last_eval_bit_errors": float, "last_eval_scores": dict[str, float],
    "solved_streak": int,  # reports in a row meeting the task's solved rule (`--until solved`)
    "pending_gradient_norm": float,  # the interval's summed gradient norm (`--tensorboard`)
}
# The counters an older checkpoint lacks (read as their zero values).
CHECKPOINT_META_OPTIONAL = frozenset({"last_eval_scores", "best_eval_errors", "solved_streak",
                                      "pending_gradient_norm"})


# --- a study's results (results.json; see ntm_cli.studies.study.collect) -----------------------------

# Raised when the file's form changes; a reader refuses a version it does not know.
RESULTS_VERSION = 2


@dataclasses.dataclass(frozen=True)
class ResultRow:
    """One model with one setting on one task, over its finished seeds. A figure over seeds is
    their median, with a 95% bootstrap interval ([low, high]); the per-seed values are kept in
    seed order (`seed_numbers`), so tables can show seeds that split."""

    task: str
    model: str
    setting: dict[str, Any]  # every setting given for this row ({}: the preset's)
    label: str  # the row's values of the settings that vary: 'lr=0.001 memory=16x8' ('' if none does)
    seeds: int  # finished seeds the figures rest on
    seeds_planned: int  # seeds the study asked for
    seed_numbers: tuple[int, ...]  # the finished seeds
    reused: int  # of them, runs an earlier command had finished (same config and budget)
    params: int | None
    cost: float | None  # final held-out cost, bits per sequence: the median over seeds
    cost_interval: tuple[float, ...] | None  # (low, high)
    cost_iqm: float | None  # the interquartile mean, with 5 seeds or more
    cost_mean: float | None
    cost_std: float | None
    seed_costs: tuple[float | None, ...]
    bit_errors: float | None  # final held-out errors per sequence (wrong answers, a class task): median
    bit_errors_interval: tuple[float, ...] | None
    seed_bit_errors: tuple[float | None, ...]
    best_cost: float | None  # the median over seeds of the lowest held-out cost each reached
    scores: dict[str, float]  # a class task's accuracies by score: medians
    solved: int | None  # seeds that met the task's solved rule at the end (None: the task has none)
    seed_solved: tuple[bool, ...]
    sequences_to_solve: float | None  # median over the solved seeds of the sequences from which it held
    seconds_to_solve: float | None  # likewise, in seconds of training
    cost_at_equal_sequences: float | None  # median over seeds, read at the task's `equal_sequences`
    seed_costs_at_equal_sequences: tuple[float | None, ...]
    errors_at_equal_sequences: float | None
    seed_errors_at_equal_sequences: tuple[float | None, ...]
    sequences: float | None  # training sequences seen: mean over seeds
    wall_time: float | None  # seconds of training: mean over seeds
    sequences_per_second: float | None
    paper_cost: float | None  # the paper's reading for the model's family
    paper_cost_text: str | None
    rank: int | None  # 1 = lowest final figure (the task's criterion); None: no finished seed
    command: str  # the `ntm train` command that makes seed 0's run
    run_dirs: tuple[str, ...]
    diverged: int = 0  # seeds stopped as diverged: counted as not solved, their figures left out
    seed_diverged: tuple[bool, ...] = ()

    @property
    def name(self) -> str:
        """How verdicts name the row: 'ntm-lstm', or 'ntm-lstm (lr=0.001)'."""
        return f"{self.model} ({self.label})" if self.label else self.model


@dataclasses.dataclass(frozen=True)
class TaskResults:
    """One task's rows, ranked, and what they say."""

    budget: str  # '2,000 sequences', '60 s of training'
    time_limit: float | None
    sequences: int | None
    steps: int | None
    chance_cost: float
    floor_cost: float | None  # the Bayes-optimal cost on the held-out batch (`heldout_floor`), where the task has one
    floor_text: str | None
    output_kind: Literal["bits", "class"]
    ranked_by: Literal["cost", "bit_errors"]
    unit: str
    scores: tuple[tuple[str, str], ...]  # (key, label) of a class task's accuracies
    score_notes: dict[str, str]
    solved_rule: str | None  # the task's solved rule in words
    equal_sequences: float | None  # the fewest sequences an unsolved seed reached: verdicts are read there
    rows: tuple[ResultRow, ...]  # best first
    best: str | None  # the best row's name: 'ntm-lstm', or 'ntm-lstm (lr=0.001)'
    best_command: str | None
    verdict: str
    paper_verdict: str | None  # whether the paper's ordering held (studies without a grid)


@dataclasses.dataclass(frozen=True)
class StudyResults:
    """results.json: what `ntm compare` and `ntm sweep` found (or `ntm compare RUN...` read)."""

    version: int
    kind: Literal["compare", "sweep", "runs"]  # which command made it ("runs": `ntm compare RUN...`)
    preset: str
    seeds: int
    models: tuple[str, ...]
    grid: dict[str, Any]  # setting -> the values swept (those given more than one)
    fixed: dict[str, Any]  # setting -> the one value every run that has it was given
    tasks: dict[str, TaskResults]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> StudyResults:
        """Reads `to_dict`'s form back, every field checked; ValueError naming what is wrong."""
        fields, _ = dataclass_fields(cls)
        check_fields(fields | {"tasks": dict}, data, "the results")
        if data["version"] != RESULTS_VERSION:
            raise ValueError(f"the results are version {data['version']}; this ntm reads version {RESULTS_VERSION}")
        tasks = {}
        for name, task in data["tasks"].items():
            task_fields, _ = dataclass_fields(TaskResults)
            check_fields(task_fields | {"rows": tuple[dict, ...], "scores": tuple[tuple, ...]}, task, f"task {name}")
            rows = []
            for i, row in enumerate(task["rows"]):
                row_fields, optional = dataclass_fields(ResultRow)
                check_fields(row_fields, row, f"task {name}, row {i + 1}", optional)
                rows.append(ResultRow(**{key: tuple(value) if isinstance(value, list) else value
                                         for key, value in row.items() if key in row_fields}))
            tasks[name] = TaskResults(**{**task, "rows": tuple(rows),
                                         "scores": tuple(tuple(s) for s in task["scores"])})
        return cls(**{**data, "models": tuple(data["models"]), "tasks": tasks})
