"""Training internals: metrics, the optimiser, skipped non-finite updates, no retrace, seeds, learning."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ntm_cli.config import OptimizerConfig, TrainConfig
from ntm_cli.models import LSTMConfig, NTMConfig
from ntm_cli.training.trainer import SEEDS_AXIS, Trainer, learning_rate_at, make_optimizer, sequence_metrics
from ntm_cli.training.session import next_call_steps
from ntm_cli.tasks.copy import CopyTask

SMALL_NTM = NTMConfig(controller_sizes=(32,), memory_rows=16, memory_width=8)


def small_config(**changes):
    config = TrainConfig(
        task="copy", task_sizes={"max_length": 5}, model=SMALL_NTM,
        optimizer=OptimizerConfig(name="adam", learning_rate=3e-3, clip_norm=50.0),
        batch_size=1, steps=100, steps_per_call=10, report_every=50, eval_batch_size=64,
    )
    return dataclasses.replace(config, **changes)


def test_sequence_metrics_by_hand():
    logits = np.array([[[0.0, 2.0]], [[-1.0, 3.0]], [[5.0, 5.0]]], np.float32)  # [T=3, B=1, out=2]
    targets = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 1.0]]], np.float32)
    mask = np.array([[1.0], [1.0], [0.0]], np.float32)
    cost, errors = sequence_metrics(jnp.asarray(logits), jnp.asarray(targets), jnp.asarray(mask))
    p = 1 / (1 + np.exp(-logits[:2, 0]))
    expected = -(np.log2(p[0, 0]) + np.log2(1 - p[0, 1]) + np.log2(1 - p[1, 0]) + np.log2(p[1, 1]))
    np.testing.assert_allclose(cost, [expected], rtol=1e-6)
    # t=0: logit 0 gives 0.5, thresholded to 0 against a 1, and logit 2 against a 0: two errors;
    # t=1 is right on both bits; t=2 is not scored.
    np.testing.assert_array_equal(errors, [2.0])


def test_predicting_one_half_costs_one_bit_per_scored_bit():
    task = CopyTask(max_length=7)
    batch = task.sample(jax.random.key(0), 16)
    cost, _ = sequence_metrics(jnp.zeros_like(batch.targets), batch.targets, batch.mask)
    np.testing.assert_allclose(cost, batch.mask.sum(0) * task.output_size, rtol=1e-6)


def _graves_reference(gradients, lr, x):
    """Graves (2013): n = .95 n + .05 g^2, g_ = .95 g_ + .05 g, d = .9 d - lr g / sqrt(n - g_^2 + 1e-4)."""
    n = g_bar = delta = np.zeros_like(x)
    for grad in gradients:
        n = 0.95 * n + 0.05 * grad**2
        g_bar = 0.95 * g_bar + 0.05 * grad
        delta = 0.9 * delta - lr * grad / np.sqrt(n - g_bar**2 + 1e-4)
        x = x + delta
    return x


def _run_optimizer(config, gradients, x):
    tx = make_optimizer(config)
    params = jnp.asarray(x, jnp.float32)
    state = tx.init(params)
    for grad in gradients:
        updates, state = tx.update(jnp.asarray(grad, jnp.float32), state, params)
        params = optax.apply_updates(params, updates)
    return np.asarray(params)


def test_graves_rmsprop_matches_the_papers_update_rule_by_hand():
    gradients = [np.array([0.5, -1.0]), np.array([2.0, 0.25]), np.array([-0.3, 0.7])]
    x = np.array([1.0, -2.0])
    got = _run_optimizer(OptimizerConfig(name="rmsprop", learning_rate=0.1, momentum=0.9), gradients, x)
    np.testing.assert_allclose(got, _graves_reference(gradients, 0.1, x), rtol=1e-4)


def test_clipping_element_wise_and_by_global_norm_comes_before_the_optimiser():
    gradients = [np.array([30.0, -40.0]), np.array([1.0, 2.0])]
    x = np.array([0.5, 0.5])
    by_value = OptimizerConfig(name="rmsprop", learning_rate=0.01, clip_value=10.0)
    clipped = [np.array([10.0, -10.0]), np.array([1.0, 2.0])]
    np.testing.assert_allclose(_run_optimizer(by_value, gradients, x), _graves_reference(clipped, 0.01, x), rtol=1e-4)
    by_norm = OptimizerConfig(name="rmsprop", learning_rate=0.01, clip_norm=5.0)
    clipped = [np.array([3.0, -4.0]), np.array([1.0, 2.0])]  # norm 50 scaled to 5; norm 2.2 kept
    np.testing.assert_allclose(_run_optimizer(by_norm, gradients, x), _graves_reference(clipped, 0.01, x), rtol=1e-4)


def test_learning_rate_decays_along_a_cosine_to_a_tenth_then_stays():
    # With a constant gradient Adam's step is lr_t * g / (|g| + eps): the learning rate itself.
    lr, steps, decay_steps = 0.5, 7, 4
    config = OptimizerConfig(name="adam", learning_rate=lr, decay_steps=decay_steps, decay_to=0.1)
    got = _run_optimizer(config, [np.array([1.0])] * steps, np.array([0.0]))
    rates = [lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(t, decay_steps) / decay_steps))) for t in range(steps)]
    assert rates[0] == lr and rates[-1] == pytest.approx(0.1 * lr)
    np.testing.assert_allclose(got, [-sum(rates)], rtol=1e-5)
    constant = _run_optimizer(OptimizerConfig(name="adam", learning_rate=lr), [np.array([1.0])] * steps, np.array([0.0]))
    np.testing.assert_allclose(constant, [-lr * steps], rtol=1e-5)


def test_a_held_decay_keeps_the_full_rate_then_follows_a_cosine_over_the_rest_to_its_end_fraction():
    lr, steps, decay_steps, hold = 0.5, 12, 10, 4  # decay_from 0.4 of 10 steps: 4 held, then 6 of cosine
    config = OptimizerConfig(name="adam", learning_rate=lr, decay_steps=decay_steps, decay_to=0.01, decay_from=0.4)
    got = _run_optimizer(config, [np.array([1.0])] * steps, np.array([0.0]))
    rates = [lr if t < hold else lr * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * min(t - hold, 6) / 6)))
             for t in range(steps)]
    assert rates[:5] == [lr] * 5 and rates[-1] == pytest.approx(0.01 * lr)
    np.testing.assert_allclose(got, [-sum(rates)], rtol=1e-5)
    assert [learning_rate_at(config, t) for t in (0, 4, 7, 10, 11)] == pytest.approx(
        [lr, lr, lr * (0.01 + 0.99 * 0.5), 0.01 * lr, 0.01 * lr], rel=1e-5)
    # a hold of (nearly) every step still ends the decay at decay_steps: the last step decays
    for steps, start in ((10, 0.95), (1, 0.6), (100, 0.999)):
        edge = OptimizerConfig(learning_rate=1.0, decay_steps=steps, decay_to=0.1, decay_from=start)
        assert learning_rate_at(edge, steps - 1) == 1.0 and learning_rate_at(edge, steps) == pytest.approx(0.1)


class _PoisonedCopy(CopyTask):
    """Copy whose inputs are NaN for about a third of the steps."""

    def sample(self, key, batch_size):
        batch = super().sample(key, batch_size)
        poisoned = jax.random.uniform(jax.random.fold_in(key, 99)) < 0.35
        return batch._replace(inputs=jnp.where(poisoned, jnp.nan, batch.inputs))


def test_non_finite_steps_are_skipped_counted_and_leave_parameters_finite():
    trainer = Trainer(small_config(), [0])
    trainer.task = _PoisonedCopy(max_length=5)
    state = trainer.initial_state()
    before = jax.tree.leaves(state.params)
    state, metrics = trainer.train_chunk(state, 0, 100)
    state, metrics2 = trainer.train_chunk(state, 10, 100)
    skipped = int(state.skipped[0])
    non_finite = int((~np.isfinite(np.concatenate([metrics.cost, metrics2.cost], axis=1))).sum())
    assert 0 < skipped == non_finite < 20
    after = jax.tree.leaves(state.params)
    assert all(np.all(np.isfinite(np.asarray(a))) for a in after)
    assert any(not np.array_equal(a, b) for a, b in zip(after, before))  # the finite steps did update


def test_the_compiled_chunk_keeps_its_input_types_so_nothing_retraces():
    trainer = Trainer(small_config(), [0])
    state = trainer.initial_state()
    signature = lambda tree: jax.tree.map(lambda a: (a.shape, a.dtype, a.weak_type), tree)
    first = signature(state)
    traces = []
    original = trainer._train_chunk

    def counting(*args):
        traces.append(1)
        return original(*args)

    trainer._train_chunk = counting
    trainer._chunk = jax.jit(jax.vmap(counting, in_axes=(0, 0, 0, 0, None, None, None), axis_name=SEEDS_AXIS))
    for call in range(4):
        state, _ = trainer.train_chunk(state, 10 * call, 100)
        assert signature(state) == first
    assert len(traces) == 1


@pytest.fixture(scope="module")
def trainer():
    """The small NTM's trainer for seed 0, compiled once for the tests that only run it (its
    program does not depend on the budget: each call is given the step to stop at)."""
    return Trainer(small_config(), [0])


def test_steps_past_the_budget_change_nothing(trainer):
    state, _ = trainer.train_chunk(trainer.initial_state(), 10, 15)  # steps 10..19, only 10..14 active
    state_b, metrics = trainer.train_chunk(state, 20, 15)  # entirely past the budget
    assert not np.asarray(metrics.active).any()
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(state_b)):
        np.testing.assert_array_equal(a, b)


def test_calls_of_any_length_train_exactly_as_whole_chunks(trainer):
    """The session shortens calls that run long (and starts with one step): steps 0..9 in calls
    of 1, 4 and 5 leave the state bit for bit as one call of 10, and their metrics agree."""
    whole, metrics = trainer.train_chunk(trainer.initial_state(), 0, 10)
    state, costs = trainer.initial_state(), []
    for first, end in [(0, 1), (1, 5), (5, 10)]:
        state, part = trainer.train_chunk(state, first, end)
        active = np.asarray(part.active[0])
        assert active.sum() == end - first and active[:end - first].all()
        costs.extend(np.asarray(part.cost[0])[active])
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(state)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(costs, np.asarray(metrics.cost[0]))


def test_the_next_call_fits_about_a_second_between_one_step_and_k():
    assert next_call_steps(1, 0.001, 10) == 10  # fast steps: whole chunks of K
    assert next_call_steps(10, 5.0, 1000) == 2  # 0.5 s a step: two a call
    assert next_call_steps(2, 7.0, 1000) == 1  # slower than a second a step: one
    assert next_call_steps(4, 1.0, 1000) == 4 and next_call_steps(5, 0.0, 7) == 7


def test_seeds_trained_together_match_each_seed_alone(trainer):
    together = Trainer(small_config(), [0, 3])
    state, _ = together.train_chunk(together.initial_state(), 0, 100)
    for index, alone in enumerate([trainer, Trainer(small_config(), [3])]):  # seed 0, seed 3
        state_alone, _ = alone.train_chunk(alone.initial_state(), 0, 100)
        for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(state_alone.params)):
            # to rounding: two programs sum in other orders, and 100 Adam steps carry it; 2e-5 is
            # under 1% of one step's move (3e-3), where another seed's parameters differ by ~1e-2
            np.testing.assert_allclose(a[index], b[0], rtol=2e-4, atol=2e-5)
    a, b = (np.asarray(x) for x in together.evaluate(state)[0])
    assert a != b  # different seeds, different models


def test_a_process_reuses_the_programs_of_a_configuration_and_only_those(trainer):
    """Another run of the same configuration in this process (another seed, another budget)
    takes the compiled chunk and evaluation instead of compiling again, and trains bit for bit
    as a program compiled afresh; a setting the program depends on compiles its own."""
    first = Trainer(small_config(), [0])  # compiled, or taken from an earlier test (only 8 are kept)
    first.compile(first.initial_state())
    again = Trainer(small_config(seed=3, steps=500, report_every=100), [3])
    again.compile(again.initial_state())
    assert again._compiled_chunk is first._compiled_chunk
    assert again._compiled_evaluation is first._compiled_evaluation
    fresh = Trainer(small_config(), [3])
    fresh.compile(fresh.initial_state(), reuse=False)
    assert fresh._compiled_chunk is not first._compiled_chunk
    (a, _), (b, _) = (t.train_chunk(t.initial_state(), 0, 10) for t in (again, fresh))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)
    key = trainer.program_key(trainer.initial_state())
    assert again.program_key(again.initial_state()) == key
    for changed in (small_config(batch_size=2), small_config(eval_batch_size=32), small_config(steps_per_call=5),
                    small_config(optimizer=OptimizerConfig(name="adam", learning_rate=1e-3, clip_norm=50.0)),
                    small_config(task_sizes={"max_length": 4}), small_config(curriculum=40)):
        other = Trainer(changed, [0])
        assert other.program_key(other.initial_state()) != key, changed
    two = Trainer(small_config(), [0, 1])  # two seeds: another vmapped shape
    assert two.program_key(two.initial_state()) != key


def test_the_ntm_learns_a_small_copy_task(trainer):
    """Lengths 1-5, memory 16 x 8: chance is 24 bits, and an untrained model sits near it."""
    state = trainer.initial_state()
    untrained = float(trainer.evaluate(state)[0][0])
    for first in range(0, 6000, 10):
        state, _ = trainer.train_chunk(state, first, 6000)
    trained = float(trainer.evaluate(state)[0][0])
    assert untrained > 15.0
    assert trained < 2.0, f"held-out cost {trained:.2f} bits after 6,000 sequences"


def test_the_lstm_baseline_trains_too():
    config = small_config(model=LSTMConfig(num_layers=2, hidden_size=32), steps=1000)
    trainer = Trainer(config, [0])
    state = trainer.initial_state()
    untrained = float(trainer.evaluate(state)[0][0])
    for first in range(0, 1000, 10):
        state, _ = trainer.train_chunk(state, first, 1000)
    assert float(trainer.evaluate(state)[0][0]) < untrained - 3.0


def test_the_seeds_of_a_training_skip_dead_steps_with_conditions_not_selects():
    """The trainer runs the steps up to the last scored step of any seed's batch: the time
    loop's conditions stay conditions under the vmap over seeds (a select would run both sides:
    no step saved). Checked on the lowered program of a three-seed chunk."""
    trainer = Trainer(small_config(), [0, 1, 2], jax.local_devices()[:1])
    state = trainer.initial_state()
    text = trainer._chunk.lower(state, trainer.rest, trainer.data_keys, trainer.model_keys,
                                jnp.int32(0), jnp.int32(0), trainer.data).as_text()
    # the time loop forward and its backward pass, and the chunk's step-within-the-call branch
    assert text.count("stablehlo.case") == 3
