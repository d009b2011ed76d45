"""Training: one compiled program runs several optimiser steps for several seeds at once.

The jitted chunk samples each step's batch from `fold_in(data_key, step)`, runs forward and
backward, and updates, K steps per call (an outer `lax.scan`), `vmap`ped over seeds. Shapes
never change, so a run compiles the chunk once; it is compiled ahead of time, so that a call
with other input types fails loudly instead of silently recompiling.

Keys: one root key per seed, `jax.random.key(seed)`, split by purpose with `fold_in`:
0 initialises the model, 1 draws the training data (then `fold_in` the step), 2 is the model's
own randomness (the key-value memory's age noise; then `fold_in` the step). The held-out batch
comes from a fixed key shared by every run, so all models are scored on the same data.

A model with a life-long memory (the key-value memory's "lifelong" scope) keeps it in the
training state beside its parameters: every step writes into it and the next step starts from
it, and checkpoints save it, so a resumed run goes on exactly as an uninterrupted one would.
"""

from __future__ import annotations

import collections
import functools
import math
import time
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from ntm_cli.training import resources
from ntm_cli.config import OptimizerConfig, TrainConfig
from ntm_cli.training.devices import describe, training_layout
from ntm_cli.models.base import live_steps
from ntm_cli.models.build import build_model, count_params
from ntm_cli.training.data import task_of
from ntm_cli.tasks.base import Batch, Task
from ntm_cli.tasks.data import DataTask

LN2 = math.log(2.0)
# The held-out data's key: above every allowed run seed (0 .. 2**31 - 1), so no run trains on it.
EVAL_KEY_SEED = 2**31 + 20141020
SEEDS_AXIS = "seeds"  # the name of the vmapped axis over seeds
# The compiled (training chunk, held-out evaluation, bytes they need) of this process, by everything
# that shapes them (`Trainer.program_key`), the most recent last: another run of a configuration in
# the same process (a study's next seed in one worker, a resumed run, a test's next command) takes
# them instead of tracing, lowering and compiling again. A few configurations are kept.
_PROGRAMS: collections.OrderedDict[Any, tuple[Any, Any, int]] = collections.OrderedDict()
PROGRAMS_KEPT = 8


class TrainState(NamedTuple):
    """Everything that changes during training, each leaf with a leading seed axis `[S, ...]`."""

    params: Any  # nnx.State of the model's nnx.Param leaves
    opt_state: Any  # the optax state
    skipped: jax.Array  # [S] int32: updates skipped for a non-finite loss or gradient
    memory: Any = ()  # the model's life-long memory (`SequenceModel.lifelong_memory`); () for none
    pace: Any = ()  # a curriculum that moves on when solved: its `Pace`; () for none


class Pace(NamedTuple):
    """Where a curriculum that moves on when solved stands (`--curriculum solved`), `[S]`."""

    stage: jax.Array  # int32: the stage training batches are drawn from
    average: jax.Array  # float32: moving average of the solved rule's figure on this stage's batches


# A stage is met when the moving average (weight PACE_DECAY on the past: ~50 steps) of the
# training batches' figure falls below the task's solved threshold; it starts from
# PACE_START x the threshold, so a stage takes ~70 steps (PACE_DECAY ** 70 ~ 1/4) even when the
# model solves it at once.
PACE_DECAY = 0.98
PACE_START = 4.0


class ChunkMetrics(NamedTuple):
    """Per-step training metrics of one chunk, `[S, K]`."""

    cost: jax.Array  # bits per sequence, mean over the batch
    bit_errors: jax.Array  # wrong bits per sequence (outputs thresholded at 0.5)
    active: jax.Array  # whether the step was within the budget
    gradient_norm: jax.Array  # ||g||_2 over every parameter, before clipping (non-finite where g is; 0 idle)


def learning_rate_schedule(config: OptimizerConfig) -> optax.ScalarOrSchedule:
    """The learning rate, constant or as a function of the updates made: held for the first
    `decay_from` of `decay_steps`, then a cosine decay to `decay_to` of it at `decay_steps`,
    constant after."""
    if config.decay_steps is None:
        return config.learning_rate
    hold = min(math.floor(config.decay_from * config.decay_steps), config.decay_steps - 1)  # >= 1 step of decay
    cosine = optax.cosine_decay_schedule(config.learning_rate, config.decay_steps - hold, alpha=config.decay_to)
    if hold == 0:
        return cosine
    return optax.join_schedules([optax.constant_schedule(config.learning_rate), cosine], [hold])


def learning_rate_at(config: OptimizerConfig, updates: int) -> float:
    """The learning rate of the next update after `updates` updates (skipped steps make none),
    from `learning_rate_schedule` as the optimiser applies it: for the host's reports."""
    schedule = learning_rate_schedule(config)
    return float(schedule(updates)) if callable(schedule) else float(schedule)


def make_optimizer(config: OptimizerConfig) -> optax.GradientTransformation:
    """Clipping (element-wise, then global norm, where set), then Adam or Graves' RMSProp, at a
    constant learning rate or one that decays (cosine) to `decay_to` of it over `decay_steps`.

    Graves (2013) RMSProp: n = 0.95 n + 0.05 g^2, m = 0.95 m + 0.05 g,
    update = 0.9 update - lr g / sqrt(n - m^2 + 1e-4): centred, eps inside the square root,
    statistics starting at zero.
    """
    parts = []
    if config.clip_value is not None:
        parts.append(optax.clip(config.clip_value))
    if config.clip_norm is not None:
        parts.append(optax.clip_by_global_norm(config.clip_norm))
    learning_rate = learning_rate_schedule(config)
    if config.name == "adam":
        parts.append(optax.adam(learning_rate))
    else:
        parts.append(
            optax.rmsprop(
                learning_rate, decay=0.95, eps=1e-4, initial_scale=0.0,
                eps_in_sqrt=True, centered=True, momentum=config.momentum,
            )
        )
    return optax.chain(*parts)


def sequence_metrics(logits: jax.Array, targets: jax.Array, mask: jax.Array,
                     kind: str = "bits", answers: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Cost and errors per sequence, for a task whose targets are bits or classes
    (`Task.output_kind`).

    Args:
      logits: `[T, B, out]`.
      targets: `[T, B, out]` in {0, 1}: independent bits, or one class one-hot.
      mask: `[T, B]`.
      kind: "bits" or "class".
      answers: `[T, B]` a class task's answers where the model gives them (`Output.answers`; -1
        for none, always wrong), else the most likely class of the logits.

    Returns:
      cost `[B]`: cross-entropy in bits summed over the scored steps: binary over every target
        bit (sigmoid outputs), or of the target class under a softmax over the outputs;
      errors `[B]`: scored bits where (logit > 0) differs from the target, or scored steps whose
        most likely class is not the target.
    """
    if kind == "class":
        nats = optax.softmax_cross_entropy(logits, targets)  # [T, B]
        cost = jnp.sum(nats / LN2 * mask, axis=0)
        wrong = answered(logits, answers) != jnp.argmax(targets, axis=-1)
        return cost, jnp.sum(wrong * mask, axis=0)
    bits = optax.sigmoid_binary_cross_entropy(logits, targets) / LN2  # [T, B, out]
    cost = jnp.sum(bits * mask[..., None], axis=(0, 2))
    wrong = (logits > 0) != (targets > 0.5)
    errors = jnp.sum(wrong * mask[..., None], axis=(0, 2))
    return cost, errors


def answered(logits: jax.Array, answers: jax.Array | None = None) -> jax.Array:
    """A class task's answers `[T, B]`: the model's own where it gives them, else the most likely
    class of its logits."""
    return jnp.argmax(logits, axis=-1) if answers is None else answers


def score_counts(task: Task, logits: jax.Array, batch: Batch,
                 answers: jax.Array | None = None) -> dict[str, tuple[jax.Array, jax.Array]]:
    """A class task's `scores` on a batch: per score, (right answers, answers) summed over it."""
    if not task.scores:
        return {}
    labels = jnp.argmax(batch.targets, axis=-1).astype(jnp.int32)
    return task.score_counts(labels, answered(logits, answers) == labels, batch.mask)


def eval_batch(task: Task, batch_size: int) -> Batch:
    """The fixed held-out batch for a task: the same for every seed, model and run, drawn from its
    held-out split where it has one (`Task.heldout`)."""
    return task.heldout().sample(jax.random.key(EVAL_KEY_SEED), batch_size)


def heldout_floor(task: Task, batch_size: int) -> float:
    """The floor a held-out cost is measured against: what the Bayes-optimal predictor pays on the
    fixed held-out batch itself (`eval_batch`; mean bits per sequence), where the task can compute
    it, else the task's expected floor (`Task.floor_cost`). For N-grams at its paper sizes the
    batch of 256 costs the optimal predictor 135.0 bits against an expected 133.2 (the costs of a
    sequence spread by ~34 bits, so a batch's mean by ~2): a model measured on it is judged
    against 135.0, or a perfect one would be ~2 bits above its floor."""
    if task.heldout().computes_optimal_costs:  # else the expectation, without drawing a batch
        floor = _batch_floor(task, batch_size)
        if floor is not None:
            return floor
    return task.floor_cost()


@functools.cache
def _batch_floor(task: Task, batch_size: int) -> float | None:
    """The optimal predictor's mean cost on the held-out batch, kept per task and size (only tasks
    that compute it come here, so no archive's arrays are kept); None where it gives none."""
    costs = task.heldout().optimal_costs(eval_batch(task, batch_size))
    return None if costs is None else float(jnp.mean(costs))


@functools.cache
def _model_sizes(model: Any, input_size: int, output_size: int, batch_size: int) -> tuple[int, int, int]:
    """Floats of a model built from its config (traced, nothing allocated): its trainable
    parameters; its other state with its per-batch working state and life-long memory; and its
    recurrent state, kept for every time step of the backward pass."""

    def build():
        return build_model(model, input_size, output_size, jax.random.key(0))

    abstract = nnx.eval_shape(build)
    recurrent = nnx.eval_shape(lambda: build().step_state(batch_size))
    held = nnx.eval_shape(lambda: (build().working_state(batch_size), build().lifelong_memory()))
    params = count_params(abstract)
    other = (sum(x.size for x in jax.tree.leaves(nnx.state(abstract))) - params
             + sum(x.size for x in jax.tree.leaves(held)))
    return params, other, sum(x.size for x in jax.tree.leaves(recurrent))


def eval_model_key() -> jax.Array:
    """The key of a model's own randomness in evaluation: fixed, like the held-out data."""
    return jax.random.fold_in(jax.random.key(EVAL_KEY_SEED), 2)


class Trainer:
    """The compiled pieces of one training configuration, for S seeds trained together.

    Attributes:
      task: the task being trained.
      graphdef: the model's structure; parameters live in TrainState.
      rest: the model's non-trainable state (the fixed initial memory), `[S, ...]`.
      params_count: trainable parameters of one seed's model.
    """

    def __init__(self, config: TrainConfig, seeds: Sequence[int], devices: list[jax.Device] | None = None):
        """Builds every seed's model and optimiser state and draws the held-out batch, placed on
        `devices` (default: every local device; see `ntm_cli.training.devices`).

        Raises:
          InputError: the configuration cannot fit this machine's memory (checked from sizes
            alone, before anything is allocated).
        """
        self.config = config
        self.seeds = seeds  # a range or a list: checked before it is made a list
        self.task = task_of(config)  # an archive's (`--data`) read again and checked, or a generator
        self.optimizer = make_optimizer(config.optimizer)
        self._check_sizes()
        self.seeds = list(seeds)
        self.devices = devices if devices is not None else jax.local_devices()
        self.layout = training_layout(self.devices, len(self.seeds), config.batch_size)
        roots = [jax.random.key(seed) for seed in self.seeds]
        self.data_keys = self.layout.place(jnp.stack([jax.random.fold_in(root, 1) for root in roots]))
        self.model_keys = self.layout.place(jnp.stack([jax.random.fold_in(root, 2) for root in roots]))

        params, rests, memories = [], [], []
        for root in roots:
            model = build_model(config.model, self.task.input_size, self.task.output_size, jax.random.fold_in(root, 0))
            self.params_count = count_params(model)
            memories.append(model.lifelong_memory())
            self.graphdef, p, r = nnx.split(model, nnx.Param, ...)
            params.append(p)
            rests.append(r)
        self.rest = self.layout.place(jax.tree.map(lambda *xs: jnp.stack(xs), *rests))
        stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *params)
        self._initial = self.place(TrainState(
            params=stacked,
            opt_state=jax.vmap(self.optimizer.init)(stacked),
            skipped=jnp.zeros((len(self.seeds),), jnp.int32),
            memory=jax.tree.map(lambda *xs: jnp.stack(xs), *memories),
            pace=self._initial_pace(len(self.seeds)),
        ))
        self.eval_task = self.task.heldout()
        self.eval_data = eval_batch(self.task, config.eval_batch_size)
        self.floor = heldout_floor(self.task, config.eval_batch_size)  # what the solved rule measures against
        if self.layout.mesh is not None:  # split along B where it divides, else on every device
            split = config.eval_batch_size % self.layout.count == 0 and self.layout.split == "batch"
            self.eval_data = jax.device_put(self.eval_data, self.layout.batch() if split else
                                            NamedSharding(self.layout.mesh, PartitionSpec()))
        # the arrays a task samples from (an archive's; () for a generator), an argument of the chunk
        self.data = self.task.device_data()
        if self.layout.mesh is not None:
            self.data = jax.device_put(self.data, NamedSharding(self.layout.mesh, PartitionSpec()))
        self._chunk = jax.jit(jax.vmap(self._train_chunk, in_axes=(0, 0, 0, 0, None, None, None),
                                       axis_name=SEEDS_AXIS))
        self._evaluate = jax.jit(jax.vmap(self._heldout_metrics, in_axes=(0, 0, 0, None), axis_name=SEEDS_AXIS))
        self._compiled_evaluation = None  # on the held-out batch, compiled ahead of time with the chunk
        self._compiled_chunk = None
        self.compile_seconds = 0.0

    def _check_sizes(self) -> None:
        """A first estimate from sizes alone, before anything is allocated or traced, against
        the memory this machine has: per seed, the parameters with their gradient and optimiser
        state, the model's other state (a fixed initial memory), and the recurrent state kept
        for every time step of the backward pass; and the data of the batches."""
        config, task, seeds = self.config, self.task, len(self.seeds)
        params, other, per_step = _model_sizes(config.model, task.input_size, task.output_size, config.batch_size)
        steps = per_step * (task.max_time + 1)
        need = (resources.FLOAT_BYTES * seeds * (params * resources.TRAINING_COPIES + other + 2 * steps)
                + 3 * resources.batch_bytes(task, config.eval_batch_size)
                + 3 * resources.batch_bytes(task, config.batch_size) * seeds
                + resources.FLOAT_BYTES * sum(x.size for x in jax.tree.leaves(task.device_data())))
        resources.check_fits(need, f"training {config.model_name} on {config.task} with these sizes")

    # --- pure functions (one seed) ------------------------------------------------------------

    def apply(self, params: Any, rest: Any, batch: Batch, memory: Any = (), key: jax.Array | None = None,
              carry: bool = False):
        """One seed's model over a batch (called inside the `vmap` over seeds): `SequenceModel.run`'s
        Output. The time loop runs the steps up to the last scored step of any seed's batch."""
        live = live_steps(batch.mask, SEEDS_AXIS)  # the steps any seed's batch is scored up to
        return nnx.merge(self.graphdef, params, rest).run(batch, memory, key, carry, live=live)

    def _loss(self, params: Any, rest: Any, memory: Any, batch: Batch, key: jax.Array):
        """The training objective on a batch, with (cost, errors) per sequence averaged over it
        and the life-long memory after it: the model's own loss where it has one, else the cost."""
        out = self.apply(params, rest, batch, memory, key, carry=True)
        cost, errors = sequence_metrics(out.logits, batch.targets, batch.mask, self.task.output_kind, out.answers)
        objective = jnp.mean(cost if out.loss is None else out.loss)
        return objective, (jnp.mean(cost), jnp.mean(errors), out.memory)

    def _heldout_metrics(self, params: Any, rest: Any, memory: Any, batch: Batch):
        """Mean cost and errors per sequence on a held-out batch, and the task's scores (right
        answers, answers) over it; every sequence starts from the life-long memory as it is."""
        out = self.apply(params, rest, batch, memory, eval_model_key())
        cost, errors = sequence_metrics(out.logits, batch.targets, batch.mask, self.task.output_kind, out.answers)
        return jnp.mean(cost), jnp.mean(errors), score_counts(self.eval_task, out.logits, batch, out.answers)

    def _initial_pace(self, seeds: int) -> Any:
        """Every seed at the curriculum's first stage, its average not yet met; () without a
        curriculum that moves on when solved."""
        if self.config.curriculum != "solved":
            return ()
        start = PACE_START * self.task.solved.threshold
        return Pace(jnp.zeros((seeds,), jnp.int32), jnp.full((seeds,), start, jnp.float32))

    def _sample(self, key: jax.Array, step: jax.Array, pace: Any = (), data: Any = ()) -> Batch:
        """The training batch of a step: from the task, or from the curriculum stage the step has
        reached (a curriculum over N sequences: stage s of S from sequence s * N / S on, the whole
        task after it; one that moves on when solved: `pace.stage`)."""
        batch_size, curriculum = self.config.batch_size, self.config.curriculum
        if curriculum is None:
            return self.task.with_device_data(data).sample(key, batch_size)
        if curriculum == "solved":
            return self.task.sample_staged(key, batch_size, pace.stage)
        count = len(self.task.curriculum_stages())
        seen = step.astype(jnp.float32) * batch_size  # sequences before this step
        stage = jnp.floor(seen * count / curriculum).astype(jnp.int32)
        return self.task.sample_staged(key, batch_size, stage)

    def _next_pace(self, pace: Any, cost: jax.Array, errors: jax.Array, keep: jax.Array) -> Any:
        """The pace after a step whose batch (of stage `pace.stage`) had mean `cost` and `errors`
        per sequence: the average moves towards the step's figure; where it is below the solved
        threshold, the next stage starts (its average back at the start). A skipped step changes
        nothing; the last stage stays."""
        if not isinstance(pace, Pace):
            return pace
        rule = self.task.solved
        value = errors if rule.figure == "bit_errors" else cost
        average = PACE_DECAY * pace.average + (1.0 - PACE_DECAY) * value
        last = len(self.task.curriculum_stages()) - 1
        advance = keep & (average < rule.threshold) & (pace.stage < last)
        start = jnp.float32(PACE_START * rule.threshold)
        return Pace(stage=jnp.where(advance, pace.stage + 1, pace.stage),
                    average=jnp.where(advance, start, jnp.where(keep, average, pace.average)))

    def _train_chunk(self, state: TrainState, rest: Any, data_key: jax.Array, model_key: jax.Array,
                     first_step: jax.Array, end_step: jax.Array, data: Any = ()):
        """K optimiser steps from `first_step`, batches drawn from the task (or from `data`, the
        arrays of an archive's task: `Task.device_data`); steps at or past `end_step` are not run (a
        `lax.cond` on the step, the same for every seed, so it stays a branch under `vmap`) and
        change nothing: the host may ask for fewer steps than K without recompiling."""

        def train(carry: TrainState, step: jax.Array):
            batch = self._sample(jax.random.fold_in(data_key, step), step, carry.pace, data)
            batch = self.layout.constrain_batch(batch)  # each device its share of B (if B is split)
            (objective, (cost, errors, memory)), grads = jax.value_and_grad(self._loss, has_aux=True)(
                carry.params, rest, carry.memory, batch, jax.random.fold_in(model_key, step))
            updates, opt_state = self.optimizer.update(grads, carry.opt_state, carry.params)
            params = optax.apply_updates(carry.params, updates)
            finite = jnp.isfinite(objective) & jnp.isfinite(cost) & jnp.all(
                jnp.stack([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)])
            )
            keep = finite  # a non-finite step leaves parameters, optimiser and memory untouched
            choose = lambda new, old: jax.tree.map(lambda n, o: jnp.where(keep, n, o), new, old)
            carry = TrainState(
                params=choose(params, carry.params),
                opt_state=choose(opt_state, carry.opt_state),
                skipped=carry.skipped + (~finite).astype(jnp.int32),
                memory=choose(memory, carry.memory),
                pace=self._next_pace(carry.pace, cost, errors, keep),
            )
            # ||g||_2 before clipping; not masked by `keep` (the host leaves skipped steps out): one
            # more use of `keep` changes how XLA fuses the finiteness checks, and so the rounding.
            norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads))).astype(jnp.float32)
            return carry, ChunkMetrics(cost.astype(jnp.float32), errors.astype(jnp.float32), jnp.bool_(True), norm)

        def idle(carry: TrainState, step: jax.Array):
            return carry, ChunkMetrics(jnp.float32(0), jnp.float32(0), jnp.bool_(False), jnp.float32(0))

        def one_step(carry: TrainState, step: jax.Array):
            return jax.lax.cond(step < end_step, train, idle, carry, step)

        steps = first_step + jnp.arange(self.config.steps_per_call, dtype=jnp.int32)
        return jax.lax.scan(one_step, state, steps)

    # --- the host side ------------------------------------------------------------------------

    def initial_state(self) -> TrainState:
        return self._initial

    @property
    def devices_used(self) -> dict[str, Any]:
        """The devices the layout trains on, for the record (config.json)."""
        return describe(self.devices[:self.layout.count])

    def place(self, state: TrainState) -> TrainState:
        """A state (a restored checkpoint, say) on this trainer's devices, as the compiled chunk
        expects it: a checkpoint written on any number of devices resumes on any other."""
        return self.layout.place(state)

    def _program_args(self, state: TrainState) -> tuple[tuple, tuple]:
        """The arguments the training chunk and the held-out evaluation are compiled for."""
        return ((state, self.rest, self.data_keys, self.model_keys, jnp.int32(0), jnp.int32(0), self.data),
                (state.params, self.rest, state.memory, self.eval_data))

    def program_key(self, state: TrainState) -> tuple:
        """What the compiled chunk and evaluation depend on, the key of `_PROGRAMS`: the model's
        structure and settings, the task, the optimiser, the batch sizes, steps per call, the
        curriculum, the devices' layout, and the structure, shapes, types and placement of every
        argument (so the number of seeds too). Not the seeds, the budget or the reporting: those
        are arguments, or the host's."""
        return self._key_of(self._program_args(state))

    def _key_of(self, args: tuple[tuple, tuple]) -> tuple:
        """`program_key` of the programs' arguments (`_program_args`)."""
        config = self.config
        leaves = tuple((x.shape, str(x.dtype), getattr(x, "sharding", None)) for x in jax.tree.leaves(args))
        # an archive's task by its digest and shapes, so that the key keeps none of its arrays alive
        task = ("data", self.task._identity()) if isinstance(self.task, DataTask) else self.task
        return (self.graphdef, task, config.model, config.optimizer, config.batch_size, config.steps_per_call,
                config.curriculum, config.eval_batch_size, self.layout, jax.tree.structure(args), leaves)

    def compile(self, state: TrainState, reuse: bool = True) -> None:
        """Compiles the training chunk and the held-out evaluation ahead of time, records how
        long the chunk took, and checks that both fit this machine's memory before they run.
        With `reuse`, programs this process compiled for the same configuration are taken
        instead (`_PROGRAMS`; then `compile_seconds` is the time it took to find them).

        Raises:
          InputError: a program needs more memory than this machine has.
        """
        start = time.perf_counter()
        args, eval_args = programs = self._program_args(state)
        key = self._key_of(programs)
        what = (f"training {self.config.model_name} on {self.config.task} at batch {self.config.batch_size} "
                f"(held-out batch {self.config.eval_batch_size})")
        if reuse and key in _PROGRAMS:
            _PROGRAMS.move_to_end(key)
            chunk, evaluation, need = _PROGRAMS[key]
            resources.check_fits(need, what)  # the memory free now
            self._compiled_chunk, self._compiled_evaluation = chunk, evaluation
            self.compile_seconds = time.perf_counter() - start
            return
        self._compiled_chunk = self._chunk.lower(*args).compile()
        self.compile_seconds = time.perf_counter() - start
        evaluation = self._evaluate.lower(*eval_args).compile()
        need = max(resources.program_bytes(self._compiled_chunk), resources.program_bytes(evaluation))
        resources.check_fits(need, what)
        self._compiled_evaluation = evaluation
        _PROGRAMS[key] = (self._compiled_chunk, evaluation, need)
        _PROGRAMS.move_to_end(key)  # a program compiled again (reuse=False) is the newest
        while len(_PROGRAMS) > PROGRAMS_KEPT:
            _PROGRAMS.popitem(last=False)

    @property
    def compiled(self) -> bool:
        """Whether `compile` has run."""
        return self._compiled_chunk is not None

    def train_chunk(self, state: TrainState, first_step: int, end_step: int) -> tuple[TrainState, ChunkMetrics]:
        """Runs steps first_step .. min(first_step + K, end_step) - 1 for every seed."""
        if self._compiled_chunk is None:
            self.compile(state)
        return self._compiled_chunk(state, self.rest, self.data_keys, self.model_keys, jnp.int32(first_step),
                                    jnp.int32(end_step), self.data)

    def evaluate(self, state: TrainState, batch: Batch | None = None):
        """Mean cost and errors per sequence `[S]` on a batch (default: the held-out one), and the
        task's scores: per score, (right answers `[S]`, answers `[S]`)."""
        if batch is None and self._compiled_evaluation is not None:
            return self._compiled_evaluation(state.params, self.rest, state.memory, self.eval_data)
        return self._evaluate(state.params, self.rest, state.memory, self.eval_data if batch is None else batch)
