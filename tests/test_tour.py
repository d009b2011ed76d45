"""The README's tour, run as written: every `ntm ...` line of it, in order, in a fresh folder, each
budget shrunk to a few steps (and a study's seeds to one), with what the tour assumes a user has
(an archive `mine.npz`, a grid file `study.toml`) put there first. Each must exit 0.

It trains some forty tiny runs at the paper's model sizes (about 2 minutes on the 2-core CI
machine), too long for the suite's 4-minute budget, so it has a marker of its own: the README's
test command leaves it out and `.ci/run` runs it after the suite (`pytest -m tour`).

Two things differ from the tour by necessity: `--ray auto` needs a cluster that `ray start` made
(the sweep runs on this machine instead; Ray itself is tested in test_sweep.py), and
`ntm bench` times one repeat of one call.
"""

import glob
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from ntm_cli.cli import app
from test_readme import tour

pytestmark = pytest.mark.tour
runner = CliRunner()

BUDGETS = ("--steps", "--sequences", "--time")
STEPS = ["--steps", "4", "--steps-per-call", "2", "--report-every", "2"]


def shrunk(args: list[str]) -> list[str]:
    """A tour line with its budget cut to a few steps (a study: one seed each), as run here."""
    command, rest, out = args[1], args[2:], []
    skip = False
    for i, arg in enumerate(rest):
        if skip:
            skip = False
            continue
        if arg in BUDGETS or (arg == "--seeds" and command in ("compare", "sweep")) or arg == "--ray":
            skip = True  # the flag and its value
            continue
        out.append(arg)
    studies = command in ("compare", "sweep") and not any(a.startswith("runs/") for a in rest)
    if command == "train" and "--resume" in rest:
        out += ["--steps", "8"]  # past the 4 its run was trained to
    elif command == "train" or studies:
        out += STEPS + (["--seeds", "1", "--workers", "1"] if studies else [])
    elif command == "eval":
        out += ["--batches", "1", "--batch-size", "2"]
    elif command == "bench":
        out += ["--repeats", "1", "--calls", "1", "--steps-per-call", "1"]
    return [command, *(expanded for arg in out for expanded in _glob(arg))]


def _glob(arg: str) -> list[str]:
    """A word as the shell gives it to the command: a glob's matches, sorted (itself if none)."""
    return (sorted(glob.glob(arg)) or [arg]) if re.search(r"[*?[]", arg) else [arg]


def _mine(folder) -> None:
    """An archive as a user would bring one: 32 sequences of a one-step delay."""
    rng = np.random.default_rng(0)
    inputs = rng.integers(0, 2, (32, 6, 3)).astype(np.float32)
    targets = np.zeros_like(inputs)
    targets[:, 1:] = inputs[:, :-1]
    np.savez(folder / "mine.npz", inputs=inputs, targets=targets)


def test_every_line_of_the_tour_runs_as_written_in_a_fresh_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _mine(tmp_path)
    (tmp_path / "study.toml").write_text('tasks = ["copy"]\nmodels = ["ntm-lstm"]\n\n[grid]\nlr = [1e-3, 3e-4]\n')
    failed = []
    for args in tour():
        result = runner.invoke(app, shrunk(args))
        if result.exit_code != 0:
            failed.append(f"`{' '.join(args)}` (run as `ntm {' '.join(shrunk(args))}`): exit {result.exit_code}\n"
                          f"{result.output[-1500:]}")
    assert not failed, "\n\n".join(failed)
