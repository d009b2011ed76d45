"""One-shot episodes (Gaussian classes and handwritten digits): layout, fresh classes, showing
index and scores against hand-made references, chance and floor, the digits' splits and data."""

import math
import sys

import jax
import numpy as np
import pytest

from ntm_cli.tasks import TaskConfigError, make_task
from ntm_cli.tasks import base as task_base
from ntm_cli.tasks.one_shot import showing_index
from ntm_cli.tasks.one_shot_digits import class_images, class_names, transform_image

SMALL = {"one-shot": {"classes": 3, "showings": 4, "features": 4, "distractors": 2}, "digits": {"classes": 3, "showings": 4}}


def _batch(task, seed=0, batch_size=16):
    return [np.asarray(a) for a in task.sample(jax.random.key(seed), batch_size)]


@pytest.mark.parametrize("name", ["one-shot", "digits"])
def test_layout_previous_label_each_class_s_times_and_every_step_scored(name):
    task = make_task(name, **SMALL[name])
    c, s = task.classes, task.showings
    inputs, targets, mask = _batch(task)
    assert task.max_time == c * s and task.output_size == c and inputs.shape[-1] == task.input_size
    previous = inputs[:, :, -c:]  # [T, B, C]
    assert not previous[0].any()
    np.testing.assert_array_equal(previous[1:], targets[:-1])
    np.testing.assert_array_equal(targets.sum(-1), 1.0)  # one class a step
    np.testing.assert_array_equal(targets.sum(0), s)  # [B, C]: each class S times
    np.testing.assert_array_equal(mask, 1.0)


def test_every_episode_draws_fresh_prototypes():
    task = make_task("one-shot", classes=3, showings=2, features=4, distractors=0, noise=0)
    inputs, targets, _ = _batch(task, batch_size=2)
    labels = targets.argmax(-1)  # [T, B]
    prototypes = []
    for b in range(2):
        by_class = np.stack([inputs[labels[:, b] == k, b, :4] for k in range(3)])  # [C, S, F]
        np.testing.assert_array_equal(by_class[:, 0], by_class[:, 1])  # noise 0: one point per class
        prototypes.append(by_class[:, 0])
    distances = np.linalg.norm(prototypes[0][:, None] - prototypes[1][None], axis=-1)  # [C, C]
    assert distances.min() > 1e-3  # no class of episode 0 comes back in episode 1


def test_noise_and_distractors_have_the_asked_spread():
    task = make_task("one-shot", classes=2, showings=50, features=3, distractors=2, noise=40)
    inputs, targets, _ = _batch(task, batch_size=20)
    labels = targets.argmax(-1)
    deviations = [inputs[labels[:, b] == k, b, :3] - inputs[labels[:, b] == k, b, :3].mean(0)
                  for b in range(20) for k in range(2)]
    within = np.sqrt(np.concatenate(deviations).var() * 50 / 49)  # 6,000 values: s.e. ~1%
    assert abs(within - 0.4) < 0.02
    assert abs(inputs[:, :, 3:5].std() - 1.0) < 0.05


def test_showing_index_against_a_loop():
    labels = np.asarray(jax.random.randint(jax.random.key(3), (12, 5), 0, 4))
    expected = np.zeros_like(labels)
    for b in range(5):
        seen = {}
        for t in range(12):
            seen[labels[t, b]] = seen.get(labels[t, b], 0) + 1
            expected[t, b] = seen[labels[t, b]]
    np.testing.assert_array_equal(np.asarray(showing_index(labels, 4)), expected)


def test_score_counts_by_hand():
    task = make_task("one-shot", classes=2, showings=3)
    labels = np.array([[0, 1], [1, 1], [0, 0], [0, 1], [1, 0], [1, 0]], np.int32)  # showings 1 1 2 3 2 3 | 1 2 1 3 2 3
    correct = np.array([[0, 1], [1, 1], [1, 0], [1, 1], [0, 1], [1, 0]], bool)
    mask = np.ones((6, 2), np.float32)
    mask[5, 1] = 0
    counts = jax.jit(task.score_counts)(labels, correct, mask)
    got = {key: (float(right), float(total)) for key, (right, total) in counts.items()}
    assert got == {"shot_1": (2, 4), "shot_2": (3, 4), "shot_3": (3, 3), "shot_5": (0, 0), "shot_10": (0, 0)}
    assert list(task.score_counts(labels, correct, mask)) == [score.key for score in task.scores]  # (jit sorts keys)
    assert [score.label for score in task.scores] == ["1st", "2nd", "3rd", "5th", "10th"]


def test_chance_and_floor_by_hand():
    task = make_task("one-shot")
    assert task.max_time == 50 and task.input_size == 16 + 16 + 5 and task.output_size == 5
    assert task.chance_cost == pytest.approx(50 * math.log2(5))
    assert task.floor_cost() == pytest.approx(math.log2(120))  # 5 new classes: 5 * 4 * 3 * 2 * 1 label choices
    assert make_task("one-shot", classes=3).floor_cost() == pytest.approx(math.log2(6))
    assert task.output_kind == "class" and task.error_name == "wrong answers" and task.heldout() is task
    assert make_task("oneshot").name == "one-shot" and make_task("digits").name == "one-shot-digits"


# --- digits -----------------------------------------------------------------------------------


def test_splits_share_no_digit_and_hold_the_first_174_images():
    training, evaluation = class_names(0), class_names(1)
    assert len(training) == 48 and len(evaluation) == 32
    assert not {d for d, _ in training} & {d for d, _ in evaluation}
    assert class_images(0).shape == (48, 174, 64) and class_images(1).shape == (32, 174, 64)
    assert class_images(1).dtype == np.uint8 and class_images(1).max() == 16

    from sklearn.datasets import load_digits

    digits = load_digits()
    assert np.bincount(digits.target).min() == 174
    first_three = digits.images[digits.target == 3][0]
    quarter_turn = evaluation.index((3, 1))
    np.testing.assert_array_equal(class_images(1)[quarter_turn, 0].reshape(8, 8), np.rot90(first_three))


def test_transforms_of_a_known_array():
    image = np.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(transform_image(image, 0), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(transform_image(image, 1), [[2, 4], [1, 3]])  # a quarter turn counter-clockwise
    np.testing.assert_array_equal(transform_image(image, 2), [[4, 3], [2, 1]])
    np.testing.assert_array_equal(transform_image(image, 4), [[2, 1], [4, 3]])  # flipped left-right
    np.testing.assert_array_equal(transform_image(image, 5), [[1, 3], [2, 4]])  # flipped, then turned
    asymmetric = np.arange(9).reshape(3, 3)
    assert len({transform_image(asymmetric, t).tobytes() for t in range(8)}) == 8


@pytest.mark.parametrize("split", [0, 1])
def test_an_episode_shows_distinct_images_of_distinct_classes_of_its_split(split):
    task = make_task("digits", classes=4, showings=5, split=split)
    inputs, targets, _ = _batch(task, batch_size=4)
    pixels, labels = inputs[..., :64], targets.argmax(-1)
    assert pixels.min() >= 0 and pixels.max() <= 1 and pixels.max() == 1
    stored = (class_images(split).astype(np.float32) / 16).reshape(-1, 64)  # [K * N, 64]
    image_class = np.repeat(np.arange(len(class_names(split))), 174)
    for b in range(4):
        classes = []
        for label in range(4):
            shown = pixels[labels[:, b] == label, b]  # [S, 64]
            assert len(np.unique(shown, axis=0)) == 5  # distinct images
            matches = (shown[:, None] == stored[None]).all(-1)  # [S, K * N]
            candidates = set.intersection(*({*image_class[m]} for m in matches))  # classes holding all S
            assert candidates
            classes.append(candidates)
        assert all(not a & b for i, a in enumerate(classes) for b in classes[i + 1:])  # distinct classes


def test_heldout_is_the_evaluation_split():
    task = make_task("digits")
    assert task.heldout().split == 1 and task.heldout().heldout() == task.heldout()
    assert task.sizes_text() == "classes 5, showings 10" and task.input_size == 64 + 5  # an internal default: unsaid
    assert task.heldout().sizes_text() == "classes 5, showings 10, split 1"
    assert "split" not in type(task).size_fields()


@pytest.mark.parametrize("sizes, message", [
    ({"classes": 33}, r"classes must be at most 32, the classes of the evaluation split, got 33\."),
    ({"showings": 175}, r"showings must be at most 174, the images of each class, got 175\."),
    ({"classes": 1}, r"classes must be at least 2, got 1\."),
    ({"split": 2}, r"split must be 0 \(training\) or 1 \(evaluation\), got 2\."),
])
def test_impossible_digit_sizes(sizes, message):
    with pytest.raises(TaskConfigError, match=message):
        make_task("digits", **sizes)


def test_without_scikit_learn_the_first_sample_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn...` now raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    class_images.cache_clear()
    task = make_task("digits", classes=2, showings=7)  # sizes no other test compiles
    assert task.max_time == 14
    task_base._compiled.cache_clear()
    with pytest.raises(TaskConfigError) as error:
        task.sample(jax.random.key(0), 2)
    assert str(error.value) == (
        "task one-shot-digits needs scikit-learn, which is not installed; install it with: pip install -e '.[data]'."
    )
    class_images.cache_clear()
