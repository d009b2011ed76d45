"""Every option of every command, walked through values it cannot take (issue 33): each must be
refused with exit code 2, one sentence naming the option, no traceback and no run folder, before
anything is built or compiled. The options come from the commands themselves (Typer's parameters)
and from the one table of settings (`ntm_cli.settings`), so a new option is walked without a new
test. A value that is wrongly accepted reaches a sentinel put where each command's work begins,
and fails its case at once instead of training."""

from __future__ import annotations

import enum
import typing

import pytest
import typer.main
from typer.testing import CliRunner

from ntm_cli.cli import app
from ntm_cli.settings import SETTINGS, SIZE_SETTINGS

runner = CliRunner()

# Values that no option of the kind can take (one of each way to be wrong: not a number, out of
# range, beyond int32 or not finite, an empty list or item).
BAD = {
    int: ["abc", "-1", "0-2", "99999999999999999999"],  # '0-2': pydantic reads it as -2
    float: ["abc", "nan", "inf"],
    "choice": ["abc"],
    "int list": ["", "3,,5", "abc", "-1", "99999999999999999999"],  # --lengths 10,20 and the like
    "float list": ["", "3,,5", "abc", "nan"],
    "name list": ["", "abc", "copy,,sort"],  # --tasks, --models
    "text": ["", "abc"],  # sizes and durations with their own syntax
}
# The options a user writes as text but that have a syntax of their own; the rest (paths, names,
# --grid's key=value list, --ray's address) are refused or taken by tests of their own.
TEXT_KINDS = {"--time": "text", "--memory": "text", "--controller-size": "text", "--lstm-size": "text",
              "--curriculum": "text", "--tasks": "name list", "--models": "name list", "--batch-sizes": "int list",
              "--lengths": "int list", "--repeats": "int list", "--items": "int list", "--gpus": float}
BY_FLAG = {row.flag: row for row in (*SETTINGS, *SIZE_SETTINGS)}
# A list of the setting's values: compare's and sweep's settings ('1e-3,3e-4').
LIST_COMMANDS = {"compare", "sweep"}


class Accepted(Exception):
    """Raised where a command's work would begin: the value was taken."""


def _accept(*args, **kwargs):
    raise Accepted


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    # the tiny run of the other test files (test_robustness.TINY): its programs are in the session's cache
    args = ["train", "copy", "--max-length", "3", "--memory", "8x4", "--controller-size", "16", "--steps", "10",
            "--steps-per-call", "5", "--report-every", "10", "--eval-batch-size", "16", "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    return out / "copy-ntm-lstm-s0"


COMMAND = typer.main.get_command(app)


@pytest.fixture
def sentinels(monkeypatch):
    """Where train, compare, sweep, eval, memory and bench begin their work (conftest makes the
    app a Click command once, not at every call)."""
    import ntm_cli.reports.figures as figures
    import ntm_cli.studies.launch as launch
    import ntm_cli.studies.study as study
    import ntm_cli.training.bench as bench
    import ntm_cli.training.evaluation as evaluation

    for module, name in [(launch, "new_session"), (study, "plan_jobs"), (evaluation, "evaluate_run"),
                         (bench, "bench_config"), (figures, "memory_trace")]:
        monkeypatch.setattr(module, name, _accept)


def _kind(command: str, option) -> object | None:
    """What values `option` of `command` takes: a key of BAD, or None (not walked)."""
    flag = max(option.opts, key=len)
    if flag in BY_FLAG and command in LIST_COMMANDS:
        row = BY_FLAG[flag]
        return "choice" if row.choices else {int: "int list", float: "float list"}.get(row.kind, TEXT_KINDS.get(flag))
    if flag in TEXT_KINDS:
        return TEXT_KINDS[flag]
    if flag in BY_FLAG:
        row = BY_FLAG[flag]
        return "choice" if row.choices else row.kind if row.kind is not str else None
    annotation = option.type_descriptor.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    kind = args[0]
    if typing.get_origin(kind) is typing.Literal or (isinstance(kind, type) and issubclass(kind, enum.Enum)):
        return "choice"
    return kind if kind in (int, float) else None


COMMANDS = ["train", "compare", "sweep", "eval", "memory", "bench", "show", "export", "plot", "runs"]


def _cases(command: str) -> list[tuple[str, str]]:
    """(option, value) for every option of `command` walked. compare reads its settings as sweep
    does (one decorator, one parser): they are walked on sweep, and compare's own options here."""
    cases = []
    for option in COMMAND.commands[command].params:
        flag = max(option.opts, key=len) if option.param_type_name == "option" else None
        if flag is None or option.is_flag or (command == "compare" and flag in BY_FLAG):
            continue
        cases += [(flag, value) for value in BAD.get(_kind(command, option), [])]
    return cases


BASES = {"train": ["train", "copy"], "compare": ["compare", "--tasks", "copy"], "sweep": ["sweep", "--tasks", "copy"],
         "bench": ["bench"], "show": ["show", "copy"], "runs": ["runs"]}


def test_the_walk_covers_every_command_and_the_whole_table_of_settings():
    walked = {command: {flag for flag, _ in _cases(command)} for command in COMMANDS}
    for row in (*SETTINGS, *SIZE_SETTINGS):
        if row.kind is not str or row.choices or row.flag in TEXT_KINDS:
            assert row.flag in walked["train"] and row.flag in walked["sweep"], row.flag
    assert {"--tasks", "--models", "--seeds", "--workers"} <= walked["compare"]
    assert {"--lengths", "--batches", "--batch-size", "--devices"} <= walked["eval"]
    assert {"--length", "--seed"} <= walked["memory"] and {"--batch-index", "--width"} <= walked["show"]
    assert {"--batch-sizes", "--steps-per-call", "--repeats", "--calls"} <= walked["bench"]
    assert sum(len(_cases(command)) for command in COMMANDS) > 350


@pytest.mark.parametrize("command", COMMANDS)
def test_every_value_an_option_cannot_take_is_one_sentence_naming_it(command, run_dir, tmp_path, sentinels):
    base = BASES.get(command, [command, str(run_dir)])
    out = tmp_path / "out"
    where = {"train": ["--out", str(out)], "compare": ["--out", str(out), "--runs", str(out)],
             "sweep": ["--out", str(out), "--runs", str(out)]}.get(command, [])
    wrong = []
    for flag, value in _cases(command):
        result = runner.invoke(app, [*base, flag, value, *where])
        lines = [line for line in result.stderr.splitlines() if line.strip()] if result.stderr else []
        named = (flag, flag[2:].replace("-", " "), "Unknown task", "Unknown model")
        if isinstance(result.exception, Accepted):
            wrong.append(f"{flag} {value!r}: taken")
        elif (result.exit_code != 2 or "Traceback" in result.output or not lines
              or not lines[0].startswith("Error:") or not any(name in lines[0] for name in named)):
            wrong.append(f"{flag} {value!r}: exit {result.exit_code}, {result.output[-300:]!r}")
        elif out.exists():
            wrong.append(f"{flag} {value!r}: left {sorted(p.name for p in out.iterdir())}")
    assert not wrong, "\n".join(wrong)
