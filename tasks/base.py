"""The interface every task shares: a frozen config that samples fixed-shape, masked batches,
and declares what the rest of ntm needs to know about it.

A task is a frozen dataclass of sizes (hashable, so it can be a static argument to `jax.jit`).
Its shapes depend only on those sizes: variable lengths are padded to the task's maximum `T`
and a mask marks the steps whose targets count, so one compilation serves a whole run.

Every example is drawn from `fold_in(key, index)`, so example `i` of a key is the same whatever
the batch size.

Besides sampling, a task is the one place that knows about itself: its name and aliases, the
sizes a user may set (`size` fields, which become options such as `--max-length`), the sizes
evaluation varies and figures draw along (`axes`), the sizes the paper tests generalisation at,
and its reference figures (chance, the floor, the paper's readings). Evaluation, figures,
reports and comparisons ask the task; none of them names one. Nothing here imports JAX until a
task samples (see `ntm_cli.lazy`), so the command line can read all of it at start-up.
"""

from __future__ import annotations

import dataclasses
import math
import functools
import itertools
from typing import Any, ClassVar, NamedTuple

from ntm_cli.lazy import jax, jnp, np
from ntm_cli.tasks.errors import TaskConfigError


class Batch(NamedTuple):
    """A time-major batch of sequences.

    Attributes:
      inputs: `[T, B, input_size]` float32, zero where a sequence has ended.
      targets: `[T, B, output_size]` float32 in {0, 1}, zero where the mask is zero.
      mask: `[T, B]` float32 in {0, 1}: 1 at the steps whose targets are scored.
    """

    inputs: jax.Array
    targets: jax.Array
    mask: jax.Array


class Example(NamedTuple):
    """One sequence, as `Task.sample_one` returns it (no batch axis)."""

    inputs: jax.Array  # [T, input_size]
    targets: jax.Array  # [T, output_size]
    mask: jax.Array  # [T]


class SizeAxis(NamedTuple):
    """A size that evaluation varies beyond training, and figures draw along.

    Attributes:
      option: the `ntm eval` option that lists its values ("lengths": --lengths 10,20,30).
      fields: the size fields one value sets; a min and a max set together make every
        sequence that size.
      label: one value in words, with `{}` for the value ("length {}", "{} items").
      title: the figure axis' name ("sequence length").
    """

    option: str
    fields: tuple[str, ...]
    label: str
    title: str

    def sizes(self, value: int) -> dict[str, int]:
        """The size fields one value of the axis sets."""
        return {field: value for field in self.fields}

    def value(self, sizes: dict[str, Any]) -> int:
        """Where a task's sizes sit on the axis: its largest field (max length, max items)."""
        return sizes[self.fields[-1]]

    def span(self, sizes: dict[str, Any]) -> tuple[int, int]:
        """The range of values a task's sizes cover (min to max; one value for a fixed size)."""
        return sizes[self.fields[0]], sizes[self.fields[-1]]


class Score(NamedTuple):
    """An accuracy that evaluation reports beside the cost, over some of a class task's scored
    steps (`Task.score_counts`): a one-shot task's accuracy on a class's 2nd showing, say.

    Attributes:
      key: its name in files ("shot_2").
      label: its name in tables ("2nd").
    """

    key: str
    label: str


class Reading(NamedTuple):
    """An approximate cost read off the paper's figures, in bits per sequence."""

    value: float | None  # a representative number; None where the figure gives no level
    text: str  # what the figure shows, in words ("at 1M": after a million training sequences)


LOWER_IS_BETTER = ("bit_errors", "cost", "cost_above_floor")


class Solved(NamedTuple):
    """What "solved" means on a task: one held-out figure, at the task's training sizes, on the
    right side of a threshold, and why that threshold.

    Attributes:
      figure: 'bit_errors' (errors per sequence: bit errors, or wrong answers for a class task),
        'cost' (bits per sequence), 'cost_above_floor' (bits per sequence above the
        Bayes-optimal cost of the same held-out sequences, `ntm_cli.training.trainer.heldout_floor`,
        or the expected `floor_cost` where the task cannot compute it), or a score's
        key ('shot_2': an accuracy, a fraction of answers right).
      threshold: errors and costs must be below it; an accuracy at or above it.
      reason: one line, for the tables' captions and `ntm tasks`.
    """

    figure: str
    threshold: float
    reason: str

    def holds(self, cost: float | None, bit_errors: float | None, scores: dict[str, float], floor: float) -> bool:
        """Whether one held-out report meets the rule (a missing or non-finite figure does not)."""
        if self.figure == "bit_errors":
            value = bit_errors
        elif self.figure == "cost":
            value = cost
        elif self.figure == "cost_above_floor":
            value = None if cost is None else cost - floor
        else:
            value = scores.get(self.figure)
        if value is None or not math.isfinite(value):
            return False
        return value < self.threshold if self.figure in LOWER_IS_BETTER else value >= self.threshold

    def text(self) -> str:
        """'fewer than 1 bit error per sequence', 'within 2 bits/seq of the floor', '2nd >= 90%'."""
        if self.figure == "bit_errors":
            return f"{{errors}} per sequence below {self.threshold:g}"
        if self.figure == "cost":
            return f"a cost below {self.threshold:g} bits/seq"
        if self.figure == "cost_above_floor":
            return f"within {self.threshold:g} bits/seq of the Bayes-optimal floor"
        return f"accuracy ({{{self.figure}}}) at least {100 * self.threshold:g}%"


def size(default: int, help: str) -> Any:
    """A size field a user may set: it becomes the option `--<field-name>` with this help."""
    return dataclasses.field(default=default, metadata={"help": help})


def check(condition: bool, message: str) -> None:
    """Raises TaskConfigError(message) unless the condition holds."""
    if not condition:
        raise TaskConfigError(message)


def random_bits(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Independent fair bits as float32 0.0/1.0, `shape`."""
    return jax.random.bernoulli(key, 0.5, shape).astype(jnp.float32)


def errors_counted(output_kind: str) -> str:
    """What an error per sequence counts for targets of `output_kind` ('bits' or 'class')."""
    return "wrong answers" if output_kind == "class" else "bit errors"


@dataclasses.dataclass(frozen=True)
class Task:
    """Base class: subclasses add their size fields, `sample_one`, the size properties and what
    they know of themselves (the class attributes below)."""

    name: ClassVar[str]  # the canonical name
    aliases: ClassVar[tuple[str, ...]] = ()  # other names a user may type; the first is the short name
    summary: ClassVar[str]  # one line for `ntm tasks`
    # The sizes evaluation varies and figures draw along; the first is the task's main size
    # (`ntm memory --length`, the generalisation figure's x-axis). Empty for fixed sizes.
    axes: ClassVar[tuple[SizeAxis, ...]] = ()
    # The paper's readings by model family ("ntm": both controllers, "lstm": the baseline).
    paper: ClassVar[dict[str, Reading]] = {}
    # The paper's reading of the floor (`floor_cost`), where it gives one.
    paper_floor: ClassVar[str | None] = None
    # The model families from best to worst in the paper, for `ntm compare` to say whether
    # its ordering held; empty for a task the paper does not have.
    paper_order: ClassVar[tuple[str, ...]] = ()
    # What a target is: "bits", independent binary channels (sigmoid outputs, binary
    # cross-entropy, bit errors), or "class", one class per scored step, the targets one-hot
    # over `output_size` classes (softmax outputs, cross-entropy, wrong answers).
    output_kind: ClassVar[str] = "bits"
    # Accuracies evaluation reports beside the cost (class tasks; see `score_counts`).
    scores: ClassVar[tuple[Score, ...]] = ()
    # The models `ntm compare` sets side by side on this task when --models is not given.
    compare_models: ClassVar[tuple[str, ...]] = ("lstm", "ntm-lstm", "ntm-ff")
    # What solving the task means, for the studies' "solved k of K" (None: no rule).
    solved: ClassVar[Solved | None] = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            check(
                isinstance(value, int) and not isinstance(value, bool),
                f"{field.name.replace('_', ' ')} must be a whole number, got {value!r}.",
            )
        self.validate()

    # --- to implement -------------------------------------------------------------------------

    def validate(self) -> None:
        """Raises TaskConfigError, one sentence, for sizes that describe no valid sequence."""

    @property
    def input_size(self) -> int:
        """Input channels per time step."""
        raise NotImplementedError

    @property
    def output_size(self) -> int:
        """Output (target) channels per time step."""
        raise NotImplementedError

    @property
    def max_time(self) -> int:
        """T: the padded sequence length, inputs and answer together."""
        raise NotImplementedError

    @property
    def chance_cost(self) -> float:
        """Expected cost in bits per sequence of predicting 0.5 for every scored target bit.

        Each scored bit then costs exactly 1 bit, so this is the expected number of scored
        target bits (mask steps x output channels) over the task's distribution.
        """
        raise NotImplementedError

    def sample_one(self, key: jax.Array) -> Example:
        """One example; a pure function of `key` with shapes fixed by the sizes."""
        raise NotImplementedError

    def describe(self, example: dict[str, np.ndarray]) -> list[str]:
        """Lines that explain one example in words (its length, the query, ...)."""
        return []

    def input_labels(self) -> list[str]:
        """A short label per input channel, for printing."""
        raise NotImplementedError

    def output_labels(self) -> list[str]:
        """A short label per output channel, for printing."""
        raise NotImplementedError

    def generalisation_sizes(self) -> list[dict[str, int]]:
        """The paper's evaluation sizes beyond training, each as {axis option: value}; empty if none."""
        return []

    def floor_cost(self) -> float:
        """The lowest expected cost in bits per sequence any model can reach (0 if deterministic)."""
        return 0.0

    def optimal_costs(self, batch: Batch) -> jax.Array | None:
        """Bits per sequence, `[B]`, that the Bayes-optimal predictor pays on these very sequences,
        where the task can compute it (None: only `floor_cost`, an expectation, is known). A cost
        measured on a batch is compared with the floor of that batch: the floor of a few hundred
        sequences varies by bits from batch to batch (`ntm_cli.training.trainer.heldout_floor`)."""
        return None

    @property
    def computes_optimal_costs(self) -> bool:
        """Whether `optimal_costs` gives costs (the task overrides it): only then is a batch drawn
        to measure its floor."""
        return type(self).optimal_costs is not Task.optimal_costs

    def heldout(self) -> Task:
        """The task held-out data come from: the task itself, or its evaluation split where it has
        one (a task of classes that training never sees)."""
        return self

    def score_counts(self, labels: jax.Array, correct: jax.Array, mask: jax.Array) -> dict[str, tuple[jax.Array, jax.Array]]:
        """Per `scores` entry, (correct answers, answers) summed over a batch; jittable.

        Args:
          labels: `[T, B]` int32, the target class at each step.
          correct: `[T, B]` bool, whether the model's answer was the target.
          mask: `[T, B]` where answers are scored.
        """
        return {}

    def score_notes(self, sequences_trained: int) -> dict[str, str]:
        """What each score means for a run that trained on this many sequences, where it depends
        on that (a frequency band: how often its classes appeared in training); {} for none."""
        return {}

    # --- shared -------------------------------------------------------------------------------

    @classmethod
    def size_fields(cls) -> dict[str, str]:
        """The sizes a user may set, field name -> help; internal fields (no help) left out."""
        return {f.name: f.metadata["help"] for f in dataclasses.fields(cls) if "help" in f.metadata}

    def solved_text(self) -> str | None:
        """The solved rule in words, with this task's names for its errors and scores."""
        if self.solved is None:
            return None
        labels = {score.key: score.label for score in self.scores}
        return f"{self.solved.text().format(errors=self.error_name, **labels)}: {self.solved.reason}"

    @property
    def error_name(self) -> str:
        """What an error per sequence counts: 'bit errors' or 'wrong answers'."""
        return errors_counted(self.output_kind)

    @classmethod
    def short_name(cls) -> str:
        """The name for narrow tables: the first alias, else the name."""
        return cls.aliases[0] if cls.aliases else cls.name

    def sample(self, key: jax.Array, batch_size: int) -> Batch:
        """Draws a batch; pure, and compiled once per task and batch size.

        Args:
          key: a PRNG key.
          batch_size: B, a Python int.

        Returns:
          Batch(inputs [T, B, input_size], targets [T, B, output_size], mask [T, B]).
        """
        return _compiled("sample", static_argnums=(0, 2))(self, key, batch_size)

    def sample_at(self, key: jax.Array, index: int) -> Batch:
        """A batch of one: example `index` of `sample(key, B)` for any B > index."""
        return _compiled("sample_at", static_argnums=0)(self, key, index)

    def device_data(self) -> Any:
        """Arrays the task samples from, for a compiled program to take as arguments (not bake
        in as constants); () for a task that generates its data (`with_device_data` inverts)."""
        return ()

    def with_device_data(self, data: Any) -> Task:
        """The task sampling from `data` (the traced `device_data`); a generator is unchanged."""
        return self

    def heldout_batches(self, batch_size: int) -> tuple[list[Any], int] | None:
        """For a task that holds its held-out sequences (an archive's): the `device_data` of each
        batch of `batch_size` that together read every sequence once, in order (the last batch
        filled up from the start), and the number of sequences; None for a generator, whose
        held-out batches are drawn from keys."""
        return None

    def _sample(self, key: jax.Array, batch_size: int) -> Batch:
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(batch_size))
        example = jax.vmap(self.sample_one)(keys)  # each leaf [B, T, ...]
        return Batch(
            inputs=jnp.swapaxes(example.inputs, 0, 1),
            targets=jnp.swapaxes(example.targets, 0, 1),
            mask=jnp.swapaxes(example.mask, 0, 1),
        )

    def _sample_at(self, key: jax.Array, index: int) -> Batch:
        example = self.sample_one(jax.random.fold_in(key, index))
        return Batch(example.inputs[:, None], example.targets[:, None], example.mask[:, None])

    # --- curriculum -----------------------------------------------------------------------------

    def curriculum_stages(self) -> list[Task]:
        """The task at rising difficulty, easiest first and this task last.

        Every axis with a range (min and max fields) grows together: at stage s of S, an axis
        from lo to hi has its max at lo + round((hi - lo) * s / (S - 1)), its min unchanged,
        where S is one more than the widest range (recall, 2-6 items: max 2, 3, 4, 5, 6 items).
        Sampling a stage draws from the easier distribution only; its shapes are padded to this
        task's T (`sample_staged`).

        Raises:
          TaskConfigError: the task has no size range to grow (fixed sizes, one length).
        """
        ranges = [axis.fields for axis in self.axes if len(axis.fields) == 2]
        sizes = self.sizes()
        widths = [sizes[high] - sizes[low] for low, high in ranges]
        if not widths or max(widths) == 0:
            raise TaskConfigError(
                f"task {self.name} has no range of sizes for a curriculum to grow (it trains on fixed sizes)."
            )
        count = max(widths) + 1
        return [
            self.variant(**{high: sizes[low] + round((sizes[high] - sizes[low]) * s / (count - 1))
                            for low, high in ranges})
            for s in range(count)
        ]

    def sample_staged(self, key: jax.Array, batch_size: int, stage: jax.Array) -> Batch:
        """A batch from curriculum stage `stage` (a traced int32, clipped to the last stage), padded
        to this task's shapes: `sample(key, batch_size)` of `curriculum_stages()[stage]`, with
        zero inputs, targets and mask after its own T. One program for every stage (`lax.switch`).
        """
        def drawer(task: Task):
            def draw(key: jax.Array) -> Batch:
                batch = task._sample(key, batch_size)
                pad = self.max_time - task.max_time
                return Batch(*(jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)) for x in batch))
            return draw

        stages = self.curriculum_stages()
        return jax.lax.switch(jnp.clip(stage, 0, len(stages) - 1), [drawer(task) for task in stages], key)

    def sizes(self) -> dict[str, Any]:
        """The task's size fields as a plain dict (for configs and tables)."""
        return dataclasses.asdict(self)

    def sizes_text(self) -> str:
        """The sizes in words, ranges joined: 'width 8, length 1-20' (an internal field, which is
        no option, only where it is not its default: a held-out split)."""
        internal = {f.name for f in dataclasses.fields(self) if "help" not in f.metadata
                    and getattr(self, f.name) == f.default}
        sizes = {k: v for k, v in self.sizes().items() if v is not None and k not in internal}
        parts = []
        for name, value in sizes.items():
            if "max_" in name and name.replace("max_", "min_") in sizes:
                continue
            if "min_" in name and name.replace("min_", "max_") in sizes:
                high = sizes[name.replace("min_", "max_")]
                value = f"{value}-{high}" if high != value else str(value)
                name = name.replace("min_", "")
            parts.append(f"{name.replace('_', ' ')} {value}")
        return ", ".join(parts)

    def variant(self, **sizes: Any) -> Task:
        """The same task with some sizes changed (for evaluation at other sizes)."""
        return dataclasses.replace(self, **sizes)

    def axis(self, option: str) -> SizeAxis:
        """The axis `ntm eval` sets with `--<option>`."""
        return next(axis for axis in self.axes if axis.option == option)

    def at(self, values: dict[str, int]) -> Task:
        """The task at one value of some of its axes ({"lengths": 50} -> lengths 50 to 50)."""
        sizes: dict[str, int] = {}
        for option, value in values.items():
            sizes |= self.axis(option).sizes(value)
        return self.variant(**sizes)

    def label(self, values: dict[str, int]) -> str:
        """{"lengths": 20, "repeats": 10} -> 'length 20, repeats 10'."""
        return ", ".join(self.axis(option).label.format(value) for option, value in values.items())

    def evaluation_variants(self, values: dict[str, list[int]] | None = None) -> dict[str, Task]:
        """'training sizes', then the sizes asked for, or the paper's generalisation sizes if none.

        Args:
          values: axis option -> values to evaluate at (every combination when several axes
            are given; an axis not given keeps the task's largest training value).

        Raises:
          TaskConfigError: an option that is not one of this task's axes.
        """
        variants: dict[str, Task] = {"training sizes": self}
        values = {option: list(v) for option, v in (values or {}).items() if v}
        options = [axis.option for axis in self.axes]
        wrong = [f"--{option}" for option in values if option not in options]
        if wrong:
            takes = ", ".join(f"--{option}" for option in options) or "no size options"
            raise TaskConfigError(f"{', '.join(wrong)} does not apply to task {self.name}, which takes {takes}.")
        if not values:
            points = self.generalisation_sizes()
        else:
            grid = [values.get(axis.option, [axis.value(self.sizes())]) for axis in self.axes]
            points = [dict(zip(options, combination)) for combination in itertools.product(*grid)]
        return variants | {self.label(point): self.at(point) for point in points}

    def generalisation_variants(self) -> dict[str, Task]:
        """The paper's evaluation sizes beyond training (label -> task); empty if none."""
        return {self.label(point): self.at(point) for point in self.generalisation_sizes()}

    def render(self, batch: Batch, index: int = 0, columns: int = 100, title: str | None = None) -> str:
        """Example `index` of a batch as text: one row per channel, one column per time step.

        Binary channels print '#' for 1 and '.' for 0; other values print '+' or '-' by sign
        (their values are given in the description lines). Steps after the last step that
        carries an input or a scored target are left out; long sequences wrap every `columns`.
        """
        inputs = np.asarray(batch.inputs[:, index])  # [T, in]
        targets = np.asarray(batch.targets[:, index])  # [T, out]
        mask = np.asarray(batch.mask[:, index])  # [T]
        used = np.flatnonzero((np.abs(inputs).sum(-1) > 0) | (mask > 0))
        steps = int(used[-1]) + 1 if used.size else 1
        classes = self.output_kind == "class"  # one class a step: printed as numbers, not one-hot rows
        rows = (
            [("input " + label, inputs[:steps, c]) for c, label in enumerate(self.input_labels())]
            + ([] if classes else [("target " + label, targets[:steps, c]) for c, label in enumerate(self.output_labels())])
            + [("mask", mask[:steps])]
        )
        width = max(len(label) for label, _ in rows)
        example = {"inputs": inputs, "targets": targets, "mask": mask}
        title = title or f"{self.name}: example {index}"
        lines = [f"{title}, {steps} of T={self.max_time} steps shown ('#' = 1, '.' = 0)"]
        lines += self.describe(example)
        if classes:
            labels = np.argmax(targets[:steps], axis=-1)
            lines.append("target class by step: " + " ".join(str(int(c)) if m else "-" for c, m in zip(labels, mask[:steps])))
        for start in range(0, steps, columns):
            stop = min(start + columns, steps)
            lines.append("")
            lines.append(f"{'time':>{width}} {start}..{stop - 1}")
            lines += [f"{label:>{width}} {_cells(values[start:stop])}" for label, values in rows]
        return "\n".join(lines)


@functools.cache
def _compiled(method: str, static_argnums) -> Any:
    """`jax.jit` of `Task._<method>`, made on first use (so that importing a task imports no JAX);
    one compilation per task (a static, hashable argument) and batch size."""
    import jax as real_jax

    return real_jax.jit(getattr(Task, f"_{method}"), static_argnums=static_argnums)


def _cells(values: np.ndarray) -> str:
    """'#' for 1, '.' for 0, '+' / '-' for other positive / negative values."""
    out = []
    for v in values:
        if v == 1.0:
            out.append("#")
        elif v == 0.0:
            out.append(".")
        else:
            out.append("+" if v > 0 else "-")
    return "".join(out)
