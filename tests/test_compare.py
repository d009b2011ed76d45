"""`ntm compare` and `ntm runs` through CliRunner with tiny budgets."""

import csv
import io
import json
import shutil

import jax
import pytest
from flax import nnx
from typer.testing import CliRunner

from ntm_cli.cli import app
from ntm_cli.experiments.presets import preset_config
from ntm_cli.models import LSTMConfig, NTMConfig, build_model, count_params
from ntm_cli.reports.progress import format_cost
from ntm_cli.schema import StudyResults
from ntm_cli.studies.study import Study
from ntm_cli.tasks import make_task
from ntm_cli.training.session import TrainingSession

from run_folders import copy_run

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
    seeds = [] if "--seeds" in args else ["--seeds", "1"]
    return runner.invoke(app, ["compare", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), *workers,
                               *seeds, *args], env=env)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One comparison of the LSTM and the NTM on copy, 2 seeds of 32 sequences each."""
    tmp_path = tmp_path_factory.mktemp("compare")
    result = compare(tmp_path, "--tasks", "copy", "--models", "lstm,ntm-lstm", *TINY, "--sequences", "32",
                     "--seeds", "2")
    assert result.exit_code == 0, result.output
    return tmp_path, result


def test_compare_prints_a_table_per_task_and_a_verdict(finished):
    _, result = finished
    out = result.stdout
    for column in ("model", "solved", "cost", "95% interval", "at 32 seqs", "seqs", "paper", "held-out"):
        assert column in out
    assert "setting" not in out  # one value of each setting: said once, in the title
    assert "memory=8x4" in out and "lstm-size=1x16" in out and "2 seeds" in out
    assert " 0/2 " in out  # solved: no seed copies after 32 sequences
    assert "~0.5-2 at 1M" in out and "~0 by 100-200k" in out
    assert "copy: " in out and "is lowest at the end" in out and "at 32 sequences each it is" in out
    assert "--memory does not apply to lstm" in result.stderr and "--lstm-size does not apply to ntm-lstm" in result.stderr


def test_compare_files_agree_with_each_other(finished):
    tmp_path, _ = finished
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    assert results["version"] == 2 and results["kind"] == "compare" and results["grid"] == {}
    task = results["tasks"]["copy"]
    assert task["equal_sequences"] == 32 and "bit errors per sequence below 1" in task["solved_rule"]
    rows = task["rows"]
    assert sorted(r["model"] for r in rows) == ["lstm", "ntm-lstm"]
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["cost"] <= rows[1]["cost"]
    for r in rows:
        assert r["sequences"] == 32 and r["seeds"] == r["seeds_planned"] == 2 and r["seed_numbers"] == [0, 1]
        assert r["solved"] == 0 and r["seed_solved"] == [False, False] and r["sequences_to_solve"] is None
        assert r["cost"] == pytest.approx(sum(r["seed_costs"]) / 2)  # the median of two
        assert r["cost_interval"][0] == min(r["seed_costs"]) and r["cost_interval"][1] == max(r["seed_costs"])
        # read at 32 sequences, the last report of every run: the final costs
        assert r["seed_costs_at_equal_sequences"] == pytest.approx(r["seed_costs"])
        assert r["params"] == _params("copy", r["model"]) and r["reused"] == 0
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
    # The runs behind the rows hold the same final costs, and the settings given.
    for row in rows:
        for run_dir, cost in zip(row["run_dirs"], row["seed_costs"]):
            summary = json.loads((tmp_path / "runs" / run_dir.rsplit("/", 1)[-1] / "summary.json").read_text())
            assert summary["final_eval_cost"] == pytest.approx(cost)
        folder = tmp_path / "runs" / row["run_dirs"][0].rsplit("/", 1)[-1]
        environment = json.loads((folder / "config.json").read_text())["environment"]
        assert environment["trained_with"] == [0]  # every seed alone: the run `ntm train --seed 0` makes
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
    result = compare(tmp_path, "--tasks", "copy", "--models", "lstm,ntm-lstm", *TINY, "--sequences", "32", "--seeds", "2",
                     "--json")
    assert result.exit_code == 0, result.output
    assert "reusing" in result.stderr and sorted(p.name for p in (tmp_path / "runs").iterdir()) == before
    rows = json.loads(result.stdout)["tasks"]["copy"]["rows"]
    assert sorted(r["model"] for r in rows) == ["lstm", "ntm-lstm"] and all(r["reused"] == 2 for r in rows)
    table = compare(tmp_path, "--tasks", "copy", "--models", "lstm,ntm-lstm", *TINY, "--sequences", "32", "--seeds", "2")
    assert "lstm*" in table.stdout and "*: reuses runs an earlier command finished" in " ".join(table.stdout.split())


def test_two_workers_train_in_their_own_processes_and_get_the_same_runs(finished, tmp_path):
    """--workers 2: each training in a spawned process on its own core, writing the same run
    folders (and the same figures) as one after another here."""
    here, _ = finished
    result = compare(tmp_path, "--tasks", "copy", "--models", "lstm,ntm-lstm", *TINY, "--sequences", "32",
                     "--seeds", "2", "--workers", "2", "--json")
    assert result.exit_code == 0, result.output
    assert "copy / lstm / " in result.stderr and "seed 1 (32 sequences): finished" in result.stderr
    ours = {r["model"]: r for r in json.loads(result.stdout)["tasks"]["copy"]["rows"]}
    theirs = {r["model"]: r for r in json.loads((here / "out" / "results.json").read_text())["tasks"]["copy"]["rows"]}
    for model in ("lstm", "ntm-lstm"):
        assert ours[model]["cost"] == pytest.approx(theirs[model]["cost"], rel=1e-5)
        assert ours[model]["sequences"] == theirs[model]["sequences"] == 32


def test_runs_lists_the_runs_folder(finished):
    tmp_path, _ = finished
    result = runner.invoke(app, ["runs", "--runs", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {(r["task"], r["model"], r["seed"], r["status"], r["sequences"]) for r in rows} == {
        (task, model, seed, "finished", 32) for task in ("copy",) for model in ("lstm", "ntm-lstm") for seed in (0, 1)}
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
        (["--time", "0s"], "--time must be positive and at most a year"),
        (["--sequences", "0"], "--sequences must be between 1 and"),
        (["--time", "1m", "--sequences", "5"], "give a study one budget, not --sequences and --time"),
        (["--steps", "5", "--sequences", "5"], "give at most one of --steps and --sequences"),
        (["--models", "lstm", "--memory", "16x8"], "--memory applies to none of the runs (lstm on copy)"),
        (["--models", "ntm-lstm", "--margin", "0.2"], "--margin applies to none of the runs"),
        (["--models", "ntm-lstm", "--memory", "16x8,16x8"], "--memory gives 16x8 twice"),
        (["--models", "ntm-lstm", "--memory", "16by8"], "--memory must be written ROWSxWIDTH"),
        (["--models", "ntm-lstm", "--shift-range", "9", "--memory", "4x8"], "shift range 9 needs at least 19"),
        (["--preset", "slow"], "--preset must be one of 'fast', 'paper', got 'slow'."),
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
    assert "wrong answers/seq" in task["verdict"] and "accuracy (2nd) at least 90%" in task["solved_rule"]
    for row in rows:
        assert set(row["scores"]) == {"shot_1", "shot_2", "shot_3"}  # 3 showings: no 5th or 10th
        assert 0 <= row["scores"]["shot_2"] <= 1
    table = list(csv.DictReader(io.StringIO((tmp_path / "out" / "results.csv").read_text())))
    assert float(table[1]["accuracy_shot_2"]) == pytest.approx(rows[1]["scores"]["shot_2"])
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert ("| model | params | solved | wrong | 95% interval | at 16 seqs | seeds' wrong | cost | 1st | 2nd | 3rd | 5th "
            "| 10th | seqs to solve | seqs | time s | seq/s | paper |") in markdown
    assert "Omniglot 5-way 1-shot 98.4%" in markdown  # the paper's anchor, on its own data
    # the tasks' own models when none are given: the one-shot tasks compare four
    assert Study("compare", ("one-shot", "copy")).models_for("one-shot") == ("lstm", "ntm-lstm", "dnc", "kv-ff")
    assert Study("compare", ("one-shot", "copy")).models_for("copy") == ("lstm", "ntm-lstm", "ntm-ff")
    assert Study("compare", ("rare-events",)).budget_for("rare-events").text() == "16,000 sequences"


def test_a_seed_trained_among_others_is_not_reused_as_the_seed_alone(tmp_path):
    """`ntm train --seeds 2` rounds differently from each seed alone (and under a time budget
    shares its seconds): a study finds only runs trained alone, or made before this was
    recorded."""
    from ntm_cli import runs
    from ntm_cli.config import Budget
    from ntm_cli.studies.launch import build_config

    config = build_config("copy", "lstm", "fast", 0, Budget(sequences=30))
    together, alone, unknown = (tmp_path / name for name in ("together", "alone", "unknown"))
    for folder, seeds in ((together, (0, 1)), (alone, (0,)), (unknown, None)):
        folder.mkdir()
        runs.write_config(folder, config, trained_with=seeds)
    assert runs.seeds_trained_with(together) == (0, 1) and runs.seeds_trained_with(unknown) is None
    assert runs.find_run(tmp_path, config) in (alone, unknown)
    for folder in (alone, unknown):
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    assert runs.find_run(tmp_path, config) is None


def test_an_80_column_table_cuts_no_name_and_no_number(finished):
    """At 80 columns the names a user types and every number stay whole (a cell of several
    words may wrap between them)."""
    tmp_path, _ = finished
    result = compare(tmp_path, "--tasks", "copy", "--models", "lstm,ntm-lstm", *TINY, "--sequences", "32", "--seeds", "2",
                     env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    for row in results["tasks"]["copy"]["rows"]:
        assert f"{row['model']}*" in result.stdout and f"{row['sequences']:,.0f}" in result.stdout


def test_a_run_saved_before_a_config_field_existed_is_still_found(tmp_path):
    """A field added to the config since a run was made (here `until_solved`, with its default)
    does not set the older run apart; a different value does."""
    from ntm_cli import runs
    from ntm_cli.config import Budget
    from ntm_cli.studies.launch import build_config

    config = build_config("copy", "lstm", "fast", 0, Budget(sequences=30))
    older = tmp_path / "older"
    older.mkdir()
    runs.write_config(older, config)
    saved = json.loads((older / "config.json").read_text())
    del saved["config"]["until_solved"]
    (older / "config.json").write_text(json.dumps(saved))
    assert runs.find_run(tmp_path, config) == older
    other = build_config("copy", "lstm", "fast", 0, Budget(sequences=40))
    assert runs.find_run(tmp_path, other) is None


def test_a_study_stops_each_seed_once_solved_unless_told_to_train_to_the_budget():
    """compare's and sweep's grids carry --until solved by default; --until budget gives the run
    `ntm train` makes without --until (until_solved None), and an unknown word is refused."""
    from ntm_cli.cli.options import parse_study_grid
    from ntm_cli.config import Budget
    from ntm_cli.errors import InputError
    from ntm_cli.studies.launch import build_config

    assert parse_study_grid({}) == (("until", ("solved",)),)
    assert parse_study_grid({"until": "budget", "lr": "1e-3"}) == (("until", ("budget",)), ("lr", (1e-3,)))
    def until(word):
        return build_config("copy", "lstm", "fast", 0, Budget(sequences=30), {"until": word}).until_solved
    assert until("solved") == 3 and until("budget") is None
    assert build_config("copy", "lstm", "fast", 0, Budget(sequences=30), {}).until_solved is None
    with pytest.raises(InputError, match="--until must be one of solved, budget, got 'never'"):
        parse_study_grid({"until": "never"})


def test_compare_takes_the_model_names_train_takes():
    """`ntm train --model ntm` trains the NTM-LSTM; `--models lstm,ntm` means the same models."""
    from ntm_cli.cli.options import parse_models
    from ntm_cli.errors import InputError

    assert parse_models("lstm, ntm") == ("lstm", "ntm-lstm") and parse_models("kv,ntm-ff") == ("kv-ff", "ntm-ff")
    with pytest.raises(InputError, match="--models gives ntm-lstm twice"):
        parse_models("ntm,ntm-lstm")


def test_rows_are_compared_where_the_unsolved_seeds_all_have_readings():
    """Equal sequences: the fewest any seed that ends unsolved reached; a seed stopped once solved
    keeps its last reading (it would have stayed solved); all solved: who solved first."""
    from types import SimpleNamespace

    from ntm_cli.schema import MetricsRow
    from ntm_cli.studies.study import SeedRun, _equal_sequences
    from ntm_cli.tasks import make_task

    task = make_task("copy")  # solved: fewer than 1 bit error per sequence

    def seed(sequences, errors):
        curve = [MetricsRow(step=n, sequences=n, train_cost=None, train_bit_errors=None, eval_cost=e,
                            eval_bit_errors=e, wall_time=0.0, sequences_per_second=None, skipped_updates=0)
                 for n, e in zip(range(0, sequences + 1, sequences // (len(errors) - 1)), errors)]
        return SeedRun(0, SimpleNamespace(sequences=sequences, status="finished"), curve, False)

    solved_early, stuck_long, stuck_short = seed(400, [60, 0.5]), seed(1000, [60, 30]), seed(700, [60, 40])
    assert _equal_sequences(task, [[solved_early, stuck_long], [stuck_short]], [0.0, 0.0]) == 700
    assert _equal_sequences(task, [[solved_early], [seed(900, [60, 0.2])]], [0.0, 0.0]) == 400
    assert _equal_sequences(task, [[], []], [0.0, 0.0]) is None


def _own(tmp_path, *args):
    return runner.invoke(app, ["compare", *map(str, args), "--out", str(tmp_path / "own")], env=WIDE)


def test_compare_builds_its_table_from_run_folders_a_user_trained(finished, tmp_path):
    """`ntm compare runs/*`: a row per model, each run a seed, the same figures the study made
    from the same runs; nothing trained."""
    study_dir, _ = finished
    folders = sorted(p for p in (study_dir / "runs").iterdir() if not p.name.startswith("."))  # as a shell glob
    result = _own(tmp_path, *folders, "--json")
    assert result.exit_code == 0, result.output
    own = json.loads(result.stdout)
    assert len(result.stdout.splitlines()) == 1 and own["kind"] == "runs"
    study = json.loads((study_dir / "out" / "results.json").read_text())
    ours, theirs = own["tasks"]["copy"], study["tasks"]["copy"]
    assert ours["equal_sequences"] == theirs["equal_sequences"] and ours["budget"] == "32 sequences"
    for mine, made in zip(ours["rows"], theirs["rows"]):
        for field in ("model", "seeds", "seed_numbers", "seed_costs", "cost", "cost_interval", "solved",
                      "seed_costs_at_equal_sequences", "rank"):
            assert mine[field] == made[field], field
    assert (tmp_path / "own" / "results.md").is_file() and "training" not in result.stderr
    table = _own(tmp_path, *folders)
    assert table.exit_code == 0 and "lstm" in table.stdout and "2 seeds" in table.stdout
    assert "saved" not in table.stdout and "saved" in table.stderr  # stdout: the table alone


def test_run_folders_that_cannot_make_a_row_are_refused_in_one_sentence_and_nothing_is_written(finished, tmp_path):
    study_dir, _ = finished
    runs_dir = study_dir / "runs"
    lstm0, lstm1 = runs_dir / "copy-lstm-s0", runs_dir / "copy-lstm-s1"
    other_lr = tmp_path / "lr" / "copy-lstm-s1"
    shutil.copytree(lstm1, other_lr)
    saved = json.loads((other_lr / "config.json").read_text())
    saved["config"]["optimizer"]["learning_rate"] = 0.5
    (other_lr / "config.json").write_text(json.dumps(saved))
    twin = tmp_path / "twin" / "copy-lstm-s0"
    shutil.copytree(lstm0, twin)
    longer = tmp_path / "longer" / "copy-lstm-s1"  # another task size: its chance and solved rule differ
    shutil.copytree(lstm1, longer)
    saved = json.loads((longer / "config.json").read_text())
    saved["config"]["task_sizes"] = {**saved["config"]["task_sizes"], "max_length": 30}
    (longer / "config.json").write_text(json.dumps(saved))
    unfinished = copy_run(lstm1, tmp_path / "unfinished" / "copy-lstm-s1", status="interrupted")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "config.json").write_text("{not json")
    cases = [
        ((lstm0, tmp_path), f"{tmp_path} is not a run folder (it has no config.json)"),
        ((lstm0, damaged), "is not a readable run config"),
        ((lstm0, lstm0), f"{lstm0} is given twice"),
        ((lstm0, twin), "are both seed 0 of lstm on copy with one config; give one of them"),
        ((lstm0, longer), "are runs of copy at other sizes"),
        ((lstm0, unfinished), f"{unfinished} is interrupted; finish it with `ntm train --resume {unfinished}`"),
        ((lstm0, "--seeds", "2"), "--seeds cannot apply to runs already trained"),
        ((lstm0, "--lr", "1e-3"), "--lr cannot apply to runs already trained"),
    ]
    for args, message in cases:
        result = _own(tmp_path, *args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.output)
        assert "Traceback" not in result.output and not (tmp_path / "own").exists()


def test_run_folders_of_one_model_with_other_configs_are_rows_of_their_own(finished, tmp_path):
    """As `ntm plot` draws a line per config: runs that differ in more than their seed are not
    merged into one row, nor refused; each config is a row, labelled by what differs."""
    study_dir, _ = finished
    lstm0, lstm1 = study_dir / "runs" / "copy-lstm-s0", study_dir / "runs" / "copy-lstm-s1"
    other_lr = tmp_path / "lr" / "copy-lstm-s1"
    shutil.copytree(lstm1, other_lr)
    saved = json.loads((other_lr / "config.json").read_text())
    saved["config"]["optimizer"]["learning_rate"] = 0.5
    (other_lr / "config.json").write_text(json.dumps(saved))
    result = _own(tmp_path, lstm0, lstm1, other_lr, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["tasks"]["copy"]["rows"]
    assert sorted((row["label"], row["seeds"]) for row in rows) == [("learning-rate=0.003", 2), ("learning-rate=0.5", 1)]


@pytest.mark.parametrize("columns", ["40", "60", "80", "200", None])
def test_tables_cut_no_number_or_run_name_at_any_width(finished, tmp_path, columns):
    """At 40-200 columns a terminal gets fewer columns (named below the table) or wrapped cells,
    never a cut value; piped (no COLUMNS), every column at full width in plain characters."""
    study_dir, _ = finished
    folders = sorted(p for p in (study_dir / "runs").iterdir() if not p.name.startswith("."))
    env = {"COLUMNS": columns} if columns else {"COLUMNS": None}
    table = runner.invoke(app, ["compare", *map(str, folders), "--out", str(tmp_path / "own")], env=env)
    listing = runner.invoke(app, ["runs", "--runs", str(study_dir / "runs")], env=env)
    assert table.exit_code == listing.exit_code == 0, table.output + listing.output
    for output in (table.stdout, listing.stdout):
        assert "…" not in output
    results = json.loads((tmp_path / "own" / "results.json").read_text())
    from ntm_cli.reports.progress import format_cost

    for row in results["tasks"]["copy"]["rows"]:  # the names and the figures the verdict compares, whole
        cells = table.stdout.split()
        assert row["model"] in cells and format_cost(row["cost_at_equal_sequences"]) in cells
    for folder in folders:
        assert folder.name in listing.stdout.split()
    if columns is None:
        assert "95% interval" in table.stdout and "paper" in table.stdout and "time (s)" in listing.stdout
        assert not any(ord(c) > 127 for c in listing.stdout.replace("±", ""))  # plain characters when piped
    elif int(columns) <= 60:
        assert "left out at" in table.stdout


def test_a_diverged_seed_is_shown_so_counted_as_not_solved_and_never_in_a_median(finished, tmp_path):
    study_dir, _ = finished
    runs_dir = study_dir / "runs"
    diverged = copy_run(runs_dir / "copy-lstm-s1", tmp_path / "copy-lstm-s1", status="diverged",
                        final_eval_cost=1e9, diverged_step=10, diverged_reason="a test")
    result = _own(tmp_path, runs_dir / "copy-lstm-s0", diverged, "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["tasks"]["copy"]["rows"]
    assert row["seeds"] == 2 and row["diverged"] == 1 and row["seed_diverged"] == [False, True]
    assert row["seed_costs"][1] is None and row["cost"] == row["seed_costs"][0]  # the median of the other seed
    assert row["seed_solved"] == [False, False]
    shown = _own(tmp_path, runs_dir / "copy-lstm-s0", diverged)
    assert "diverged" in shown.stdout
