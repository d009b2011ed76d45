"""The README's tour, as written: every `ntm ...` line parses with the options its command has, and
every run folder a line names was made by a line before it (the tour once evaluated
`runs/copy-dnc-s0`, a folder no line had trained). Nothing is trained here: test_tour.py runs
every line, shrunk, outside the suite's time (pytest -m tour, run by .ci/run)."""

import fnmatch
import pathlib
import re
import shlex

import pytest
import typer

from ntm_cli.cli import app
from ntm_cli.cli.options import chosen_model, parse_models
from ntm_cli.studies.study import Study
from ntm_cli.tasks import canonical_name

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def tour() -> list[list[str]]:
    """Every command line of the README's indented code blocks, split as a shell would (comments
    dropped, globs kept as written)."""
    lines = [line[4:] for line in README.read_text().splitlines() if line.startswith("    ntm ")]
    return [shlex.split(line, comments=True) for line in lines]


def _option(args: list[str], name: str, default=None):
    return args[args.index(name) + 1] if name in args else default


def made_by(args: list[str]) -> list[str]:
    """The run folders (under runs/) that a tour line makes, named as `ntm train` and the studies
    name them: <task>-<model>-s<seed>."""
    command, rest = args[1], args[2:]
    if command == "train" and "--resume" not in rest:
        data = _option(rest, "--data")  # an archive's runs: data-<file stem>-<model>-s<seed>
        task = f"data-{pathlib.Path(data).stem}" if data is not None else canonical_name(rest[0])
        model = chosen_model(_option(rest, "--model", "ntm-lstm"), _option(rest, "--controller"))
        first, count = int(_option(rest, "--seed", 0)), int(_option(rest, "--seeds", 1))
        return [f"runs/{task}-{model}-s{seed}" for seed in range(first, first + count)]
    if command == "compare" and "--tasks" in rest:
        tasks = [canonical_name(t) for t in _option(rest, "--tasks").split(",")]
        models = parse_models(_option(rest, "--models")) if "--models" in rest else None
        study = Study("compare", tuple(tasks), models=models)
        return [f"runs/{task}-{model}-s{seed}" for task in tasks for model in study.models_for(task)
                for seed in range(int(_option(rest, "--seeds", 3)))]
    return []


def test_the_tour_has_the_commands_a_user_is_shown():
    commands = {args[1] for args in tour()}
    assert {"tasks", "show", "params", "train", "eval", "compare", "sweep", "plot", "memory", "runs",
            "bench"} <= commands


@pytest.mark.parametrize("args", tour(), ids=lambda args: " ".join(args)[:60])
def test_every_tour_line_parses_with_its_commands_options(args):
    group = typer.main.get_command(app)
    command = group.commands.get(args[1])
    assert command is not None, f"ntm has no command {args[1]}"
    try:  # parses and converts every option and argument; runs nothing
        command.make_context(args[1], args[2:], resilient_parsing=False)
    except Exception as error:  # Typer's own copy of click raises its UsageError kinds
        if type(error).__name__ != "Exit":  # an eager option (--help) ending the parse is fine
            pytest.fail(f"`{' '.join(args)}`: {getattr(error, 'format_message', error.__str__)()}")


def test_every_run_folder_the_tour_names_was_made_by_a_line_before_it():
    made: list[str] = []
    for args in tour():
        named = [a for a in args[2:] if a.startswith("runs/")]
        for name in named:
            found = fnmatch.filter(made, name) if re.search(r"[*?\[]", name) else [m for m in made if m == name]
            assert found, f"`{' '.join(args)}` names {name}, which no line before it made"
        made += [name for name in made_by(args) if name not in made]
