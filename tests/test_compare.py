"""`ntm compare` and `ntm runs` through CliRunner with tiny budgets."""

import csv
import dataclasses
import io
import json

import jax
import pytest
from flax import nnx
from typer.testing import CliRunner

from ntm_cli import compare as compare_module
from ntm_cli.cli import app
from ntm_cli.compare import format_cost, markdown_rows, verdict
from ntm_cli.experiments.presets import preset_config
from ntm_cli.models import KVMemoryConfig, LSTMConfig, NTMConfig, build_model, count_params
from ntm_cli.tasks import make_task
from ntm_cli.train_loop import TrainingSession

runner = CliRunner()
WIDE = {"COLUMNS": "200"}

# The comparison's plumbing is what these tests check: small models and sizes stand in for the
# preset's (whose parameter counts `test_the_preset_models_are_the_papers` checks without training).
TINY_MODELS = {"lstm": LSTMConfig(num_layers=1, hidden_size=16),
               "ntm-lstm": NTMConfig(controller_sizes=(16,), memory_rows=8, memory_width=4),
               "kv-ff": KVMemoryConfig(controller_sizes=(8,), memory_rows=9, key_size=4, neighbours=4)}
TINY_SIZES = {"copy": {"max_length": 3}, "priority-sort": {"num_inputs": 4, "num_outputs": 2},
              "associative-recall": {"max_items": 3, "item_size": 1},
              "one-shot": {"classes": 3, "showings": 3, "features": 4, "distractors": 4}}


def tiny_preset(preset, task, model, seed=0):
    config = preset_config(preset, task, model, seed)
    return dataclasses.replace(config, model=TINY_MODELS.get(model, config.model), task_sizes=TINY_SIZES[task],
                               eval_batch_size=16)


@pytest.fixture(scope="module", autouse=True)
def tiny_models():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compare_module, "preset_config", tiny_preset)
        yield


def _params(task, model):
    built = make_task(task, **TINY_SIZES[task])
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
    result = compare(tmp_path, "--tasks", "copy", "--models", "lstm,ntm-lstm", "--sequences", "30")
    assert result.exit_code == 0, result.output
    return tmp_path, result


def test_compare_prints_a_table_per_task_and_a_verdict(finished):
    _, result = finished
    out = result.stdout
    for column in ("model", "params", "cost", "bit err", "seqs", "time s", "seq/s", "paper", "held-out"):
        assert column in out
    assert f"{_params('copy', 'lstm'):,}" in out and f"{_params('copy', 'ntm-lstm'):,}" in out  # each model's count
    assert "~0.5-2 at 1M" in out and "~0 by 100-200k" in out
    assert "copy: " in out and "is best at" in out


def test_compare_files_agree_with_each_other(finished):
    tmp_path, _ = finished
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    rows = results["tasks"]["copy"]["rows"]
    assert [r["model"] for r in rows] == ["lstm", "ntm-lstm"]
    assert all(r["sequences"] == 30 and r["seeds"] == 1 for r in rows)
    table = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    assert [r["model"] for r in table] == ["lstm", "ntm-lstm"]
    for row, line in zip(rows, table):
        assert float(line["cost"]) == pytest.approx(row["cost"]) and int(line["params"]) == row["params"]
    markdown = (out / "results.md").read_text()
    for row in rows:
        assert format_cost(row["cost"]) in markdown
    assert results["tasks"]["copy"]["verdict"] in markdown
    best = min(rows, key=lambda r: r["cost"])["model"]
    assert results["tasks"]["copy"]["best"] == best
    # The runs behind the rows hold the same final cost.
    for row in rows:
        summary = json.loads((tmp_path / "runs" / row["run_dirs"][0].rsplit("/", 1)[-1] / "summary.json").read_text())
        assert summary["final_eval_cost"] == pytest.approx(row["cost"])
    png = (out / "copy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_a_second_compare_trains_nothing(finished, monkeypatch):
    tmp_path, first = finished
    before = sorted(p.name for p in (tmp_path / "runs").iterdir())

    def no_training(self, should_stop=None):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(TrainingSession, "run", no_training)
    result = compare(tmp_path, "--tasks", "copy", "--models", "lstm,ntm-lstm", "--sequences", "30", "--json")
    assert result.exit_code == 0, result.output
    assert "reusing" in result.stderr and sorted(p.name for p in (tmp_path / "runs").iterdir()) == before
    rows = json.loads(result.stdout)["tasks"]["copy"]["rows"]
    assert [r["model"] for r in rows] == ["lstm", "ntm-lstm"]


def test_two_workers_train_in_their_own_processes_and_get_the_same_runs(finished, tmp_path):
    """--workers 2: each training in a spawned process on its own core, writing the same run
    folders (and the same figures) as one after another here."""
    here, _ = finished
    result = compare(tmp_path, "--tasks", "copy", "--models", "lstm,ntm-lstm", "--sequences", "30", "--workers", "2",
                     "--json")
    assert result.exit_code == 0, result.output
    assert "copy / lstm / seed 0 (30 sequences): finished" in result.stderr  # (the workers print to the terminal)
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
    result = compare(tmp_path, "--tasks", "sort,recall", "--models", "lstm", "--sequences", "5")
    assert result.exit_code == 130 and "Run the same command again" in result.stderr
    monkeypatch.setattr(TrainingSession, "run", original)
    result = compare(tmp_path, "--tasks", "sort,recall", "--models", "lstm", "--sequences", "5", "--json")
    assert result.exit_code == 0, result.output
    assert "priority-sort / lstm / seed 0: reusing" in result.stderr
    assert "associative-recall / lstm" in result.stderr
    assert list(json.loads(result.stdout)["tasks"]) == ["priority-sort", "associative-recall"]


def test_a_compare_stopped_by_sigterm_exits_143(tmp_path, monkeypatch):
    import signal

    def terminated(self, should_stop=None):
        self.interrupted, self.stop_signal = True, signal.SIGTERM
        return []

    monkeypatch.setattr(TrainingSession, "run", terminated)
    result = compare(tmp_path, "--tasks", "sort", "--models", "lstm", "--sequences", "5")
    assert result.exit_code == 143 and "Stopped by SIGTERM; every finished run is kept" in result.stderr


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--tasks", "nosuchtask"], "Unknown task 'nosuchtask'"),
        (["--models", "gru"], "Unknown model 'gru'"),
        (["--tasks", ""], "at least one task"),
        (["--tasks", " , "], "at least one task"),
        (["--models", ","], "at least one model"),
        (["--budget", "0s"], "a duration must be positive"),
        (["--sequences", "0"], "at least one sequence"),
        (["--budget", "1m", "--sequences", "5"], "give one budget"),
        (["--preset", "slow"], "Invalid value for '--preset'"),
        (["--preset", "paper", "--models", "dnc"], "the paper preset has no DNC"),
        (["--seeds", "0"], "--seeds must be at least 1"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(tmp_path, args, phrase):
    result = compare(tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert phrase in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


def test_a_class_task_is_ranked_by_wrong_answers_and_shows_its_accuracies(tmp_path):
    result = compare(tmp_path, "--tasks", "oneshot", "--models", "lstm,kv-ff", "--sequences", "16", "--json")
    assert result.exit_code == 0, result.output
    task = json.loads(result.stdout)["tasks"]["one-shot"]
    assert task["ranked_by"] == "bit_errors" and task["scores"][:2] == [["shot_1", "1st"], ["shot_2", "2nd"]]
    rows = task["rows"]
    assert task["best"] == min(rows, key=lambda r: r["bit_errors"])["model"]
    assert "wrong answers/seq" in task["verdict"]
    for row in rows:
        assert set(row["scores"]) == {"shot_1", "shot_2", "shot_3", "shot_5", "shot_10"}
        assert row["scores"]["shot_5"] is None and 0 <= row["scores"]["shot_2"] <= 1  # 3 showings: no 5th
    table = list(csv.DictReader(io.StringIO((tmp_path / "out" / "results.csv").read_text())))
    assert float(table[1]["accuracy_shot_2"]) == pytest.approx(rows[1]["scores"]["shot_2"])
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "| model | params | wrong | cost | 1st | 2nd | 3rd | 5th | 10th | seqs | seq/s | paper |" in markdown
    assert "Omniglot 5-way 1-shot 98.4%" in markdown  # the paper's anchor, on its own data
    # the tasks' own models when none are given: the one-shot tasks compare four
    from ntm_cli.compare import CompareSpec

    assert CompareSpec(tasks=("one-shot", "copy")).models_for("one-shot") == ("lstm", "ntm-lstm", "dnc", "kv-ff")
    assert CompareSpec(tasks=("one-shot", "copy")).models_for("copy") == ("lstm", "ntm-lstm", "ntm-ff")
    assert CompareSpec(tasks=("rare-events",)).budget_text("rare-events") == "16,000 sequences"


def test_dynamic_ngrams_gets_a_bayes_optimal_row_and_verdicts_read_right():
    result = {"floor_cost": 133.2, "rows": [
        {"model": "lstm", "params": 10, "cost": 140.0, "cost_std": 1.0, "seeds": 2, "bit_errors": 50.0,
         "sequences": 100.0, "wall_time": 1.0, "sequences_per_second": 100.0, "paper_cost_text": "~136"}]}
    rows = markdown_rows("dynamic-ngrams", result)
    assert rows[0][2] == "140.000 ± 1.000" and rows[-1][0] == "Bayes-optimal" and rows[-1][2] == "133.200"
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
    from ntm_cli.compare import paper_verdict

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
