"""`ntm sweep`: grids from options and TOML, every trial an ordinary run, ranking, reuse, bad
input, and the Ray executor on a real local Ray instance (2 CPUs; no mocks)."""

import csv
import json

import pytest
from typer.testing import CliRunner

from ntm_cli.cli import app
from ntm_cli.errors import InputError
from ntm_cli.sweep import SweepSpec, parse_values

runner = CliRunner()
# A tiny NTM: each trial compiles in seconds and trains 60 sequences.
TINY = ["--tasks", "copy", "--models", "ntm-lstm", "--memory", "8x4", "--controller-size", "16", "--sequences", "60"]


def sweep(tmp_path, *args):
    return runner.invoke(app, ["sweep", *args, "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")])


def test_values_are_typed_and_each_model_gets_the_options_it_takes():
    assert parse_values("lr", "1e-3, 3e-4,1e-3") == (1e-3, 3e-4)
    assert parse_values("heads", [1, 2]) == (1, 2)
    assert parse_values("memory", "128x20,32x20") == ("128x20", "32x20")
    spec = SweepSpec(tasks=("copy",), models=("ntm-lstm", "lstm"),
                     grid=(("lr", (1e-3, 3e-4)), ("heads", (1, 2)), ("lstm-size", ("2x64",))))
    assert len(spec.settings("ntm-lstm")) == 4 and len(spec.settings("lstm")) == 2
    assert spec.settings("lstm")[1] == {"lr": 3e-4, "lstm-size": "2x64"}
    config = spec.config("copy", "ntm-lstm", {"lr": 3e-4, "heads": 2}, seed=1)
    assert (config.optimizer.learning_rate, config.model.num_read_heads, config.seed) == (3e-4, 2, 1)
    assert spec.command("copy", "lstm", {"lr": 3e-4, "lstm-size": "2x64"}) == \
        "ntm train copy --model lstm --lr 0.0003 --lstm-size 2x64 --time 60s"


@pytest.mark.parametrize(("value", "phrase"), [("abc", "takes numbers"), ("1e-3,,3e-4", "needs values")])
def test_bad_values_are_named(value, phrase):
    with pytest.raises(InputError, match=phrase):
        parse_values("lr", value)
    with pytest.raises(InputError, match="whole numbers"):
        parse_values("heads", [1.5])


@pytest.mark.parametrize(("args", "grid", "phrase"), [
    (["--lr", "abc"], None, "--lr takes numbers"),
    (["--lstm-size", "2x64"], None, "--lstm-size applies to none of the models swept"),
    (["--heads", "0"], None, "head"),
    (["--workers", "0"], None, "--workers must be at least 1"),
    (["--ray", "127.0.0.1:9"], None, "no Ray cluster answers at 127.0.0.1:9"),
    (["--ray", "nowhere"], None, "--ray takes local, auto or HOST:PORT"),
    (["--grid", "GRID"], "[grid]\nlr = [1e-3]\nbeta = [0.9]\n", "'beta' is not an option a sweep can vary"),
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
    assert phrase in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


def test_a_local_sweep_ranks_the_settings_names_the_best_command_and_reuses_its_trials(tmp_path):
    result = sweep(tmp_path, *TINY, "--lr", "1e-4,1e-2", "--workers", "1")
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "out" / "sweep.json").read_text())
    rows = results["tasks"]["copy"]["rows"]
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["cost"] <= rows[1]["cost"]
    assert {r["setting"]["lr"] for r in rows} == {1e-4, 1e-2}
    # Every trial is an ordinary run folder whose config is the one `ntm train` makes.
    for row in rows:
        (run_dir,) = row["run_dirs"]
        config = json.loads((tmp_path / "runs" / run_dir.split("/")[-1] / "config.json").read_text())["config"]
        assert config["optimizer"]["learning_rate"] == row["setting"]["lr"]
        assert config["model"]["memory_rows"] == 8 and config["steps"] == 60
    with open(tmp_path / "out" / "sweep.csv") as f:
        assert [r["label"] for r in csv.DictReader(f)] == [r["label"] for r in rows]
    assert results["tasks"]["copy"]["best"] == rows[0]["command"]
    assert f"best: {rows[0]['command']}" in result.output.replace("\n", " ").replace("  ", " ") or \
        "best: ntm train copy" in result.output
    # The same command again trains nothing.
    folders = sorted((tmp_path / "runs").iterdir())
    again = sweep(tmp_path, *TINY, "--lr", "1e-4,1e-2", "--workers", "1")
    assert again.exit_code == 0 and again.output.count("reusing") == 2
    assert sorted((tmp_path / "runs").iterdir()) == folders


def test_a_grid_file_gives_the_same_trials_as_options(tmp_path):
    (tmp_path / "grid.toml").write_text(
        'tasks = ["copy"]\nmodels = ["ntm-lstm"]\nsequences = 60\n'
        '[grid]\nmemory = ["8x4"]\ncontroller-size = ["16"]\nlr = [1e-4, 1e-2]\n')
    first = sweep(tmp_path, *TINY, "--lr", "1e-4,1e-2", "--workers", "1")
    assert first.exit_code == 0, first.output
    second = sweep(tmp_path, "--grid", str(tmp_path / "grid.toml"), "--workers", "1")
    assert second.exit_code == 0, second.output
    assert second.output.count("reusing") == 2


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
    results = json.loads((tmp_path / "out" / "sweep.json").read_text())
    rows = results["tasks"]["copy"]["rows"]
    done = [r for r in rows if r["cost"] is not None]
    assert len(done) == 1 and done[0]["setting"]["batch-size"] == 1
    # Its run came back to the driver's runs folder, whole: config, metrics, checkpoints, summary.
    (run_dir,) = done[0]["run_dirs"]
    names = {p.name for p in (tmp_path / "runs" / run_dir.split("/")[-1]).iterdir()}
    assert {"config.json", "metrics.jsonl", "summary.json", "checkpoints"} <= names
    summary = json.loads((tmp_path / "runs" / run_dir.split("/")[-1] / "summary.json").read_text())
    assert summary["run_dir"] == run_dir and summary["status"] == "finished"
    again = sweep(tmp_path, *TINY, "--batch-size", "1", "--ray", "local")
    assert again.exit_code == 0 and "reusing" in again.output
