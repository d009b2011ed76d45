"""`--tensorboard`: event files read back with TensorBoard's own reader, their values checked
against metrics.jsonl, the learning-rate schedule and the gradients themselves."""

import dataclasses
import io
import math
import time

import jax
import jax.numpy as jnp
import msgpack
import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator
from typer.testing import CliRunner

from ntm_cli import runs
from ntm_cli.cli import app
from ntm_cli.schema import MetricsRow
from ntm_cli.studies.study import Study, plan_jobs
from ntm_cli.training.checkpoints import load_checkpoint
from ntm_cli.reports.events import MEMORY_TAG, draws_image, report_scalars
from ntm_cli.training.trainer import SEEDS_AXIS, Trainer

runner = CliRunner()
TINY = ["--max-length", "3", "--memory", "8x4", "--controller-size", "16", "--steps-per-call", "5",
        "--eval-batch-size", "16", "--lr-decay-steps", "20"]
# The values of a report's row that its event file must hold: tag -> MetricsRow field.
ROW_VALUES = {"cost/train": "train_cost", "cost/held_out": "eval_cost", "bit_errors/train": "train_bit_errors",
              "bit_errors/held_out": "eval_bit_errors", "speed/sequences_per_second": "sequences_per_second"}


def train(out, *args):
    return runner.invoke(app, ["train", "copy", *TINY, "--report-every", "10", "--out", str(out), *args])


def read_events(run_dir):
    """Every scalar and image of a run folder's event files, as TensorBoard loads them."""
    events = event_accumulator.EventAccumulator(
        str(run_dir), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0})
    events.Reload()
    return events


def scalars(events, tag):
    return [(e.step, e.value) for e in events.Scalars(tag)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """20 steps of a tiny NTM at batch 1, a report every 10, its rate decaying over the 20."""
    out = tmp_path_factory.mktemp("tensorboard")
    result = train(out, "--steps", "20", "--tensorboard")
    assert result.exit_code == 0, result.output
    return out / "copy-ntm-lstm-s0"


def test_the_event_file_holds_every_reports_metrics(trained):
    rows = runs.read_metrics(trained)
    assert [r.step for r in rows] == [0, 10, 20] and [r.sequences for r in rows] == [0, 10, 20]
    assert len(list(trained.glob("events.out.tfevents.*"))) == 1
    events = read_events(trained)
    for tag, field in ROW_VALUES.items():
        want = [(r.sequences, getattr(r, field)) for r in rows if getattr(r, field) is not None]
        got = scalars(events, tag)
        assert [step for step, _ in got] == [step for step, _ in want], tag
        np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-6, err_msg=tag)
    assert [step for step, _ in scalars(events, "cost/held_out")] == [0, 10, 20]  # the untrained model too
    assert [v for _, v in scalars(events, "optimizer/skipped_updates")] == [0, 0, 0]


def test_the_learning_rate_is_the_schedules(trained):
    """Cosine decay to a tenth over 20 updates, by hand: lr (0.1 + 0.9 (1 + cos(pi n / 20)) / 2)
    after n updates (none skipped here)."""
    config = runs.read_config(trained).optimizer
    assert config.decay_steps == 20 and config.decay_to == pytest.approx(0.1)
    got = scalars(read_events(trained), "optimizer/learning_rate")
    want = [config.learning_rate * (0.1 + 0.9 * (1 + math.cos(math.pi * n / 20)) / 2) for n in (0, 10, 20)]
    assert [step for step, _ in got] == [0, 10, 20]
    np.testing.assert_allclose([v for _, v in got], want, rtol=1e-6)
    assert got[0][1] == pytest.approx(config.learning_rate) and got[2][1] == pytest.approx(config.learning_rate / 10)


def test_the_gradient_norm_is_reported_for_each_training_interval(trained):
    got = scalars(read_events(trained), "optimizer/gradient_norm")
    assert [step for step, _ in got] == [10, 20]  # none at step 0: no update yet
    assert all(math.isfinite(v) and v > 0 for _, v in got)


def test_the_chunk_measures_each_steps_gradient_norm_before_clipping(trained):
    """The norm the trainer reports for a step is ||g||_2 of that step's loss, recomputed here
    from the same batch; a clipping bound far below it changes nothing (measured before)."""
    from ntm_cli.config import OptimizerConfig

    config = dataclasses.replace(runs.read_config(trained), optimizer=OptimizerConfig(clip_norm=1e-3))
    trainer = Trainer(config, [0], jax.local_devices()[:1])
    state = trainer.initial_state()
    _, metrics = trainer.train_chunk(state, 0, 2)
    reported = np.asarray(metrics.gradient_norm[0])  # [K]: two steps run, the rest idle

    def norm(params, rest, memory, data_key, model_key):
        batch = trainer._sample(jax.random.fold_in(data_key, 0), jnp.int32(0))
        loss = lambda p: trainer._loss(p, rest, memory, batch, jax.random.fold_in(model_key, 0))[0]
        return jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(jax.grad(loss)(params))))

    first = jax.vmap(norm, axis_name=SEEDS_AXIS)(state.params, trainer.rest, state.memory, trainer.data_keys,
                                                 trainer.model_keys)
    assert reported[0] > 1.0  # a thousand times the clipping bound
    np.testing.assert_allclose(reported[0], float(first[0]), rtol=1e-5)
    assert reported[1] > 0 and np.all(reported[2:] == 0)


def test_the_ntm_draws_its_memory_at_its_image_reports(trained):
    images = read_events(trained).Images(MEMORY_TAG)
    want = [r.sequences for r in runs.read_metrics(trained) if draws_image(r.step, 10, 20)]
    assert want == [0, 20] and [image.step for image in images] == want  # the first report and the last
    for image in images:
        pixels = np.asarray(Image.open(io.BytesIO(image.encoded_image_string)).convert("L"))
        assert pixels.shape == (image.height, image.width) and image.width >= 500
        assert pixels.min() < 64 and pixels.max() > 192  # dark weightings on a light page, not a blank


def test_images_are_drawn_every_fifth_report_and_at_the_end():
    assert [s for s in range(0, 101, 10) if draws_image(s, 10, 100)] == [0, 50, 100]
    assert [s for s in range(0, 61, 10) if draws_image(s, 10, 65)] == [0, 50]
    assert draws_image(65, 10, 65)  # the budget's end between two reports


def test_report_scalars_leave_out_what_a_report_lacks_and_add_accuracies():
    row = MetricsRow(step=0, sequences=0, train_cost=None, train_bit_errors=None, eval_cost=2.5, eval_bit_errors=1.0,
                     wall_time=0.0, sequences_per_second=None, skipped_updates=0, eval_scores={"top_1pct": 0.25})
    assert report_scalars(row, 1e-3, None) == {
        "cost/held_out": 2.5, "bit_errors/held_out": 1.0, "optimizer/skipped_updates": 0.0,
        "accuracy/top_1pct": 0.25, "optimizer/learning_rate": 1e-3}


def test_a_resumed_run_appends_without_repeating_a_step(tmp_path):
    """Trained to 10 steps, then resumed to 20: every report once, in two event files. A value a
    killed process wrote after the checkpoint (faked here) is purged by the resumed one."""
    from tensorboardX import SummaryWriter

    assert train(tmp_path, "--steps", "10", "--tensorboard").exit_code == 0
    run_dir = tmp_path / "copy-ntm-lstm-s0"
    stale = SummaryWriter(str(run_dir), filename_suffix=f".{time.time_ns()}")
    stale.add_scalar("cost/held_out", 999.0, 20)
    stale.close()
    result = runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "20", "--tensorboard"])
    assert result.exit_code == 0, result.output
    rows = runs.read_metrics(run_dir)
    events = read_events(run_dir)
    got = scalars(events, "cost/held_out")
    assert [step for step, _ in got] == [r.sequences for r in rows] == [0, 10, 20]
    np.testing.assert_allclose([v for _, v in got], [r.eval_cost for r in rows], rtol=1e-6)
    assert [step for step, _ in scalars(events, "cost/train")] == [10, 20]
    assert [image.step for image in events.Images(MEMORY_TAG)] == [0, 10, 20]  # 10: the first budget's end
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 3


def test_a_checkpoint_without_the_gradient_norm_sum_still_loads(trained, tmp_path):
    """Checkpoints written before the gradient norm was measured lack its interval sum."""
    path = runs.checkpoint_path(trained, "latest")
    payload = msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=False)
    assert payload["meta"]["pending_gradient_norm"] == 0.0  # saved at a report: the interval is empty
    del payload["meta"]["pending_gradient_norm"]
    old = tmp_path / "old.msgpack"
    old.write_bytes(msgpack.packb(payload))
    trainer = Trainer(runs.read_config(trained), [0], jax.local_devices()[:1])
    template = jax.tree.map(lambda x: x[0], trainer.initial_state())
    _, meta = load_checkpoint(old, template)
    assert "pending_gradient_norm" not in meta and meta["step"] == 20


def test_a_study_passes_tensorboard_to_each_training_job(tmp_path):
    study = Study(kind="compare", tasks=("copy",), models=("lstm", "ntm-lstm"), seeds=2)
    jobs, _ = plan_jobs(study, tmp_path, lambda line: None, tensorboard=True)
    assert len(jobs) == 4 and all(job.tensorboard for job in jobs)
    assert not any(job.tensorboard for job in plan_jobs(study, tmp_path, lambda line: None)[0])


def test_compare_writes_events_into_the_run_folders_it_trains(tmp_path):
    result = runner.invoke(app, ["compare", "--tasks", "copy", "--models", "lstm", "--seeds", "1", "--sequences", "24",
                                 "--lstm-size", "1x16", "--max-length", "3", "--eval-batch-size", "16",
                                 "--workers", "1", "--tensorboard", "--runs", str(tmp_path / "runs"),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir() and not p.name.startswith(".")]
    rows = runs.read_metrics(run_dir)
    events = read_events(run_dir)
    got = scalars(events, "cost/held_out")
    # the x axis is sequences, not steps (3 at the preset's batch 8)
    assert [step for step, _ in got] == [r.sequences for r in rows] and got[-1][0] == 24
    np.testing.assert_allclose([v for _, v in got], [r.eval_cost for r in rows], rtol=1e-6)
    assert events.Tags()["images"] == []  # the LSTM has no memory to draw
