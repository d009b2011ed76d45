"""One-shot classification of real images: the one-shot episodes (see `one_shot`) with
scikit-learn's 8x8 handwritten digits (`load_digits`, shipped inside the package: no download).

As the official code of Kaiser et al. (2017) made new Omniglot classes by rotating characters,
a class here is a (digit, transform) pair, of 8 transforms: rotations by 0, 90, 180 and 270
degrees, each without and with a left-right flip. Classes are split by digit, so evaluation
never sees a training digit in any orientation:

    training   digits 0 1 2 6 8 9   48 classes   0, 1 and 8 are nearly symmetric, so several of
                                                 their transforms look alike; 6 and 9 are one
                                                 another's half turn (both in training)
    evaluation digits 3 4 5 7       32 classes   asymmetric: 8 distinct-looking classes each

Each class has the first 174 images of its digit (the fewest of any digit: 8 has 174). An
episode draws C distinct classes of its split, labelled 0..C-1 in the order drawn, and S distinct
images of each; T = C * S. Layout for C = 3, S = 2 (T = 6):

            time  0 1 2 3 4 5
    input  pixels x x x x x x      x_t: the 64 pixels of an image of class y_t, in [0, 1]
       prev label . 2 0 2 1 0      one-hot of y_{t-1} over C channels, all zero at t = 0
    target  class 2 0 2 1 0 1      y_t, one-hot over C classes
            mask  # # # # # #      every step scored

scikit-learn is an optional extra (`pip install -e '.[data]'`): the task is built and listed
without it, and its first sample says how to install it.
"""

from __future__ import annotations

import dataclasses
import functools

from ntm_cli.lazy import jax, jnp, np
from ntm_cli.tasks.base import Example, Solved, check
from ntm_cli.tasks.errors import TaskConfigError
from ntm_cli.tasks.one_shot import EpisodeTask, episode_example, episode_order, showing_index

TRAINING_DIGITS = (0, 1, 2, 6, 8, 9)
EVALUATION_DIGITS = (3, 4, 5, 7)
SPLIT_DIGITS = (TRAINING_DIGITS, EVALUATION_DIGITS)  # by the task's `split`
TRANSFORMS = 8  # quarter turns 0-3, then the same with a left-right flip first
IMAGES_PER_CLASS = 174  # the fewest images of any digit in load_digits (digit 8)
PIXEL_MAX = 16  # load_digits' pixel values are 0..16


def transform_image(image: np.ndarray, transform: int) -> np.ndarray:
    """Transform `transform` (0..7) of an image `[H, W]`: flipped left-right if transform >= 4,
    then turned counter-clockwise by (transform % 4) quarter turns (`np.rot90`)."""
    flipped = np.fliplr(image) if transform >= 4 else image
    return np.rot90(flipped, transform % 4)


def class_names(split: int) -> list[tuple[int, int]]:
    """The (digit, transform) of each class of a split, in class order."""
    return [(digit, t) for digit in SPLIT_DIGITS[split] for t in range(TRANSFORMS)]


@functools.cache
def class_images(split: int) -> np.ndarray:
    """The images of every class of a split, uint8 `[classes, IMAGES_PER_CLASS, 64]`, values 0..16.

    Raises:
      TaskConfigError: scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise TaskConfigError(
            "task one-shot-digits needs scikit-learn, which is not installed; "
            "install it with: pip install -e '.[data]'."
        ) from None
    digits = load_digits()
    images = digits.images.astype(np.uint8)  # [1797, 8, 8]
    by_digit = {d: images[digits.target == d][:IMAGES_PER_CLASS] for d in SPLIT_DIGITS[split]}
    return np.stack([
        np.stack([transform_image(image, t) for image in by_digit[digit]]).reshape(IMAGES_PER_CLASS, 64)
        for digit, t in class_names(split)
    ])


@dataclasses.dataclass(frozen=True)
class OneShotDigitsTask(EpisodeTask):
    """One-shot episodes of handwritten digits under rotations and flips, split by digit."""

    name = "one-shot-digits"
    aliases = ("digits",)
    summary = "one-shot episodes of 8x8 handwritten digits, rotated and flipped into new classes"
    solved = Solved("shot_2", 0.75, "a digit class unseen in training recognised after one showing")

    split: int = 0  # 0: training classes, 1: evaluation classes (set by `heldout`)

    def validate(self) -> None:
        super().validate()
        check(self.split in (0, 1), f"split must be 0 (training) or 1 (evaluation), got {self.split}.")
        fewest = TRANSFORMS * min(len(digits) for digits in SPLIT_DIGITS)
        check(self.classes <= fewest, f"classes must be at most {fewest}, the classes of the evaluation split, got {self.classes}.")
        check(
            self.showings <= IMAGES_PER_CLASS,
            f"showings must be at most {IMAGES_PER_CLASS}, the images of each class, got {self.showings}.",
        )

    @property
    def input_size(self) -> int:
        return 64 + self.classes

    def input_labels(self) -> list[str]:
        return [f"pixel {r},{c}" for r in range(8) for c in range(8)] + [f"prev label {c}" for c in range(self.classes)]

    def heldout(self) -> OneShotDigitsTask:
        """The evaluation split: episodes of digits training never sees."""
        return self.variant(split=1)

    def sample_one(self, key: jax.Array) -> Example:
        images = jnp.asarray(class_images(self.split))  # [K, N, 64] uint8
        count, per_class = images.shape[:2]
        key_classes, key_images, key_order = jax.random.split(key, 3)
        classes = jax.random.choice(key_classes, count, (self.classes,), replace=False)  # label c -> class
        picks = jax.vmap(lambda k: jax.random.choice(k, per_class, (self.showings,), replace=False))(
            jax.random.split(key_images, self.classes)
        )  # [C, S]: the images of each label, distinct
        labels = episode_order(key_order, self.classes, self.showings)  # y_t: [T]
        showing = showing_index(labels[:, None], self.classes)[:, 0] - 1  # [T], from 0
        pixels = images[classes[labels], picks[labels, showing]].astype(jnp.float32) / PIXEL_MAX  # [T, 64]
        return episode_example(labels, pixels, self.classes)

    def describe(self, example: dict[str, np.ndarray]) -> list[str]:
        which = ("training", "evaluation")[self.split]
        digits = " ".join(map(str, SPLIT_DIGITS[self.split]))
        return [f"{self.classes} classes of the {which} split (digits {digits}, 8 transforms each), "
                f"{self.showings} showings each"]
