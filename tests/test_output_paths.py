"""Every command that writes where the user says, given a path it cannot write (one under a
regular file, or in a folder without write permission): one sentence that names the path, exit
code 1 (an environment error), no traceback, and nothing written anywhere."""

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ntm_cli.cli import app

runner = CliRunner()
# test_train_cli.py's tiny copy run (the session compiles its programs once, tests/conftest.py)
TINY = ["--max-length", "3", "--memory", "8x4", "--controller-size", "16", "--steps-per-call", "5",
        "--report-every", "10", "--eval-batch-size", "16"]
# a study that would train for seconds: refused before it starts
STUDY = ["--tasks", "copy", "--models", "ntm-lstm", "--seeds", "1", "--steps", "5"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished tiny copy run."""
    out = tmp_path_factory.mktemp("runs")
    result = runner.invoke(app, ["train", "copy", *TINY, "--steps", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "copy-ntm-lstm-s0"


# Each command's arguments; {run} is the run folder, {bad} the path it cannot write, {tmp} a
# folder it could write.
UNDER_A_FILE = {
    "plot, a folder": (["plot", "{run}", "--out", "{bad}"], "afile/sub"),
    "plot, a .png": (["plot", "{run}", "--out", "{bad}"], "afile/curves.png"),
    "memory": (["memory", "{run}", "--out", "{bad}"], "afile/m.png"),
    "memory, a folder": (["memory", "{run}", "--out", "{bad}"], "afile/sub/deeper"),
    "eval --plot": (["eval", "{run}", "--plot", "--out", "{bad}"], "afile/e.png"),
    "export": (["export", "{run}", "--out", "{bad}"], "afile/export"),
    "train": (["train", "copy", *TINY, "--steps", "5", "--out", "{bad}"], "afile/runs"),
    "compare runs, --out": (["compare", "{run}", "--out", "{bad}"], "afile/compare"),
    "compare, --out": (["compare", *STUDY, "--runs", "{tmp}/runs", "--out", "{bad}"], "afile/compare"),
    "compare, --runs": (["compare", *STUDY, "--runs", "{bad}", "--out", "{tmp}/compare"], "afile/runs"),
    "sweep, --out": (["sweep", *STUDY, "--runs", "{tmp}/runs", "--out", "{bad}"], "afile/sweep"),
    "sweep, --runs": (["sweep", *STUDY, "--runs", "{bad}", "--out", "{tmp}/sweep"], "afile/runs"),
}
# {bad} a folder without write permission (or a path in one)
READ_ONLY = {
    "plot": (["plot", "{run}", "--out", "{bad}"], "locked/curves.png"),
    "memory": (["memory", "{run}", "--out", "{bad}"], "locked"),
    "eval --plot": (["eval", "{run}", "--plot", "--out", "{bad}"], "locked/new/e.png"),
    "export": (["export", "{run}", "--out", "{bad}"], "locked/export"),
    "train": (["train", "copy", *TINY, "--steps", "5", "--out", "{bad}"], "locked"),
    "compare runs, --out": (["compare", "{run}", "--out", "{bad}"], "locked"),
    "compare, --runs": (["compare", *STUDY, "--runs", "{bad}", "--out", "{tmp}/compare"], "locked/runs"),
}


def _everything(*folders: Path) -> dict[Path, float]:
    """Every file and folder under `folders`, with its modification time."""
    return {p: p.stat().st_mtime for folder in folders for p in (folder, *folder.rglob("*"))}


def _refused(args, bad: Path, run_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """Runs the command from `tmp_path` and checks it is refused in one sentence naming `bad`,
    exit 1, with nothing written in `tmp_path` or the run folder."""
    monkeypatch.chdir(tmp_path)  # a stray relative path would land here, and be seen
    before = _everything(tmp_path, run_dir)
    result = runner.invoke(app, [a.format(run=run_dir, bad=bad, tmp=tmp_path) for a in args])
    assert isinstance(result.exception, SystemExit), result.exception  # an exception the command let through
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("Error:") and str(bad) in lines[0], result.stderr
    assert _everything(tmp_path, run_dir) == before


@pytest.mark.parametrize("args, bad", UNDER_A_FILE.values(), ids=UNDER_A_FILE.keys())
def test_a_path_under_a_file_is_one_sentence_and_exit_1(run_dir, tmp_path, monkeypatch, args, bad):
    (tmp_path / "afile").write_text("not a folder")
    _refused(args, tmp_path / bad, run_dir, tmp_path, monkeypatch)


def _lock(folder: Path, monkeypatch) -> None:
    """Takes the write permission on `folder` away; root writes anywhere, so for root the
    commands' check (`os.access`) is told so instead."""
    folder.chmod(0o555)
    if os.geteuid() == 0:
        monkeypatch.setattr(os, "access", lambda p, mode, _access=os.access, **kw:
                            False if Path(p) == folder and mode & os.W_OK else _access(p, mode, **kw))


@pytest.mark.parametrize("args, bad", READ_ONLY.values(), ids=READ_ONLY.keys())
def test_a_folder_without_write_permission_is_one_sentence_and_exit_1(run_dir, tmp_path, monkeypatch, args, bad):
    locked = tmp_path / "locked"
    locked.mkdir()
    _lock(locked, monkeypatch)
    try:
        _refused(args, tmp_path / bad, run_dir, tmp_path, monkeypatch)
    finally:
        locked.chmod(0o755)  # so that pytest can remove it


def test_eval_checks_the_run_folder_it_writes_eval_json_in(run_dir, tmp_path, monkeypatch):
    _lock(run_dir, monkeypatch)
    try:
        _refused(["eval", "{run}"], run_dir / "eval.json", run_dir, tmp_path, monkeypatch)
    finally:
        run_dir.chmod(0o755)
