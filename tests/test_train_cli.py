"""`ntm train` and `ntm eval` through CliRunner: run folders, exact resume, Ctrl-C, bad input."""

import json

import pytest
from typer.testing import CliRunner

from ntm_cli import runs
from ntm_cli.cli import app
from ntm_cli.training.trainer import Trainer

runner = CliRunner()
TINY = ["--max-length", "3", "--memory", "8x4", "--controller-size", "16", "--steps-per-call", "5",
        "--report-every", "10", "--eval-batch-size", "16"]


def train(tmp_path, *args):
    return runner.invoke(app, ["train", "copy", *TINY, "--out", str(tmp_path), *args])


def _comparable(records):
    """Metrics without the timing fields, which differ between runs of the same computation."""
    return [{k: v for k, v in r.to_json().items() if k not in ("wall_time", "sequences_per_second")} for r in records]


def test_train_writes_a_complete_run_folder(tmp_path):
    result = train(tmp_path, "--steps", "30", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    run_dir = tmp_path / "copy-ntm-lstm-s0"
    assert summary["run_dir"] == str(run_dir) and summary["status"] == "finished"
    assert summary["steps"] == 30 and summary["sequences"] == 30 and summary["params"] > 0
    assert "step" in result.stderr  # progress went to stderr
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["config"]["task"] == "copy" and saved["config"]["model"]["memory_rows"] == 8
    assert saved["config"]["model"]["controller_sizes"] == [16]
    assert {"jax", "flax", "optax"} <= set(saved["environment"]["versions"]) and "git_commit" in saved["environment"]
    metrics = runs.read_metrics(run_dir)
    assert [m.step for m in metrics] == [0, 10, 20, 30]
    assert metrics[0].train_cost is None and all(m.train_cost > 0 for m in metrics[1:])
    assert (run_dir / "checkpoints" / "latest.msgpack").is_file() and (run_dir / "checkpoints" / "best.msgpack").is_file()
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    assert summary["best_eval_cost"] == min(m.eval_cost for m in metrics)
    assert not list(run_dir.glob("**/*.tmp"))


def test_a_finished_run_is_shown_not_trained_again_and_runs_are_never_overwritten(tmp_path):
    """The README's loop run twice trains each seed once; another config of the same task, model
    and seed gets a folder of its own, whose name reads as no seed range."""
    first = train(tmp_path, "--steps", "10", "--json")
    again = train(tmp_path, "--steps", "10", "--json")
    assert first.exit_code == again.exit_code == 0, again.output
    assert json.loads(again.stdout) == json.loads(first.stdout)  # one line of JSON: the same summary
    assert len(again.stdout.splitlines()) == 1
    assert "is a finished run of this config and seed" in again.stderr and "--name NAME" in again.stderr
    assert train(tmp_path, "--steps", "20").exit_code == 0
    assert train(tmp_path, "--steps", "10", "--name", "again").exit_code == 0  # a name: trained anew
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "copy-ntm-lstm-s0", "copy-ntm-lstm-s0-run2"]
    # a name given twice is refused before anything is built, never quietly made 'again-run2'
    taken = train(tmp_path, "--steps", "20", "--name", "again")
    assert taken.exit_code == 2 and "Traceback" not in taken.output
    assert (f"--name again: {tmp_path / 'again'} already exists; give another name, or continue that run with: "
            f"ntm train --resume {tmp_path / 'again'}") in " ".join(taken.stderr.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "copy-ntm-lstm-s0", "copy-ntm-lstm-s0-run2"]


def test_sequences_budget_and_named_runs(tmp_path):
    result = train(tmp_path, "--sequences", "40", "--batch-size", "4", "--name", "mine", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["steps"] == 10 and summary["sequences"] == 40 and summary["run_dir"].endswith("mine")


def test_several_seeds_train_together_and_report_their_spread(tmp_path):
    result = train(tmp_path, "--steps", "10", "--seed", "5", "--seeds", "2", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [r["seed"] for r in out["runs"]] == [5, 6]
    assert {p.name for p in tmp_path.iterdir()} == {"copy-ntm-lstm-s5", "copy-ntm-lstm-s6"}
    costs = [r["final_eval_cost"] for r in out["runs"]]
    assert out["spread"]["mean"] == pytest.approx(sum(costs) / 2) and out["spread"]["seeds"] == 2


def test_resume_continues_exactly(tmp_path):
    """Resumed to a larger budget, a run continues exactly as one trained to it in one go, given
    the same learning-rate schedule (by default the schedule follows the budget a run was made
    with, and a resumed run keeps its own)."""
    whole = tmp_path / "whole"
    assert train(whole, "--steps", "40", "--lr-decay-steps", "40").exit_code == 0
    parts = tmp_path / "parts"
    assert train(parts, "--steps", "20", "--lr-decay-steps", "40").exit_code == 0
    run_dir = parts / "copy-ntm-lstm-s0"
    result = runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "40"])
    assert result.exit_code == 0, result.output
    assert _comparable(runs.read_metrics(run_dir)) == _comparable(runs.read_metrics(whole / "copy-ntm-lstm-s0"))


def test_sigterm_saves_a_checkpoint_like_ctrl_c_and_exits_143(tmp_path, monkeypatch):
    """A batch scheduler stops a job with SIGTERM: the run keeps its checkpoint and resumes."""
    import os
    import signal

    original, calls = Trainer.train_chunk, []

    def terminated_on_the_third_call(self, *args):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, *args)

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(Trainer, "train_chunk", terminated_on_the_third_call)
    result = train(tmp_path, "--steps", "40")
    run_dir = tmp_path / "copy-ntm-lstm-s0"
    assert result.exit_code == 143, result.output
    # the first call runs one step (then calls of 5, the chunk size): two calls finished, 6 steps
    assert f"Stopped by SIGTERM at step 6; a checkpoint is saved. Resume with: ntm train --resume {run_dir}" in (
        " ".join(result.stderr.split()))
    assert "Traceback" not in result.output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["status"], summary["steps"]) == ("interrupted", 6)  # the third call did not count
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back
    monkeypatch.setattr(Trainer, "train_chunk", original)
    assert runner.invoke(app, ["train", "--resume", str(run_dir)]).exit_code == 0
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "finished"


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path, monkeypatch):
    whole = tmp_path / "whole"
    assert train(whole, "--steps", "40").exit_code == 0

    original, calls = Trainer.train_chunk, []

    def interrupted_on_the_fourth_call(self, *args):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(Trainer, "train_chunk", interrupted_on_the_fourth_call)
    result = train(tmp_path / "cut", "--steps", "40")
    run_dir = tmp_path / "cut" / "copy-ntm-lstm-s0"
    assert result.exit_code == 130
    assert f"Resume with: ntm train --resume {run_dir}" in result.stderr
    assert "Traceback" not in result.output
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == 10  # calls of 1, 5, then 4 to the report at step 10

    monkeypatch.setattr(Trainer, "train_chunk", original)
    assert runner.invoke(app, ["train", "--resume", str(run_dir)]).exit_code == 0
    assert _comparable(runs.read_metrics(run_dir)) == _comparable(runs.read_metrics(whole / "copy-ntm-lstm-s0"))


def test_time_budget_stops_the_run(tmp_path):
    result = train(tmp_path, "--time", "1s", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "finished" and summary["steps"] > 0 and summary["wall_time"] >= 1.0


def test_eval_reports_every_size_and_saves_eval_json(tmp_path):
    assert train(tmp_path, "--steps", "20").exit_code == 0
    run_dir = tmp_path / "copy-ntm-lstm-s0"
    result = runner.invoke(app, ["eval", str(run_dir), "--lengths", "2,6", "--batches", "2", "--batch-size", "8", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [r["label"] for r in out["results"]] == ["training sizes", "length 2", "length 6"]
    assert [r["T"] for r in out["results"]] == [7, 5, 13]
    assert all(r["sequences"] == 16 and r["cost"] > 0 for r in out["results"])
    assert out["results"][1]["chance_cost"] == 2 * 8
    assert json.loads((run_dir / "eval.json").read_text()) == out
    # stderr says what it is doing before each slow part (a long length can take minutes)
    assert result.stderr.splitlines() == [f"{run_dir}: compiling the held-out pass at 3 sizes ...",
                                          f"{run_dir}: training sizes (T=7), 2 batches of 8 ...",
                                          f"{run_dir}: length 2 (T=5), 2 batches of 8 ...",
                                          f"{run_dir}: length 6 (T=13), 2 batches of 8 ..."]


def test_eval_by_default_tests_the_tasks_own_generalisation_sizes(tmp_path, monkeypatch):
    from ntm_cli.tasks.copy import CopyTask

    assert train(tmp_path, "--steps", "10").exit_code == 0
    monkeypatch.setattr(CopyTask, "generalisation_sizes", lambda self: [{"lengths": 4}, {"lengths": 2}])
    run_dir = str(tmp_path / "copy-ntm-lstm-s0")
    table = runner.invoke(app, ["eval", run_dir, "--batches", "1", "--batch-size", "4"], env={"COLUMNS": "150"})
    assert table.exit_code == 0, table.output
    assert "length 4" in table.stdout and "length 2" in table.stdout and "training sizes" in table.stdout
    assert table.stdout.index("length 4") < table.stdout.index("length 2")  # in the task's order


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["train", "nosuchtask"], "Unknown task 'nosuchtask'"),
        (["train", "copy", "--model", "gru"], "--model must be one of 'lstm', 'ntm-lstm', 'ntm-ff', 'dnc', 'kv-ff', 'kv-lstm', 'ntm', 'kv', got 'gru'."),
        (["train", "copy", "--controller", "rnn"], "--controller must be one of 'lstm', 'ff', got 'rnn'."),
        (["train", "copy", "--preset", "slow"], "--preset must be one of 'fast', 'paper', got 'slow'."),
        (["train", "copy", "--optimizer", "sgd"], "--optimizer must be one of"),
        (["train", "copy", "--memory-init", "zeros"], "--memory-init must be one of"),
        (["train", "copy", "--model", "lstm", "--controller", "ff"], "--controller ff does not apply to --model lstm"),
        (["train", "copy", "--model", "ntm-ff", "--controller", "lstm"], "--controller lstm does not apply"),
        (["train", "copy", "--memory", "128by20"], "--memory must be written ROWSxWIDTH"),
        (["train", "copy", "--heads", "0"], "--heads must be at least 1, got 0"),
        (["train", "copy", "--lr", "-1"], "--lr must be a positive number"),
        (["train", "copy", "--steps", "0"], "--steps must be between 1 and 2,000,000,000, got 0"),
        (["train", "copy", "--time", "5 minutes"], "--time must look like"),
        (["train", "copy", "--steps", "5", "--sequences", "5"], "at most one of --steps and --sequences"),
        (["train", "copy", "--model", "lstm", "--memory", "8x4"], "--memory does not apply to the LSTM baseline (lstm), which takes --lstm-size"),
        (["train", "copy", "--lstm-size", "3x64"], "--lstm-size does not apply to the NTM (ntm-lstm)"),
        (["train", "copy", "--min-items", "3"], "--min-items does not apply to task copy"),
        (["train", "copy", "--max-length", "0"], "max length"),
        (["train"], "name a task to train"),
        (["train", "copy", "--seeds", "0"], "--seeds must be at least 1"),
        (["train", "copy", "--sequences", "5", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["train", "copy", "--steps-per-call", "0"], "--steps-per-call must be between 1 and 1,000, got 0"),
        (["train", "copy", "--steps-per-call", "1000000000", "--steps", "20"],
         "--steps-per-call must be between 1 and 1,000, got 1,000,000,000"),
        (["train", "copy", "--report-every", "0"], "--report-every must be at least 1, got 0"),
        (["train", "copy", "--eval-batch-size", "0"], "--eval-batch-size must be at least 1, got 0"),
        (["train", "copy", "--head-clip", "-5"], "--head-clip must be positive"),
        (["train", "copy", "--clip-norm", "-1"], "--clip-norm must be positive"),
        (["train", "copy", "--lr-decay-steps", "-1"], "--lr-decay-steps must be positive"),
        (["train", "copy", "--lr-decay-from", "1", "--lr-decay-steps", "9"], "--lr-decay-from must be a fraction in [0, 1)"),
        (["train", "copy", "--lr-decay-to", "0", "--lr-decay-steps", "9"], "--lr-decay-to must be a fraction in (0, 1]"),
        (["train", "copy", "--lr-decay-to", "nan", "--lr-decay-steps", "9"], "--lr-decay-to takes finite numbers"),
        (["train", "copy", "--lr-decay-from", "0.5"], "the rate of ntm-lstm on copy is constant; give --lr-decay-steps a number"),
        (["train", "copy", "--name", ""], "--name must be a plain folder name"),
        (["train", "copy", "--name", "a/b"], "--name must be a plain folder name"),
        (["train", "copy", "--name", ".hidden"], "--name must be a plain folder name, not hidden"),
        (["train", "copy", "--seed", "99999999999999999999"], "--seed"),
    ],
)
def test_bad_input_is_one_sentence_exit_2_and_leaves_no_run_folder(tmp_path, args, phrase):
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert phrase in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_resume_of_something_that_is_not_a_usable_run(tmp_path):
    result = runner.invoke(app, ["train", "--resume", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "is not a run folder" in result.stderr
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["train", "--resume", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "has no config.json" in result.stderr

    assert train(tmp_path / "a", "--steps", "10").exit_code == 0
    run_dir = tmp_path / "a" / "copy-ntm-lstm-s0"
    latest = run_dir / "checkpoints" / "latest.msgpack"
    good = latest.read_bytes()
    latest.write_bytes(good[: len(good) // 2])
    result = runner.invoke(app, ["train", "--resume", str(run_dir)])
    assert result.exit_code == 2 and "is corrupt" in result.stderr and "Traceback" not in result.output

    # A checkpoint from another configuration (a bigger memory) does not fit this run.
    assert train(tmp_path / "b", "--steps", "10", "--memory", "9x4").exit_code == 0
    latest.write_bytes((tmp_path / "b" / "copy-ntm-lstm-s0" / "checkpoints" / "latest.msgpack").read_bytes())
    result = runner.invoke(app, ["train", "--resume", str(run_dir)])
    assert result.exit_code == 2 and "does not match the run's configuration" in result.stderr


def test_eval_bad_input(tmp_path):
    assert runner.invoke(app, ["eval", str(tmp_path)]).exit_code == 2
    assert train(tmp_path, "--steps", "10").exit_code == 0
    run_dir = str(tmp_path / "copy-ntm-lstm-s0")
    result = runner.invoke(app, ["eval", run_dir, "--items", "10"])
    assert result.exit_code == 2 and "--items does not apply to task copy" in result.stderr
    result = runner.invoke(app, ["eval", run_dir, "--lengths", "ten"])
    assert result.exit_code == 2 and "--lengths must be whole numbers" in result.stderr


def test_train_into_a_file_is_one_sentence(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = runner.invoke(app, ["train", "copy", *TINY, "--steps", "5", "--out", str(tmp_path / "afile")])
    assert result.exit_code == 2 and "is a file, not a folder" in result.stderr and "Traceback" not in result.output
    assert "compiling" not in result.stderr  # refused before any work


def test_resume_takes_only_a_budget_and_a_larger_one(tmp_path):
    assert train(tmp_path, "--steps", "20").exit_code == 0
    run_dir = str(tmp_path / "copy-ntm-lstm-s0")
    result = runner.invoke(app, ["train", "--resume", run_dir, "--lr", "5", "--seeds", "3"])
    assert result.exit_code == 2 and "--seeds, --lr cannot change a run being resumed" in result.stderr
    result = runner.invoke(app, ["train", "--resume", run_dir, "--steps", "10"])
    assert result.exit_code == 2 and "has done 20 steps already" in result.stderr
    assert json.loads((tmp_path / "copy-ntm-lstm-s0" / "config.json").read_text())["config"]["steps"] == 20


def test_reports_keep_their_interval_after_resuming_from_an_odd_step(tmp_path):
    assert train(tmp_path, "--steps", "25").exit_code == 0
    run_dir = tmp_path / "copy-ntm-lstm-s0"
    assert [m.step for m in runs.read_metrics(run_dir)] == [0, 10, 20, 25]
    assert runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "50"]).exit_code == 0
    assert [m.step for m in runs.read_metrics(run_dir)] == [0, 10, 20, 25, 30, 40, 50]


def test_a_metrics_line_cut_short_by_a_crash_does_not_stop_a_resume(tmp_path):
    assert train(tmp_path, "--steps", "20").exit_code == 0
    run_dir = tmp_path / "copy-ntm-lstm-s0"
    with open(run_dir / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 30, "sequ')
    result = runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "30"])
    assert result.exit_code == 0, result.output
    assert [m.step for m in runs.read_metrics(run_dir)] == [0, 10, 20, 30]


def test_until_solved_stops_a_run_after_three_solved_reports_and_keeps_the_count_over_a_resume(tmp_path, monkeypatch):
    """--until solved stops training once the task's rule has held at 3 reports in a row (here a
    rule any report meets: reports at steps 0, 10, 20, so it stops at 20 of 1,000); the count is
    in the checkpoint, so resuming a solved run with a larger budget trains nothing more."""
    from ntm_cli.tasks.base import Solved
    from ntm_cli.tasks.copy import CopyTask

    monkeypatch.setattr(CopyTask, "solved", Solved("cost", 1e9, "any report"))
    result = train(tmp_path, "--until", "solved", "--steps", "1000", "--report-every", "10", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["steps"], summary["budget_steps"], summary["status"]) == (20, 1000, "finished")
    config = json.loads((tmp_path / "copy-ntm-lstm-s0" / "config.json").read_text())["config"]
    assert config["until_solved"] == 3
    resumed = runner.invoke(app, ["train", "--resume", str(tmp_path / "copy-ntm-lstm-s0"), "--steps", "40", "--json"])
    assert resumed.exit_code == 0 and json.loads(resumed.stdout)["steps"] == 20
    monkeypatch.setattr(CopyTask, "solved", None)
    refused = train(tmp_path / "other", "--until", "solved")
    assert refused.exit_code == 2 and "--until solved needs a solved rule, and task copy has none" in refused.stderr
    assert train(tmp_path / "other", "--until", "never").exit_code == 2


def test_every_file_a_run_writes_has_the_umasks_permissions(tmp_path):
    """Collaborators on a shared machine can read a run: atomic writes (config, summary,
    checkpoints) get the mode open() would give, not mkstemp's owner-only 0600."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        assert train(tmp_path, "--steps", "10").exit_code == 0
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "copy-ntm-lstm-s0").rglob("*") if p.is_file() and p.name != ".lock"]
    assert {p.name for p in files} >= {"config.json", "summary.json", "metrics.jsonl", "latest.msgpack"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


@pytest.mark.parametrize("args, reason", [
    (["--lr", "1e30", "--optimizer", "rmsprop", "--clip-norm", "0"], "not a finite number"),
    (["--lr", "1e6", "--clip-norm", "0"], "is over 10x chance"),
])
def test_a_diverged_run_stops_says_so_and_exits_non_zero_with_strict_json_metrics(tmp_path, args, reason):
    """Non-finite updates, or a held-out cost far above chance, end a run as "diverged" at that
    report (not "finished"), with the reason on stderr and in summary.json; it cannot be resumed."""
    result = train(tmp_path, "--steps", "300", *args)
    assert result.exit_code == 1 and "diverged" in result.stderr and reason in result.stderr, result.output
    run_dir = tmp_path / "copy-ntm-lstm-s0"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "diverged" and reason in summary["diverged_reason"]
    assert summary["steps"] == summary["diverged_step"] < 300 and summary["final_eval_cost"] is None
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():  # strict JSON: null, never NaN
        json.loads(line, parse_constant=lambda token: pytest.fail(f"{token} in metrics.jsonl"))
    resumed = runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "400"])
    assert resumed.exit_code == 2 and "cannot be resumed" in resumed.stderr
