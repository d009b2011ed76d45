"""`ntm sweep`: grids from options and TOML, every trial an ordinary run, ranking, reuse, bad
input, and the Ray executor on a real local Ray instance (2 CPUs; no mocks)."""

import csv
import json

import pytest
from typer.testing import CliRunner

from ntm_cli.cli import app

runner = CliRunner()
# A tiny NTM: each trial compiles in seconds and trains 60 sequences.
TINY = ["--tasks", "copy", "--models", "ntm-lstm", "--memory", "8x4", "--controller-size", "16", "--sequences", "60"]


def sweep(tmp_path, *args):
    return runner.invoke(app, ["sweep", *args, "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")],
                         env={"COLUMNS": "200"})


@pytest.mark.parametrize(("args", "grid", "phrase"), [
    (["--lr", "abc"], None, "--lr takes finite numbers, got 'abc'"),
    (["--lr", "1e-3,,3e-4"], None, "--lr has an empty item"),
    (["--lr", "1e-3,1e-3"], None, "--lr gives 1e-3 twice"),
    (["--heads", "1.5"], None, "--heads takes whole numbers"),
    (["--lstm-size", "2x64"], None, "--lstm-size applies to none of the runs (ntm-lstm on copy)"),
    (["--heads", "0"], None, "head"),
    (["--optimizer", "sgd"], None, "--optimizer must be one of adam, rmsprop"),
    (["--workers", "0"], None, "--workers must be at least 1"),
    (["--gpus", "nan"], None, "--gpus must be a number"),
    (["--steps", "5", "--sequences", "5"], None, "give at most one of --steps and --sequences"),
    (["--sequences", "5", "--time", "1m"], None, "give a study one budget, not --sequences and --time"),
    (["--ray", "127.0.0.1:9"], None, "no Ray cluster answers at 127.0.0.1:9"),
    (["--ray", "nowhere"], None, "--ray takes local, auto or HOST:PORT"),
    (["--grid", "GRID"], "[grid]\nlr = [1e-3]\nbeta = [0.9]\n", "'beta' is not a setting"),
    (["--grid", "GRID"], "[grid]\nlr = []\n", "--lr needs at least one value"),
    (["--grid", "GRID"], "tasks = ['copy']\nlearning = 3\n", "unknown key learning"),
    (["--grid", "GRID"], "tasks = ['copy'\n", "is not valid TOML"),
    (["--grid", "GRID", "--lr", "1e-3"], "[grid]\nlr = [1e-3]\n", "--lr is in the grid file too"),
    (["--grid", "MISSING"], None, "no such file"),
])
def test_bad_grids_are_refused_in_one_sentence_with_nothing_written(tmp_path, args, grid, phrase):
    if grid is not None:
        (tmp_path / "grid.toml").write_text(grid)
    args = [str(tmp_path / "grid.toml") if a == "GRID" else str(tmp_path / "missing.toml") if a == "MISSING" else a
            for a in args]
    task = [] if grid and "tasks" in grid else ["--tasks", "copy"]
    result = sweep(tmp_path, *task, *args)
    assert result.exit_code == 2, result.output
    assert phrase in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A sweep of two learning rates of a tiny NTM on copy."""
    tmp_path = tmp_path_factory.mktemp("sweep")
    result = sweep(tmp_path, *TINY, "--lr", "1e-4,1e-2", "--workers", "1")
    assert result.exit_code == 0, result.output
    return tmp_path, result


def test_a_local_sweep_ranks_the_settings_and_names_the_best_command(swept):
    tmp_path, result = swept
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["version"] == 2 and results["kind"] == "sweep"
    assert results["grid"] == {"lr": [1e-4, 1e-2]} and results["fixed"] == {"memory": "8x4", "controller_size": "16", "until": "solved"}
    task = results["tasks"]["copy"]
    rows = task["rows"]
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["cost"] <= rows[1]["cost"]
    assert {r["label"] for r in rows} == {"lr=0.0001", "lr=0.01"}
    assert {r["setting"]["lr"] for r in rows} == {1e-4, 1e-2}
    # Every trial is an ordinary run folder whose config is the one `ntm train` makes.
    for row in rows:
        (run_dir,) = row["run_dirs"]
        config = json.loads((tmp_path / "runs" / run_dir.split("/")[-1] / "config.json").read_text())["config"]
        assert config["optimizer"]["learning_rate"] == row["setting"]["lr"]
        assert config["model"]["memory_rows"] == 8 and config["steps"] == 60
    with open(tmp_path / "out" / "results.csv") as f:
        assert [r["label"] for r in csv.DictReader(f)] == [r["label"] for r in rows]
    assert task["best"] == f"ntm-lstm ({rows[0]['label']})" and task["best_command"] == rows[0]["command"]
    assert rows[0]["command"].startswith("ntm train copy --model ntm-lstm --memory 8x4 --controller-size 16 --lr ")
    assert rows[0]["command"].endswith(" --sequences 60")
    assert f"best: {rows[0]['command']}" in result.stdout
    assert "2 runs: 1 task(s)" in result.stderr and "2 runs" not in result.stdout  # progress on stderr


def test_the_same_sweep_again_or_from_a_grid_file_trains_nothing(swept):
    tmp_path, _ = swept
    folders = sorted((tmp_path / "runs").iterdir())
    again = sweep(tmp_path, *TINY, "--lr", "1e-4,1e-2", "--workers", "1")
    assert again.exit_code == 0 and again.stderr.count("reusing") == 2
    (tmp_path / "grid.toml").write_text(
        'tasks = ["copy"]\nmodels = ["ntm-lstm"]\nsequences = 60\n'
        '[grid]\nmemory = ["8x4"]\ncontroller-size = ["16"]\nlr = [1e-4, 1e-2]\n')
    from_file = sweep(tmp_path, "--grid", str(tmp_path / "grid.toml"), "--workers", "1")
    assert from_file.exit_code == 0, from_file.output
    assert from_file.stderr.count("reusing") == 2
    assert sorted((tmp_path / "runs").iterdir()) == folders


def test_a_compare_with_the_same_settings_reuses_the_sweeps_runs(swept):
    """One study behind both commands: a run folder made by either is found by the other."""
    tmp_path, _ = swept
    result = runner.invoke(app, ["compare", "--tasks", "copy", "--models", "ntm-lstm", "--memory", "8x4",
                                 "--controller-size", "16", "--lr", "1e-2", "--sequences", "60", "--workers", "1",
                                 "--seeds", "1",
                                 "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "compare"), "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("reusing") == 1
    (row,) = json.loads(result.stdout)["tasks"]["copy"]["rows"]
    swept_rows = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"]["copy"]["rows"]
    assert row["run_dirs"] == next(r["run_dirs"] for r in swept_rows if r["setting"]["lr"] == 1e-2)


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    yield
    ray.shutdown()


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # Ray starts its processes by fork + exec
def test_on_ray_a_grid_completes_a_failing_trial_is_retried_and_reported_and_a_rerun_reuses(tmp_path, ray_local):
    # Batch 2**22 cannot fit in memory: that trial fails on its Ray worker (twice: it is tried
    # once more), is reported, and does not stop the other.
    args = [*TINY, "--batch-size", "1,4194304", "--ray", "local", "--workers", "2"]
    result = sweep(tmp_path, *args)
    assert result.exit_code == 1, result.output
    assert "trying once more" in result.output and "batch-size=4194304" in result.output
    assert "needs about" in result.output  # the memory check's one sentence, from the worker
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    rows = results["tasks"]["copy"]["rows"]
    done = [r for r in rows if r["cost"] is not None]
    assert len(done) == 1 and done[0]["setting"]["batch_size"] == 1
    assert [r["seeds"] for r in rows] == [1, 0]  # the failed trial: no finished seed, ranked last
    # Its run came back to the driver's runs folder, whole: config, metrics, checkpoints, summary.
    (run_dir,) = done[0]["run_dirs"]
    names = {p.name for p in (tmp_path / "runs" / run_dir.split("/")[-1]).iterdir()}
    assert {"config.json", "metrics.jsonl", "summary.json", "checkpoints"} <= names
    summary = json.loads((tmp_path / "runs" / run_dir.split("/")[-1] / "summary.json").read_text())
    assert summary["run_dir"] == run_dir and summary["status"] == "finished"
    again = sweep(tmp_path, *TINY, "--batch-size", "1", "--ray", "local")
    assert again.exit_code == 0 and "reusing" in again.output


def test_a_sweep_ranks_a_class_task_by_wrong_answers_as_compare_does(tmp_path):
    """One ranking rule, taken from the task: a one-shot task's rows go by wrong answers in a
    sweep as in a comparison (a memory's nearest-neighbour answer has no calibrated cost)."""
    tiny = ["--tasks", "oneshot", "--models", "lstm", "--lstm-size", "1x8", "--classes", "3", "--showings", "3",
            "--features", "4", "--distractors", "4", "--eval-batch-size", "16", "--sequences", "16", "--workers", "1",
            "--json"]
    swept = sweep(tmp_path, *tiny, "--lr", "1e-3,3e-2")
    assert swept.exit_code == 0, swept.output
    task = json.loads(swept.stdout)["tasks"]["one-shot"]
    assert task["ranked_by"] == "bit_errors" and "wrong answers/seq" in task["verdict"]
    assert [r["bit_errors"] for r in task["rows"]] == sorted(r["bit_errors"] for r in task["rows"])
    compared = runner.invoke(app, ["compare", *tiny, "--lr", "1e-3,3e-2", "--seeds", "1", "--runs", str(tmp_path / "runs"),
                                   "--out", str(tmp_path / "compare")])
    assert compared.exit_code == 0, compared.output
    assert compared.stderr.count("reusing") == 2  # the sweep's runs
    again = json.loads(compared.stdout)["tasks"]["one-shot"]
    assert [(r["label"], r["rank"]) for r in again["rows"]] == [(r["label"], r["rank"]) for r in task["rows"]]
    assert again["ranked_by"] == "bit_errors"
