"""Rare events (after Kaiser et al., 2017, "Learning to Remember Rare Events"): life-long
classification in a fixed world of many classes with long-tailed frequencies.

The world is C prototypes p_c ~ N(0, I_F), drawn once from a fixed key (`WORLD_SEED`), the same
for every run and seed, so a class means the same thing in training and evaluation. Class c
(its frequency rank, from 0) appears with probability P_c proportional to (c + 1)^(-zipf/100).
A sequence is T classes drawn independently from P, each shown as p_c + (noise/100) eps:

            time  0 1 2 3 ... T-1
    input example x x x x     x      x_t = p_{y_t} + (noise/100) eps_t, F features
    target  class 0 3 0 417   1      y_t, one-hot over C classes
            mask  # # # #     #      every step scored

No label is ever an input: a model has to carry what it learned across sequences, a key-value
memory in its life-long memory (written once, a class is recalled the next time it appears),
the others in their parameters (a parametric classifier needs many gradient steps per class).
The frequency bands show the difference. With the default sizes (C = 1000, zipf 1.5), 300,000
training examples show each class this often:

    band      ranks      share of examples   appearances per class in 300,000 examples
    top 1%    0-9        78%                 ~23,000 (118,000 for the top class, 3,700 for the 10th)
    1-10%     10-99      16%                 ~550 (3,200 down to 120)
    10-30%    100-299    3.3%                ~50 (120 down to 23)
    30-100%   300-999    2.0%                ~9 (23 down to 4)

The held-out variant (`heldout`, uniform = 1) draws classes uniformly, so every band is measured
on many examples. The floor is taken as 0: the classes are far apart at the default noise.
"""

from __future__ import annotations

import dataclasses
import math

from ntm_cli.lazy import jax, jnp, np
from ntm_cli.tasks.base import Example, Score, Solved, Task, check, size

WORLD_SEED = 20170301  # the key of the prototypes: one world for every run

# The frequency bands: each score and where its ranks end, in percent of C.
BANDS = (
    (Score("top_1pct", "top 1%"), 1),
    (Score("top_10pct", "1-10%"), 10),
    (Score("mid", "10-30%"), 30),
    (Score("tail", "30-100%"), 100),
)


def band_bounds(classes: int) -> dict[str, tuple[int, int]]:
    """Each band's ranks [low, high) for C classes: fractions of C rounded down, each band at
    least one class wide (C = 1000: 0-10, 10-100, 100-300, 300-1000)."""
    bounds, low = {}, 0
    for i, (score, percent) in enumerate(BANDS):
        later = len(BANDS) - 1 - i  # bands after this one, each needing a class
        high = min(max(low + 1, percent * classes // 100), classes - later)
        bounds[score.key], low = (low, high), high
    return bounds


@dataclasses.dataclass(frozen=True)
class RareEventsTask(Task):
    """Rare events: a fixed world of 1000 classes in 32 dimensions, Zipf frequencies."""

    name = "rare-events"
    aliases = ("rare",)
    summary = "life-long classification of a fixed world of classes, most of them rare"
    output_kind = "class"
    scores = tuple(score for score, _ in BANDS)
    compare_models = ("lstm", "ntm-lstm", "kv-ff", "kv-lstm")
    paper_order = ()
    solved = Solved("tail", 0.9, "the rarest 70% of classes recognised, what a life-long memory is for")

    classes: int = size(1000, "Classes in the world.")  # C
    features: int = size(32, "Feature dimensions.")  # F
    noise: int = size(40, "Within-class noise, in percent of the prototypes' spread.")
    length: int = size(20, "Examples per sequence.")  # T
    zipf: int = size(150, "Zipf exponent of the class frequencies, times 100.")
    uniform: int = 0  # 1: classes drawn uniformly (the held-out variant)

    def validate(self) -> None:
        bands = len(BANDS)
        check(self.classes >= bands, f"classes must be at least {bands}, one per frequency band, got {self.classes}.")
        check(self.features >= 1, f"features must be at least 1, got {self.features}.")
        check(self.noise >= 0, f"noise must not be negative, got {self.noise}.")
        check(self.length >= 1, f"length must be at least 1, got {self.length}.")
        check(self.zipf >= 0, f"zipf must not be negative, got {self.zipf}.")
        check(self.uniform in (0, 1), f"uniform must be 0 or 1, got {self.uniform}.")

    @property
    def input_size(self) -> int:
        return self.features

    @property
    def output_size(self) -> int:
        return self.classes

    @property
    def max_time(self) -> int:
        return self.length

    @property
    def chance_cost(self) -> float:
        """T * log2(C): a uniform guess at every step."""
        return self.length * math.log2(self.classes)

    def input_labels(self) -> list[str]:
        return [f"feature {i}" for i in range(self.features)]

    def output_labels(self) -> list[str]:
        return [f"class {c}" for c in range(self.classes)]

    def heldout(self) -> RareEventsTask:
        """The same world with classes drawn uniformly, so that rare bands get many examples."""
        return self.variant(uniform=1)

    # --- the world ------------------------------------------------------------------------------

    def prototypes(self) -> jax.Array:
        """The world's class prototypes p_c, `[C, F]`: the same for every run, seed and variant."""
        return jax.random.normal(jax.random.key(WORLD_SEED), (self.classes, self.features))

    def class_probabilities(self) -> np.ndarray:
        """P_c proportional to (c + 1)^(-zipf/100), float64 `[C]` (NumPy: no JAX)."""
        weights = np.arange(1, self.classes + 1, dtype=np.float64) ** (-self.zipf / 100)
        return weights / weights.sum()

    def band_bounds(self) -> dict[str, tuple[int, int]]:
        """Each band's ranks [low, high) (see `band_bounds`)."""
        return band_bounds(self.classes)

    def band_probability(self, key: str) -> float:
        """The mean P_c of a class in a band (training's frequencies): a band's class appears
        about N * band_probability(key) times in N training examples."""
        low, high = self.band_bounds()[key]
        return float(self.class_probabilities()[low:high].mean())

    # --- sampling and scoring -------------------------------------------------------------------

    def score_notes(self, sequences_trained: int) -> dict[str, str]:
        """Each band's expected appearances per class in a run's training: 'seen ~9 times each'."""
        examples = sequences_trained * self.length
        def count(x: float) -> str:
            return f"{x:,.0f}" if x >= 100 else f"{x:.2g}"

        return {score.key: f"seen ~{count(self.band_probability(score.key) * examples)} times each in training"
                for score, _ in BANDS}

    def sample_one(self, key: jax.Array) -> Example:
        key_classes, key_noise = jax.random.split(key)
        ranks = jnp.arange(1, self.classes + 1, dtype=jnp.float32)
        logits = jnp.zeros(self.classes) if self.uniform else -self.zipf / 100 * jnp.log(ranks)  # log P_c + const
        labels = jax.random.categorical(key_classes, logits, shape=(self.length,))  # y_t: [T]
        eps = jax.random.normal(key_noise, (self.length, self.features))  # [T, F]
        inputs = self.prototypes()[labels] + self.noise / 100 * eps  # [T, F]
        targets = jax.nn.one_hot(labels, self.classes, dtype=jnp.float32)  # [T, C]
        return Example(inputs, targets, jnp.ones(self.length, jnp.float32))

    def score_counts(self, labels: jax.Array, correct: jax.Array, mask: jax.Array) -> dict[str, tuple[jax.Array, jax.Array]]:
        """(correct answers, answers) on the classes of each frequency band, summed over the
        batch. Arrays `[T, B]` as in `Task.score_counts`."""
        counts = {}
        for key, (low, high) in self.band_bounds().items():
            scored = ((labels >= low) & (labels < high)) * mask.astype(jnp.float32)  # [T, B]
            counts[key] = ((scored * correct).sum(), scored.sum())
        return counts

    def describe(self, example: dict[str, np.ndarray]) -> list[str]:
        labels = np.argmax(example["targets"], axis=-1)  # [T]
        per_band = [
            f"{score.label} {int(((labels >= low) & (labels < high)).sum())}"
            for score, (low, high) in zip(self.scores, self.band_bounds().values())
        ]
        drawn = "uniformly" if self.uniform else "by Zipf frequency"
        return [f"{self.length} examples, classes drawn {drawn}; by band: {', '.join(per_band)}"]
