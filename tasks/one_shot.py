"""One-shot classification (Santoro et al., 2016): label examples of classes that are new in
every episode, told each true label one step late.

An episode has C classes, each shown S times, in a random order; T = C * S. Every episode draws
C fresh prototypes p_c ~ N(0, I_F), so no class is ever seen twice across episodes and the
labels 0..C-1 mean nothing outside their episode: a model must bind an example to the label it
is told one step later, and recall the binding at the class's next showing. Layout for C = 3,
S = 2 (T = 6):

            time  0 1 2 3 4 5
    input example x x x x x x      x_t = [p_{y_t} + (noise/100) eps_t, d_t]: F class features, D distractors
       prev label . 2 0 2 1 0      one-hot of y_{t-1} over C channels, all zero at t = 0
    target  class 2 0 2 1 0 1      y_t, one-hot over C classes
            mask  # # # # # #      every step scored
         showing  1 1 2 1 2 2      (not an input) the k-th showing of its class: the scores

eps_t ~ N(0, I_F) and the distractors d_t ~ N(0, I_D) are drawn afresh at every step, so the raw
cosine similarity of two examples is half noise until a learned projection drops the
distractors. The order is a random permutation of the T (class, showing) pairs.

Scores are accuracies on a class's k-th showing (k = 1, 2, 3, 5, 10). The 1st showing can only
be guessed; the 2nd is what Kaiser et al. (2017) call "1-shot" (one labelled example seen
before), the measure of their Omniglot 5-way 1-shot 98.4%.
"""

from __future__ import annotations

import dataclasses
import math

from ntm_cli.lazy import jax, jnp, np
from ntm_cli.tasks.base import Example, Reading, Score, Solved, Task, check, size

# The showings scored, with their labels in tables.
SHOWINGS_SCORED = (1, 2, 3, 5, 10)
_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


def showing_index(labels: jax.Array, classes: int) -> jax.Array:
    """Which showing of its class each step is: 1 + the earlier steps with the same label.

    Args:
      labels: `[T, B]` int, the class at each step.
      classes: C, the number of classes.

    Returns:
      `[T, B]` int32, 1 at a class's first step in its sequence, 2 at its second, ...
    """
    counts = jnp.cumsum(jax.nn.one_hot(labels, classes, dtype=jnp.int32), axis=0)  # [T, B, C]
    return jnp.take_along_axis(counts, labels[..., None], axis=-1)[..., 0]


def episode_order(key: jax.Array, classes: int, showings: int) -> jax.Array:
    """The labels of an episode in order: a random permutation of repeat(arange(C), S), `[C * S]` int32."""
    return jax.random.permutation(key, jnp.repeat(jnp.arange(classes, dtype=jnp.int32), showings))


def episode_example(labels: jax.Array, examples: jax.Array, classes: int) -> Example:
    """An episode as inputs, targets and mask: each example followed by the previous step's label.

    Args:
      labels: `[T]` int, y_t.
      examples: `[T, X]` float32, x_t.
      classes: C.

    Returns:
      Example(inputs [T, X + C] = [x_t, one-hot y_{t-1}], targets [T, C] one-hot y_t, mask [T] ones).
    """
    targets = jax.nn.one_hot(labels, classes, dtype=jnp.float32)  # [T, C]
    previous = jnp.pad(targets[:-1], ((1, 0), (0, 0)))  # [T, C], zero at t = 0
    inputs = jnp.concatenate([examples.astype(jnp.float32), previous], axis=-1)
    return Example(inputs, targets, jnp.ones(labels.shape[0], jnp.float32))


@dataclasses.dataclass(frozen=True)
class EpisodeTask(Task):
    """Base class of the one-shot tasks: C classes new to each episode, S showings each, the
    label told one step late; scored by showing (see the module docstring)."""

    output_kind = "class"
    scores = tuple(Score(f"shot_{k}", _ORDINALS.get(k, f"{k}th")) for k in SHOWINGS_SCORED)
    compare_models = ("lstm", "ntm-lstm", "dnc", "kv-ff")
    paper = {"kv": Reading(None, "Omniglot 5-way 1-shot 98.4%")}  # Kaiser et al. (2017)
    paper_floor = "log2(C!): 1st showings guessed, later ones certain"
    paper_order = ()
    solved = Solved("shot_2", 0.9, "a class recognised after one showing; the paper's 1-shot figure is 98.4%")

    classes: int = size(5, "Classes per episode (N-way).")  # C
    showings: int = size(10, "Showings of each class per episode.")  # S; T = C * S

    def validate(self) -> None:
        check(self.classes >= 2, f"classes must be at least 2, got {self.classes}.")
        check(self.showings >= 1, f"showings must be at least 1, got {self.showings}.")

    @property
    def output_size(self) -> int:
        return self.classes

    @property
    def max_time(self) -> int:
        return self.classes * self.showings

    @property
    def chance_cost(self) -> float:
        """T * log2(C): a uniform guess at every step."""
        return self.max_time * math.log2(self.classes)

    def floor_cost(self) -> float:
        """log2(C!): the k-th new class of an episode takes one of the C - k + 1 labels not yet
        used, all equally likely; every later showing can at best be answered with certainty
        (a bound, not always reached: noisy examples or look-alike digits can be confused)."""
        return math.lgamma(self.classes + 1) / math.log(2)

    def score_counts(self, labels: jax.Array, correct: jax.Array, mask: jax.Array) -> dict[str, tuple[jax.Array, jax.Array]]:
        """(correct answers, answers) on each scored showing, summed over the batch; a showing
        beyond S counts 0 of 0. Arrays `[T, B]` as in `Task.score_counts`."""
        showing = showing_index(labels, self.classes)  # [T, B]
        counts = {}
        for score, k in zip(self.scores, SHOWINGS_SCORED):
            scored = (showing == k) * mask.astype(jnp.float32)  # [T, B]
            counts[score.key] = ((scored * correct).sum(), scored.sum())
        return counts

    def output_labels(self) -> list[str]:
        return [f"class {c}" for c in range(self.classes)]

    def describe(self, example: dict[str, np.ndarray]) -> list[str]:
        return [f"{self.classes} classes new to this episode, {self.showings} showings each"]


@dataclasses.dataclass(frozen=True)
class OneShotTask(EpisodeTask):
    """One-shot episodes of Gaussian classes: prototypes in F dimensions beside D of noise."""

    name = "one-shot"
    aliases = ("oneshot",)
    summary = "label examples of classes new to each episode, told each label one step late"

    features: int = size(16, "Feature dimensions that carry the class.")  # F
    distractors: int = size(16, "Feature dimensions of pure noise.")  # D
    noise: int = size(40, "Within-class noise, in percent of the prototypes' spread.")

    def validate(self) -> None:
        super().validate()
        check(self.features >= 1, f"features must be at least 1, got {self.features}.")
        check(self.distractors >= 0, f"distractors must not be negative, got {self.distractors}.")
        check(self.noise >= 0, f"noise must not be negative, got {self.noise}.")

    @property
    def input_size(self) -> int:
        return self.features + self.distractors + self.classes

    def input_labels(self) -> list[str]:
        return ([f"feature {i}" for i in range(self.features)]
                + [f"distractor {i}" for i in range(self.distractors)]
                + [f"prev label {c}" for c in range(self.classes)])

    def sample_one(self, key: jax.Array) -> Example:
        key_prototypes, key_order, key_noise, key_distractors = jax.random.split(key, 4)
        prototypes = jax.random.normal(key_prototypes, (self.classes, self.features))  # p_c: [C, F]
        labels = episode_order(key_order, self.classes, self.showings)  # y_t: [T]
        eps = jax.random.normal(key_noise, (self.max_time, self.features))  # [T, F]
        distractors = jax.random.normal(key_distractors, (self.max_time, self.distractors))  # d_t: [T, D]
        examples = jnp.concatenate([prototypes[labels] + self.noise / 100 * eps, distractors], axis=-1)
        return episode_example(labels, examples, self.classes)
