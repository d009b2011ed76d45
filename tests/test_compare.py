"""`ntm compare` and `ntm runs` through CliRunner with tiny budgets."""

import csv
import io
import json

import jax
import pytest
from flax import nnx
from typer.testing import CliRunner

from ntm_cli.cli import app
from ntm_cli.experiments.presets import preset_config
from ntm_cli.models import LSTMConfig, NTMConfig, build_model, count_params
from ntm_cli.reports.progress import format_cost
from ntm_cli.reports.results import table_rows
from ntm_cli.schema import ResultRow, StudyResults, TaskResults
from ntm_cli.studies.study import Study
from ntm_cli.studies.verdicts import paper_verdict, verdict
from ntm_cli.tasks import make_task
from ntm_cli.training.session import TrainingSession

runner = CliRunner()
WIDE = {"COLUMNS": "200"}

# The comparison's plumbing is what these tests check: small models and sizes, given as the
# options any study takes, stand in for the preset's (whose parameter counts
# `test_the_preset_models_are_the_papers` checks without training).
TINY = ["--lstm-size", "1x16", "--controller-size", "16", "--memory", "8x4", "--eval-batch-size", "16",
        "--max-length", "3"]
TINY_MODELS = {"lstm": LSTMConfig(num_layers=1, hidden_size=16),
               "ntm-lstm": NTMConfig(controller_sizes=(16,), memory_rows=8, memory_width=4)}


def _params(task, model):
    built = make_task(task, max_length=3)
    return count_params(nnx.eval_shape(lambda: build_model(TINY_MODELS[model], built.input_size, built.output_size,
                                                           jax.random.key(0))))


def test_the_preset_models_are_the_papers():
    for model, count in (("lstm", 1_349_128), ("ntm-lstm", 62_736), ("ntm-ff", 13_536)):
        task = make_task("copy")
        config = preset_config("fast", "copy", model).model
        built = nnx.eval_shape(lambda: build_model(config, task.input_size, task.output_size, jax.random.key(0)))
        assert count_params(built) == count


def compare(tmp_path, *args, env=WIDE):
    """`ntm compare` on folders in tmp_path; in this process (one worker) unless --workers is given."""
    workers = [] if "--workers" in args else ["--workers", "1"]
    return runner.invoke(app, ["compare", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), *workers,
                               *args], env=env)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One comparison of the LSTM and the NTM on copy, 30 sequences each."""
    tmp_path = tmp_path_factory.mktemp("compare")
    result = compare(tmp_path, "--tasks", "copy", "--models", "lstm,ntm-lstm", *TINY, "--sequences", "30")
    assert result.exit_code == 0, result.output
    return tmp_path, result


def test_compare_prints_a_table_per_task_and_a_verdict(finished):
    _, result = finished
    out = result.stdout
    for column in ("model", "params", "cost", "bit err", "seeds", "seqs", "time s", "seq/s", "paper", "held-out"):
        assert column in out
    assert "setting" not in out  # one value of each setting: said once, in the title
    assert "memory=8x4" in out and "lstm-size=1x16" in out
    assert f"{_params('copy', 'lstm'):,}" in out and f"{_params('copy', 'ntm-lstm'):,}" in out  # each model's count
    assert "~0.5-2 at 1M" in out and "~0 by 100-200k" in out
    assert "copy: " in out and ("is best at" in out or "no clear difference" in out)
    assert "--memory does not apply to lstm" in result.stderr and "--lstm-size does not apply to ntm-lstm" in result.stderr


def test_compare_files_agree_with_each_other(finished):
    tmp_path, _ = finished
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    assert results["version"] == 1 and results["kind"] == "compare" and results["grid"] == {}
    rows = results["tasks"]["copy"]["rows"]
    assert sorted(r["model"] for r in rows) == ["lstm", "ntm-lstm"]
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["cost"] <= rows[1]["cost"]
    assert all(r["sequences"] == 30 and r["seeds"] == r["seeds_planned"] == 1 for r in rows)
    assert json.loads(json.dumps(StudyResults.from_dict(results).to_dict())) == results  # read through its declaration
    table = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    assert [r["model"] for r in table] == [r["model"] for r in rows]
    for row, line in zip(rows, table):
        assert float(line["cost"]) == pytest.approx(row["cost"]) and int(line["params"]) == row["params"]
    markdown = (out / "results.md").read_text()
    for row in rows:
        assert format_cost(row["cost"]) in markdown
    assert results["tasks"]["copy"]["verdict"] in markdown
    best = min(rows, key=lambda r: r["cost"])["model"]
    assert results["tasks"]["copy"]["best"] == best
    # The runs behind the rows hold the same final cost, and the settings given.
    for row in rows:
        folder = tmp_path / "runs" / row["run_dirs"][0].rsplit("/", 1)[-1]
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["final_eval_cost"] == pytest.approx(row["cost"])
        config = json.loads((folder / "config.json").read_text())["config"]
        assert config["task_sizes"] == {"max_length": 3} and config["eval_batch_size"] == 16
        assert config["model"].get("memory_rows", 8) == 8 and config["model"].get("hidden_size", 16) == 16
    png = (out / "copy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_a_second_compare_trains_nothing(finished, monkeypatch):
    tmp_path, first = finished
    before = sorted(p.name for p in (tmp_path / "runs").iterdir())

    def no_training(self, should_stop=None):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(TrainingSession, "run", no_training)
    result = compare(tmp_path, "--tasks", "copy", "--models", "lstm,ntm-lstm", *TINY, "--sequences", "30", "--json")
    assert result.exit_code == 0, result.output
    assert "reusing" in result.stderr and sorted(p.name for p in (tmp_path / "runs").iterdir()) == before
    rows = json.loads(result.stdout)["tasks"]["copy"]["rows"]
    assert sorted(r["model"] for r in rows) == ["lstm", "ntm-lstm"]


def test_two_workers_train_in_their_own_processes_and_get_the_same_runs(finished, tmp_path):
    """--workers 2: each training in a spawned process on its own core, writing the same run
    folders (and the same figures) as one after another here."""
    here, _ = finished
    result = compare(tmp_path, "--tasks", "copy", "--models", "lstm,ntm-lstm", *TINY, "--sequences", "30",
                     "--workers", "2", "--json")
    assert result.exit_code == 0, result.output
    assert "copy / lstm / " in result.stderr and "seed 0 (30 sequences): finished" in result.stderr
    ours = {r["model"]: r for r in json.loads(result.stdout)["tasks"]["copy"]["rows"]}
    theirs = {r["model"]: r for r in json.loads((here / "out" / "results.json").read_text())["tasks"]["copy"]["rows"]}
    for model in ("lstm", "ntm-lstm"):
        assert ours[model]["cost"] == pytest.approx(theirs[model]["cost"], rel=1e-5)
        assert ours[model]["sequences"] == theirs[model]["sequences"] == 30


def test_runs_lists_the_runs_folder(finished):
    tmp_path, _ = finished
    result = runner.invoke(app, ["runs", "--runs", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {(r["task"], r["model"], r["seed"], r["status"], r["sequences"]) for r in rows} == {
        ("copy", "lstm", 0, "finished", 30), ("copy", "ntm-lstm", 0, "finished", 30)}
    table = runner.invoke(app, ["runs", "--runs", str(tmp_path / "runs")], env=WIDE)
    assert table.exit_code == 0 and "copy-ntm-lstm-s0" in table.stdout and "finished" in table.stdout
    empty = runner.invoke(app, ["runs", "--runs", str(tmp_path / "nothing")])
    assert empty.exit_code == 0 and "No runs" in empty.stdout


def test_aliases_and_an_interrupted_compare_resumes(tmp_path, monkeypatch):
    original, calls = TrainingSession.run, []

    def interrupt_the_second(self, should_stop=None):
        calls.append(1)
        if len(calls) == 2:
            self.interrupted = True
            return []
        return original(self, should_stop)

    monkeypatch.setattr(TrainingSession, "run", interrupt_the_second)
    sizes = ["--lstm-size", "1x16", "--num-inputs", "4", "--num-outputs", "2", "--max-items", "3", "--item-size", "1",
             "--eval-batch-size", "16"]
    result = compare(tmp_path, "--tasks", "sort,recall", "--models", "lstm", *sizes, "--sequences", "5")
    assert result.exit_code == 130 and "Run the same command again" in result.stderr
    monkeypatch.setattr(TrainingSession, "run", original)
    result = compare(tmp_path, "--tasks", "sort,recall", "--models", "lstm", *sizes, "--sequences", "5", "--json")
    assert result.exit_code == 0, result.output
    assert "--num-inputs does not apply to lstm on associative-recall" in result.stderr
    assert "priority-sort / lstm / " in result.stderr and "seed 0 (5 sequences): reusing" in result.stderr
    assert "associative-recall / lstm" in result.stderr
    assert list(json.loads(result.stdout)["tasks"]) == ["priority-sort", "associative-recall"]


def test_a_compare_stopped_by_sigterm_exits_143(tmp_path, monkeypatch):
    import signal

    def terminated(self, should_stop=None):
        self.interrupted, self.stop_signal = True, signal.SIGTERM
        return []

    monkeypatch.setattr(TrainingSession, "run", terminated)
    result = compare(tmp_path, "--tasks", "sort", "--models", "lstm", "--lstm-size", "1x16", "--sequences", "5")
    assert result.exit_code == 143 and "Stopped by SIGTERM; every finished run is kept" in result.stderr


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--tasks", "nosuchtask"], "Unknown task 'nosuchtask'"),
        (["--models", "gru"], "Unknown model 'gru'"),
        (["--tasks", ""], "--tasks needs at least one value"),
        (["--tasks", " , "], "--tasks needs at least one value"),
        (["--tasks", "copy,,sort"], "--tasks has an empty item"),
        (["--tasks", "copy,Copy"], "a task is given twice"),
        (["--models", ","], "--models needs at least one value"),
        (["--models", "lstm,lstm"], "--models gives lstm twice"),
        (["--time", "0s"], "a duration must be positive"),
        (["--sequences", "0"], "--sequences must be at least 1"),
        (["--time", "1m", "--sequences", "5"], "give a study one budget, not --sequences and --time"),
        (["--steps", "5", "--sequences", "5"], "give at most one of --steps and --sequences"),
        (["--models", "lstm", "--memory", "16x8"], "--memory applies to none of the runs (lstm on copy)"),
        (["--models", "ntm-lstm", "--margin", "0.2"], "--margin applies to none of the runs"),
        (["--models", "ntm-lstm", "--memory", "16x8,16x8"], "--memory gives 16x8 twice"),
        (["--models", "ntm-lstm", "--memory", "16by8"], "memory must be written ROWSxWIDTH"),
        (["--models", "ntm-lstm", "--shift-range", "9", "--memory", "4x8"], "shift range 9 needs at least 19"),
        (["--preset", "slow"], "Invalid value for '--preset'"),
        (["--preset", "paper", "--models", "dnc"], "the paper preset has no DNC"),
        (["--seeds", "0"], "--seeds must be at least 1"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(tmp_path, args, phrase):
    result = compare(tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert phrase in " ".join(result.stderr.split()) and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


def test_a_class_task_is_ranked_by_wrong_answers_and_shows_its_accuracies(tmp_path):
    sizes = ["--classes", "3", "--showings", "3", "--features", "4", "--distractors", "4", "--eval-batch-size", "16"]
    result = compare(tmp_path, "--tasks", "oneshot", "--models", "lstm,kv-ff", "--lstm-size", "1x16", "--memory", "9x4",
                     "--neighbours", "4", "--controller-size", "8", *sizes, "--sequences", "16", "--json")
    assert result.exit_code == 0, result.output
    task = json.loads(result.stdout)["tasks"]["one-shot"]
    assert task["ranked_by"] == "bit_errors" and task["scores"][:2] == [["shot_1", "1st"], ["shot_2", "2nd"]]
    rows = task["rows"]
    assert task["best"] == rows[0]["model"] == min(rows, key=lambda r: r["bit_errors"])["model"]
    assert "wrong answers/seq" in task["verdict"]
    for row in rows:
        assert set(row["scores"]) == {"shot_1", "shot_2", "shot_3"}  # 3 showings: no 5th or 10th
        assert 0 <= row["scores"]["shot_2"] <= 1
    table = list(csv.DictReader(io.StringIO((tmp_path / "out" / "results.csv").read_text())))
    assert float(table[1]["accuracy_shot_2"]) == pytest.approx(rows[1]["scores"]["shot_2"])
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "| model | params | wrong | cost | 1st | 2nd | 3rd | 5th | 10th | seeds | seqs | seq/s | paper |" in markdown
    assert "Omniglot 5-way 1-shot 98.4%" in markdown  # the paper's anchor, on its own data
    # the tasks' own models when none are given: the one-shot tasks compare four
    assert Study("compare", ("one-shot", "copy")).models_for("one-shot") == ("lstm", "ntm-lstm", "dnc", "kv-ff")
    assert Study("compare", ("one-shot", "copy")).models_for("copy") == ("lstm", "ntm-lstm", "ntm-ff")
    assert Study("compare", ("rare-events",)).budget_for("rare-events").text() == "16,000 sequences"


def test_dynamic_ngrams_gets_a_bayes_optimal_row_and_verdicts_read_right():
    row = ResultRow(task="dynamic-ngrams", model="lstm", setting={}, label="", seeds=2, seeds_planned=3, params=10,
                    cost=140.0, cost_std=1.0, bit_errors=50.0, bit_errors_std=0.5, best_cost=139.0, scores={},
                    sequences=100.0, wall_time=1.0, sequences_per_second=100.0, paper_cost=None,
                    paper_cost_text="~136", rank=1, command="ntm train dynamic-ngrams", run_dirs=("a", "b"))
    task = TaskResults(budget="100 sequences", time_limit=None, sequences=100, steps=None, chance_cost=200.0,
                       floor_cost=133.2, floor_text="133.2", output_kind="bits", ranked_by="cost", unit="bits/seq",
                       scores=(), score_notes={}, rows=(row,), best="lstm", best_command="", verdict="",
                       paper_verdict=None)
    rows = table_rows(task)
    assert rows[0][2] == "140.000 ± 1.000" and rows[0][4] == "2/3"  # mean ± s.d. of 2 finished seeds of 3
    assert rows[-1][0] == "Bayes-optimal" and rows[-1][2] == "133.200"
    ranked = [{"model": "ntm-lstm", "cost": 0.000177}, {"model": "ntm-ff", "cost": 0.05}, {"model": "lstm", "cost": 40.0}]
    assert verdict(ranked) == (
        "ntm-lstm is best at 0.000177 bits/seq; ntm-ff 0.050 (+0.050), lstm 40.000 (+40.000)."
    )
    close = [{"model": "ntm-lstm", "cost": 0.002}, {"model": "ntm-ff", "cost": 0.009}, {"model": "lstm", "cost": 40.0}]
    assert verdict(close).startswith("no clear difference between ntm-lstm and ntm-ff")
    noisy = [{"model": "ntm-lstm", "cost": 1.0, "cost_std": 0.5}, {"model": "lstm", "cost": 1.8, "cost_std": 0.5}]
    assert verdict(noisy).startswith("no clear difference between ntm-lstm and lstm")
    assert verdict(ranked[:1]) == "ntm-lstm reached 0.000177 bits/seq (the only model run)."


def test_the_closing_line_says_whether_the_papers_ordering_held():
    def row(model, cost, std=0.0):
        return {"model": model, "cost": cost, "cost_std": std}

    order = ("ntm", "lstm")
    assert paper_verdict(order, [row("lstm", 50.0), row("ntm-lstm", 0.001), row("ntm-ff", 0.002)]) == (
        "as in the paper: ntm-lstm below lstm, ntm-ff below lstm.")
    assert paper_verdict(order, [row("lstm", 100.0), row("ntm-lstm", 120.0), row("ntm-ff", 20.0)]) == (
        "unlike the paper: lstm below ntm-lstm (as in the paper: ntm-ff below lstm).")
    assert paper_verdict(order, [row("lstm", 10.0, 3.0), row("ntm-lstm", 8.0, 1.0)]) == (
        "unlike the paper: no clear difference between ntm-lstm and lstm.")  # within the seeds' spread
    assert paper_verdict(order, [row("ntm-lstm", 1.0), row("dnc", 2.0)]) is None  # no LSTM to set against
    assert paper_verdict((), [row("lstm", 1.0), row("ntm-lstm", 2.0)]) is None  # a task the paper lacks
