"""Figures: the data behind each one (values), the PNGs written (size, not pixels), the commands."""

import json

import jax
import matplotlib.image
import numpy as np
import pytest
from flax import nnx
from typer.testing import CliRunner

from ntm_cli import runs
from ntm_cli.reports import figures
from ntm_cli.cli import app
from ntm_cli.training.evaluation import load_run

runner = CliRunner()
# Two seeds of test_train_cli.py's tiny copy run, 10 steps: the programs that file compiles, so
# the session compiles them once (tests/conftest.py); a held-out report every 5 steps.
TINY = ["--max-length", "3", "--memory", "8x4", "--controller-size", "16", "--steps-per-call", "5",
        "--report-every", "5", "--eval-batch-size", "16", "--steps", "10"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two NTM seeds and an LSTM on a tiny copy task, and an NTM on tiny priority sort."""
    out = tmp_path_factory.mktemp("runs")
    assert runner.invoke(app, ["train", "copy", *TINY, "--seeds", "2", "--out", str(out)]).exit_code == 0
    lstm = ["train", "copy", "--model", "lstm", "--lstm-size", "1x8", "--max-length", "3", "--steps", "20",
            "--batch-size", "1", "--steps-per-call", "5", "--report-every", "10", "--eval-batch-size", "16",
            "--out", str(out)]
    assert runner.invoke(app, lstm).exit_code == 0
    sort = ["train", "sort", "--num-inputs", "4", "--num-outputs", "2", "--memory", "8x4", "--controller-size", "8",
            "--heads", "1", "--steps", "10", "--steps-per-call", "5", "--report-every", "5", "--eval-batch-size", "8",
            "--out", str(out)]
    result = runner.invoke(app, sort)
    assert result.exit_code == 0, result.output
    return out


def _png_size(path):
    height, width = matplotlib.image.imread(path).shape[:2]
    return width, height


# --- data ------------------------------------------------------------------------------------------


def test_sparkline_falls_with_the_cost_on_a_log_scale():
    assert figures.sparkline([100, 10, 1, 0.1, 0.01]) == "█▆▅▃▁"  # levels 7, 5.25, 3.5, 1.75, 0 of 0-7, rounded
    assert figures.sparkline([5, 5, 5]) == "▁▁▁"
    long = figures.sparkline(np.geomspace(100, 0.01, 500), width=20)
    assert len(long) == 20 and long[0] == "█" and long[-1] == "▁"
    assert list(long) == sorted(long, reverse=True)  # never rises
    assert figures.sparkline([]) == ""
    assert figures.sparkline([100, float("nan"), 1]) == "█▁"  # a diverged report is left out
    assert figures.sparkline([float("nan")]) == ""


def test_a_run_curve_is_the_held_out_column_of_its_metrics(trained):
    run_dir = trained / "copy-ntm-lstm-s0"
    curve = figures.run_curve(run_dir)
    records = runs.read_metrics(run_dir)
    assert curve.label == "copy ntm-lstm" and curve.seed == 0
    np.testing.assert_array_equal(curve.sequences, [r.sequences for r in records])
    np.testing.assert_allclose(curve.cost, [r.eval_cost for r in records])
    np.testing.assert_allclose(curve.bit_errors, [r.eval_bit_errors for r in records])


def test_runs_that_differ_only_in_their_seed_make_one_band_over_their_common_reports(tmp_path):
    def make(seed, cost, group="a", label="copy ntm-lstm", step=10.0):
        return figures.RunCurve(label, seed, tmp_path / f"{group}{seed}", np.arange(len(cost)) * step,
                                np.array(cost, float), np.zeros(len(cost)), group)

    groups = figures.group_curves([make(0, [8, 4, 2]), make(1, [6, 2]), make(2, [9, 9, 9], group="b")])
    assert list(groups) == ["copy ntm-lstm (a0)", "copy ntm-lstm (b2)"]  # same label, other configs
    assert [c.seed for c in groups["copy ntm-lstm (a0)"]] == [0, 1]
    x, mean, low, high = figures.seed_band(groups["copy ntm-lstm (a0)"], "cost")
    np.testing.assert_array_equal(x, [0, 10])
    np.testing.assert_allclose(mean, [7, 3])
    np.testing.assert_allclose(low, [6, 2])
    np.testing.assert_allclose(high, [8, 4])
    # seeds whose reports fall at other sequence counts share only the reports before that
    x, mean, _, _ = figures.seed_band([make(0, [8, 4, 2]), make(1, [6, 2, 1], step=5.0)], "cost")
    np.testing.assert_array_equal(x, [0])
    np.testing.assert_allclose(mean, [7])
    with pytest.raises(figures.InputError, match="is given twice"):
        figures.group_curves([make(0, [1]), make(0, [1])])
    # the same command run twice (runs/copy-ntm-lstm-s* holding s0, s0-run2, s1, s1-run2): two lines
    twice = [make(0, [1]), make(1, [1]), make(0, [2], label="copy ntm-lstm"), make(1, [2])]
    twice[2] = twice[2]._replace(run_dir=tmp_path / "a0-run2")
    twice[3] = twice[3]._replace(run_dir=tmp_path / "a1-run2")
    groups = figures.group_curves(twice)
    assert list(groups) == ["copy ntm-lstm (a0)", "copy ntm-lstm (a0-run2)"]
    assert [[c.seed for c in g] for g in groups.values()] == [[0, 1], [0, 1]]


def test_the_memory_trace_is_what_the_model_returned_and_each_weighting_sums_to_one(trained):
    run_dir = trained / "copy-ntm-lstm-s0"
    trace = figures.memory_trace(run_dir, length=3, seed=5)
    steps = 2 * 3 + 1  # 3 vectors, the delimiter, 3 answers
    assert trace.inputs.shape[0] == steps and trace.write_weights.shape == (steps, 1, 8)
    assert trace.read_weights.shape == (steps, 1, 8) and trace.memory.shape == (8, 4)
    np.testing.assert_allclose(trace.write_weights.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(trace.read_weights.sum(-1), 1.0, rtol=1e-5)
    assert np.all((trace.outputs >= 0) & (trace.outputs <= 1))

    # the same sample and checkpoint, run here by hand
    trainer, params, rest, _, _ = load_run(run_dir, "best")
    batch = trainer.task.variant(min_length=3, max_length=3).sample_at(jax.random.key(5), 0)
    logits, expected = nnx.merge(trainer.graphdef, params, rest)(batch.inputs, trace=True)
    np.testing.assert_allclose(trace.write_weights, expected.write_weights[:steps, 0], rtol=1e-6)
    np.testing.assert_allclose(trace.read_weights, expected.read_weights[:steps, 0], rtol=1e-6)
    np.testing.assert_allclose(trace.memory, expected.memory[steps - 1, 0], rtol=1e-6)
    np.testing.assert_allclose(trace.outputs, jax.nn.sigmoid(logits[:steps, 0]), rtol=1e-6)
    np.testing.assert_array_equal(trace.targets, batch.targets[:steps, 0])
    np.testing.assert_array_equal(trace.mask, [0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(figures.focus_rows(trace.write_weights), trace.write_weights.argmax(-1))


def test_generalisation_lines_are_sorted_by_size_and_leave_the_training_average_out():
    result = {"task": "copy", "results": [
        {"label": "training sizes", "sizes": {"min_length": 1, "max_length": 20}, "cost": 0.1, "bit_errors": 0.0},
        {"label": "length 50", "sizes": {"min_length": 50, "max_length": 50}, "cost": 5.0, "bit_errors": 2.0},
        {"label": "length 20", "sizes": {"min_length": 20, "max_length": 20}, "cost": 0.2, "bit_errors": 0.5},
    ]}
    (line,), axis = figures.generalisation_series(result)
    assert line.name == "" and axis == "sequence length"
    np.testing.assert_array_equal(line.x, [20, 50])
    np.testing.assert_allclose(line.cost, [0.2, 5.0])
    np.testing.assert_allclose(line.bit_errors, [0.5, 2.0])
    assert figures.training_range("copy", {"min_length": 1, "max_length": 20}) == (1.0, 20.0)
    recall = {"min_items": 2, "max_items": 6, "item_size": 3, "width": 6}
    assert figures.size_axis("associative-recall", recall) == (6.0, "items")


def test_repeat_copy_gets_a_line_per_repeat_count_so_no_size_hides_another():
    def size(length, repeats, cost):
        sizes = {"min_length": length, "max_length": length, "min_repeats": repeats, "max_repeats": repeats}
        return {"label": f"length {length}, repeats {repeats}", "sizes": sizes, "cost": cost, "bit_errors": 0.0}

    result = {"task": "repeat-copy", "results": [size(10, 10, 1.0), size(20, 10, 2.0), size(10, 20, 3.0),
                                                   size(20, 20, 4.0)]}
    series, axis = figures.generalisation_series(result)
    assert [s.name for s in series] == ["repeats 10", "repeats 20"] and axis == "sequence length"
    np.testing.assert_array_equal(series[0].x, [10, 20])
    np.testing.assert_allclose(series[0].cost, [1.0, 2.0])
    np.testing.assert_allclose(series[1].cost, [3.0, 4.0])


# --- figures and commands --------------------------------------------------------------------------


def test_ntm_plot_writes_the_curves_beside_the_first_run_and_prints_their_shape(trained):
    runs_ = [str(trained / f"copy-ntm-lstm-s{s}") for s in (0, 1)] + [str(trained / "copy-lstm-s0")]
    result = runner.invoke(app, ["plot", *runs_])
    assert result.exit_code == 0, result.output
    path = trained / "copy-ntm-lstm-s0" / "learning_curves.png"
    assert f"saved {path}" in result.stdout and _png_size(path) == (1100, 420)
    assert "copy-lstm-s0: held-out " in result.stdout and "bits/seq over 20 sequences" in result.stdout
    out = trained / "elsewhere" / "curves.png"
    assert runner.invoke(app, ["plot", runs_[0], "--out", str(out)]).exit_code == 0 and out.stat().st_size > 0
    assert not list(trained.glob("**/*.tmp.png"))


def test_ntm_memory_draws_every_head_and_names_the_rows_in_focus(trained):
    run_dir = trained / "copy-ntm-lstm-s1"
    result = runner.invoke(app, ["memory", str(run_dir), "--length", "3", "--seed", "2"])
    assert result.exit_code == 0, result.output
    path = run_dir / "memory-3-s2.png"
    assert _png_size(path) == (1000, 988)  # 3 sequence panels, 2 head panels, the final memory
    lines = result.stdout.splitlines()
    write_line = next(line for line in lines if line.startswith("write head 0, row in focus by step: "))
    assert len(write_line.split(": ")[1].split()) == 7
    narrow = runner.invoke(app, ["memory", str(run_dir), "--no-final-memory", "--out", str(trained / "m.png")])
    assert narrow.exit_code == 0 and _png_size(trained / "m.png")[0] == 800
    sort = runner.invoke(app, ["memory", str(trained / "priority-sort-ntm-lstm-s0")])
    assert sort.exit_code == 0, sort.output


def test_ntm_eval_plot_draws_a_line_per_run(trained):
    runs_ = [str(trained / f"copy-ntm-lstm-s{s}") for s in (0, 1)]
    result = runner.invoke(app, ["eval", *runs_, "--lengths", "2,5", "--batches", "1", "--batch-size", "4",
                                 "--plot", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [r["seed"] for r in report["runs"]] == [0, 1]
    assert [r["label"] for r in report["runs"][0]["results"]] == ["training sizes", "length 2", "length 5"]
    assert _png_size(trained / "copy-ntm-lstm-s0" / "generalisation.png") == (1100, 420)
    saved = json.loads((trained / "copy-ntm-lstm-s1" / runs.EVAL).read_text())
    assert saved == report["runs"][1]


@pytest.mark.parametrize("args, message", [
    (["memory", "{runs}/copy-lstm-s0"], "the memory figure needs an NTM or DNC run"),
    (["memory", "{runs}/priority-sort-ntm-lstm-s0", "--length", "5"], "--length does not apply to task priority-sort"),
    (["memory", "{runs}/copy-ntm-lstm-s0", "--length", "0"], "--length"),
    (["memory", "{runs}/copy-ntm-lstm-s0", "--checkpoint", "worst"], "--checkpoint must be one of 'best', 'latest', got 'worst'."),
    (["memory", "{runs}/nothing"], "is not a run folder"),
    (["plot", "{runs}/nothing"], "is not a run folder"),
    (["plot"], "Missing argument"),
    (["plot", "{runs}/copy-ntm-lstm-s0", "--out", "{runs}/copy-ntm-lstm-s0/config.json"], "is a file"),
    (["eval", "{runs}/copy-ntm-lstm-s0", "{runs}/priority-sort-ntm-lstm-s0", "--plot"], "--plot draws runs of one task"),
    (["eval", "{runs}/copy-ntm-lstm-s0", "--out", "{runs}/g.png"], "give --plot too"),
    (["plot", "{runs}/copy-ntm-lstm-s0", "{runs}/copy-ntm-lstm-s0"], "is given twice"),
])
def test_figure_commands_reject_bad_input_in_one_sentence_and_write_nothing(trained, args, message):
    before = sorted(p for p in trained.rglob("*") if p.suffix == ".png")
    result = runner.invoke(app, [a.replace("{runs}", str(trained)) for a in args])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output
    assert sorted(p for p in trained.rglob("*") if p.suffix == ".png") == before


def test_a_run_without_a_held_out_report_yet_is_one_sentence(trained, tmp_path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / runs.CONFIG).write_text((trained / "copy-ntm-lstm-s0" / runs.CONFIG).read_text())
    result = runner.invoke(app, ["plot", str(fresh)])
    assert result.exit_code == 2 and "has no held-out report yet" in result.stderr
    result = runner.invoke(app, ["memory", str(fresh)])
    assert result.exit_code == 2 and "has no checkpoint yet" in result.stderr


def test_sparklines_share_a_scale_and_log_axes_read_in_plain_numbers():
    assert figures.sparkline([100, 0.1]) == figures.sparkline([10, 1]) == "█▁"  # each on its own scale
    assert figures.sparkline([10, 1], scale=(0.1, 100)) == "▆▃"  # on a scale shared with a wider line
    plt = figures.pyplot()
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [20, 35, 60])
    ax.set_yscale("log")
    figures.plain_log_axis(ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels(minor=True) + ax.get_yticklabels() if t.get_text()]
    plt.close(fig)
    assert labels and all("times" not in label and "$" not in label and "×" not in label for label in labels)
    assert {"20", "30", "40", "50", "60"} & set(labels)
