"""What a demanding user does to a tool: options fuzzed by table, run-folder files damaged by
table, real concurrent processes, kill -9 at any moment, a full disk, odd paths. Each ends in
one sentence and a known exit code, or in a run that resumes; never a traceback, a corrupted
run, or something half-written."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ntm_cli import runs
from ntm_cli.cli import app
from ntm_cli.errors import RunFolderError, StorageError

runner = CliRunner()
TINY = ["--max-length", "3", "--memory", "8x4", "--controller-size", "16", "--steps-per-call", "5",
        "--report-every", "10", "--eval-batch-size", "16"]
NTM = [sys.executable, "-c", "from ntm_cli.cli import main; main()"]
# As a shell starts a foreground command: with Python's Ctrl-C handler, whatever SIGINT disposition
# this process passes on (a process started with SIGINT ignored keeps it ignored).
FOREGROUND = [*NTM[:2], "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n" + NTM[2]]


def one_sentence(result, code=2):
    """Exit code `code`, one 'Error:' line on stderr, no traceback; returns that line."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("Error:"), result.stderr
    return " ".join(result.stderr.split())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished tiny copy run, copied by the tests that damage it."""
    out = tmp_path_factory.mktemp("runs")
    assert runner.invoke(app, ["train", "copy", *TINY, "--steps", "20", "--out", str(out)]).exit_code == 0
    return out / "copy-ntm-lstm-s0"


def damaged_copy(trained, tmp_path):
    run_dir = tmp_path / "runs" / trained.name
    shutil.copytree(trained, run_dir)
    return run_dir


# --- values a user types -----------------------------------------------------------------------------

@pytest.mark.parametrize("args, phrase", [
    (["train", "copy", "--head-clip", "nan"], "--head-clip takes finite numbers, got nan"),
    (["train", "copy", "--head-clip", "inf"], "--head-clip takes finite numbers, got inf"),
    (["train", "copy", "--clip-value", "inf"], "--clip-value takes finite numbers"),
    (["train", "copy", "--clip-norm", "nan"], "--clip-norm takes finite numbers"),
    (["train", "copy", "--lr", "nan"], "--lr takes finite numbers, got nan"),
    (["train", "copy", "--lr", "inf"], "--lr takes finite numbers, got inf"),
    (["train", "copy", "--time", "nan"], "--time must look like 90s, 5m or 1h30m"),
    (["train", "copy", "--time", "-5s"], "--time must look like 90s, 5m or 1h30m"),
    (["train", "copy", "--memory", "0x20"], "--memory rows and width must be between 1 and"),
    (["train", "copy", "--controller-size", "2x0"], "--controller-size must be 1 to 1000 layers of 1 to"),
    (["train", "copy", "--lstm-size", "3x"], "--lstm-size does not apply to the NTM (ntm-lstm), which takes --heads"),
    (["train", "copy", "--shift-range", "-1"], "--shift-range must be at least 0, got -1"),
    (["train", "copy", "--batch-size", "100000000"], "needs about"),
    (["train", "copy", "--max-length", "100000000"], "needs about"),
    (["train", "copy", "--controller-size", "300000"], "needs about"),
    (["train", "copy", "--memory", "100000000x20"], "needs about"),
    (["train", "copy", "--seeds", "100000000"], "--seeds must be at most 10,000"),
    (["train", "copy", "--model", "dnc", "--memory", "100000x20"], "needs about"),
    (["show", "copy", "--max-length", "2000000000"], "needs about"),
    (["compare", "--tasks", "copy", "--workers", "0"], "--workers must be at least 1"),
    (["bench", "--batch-sizes", "1,,2"], "--batch-sizes must be whole numbers"),
])
def test_values_that_cannot_work_are_refused_in_one_sentence_before_any_folder(tmp_path, args, phrase):
    out = ["--out", str(tmp_path / "runs")] if args[0] == "train" else []
    text = one_sentence(runner.invoke(app, [*args, *out]))
    assert phrase in text
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("option", [["--lengths", ""], ["--lengths", "10,,20"], ["--lengths", "10,"],
                                    ["--lengths", "100000000"], ["--batch-size", "1000000000"]])
def test_eval_refuses_empty_or_impossible_sizes_and_writes_nothing(trained, tmp_path, option):
    run_dir = damaged_copy(trained, tmp_path)
    text = one_sentence(runner.invoke(app, ["eval", str(run_dir), *option, "--plot"]))
    assert "--lengths must be" in text or "needs about" in text
    assert not (run_dir / "eval.json").exists() and not (run_dir / "generalisation.png").exists()


def test_eval_checks_where_the_figure_goes_before_writing_eval_json(trained, tmp_path):
    run_dir = damaged_copy(trained, tmp_path)
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder.png").mkdir()
    for out, phrase in ((tmp_path / "a-file", "is a file"), (tmp_path / "a-folder.png", "is a folder")):
        text = one_sentence(runner.invoke(app, ["eval", str(run_dir), "--lengths", "2", "--plot", "--out", str(out)]))
        assert phrase in text
        assert not (run_dir / "eval.json").exists()


# --- damaged run-folder files -------------------------------------------------------------------------

def _config(run_dir):
    return json.loads((run_dir / runs.CONFIG).read_text())


DAMAGE = {
    "config not UTF-8": lambda d: (d / runs.CONFIG).write_bytes(b"\xff\xfe{not text"),
    "config not JSON": lambda d: (d / runs.CONFIG).write_text('{"config": '),
    "config model a string": lambda d: (d / runs.CONFIG).write_text(
        json.dumps({**_config(d), "config": {**_config(d)["config"], "model": "abc"}})),
    "config batch size a string": lambda d: (d / runs.CONFIG).write_text(
        json.dumps({**_config(d), "config": {**_config(d)["config"], "batch_size": "32"}})),
    "config a list": lambda d: (d / runs.CONFIG).write_text("[1, 2]"),
    "metrics line not an object": lambda d: (d / runs.METRICS).write_text(
        "[1, 2]\n" + (d / runs.METRICS).read_text()),
    "metrics step a string": lambda d: (d / runs.METRICS).write_text(
        (d / runs.METRICS).read_text().replace('"step": 10', '"step": "10"', 1)),
    "metrics line not JSON mid-file": lambda d: (d / runs.METRICS).write_text(
        "{oops\n" + (d / runs.METRICS).read_text()),
    "summary not JSON": lambda d: (d / runs.SUMMARY).write_text("{"),
    "summary a list": lambda d: (d / runs.SUMMARY).write_text("[]"),
    "summary status unknown": lambda d: (d / runs.SUMMARY).write_text(
        json.dumps({**json.loads((d / runs.SUMMARY).read_text()), "status": "exploded"})),
    "checkpoint counters damaged": None,  # see below
}


@pytest.mark.parametrize("damage", [d for d in DAMAGE if DAMAGE[d] is not None])
def test_a_damaged_file_is_named_by_every_command_that_reads_it(trained, tmp_path, damage):
    run_dir = damaged_copy(trained, tmp_path)
    DAMAGE[damage](run_dir)
    file = runs.CONFIG if damage.startswith("config") else runs.METRICS if "metrics" in damage else runs.SUMMARY
    readers = {runs.CONFIG: [["eval", str(run_dir), "--lengths", "2", "--batches", "1"], ["plot", str(run_dir)],
                             ["memory", str(run_dir)], ["train", "--resume", str(run_dir)]],
               runs.METRICS: [["plot", str(run_dir)], ["train", "--resume", str(run_dir), "--steps", "30"]],
               runs.SUMMARY: [["runs", "--runs", str(run_dir.parent)]]}[file]
    for command in readers:
        result = runner.invoke(app, command, env={"COLUMNS": "300"})
        if command[0] == "runs":  # lists the damaged run as damaged, and goes on
            assert result.exit_code == 0 and "damaged" in result.stdout and file in result.stdout, result.output
            continue
        text = one_sentence(result)
        assert str(run_dir / file) in text, (command, text)


def test_runs_lists_a_damaged_run_as_damaged_and_the_others_as_they_are(trained, tmp_path):
    good = damaged_copy(trained, tmp_path)
    bad = tmp_path / "runs" / "copy-ntm-lstm-s1"
    shutil.copytree(trained, bad)
    (bad / runs.CONFIG).write_bytes(b"\xff")
    result = runner.invoke(app, ["runs", "--runs", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    rows = {Path(r["run_dir"]).name: r for r in json.loads(result.stdout)}
    assert rows[good.name]["status"] == "finished" and rows[bad.name]["status"] == "damaged"
    assert runs.CONFIG in rows[bad.name]["problem"]


def _dead_pid():
    """The process id of a process that has ended (as a run killed with kill -9 leaves in its lock)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)
    return int(child.stdout)


def _as_killed(run_dir, pid):
    """A run as kill -9 leaves it: its summary says "running", its lock names a process now dead."""
    (run_dir / runs.SUMMARY).write_text(json.dumps({**json.loads((run_dir / runs.SUMMARY).read_text()),
                                                    "status": "running"}))
    (run_dir / runs.LOCK).write_text(f"{pid}\n")


_HELD = []  # the locks of runs "being trained" by this process (let go as it ends)


def _as_training(run_dir):
    """A run being trained: its summary says "running" and a live process (this one) holds its lock."""
    _as_killed(run_dir, os.getpid())
    _HELD.append(runs.Lock(run_dir / runs.LOCK))


def _unknown_task(run_dir):
    (run_dir / runs.CONFIG).write_text(json.dumps({**_config(run_dir), "config": {**_config(run_dir)["config"],
                                                                                 "task": "nosuch"}}))


def _latest(run_dir):
    return runs.checkpoint_path(run_dir, "latest")


# What is done to a copy of a finished run -> the status `ntm runs` gives it, and a phrase of its problem.
LISTED = {
    "untouched": (lambda d: None, "finished", None),
    "killed with kill -9": (lambda d: _as_killed(d, _dead_pid()), "interrupted", None),
    "being trained": (_as_training, "running", None),
    "its process id given to another process": (lambda d: _as_killed(d, os.getpid()), "interrupted", None),
    "unknown task": (_unknown_task, "damaged", "config.json names an unknown task 'nosuch'"),
    "task sizes of another task": (lambda d: (d / runs.CONFIG).write_text(json.dumps(
        {**_config(d), "config": {**_config(d)["config"], "task_sizes": {"num_items": 3}}})),
        "damaged", "config.json gives task sizes that do not fit copy"),
    "junk checkpoint": (lambda d: _latest(d).write_bytes(b"junk"), "damaged", "is corrupt and cannot be read (it is not msgpack)"),
    "checkpoint cut short": (lambda d: _latest(d).write_bytes(_latest(d).read_bytes()[:1000]),
                             "damaged", "latest.msgpack is corrupt and cannot be read (it is cut short)"),
    "checkpoint of something else": (lambda d: _latest(d).write_bytes(b"\x81\xa1a\x01"),  # msgpack {"a": 1}
                                     "damaged", "(it holds no training state)"),
    "junk best checkpoint": (lambda d: runs.checkpoint_path(d, "best").write_bytes(b""),
                             "damaged", "best.msgpack is corrupt and cannot be read (it is cut short)"),
    "checkpoints deleted": (lambda d: shutil.rmtree(d / runs.CHECKPOINTS), "damaged", "latest.msgpack is missing"),
    "checkpoint unreadable": (lambda d: _latest(d).chmod(0), "damaged", None),  # root reads it all the same
    "junk metrics line": (lambda d: (d / runs.METRICS).write_text("{oops\n" + (d / runs.METRICS).read_text()),
                          "damaged", "metrics.jsonl is damaged: line 1 is not JSON"),
    "summary deleted": (lambda d: (d / runs.SUMMARY).unlink(), "interrupted", None),
    "summary and checkpoint deleted": (lambda d: ((d / runs.SUMMARY).unlink(), _latest(d).unlink()),
                                       "damaged", "metrics.jsonl records 20 steps, but the checkpoint"),
    "summary deleted, checkpoint junk": (lambda d: ((d / runs.SUMMARY).unlink(), _latest(d).write_bytes(b"x" * 99)),
                                         "damaged", "latest.msgpack is corrupt"),
    "stopped before its first checkpoint": (lambda d: ((d / runs.SUMMARY).unlink(), shutil.rmtree(d / runs.CHECKPOINTS),
                                                       (d / runs.METRICS).unlink()), "not started", None),
}


@pytest.mark.parametrize("case", list(LISTED))
def test_runs_gives_each_run_the_status_its_files_bear_out(trained, tmp_path, case):
    """Issue 33 item 6: `ntm runs` claims "finished" or "interrupted" only where eval and resume
    can read what they need; a run it cannot vouch for is "damaged", with the reason."""
    damage, status, phrase = LISTED[case]
    run_dir = damaged_copy(trained, tmp_path)
    (run_dir / runs.LOCK).unlink()  # it names this process, which trained the run: alive
    damage(run_dir)
    if case == "checkpoint unreadable" and os.access(_latest(run_dir), os.R_OK):
        status, phrase = "finished", None  # as root: a mode does not stop reading
    elif case == "checkpoint unreadable":
        phrase = "latest.msgpack cannot be read (Permission denied)"
    result = runner.invoke(app, ["runs", "--runs", str(run_dir.parent), "--json"])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    (row,) = json.loads(result.stdout)
    assert row["status"] == status, row
    assert (row["problem"] is None) if phrase is None else (phrase in row["problem"]), row
    assert (row["task"], row["model"], row["seed"]) == ("nosuch" if case == "unknown task" else "copy", "ntm-lstm", 0)
    if status != "not started":  # what the summary or the metrics record, never 0 sequences
        assert row["steps"] == 20 and row["sequences"] == 20, row
    table = runner.invoke(app, ["runs", "--runs", str(run_dir.parent)], env={"COLUMNS": "300"})
    assert table.exit_code == 0 and status in table.stdout, table.output
    if phrase is not None:
        assert f"damaged: {row['problem']}" in " ".join(table.stdout.split())


def test_runs_lists_five_runs_as_they_are_without_importing_jax(trained, tmp_path):
    """Issue 33 item 6, done when: a healthy run, one killed with kill -9, one naming an unknown
    task, one with a junk checkpoint and one whose summary was deleted, all listed, each with
    its status, exit 0, the same in the table and in --json; and no JAX to import for it."""
    folder = tmp_path / "runs"
    made = {name: shutil.copytree(trained, folder / name, ignore=shutil.ignore_patterns(runs.LOCK))
            for name in ("healthy", "killed", "unknown", "junk", "lost")}
    _as_killed(made["killed"], _dead_pid())
    _unknown_task(made["unknown"])
    _latest(made["junk"]).write_bytes(os.urandom(5000))
    (made["lost"] / runs.SUMMARY).unlink()
    script = ("import sys; from ntm_cli.cli import main\n"
              "try: main()\n"
              "finally: print('jax imported' if 'jax' in sys.modules else 'no jax', file=sys.stderr)")
    listed = {}
    for json_flag in (["--json"], []):
        result = subprocess.run([sys.executable, "-c", script, "runs", "--runs", str(folder), *json_flag],
                                capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=60,
                                check=False)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip() == "no jax"
        listed[bool(json_flag)] = result.stdout
    rows = {Path(r["run_dir"]).name: r for r in json.loads(listed[True])}
    assert {name: row["status"] for name, row in rows.items()} == {
        "healthy": "finished", "killed": "interrupted", "unknown": "damaged", "junk": "damaged", "lost": "interrupted"}
    assert "names an unknown task 'nosuch'" in rows["unknown"]["problem"]
    assert "latest.msgpack is corrupt and cannot be read" in rows["junk"]["problem"]
    assert rows["lost"]["sequences"] == rows["healthy"]["sequences"] == 20
    table = {line.split()[0]: line.split() for line in listed[False].splitlines() if line.split()[:1] in [[n] for n in rows]}
    assert {name: cells[4] for name, cells in table.items()} == {name: row["status"] for name, row in rows.items()}
    assert sum(line.startswith("damaged: ") for line in listed[False].splitlines()) == 2


def test_a_checkpoint_with_damaged_counters_is_named(trained, tmp_path):
    from flax import serialization

    run_dir = damaged_copy(trained, tmp_path)
    latest = runs.checkpoint_path(run_dir, "latest")
    payload = serialization.msgpack_restore(latest.read_bytes())
    payload["meta"]["step"] = "twenty"
    latest.write_bytes(serialization.msgpack_serialize(payload))
    text = one_sentence(runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "30"]))
    assert "is corrupt" in text and "'step' should be a whole number" in text


# --- leftovers, paths ---------------------------------------------------------------------------------

def test_a_temporary_file_an_interrupted_write_left_is_removed_on_resume(trained, tmp_path):
    run_dir = damaged_copy(trained, tmp_path)
    leftover = run_dir / runs.CHECKPOINTS / ".latest.msgpack.abc123.tmp"
    leftover.write_bytes(b"half a checkpoint")
    assert runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "30"]).exit_code == 0
    assert not leftover.exists() and not list(run_dir.rglob("*.tmp"))


def test_a_runs_folder_with_spaces_and_non_ascii_characters_works_and_nothing_is_written_elsewhere(tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    out = root / "my runs" / "ünïcødé 実験"
    cwd = os.getcwd()
    os.chdir(root)  # relative paths would land here
    try:
        assert runner.invoke(app, ["train", "copy", *TINY, "--steps", "10", "--out", str(out)]).exit_code == 0
        run_dir = out / "copy-ntm-lstm-s0"
        for command in (["eval", str(run_dir), "--lengths", "2", "--batches", "1", "--batch-size", "4", "--plot"],
                        ["plot", str(run_dir)], ["runs", "--runs", str(out)],
                        ["train", "--resume", str(run_dir), "--steps", "20"]):
            result = runner.invoke(app, command)
            assert result.exit_code == 0, (command, result.output)
    finally:
        os.chdir(cwd)
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert all(name.startswith("my runs/ünïcødé 実験/copy-ntm-lstm-s0/") for name in written), written


# --- real processes: concurrency, kill -9, a full disk ----------------------------------------------

def _ntm(*args, cwd=None, command=NTM, **kwargs):
    return subprocess.Popen([*command, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def _done_steps(run_dir):
    """The step of a run's latest checkpoint."""
    from flax import serialization

    return serialization.msgpack_restore(runs.checkpoint_path(run_dir, "latest").read_bytes())["meta"]["step"]


def _wait_for(condition, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_run_being_trained_is_never_resumed_by_another_process(tmp_path):
    trainer = _ntm("train", "copy", *TINY, "--steps", "2000000", "--out", str(tmp_path))
    run_dir = tmp_path / "copy-ntm-lstm-s0"
    try:
        _wait_for(lambda: runs.checkpoint_path(run_dir, "latest").is_file())
        text = one_sentence(runner.invoke(app, ["train", "--resume", str(run_dir)]))
        assert f"is being trained by another process (pid {trainer.pid})" in text
    finally:
        trainer.send_signal(signal.SIGTERM)
        _, err = trainer.communicate(timeout=60)
    assert trainer.returncode == 143 and "Resume with" in err
    # the lock went with the process: now it resumes
    target = str(_done_steps(run_dir) + 10)
    assert runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", target]).exit_code == 0


def test_two_comparisons_at_once_on_one_runs_folder_train_each_run_once(tmp_path):
    args = ["compare", "--tasks", "copy", "--models", "lstm", "--lstm-size", "1x32", "--sequences", "100", "--seeds",
            "1", "--workers", "1", "--runs", str(tmp_path / "runs")]
    # no shared compilation cache: two processes would write one entry at once
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")} | {"NTM_NO_CACHE": "1"}  # nor ~/.cache
    first = _ntm(*args, "--out", str(tmp_path / "a"), env=env)
    second = _ntm(*args, "--out", str(tmp_path / "b"), env=env)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    run_dirs = sorted(p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith("."))
    assert run_dirs == ["copy-lstm-s0"]  # one run, made once
    steps = [m.step for m in runs.read_metrics(tmp_path / "runs" / "copy-lstm-s0")]
    assert steps == sorted(set(steps))  # one writer: no report twice
    rows = [json.loads((tmp_path / out / "results.json").read_text())["tasks"]["copy"]["rows"] for out in "ab"]
    assert rows[0] == rows[1]


def test_ctrl_c_is_answered_within_seconds_whatever_the_steps_per_call(tmp_path):
    """Issue 33 item 1: a compiled call of 1,000 priority-sort steps (about 3 minutes here) would hold
    Ctrl-C until it ends; the session runs calls of about a second (one step first), so the run
    stops within seconds, with its checkpoint."""
    # Started as FOREGROUND: in the suite, started plainly, this test three times saw the trainer
    # go on for minutes after SIGINT.
    inherited = signal.getsignal(signal.SIGINT)
    trainer = _ntm("train", "sort", "--steps-per-call", "1000", "--steps", "2000000", "--out", str(tmp_path),
                   command=FOREGROUND)
    run_dir = tmp_path / "priority-sort-ntm-lstm-s0"
    try:
        _wait_for(lambda: runs.read_metrics(run_dir))  # the step-0 report: the loop's calls begin
        trainer.send_signal(signal.SIGINT)
        asked = time.monotonic()
        try:
            _, err = trainer.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still training 120 s after SIGINT (SIGINT in the test's process: {inherited})")
        waited = time.monotonic() - asked
    finally:
        trainer.kill()
    assert trainer.returncode == 130 and "Resume with" in err, err
    summary = runs.read_summary(run_dir)
    assert summary.status == "interrupted" and summary.steps < 1000  # stopped inside the first K
    assert waited < 15, waited


def test_a_run_folder_is_made_whole_or_not_at_all(tmp_path):
    """reserve_run_dir: a taken name gives name-run2; a folder appears only with what `fill` wrote;
    a fill that fails leaves nothing; a staging folder whose process died is removed by the next."""
    def fill(text):
        return lambda folder: (folder / runs.CONFIG).write_text(text)

    first, lock1 = runs.reserve_run_dir(tmp_path, "r", fill("1"))
    second, lock2 = runs.reserve_run_dir(tmp_path, "r", fill("2"))
    assert [first.name, second.name] == ["r", "r-run2"] and (second / runs.CONFIG).read_text() == "2"
    assert lock2.path == second / runs.LOCK and runs.Lock.holder(lock2.path) == str(os.getpid())
    with pytest.raises(RunFolderError, match="being trained by another process"):
        runs.lock_run(first)  # the lock moved with the folder and is still held
    lock1.release()
    lock2.release()

    def broken(folder):
        raise StorageError("disk full.")
    with pytest.raises(StorageError):
        runs.reserve_run_dir(tmp_path, "s", broken)
    abandoned = tmp_path / f"{runs.STAGING}dead"  # as a process killed while filling it leaves it
    abandoned.mkdir()
    (abandoned / runs.CONFIG).write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [abandoned.name, "r", "r-run2"]
    assert [Path(row.run_dir).name for row in runs.list_runs(tmp_path)] == ["r", "r-run2"]  # never listed as a run
    live = tmp_path / f"{runs.STAGING}live"  # another process's, being filled: locked
    live.mkdir()
    held = runs.Lock(live / runs.LOCK)
    made, lock = runs.reserve_run_dir(tmp_path, "s", fill("3"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "r", "r-run2", "s"]  # the dead one swept
    lock.release()
    held.release()


@pytest.mark.parametrize("moment", ["at once", "once its folder exists", "after a report past step 0"])
def test_kill_9_at_any_moment_leaves_a_run_that_resumes(tmp_path, moment):
    """kill -9 at moments observed, not slept for: before anything is written, as the run folder
    is made, and in the middle of training."""
    trainer = _ntm("train", "copy", *TINY, "--steps", "2000000", "--out", str(tmp_path))
    run_dir = tmp_path / "copy-ntm-lstm-s0"
    if moment == "once its folder exists":
        _wait_for(run_dir.exists)
    elif moment == "after a report past step 0":
        _wait_for(lambda: any(row.step > 0 for row in runs.read_metrics(run_dir)) if run_dir.exists() else False)
    trainer.kill()
    trainer.communicate()
    if not run_dir.exists():  # killed before the run folder was made: nothing to resume, no run folder left
        assert runs.list_runs(tmp_path) == [] and not [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
        result = runner.invoke(app, ["train", "copy", *TINY, "--steps", "1", "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in tmp_path.iterdir()) == ["copy-ntm-lstm-s0"]  # a staging folder left is gone
        return
    assert (run_dir / runs.CONFIG).is_file()  # a run folder is made whole, its config in it
    done = _done_steps(run_dir) if runs.checkpoint_path(run_dir, "latest").exists() else 0
    if runs.read_summary(run_dir) is not None:  # its process is dead: never "running" in the listing
        assert [row.status for row in runs.list_runs(tmp_path)] == ["interrupted"]
    result = runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", str(done + 20)])
    assert result.exit_code == 0, result.output
    steps = [m.step for m in runs.read_metrics(run_dir)]
    assert steps == sorted(set(steps)) and steps[-1] == done + 20
    assert runs.read_summary(run_dir).status == "finished"


def test_a_full_disk_is_one_sentence_and_the_last_checkpoint_resumes(tmp_path):
    """On a 160 KB file system (tmpfs, in a mount namespace of its own): training fills it."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to mount a small file system")
    probe = subprocess.run(["unshare", "-Urm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"this machine does not allow a private mount ({probe.stderr.decode().strip()})")
    run = f"{tmp_path}/copy-ntm-lstm-s0"
    step = ("from flax import serialization; print(serialization.msgpack_restore("
            f"open('{run}/checkpoints/latest.msgpack', 'rb').read())['meta']['step'] + 10)")
    script = f"""
set -u
mount -t tmpfs -o size=160k tmpfs {tmp_path}
{NTM[0]} -c "{NTM[2]}" train copy {' '.join(TINY)} --report-every 5 --steps 100000 --out {tmp_path} \
  > /dev/null 2> {tmp_path}.err
echo $? > {tmp_path}.rc
cp {run}/summary.json {tmp_path}.summary 2>/dev/null
mount -o remount,size=8m {tmp_path}
{NTM[0]} -c "{NTM[2]}" train --resume {run} --steps $({NTM[0]} -c "{step}") > /dev/null 2> {tmp_path}.err2
echo $? > {tmp_path}.rc2
"""
    subprocess.run(["unshare", "-Urm", "sh", "-c", script], check=True, timeout=300)
    error = Path(f"{tmp_path}.err").read_text()
    assert Path(f"{tmp_path}.rc").read_text().strip() == "1", error
    assert "Traceback" not in error and "No space left on device" in error
    lines = error.strip().splitlines()  # progress, then the one sentence (stderr carries both)
    assert lines[-1].startswith("Error:") and sum(line.startswith("Error:") for line in lines) == 1
    if Path(f"{tmp_path}.summary").exists():  # marked as stopped, where the disk allowed
        assert json.loads(Path(f"{tmp_path}.summary").read_text())["status"] in ("interrupted", "running")
    assert Path(f"{tmp_path}.rc2").read_text().strip() == "0", Path(f"{tmp_path}.err2").read_text()
