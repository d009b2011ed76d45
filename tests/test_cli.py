"""Every CLI command through Typer's CliRunner, and every kind of bad input a user can give."""

import subprocess
import sys

import jax
import pytest
from typer.testing import CliRunner

from ntm_cli.cli import app
from ntm_cli.tasks import TASK_NAMES, make_task

runner = CliRunner()


def _assert_usage_error(result, *phrases):
    """Exit code 2, one 'Error:' sentence on stderr naming the phrases, and no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for phrase in phrases:
        assert phrase in result.stderr
    assert result.stdout == ""


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("tasks", "show", "params"):
        assert command in result.stdout
    for command in ("train", "compare", "eval", "runs"):  # a flag takes no value: no type beside it
        shown = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
        assert "--json" in shown and "<bool>" not in shown and "<int>" in shown + "<int>"


def test_importing_the_cli_does_not_import_jax():
    code = "import sys, ntm_cli.cli; assert 'jax' not in sys.modules, 'jax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("args", [["tasks"], ["--help"], ["compare", "--help"], ["train", "--help"]])
def test_listing_tasks_and_every_help_answer_without_jax(args):
    """What answers at once (`ntm tasks`, help) must not load JAX (~1 s, more on a busy machine)."""
    code = ("import sys; from typer.testing import CliRunner; from ntm_cli.cli import app; "
            f"result = CliRunner().invoke(app, {args!r}); assert result.exit_code == 0, result.output; "
            "assert 'jax' not in sys.modules, 'jax imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("ntm ")


def test_tasks_table_lists_every_task_with_T_and_chance_cost():
    result = runner.invoke(app, ["tasks"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in TASK_NAMES:
        task = make_task(name)
        row = next(line for line in result.stdout.splitlines() if f" {name} " in line)
        cells = [c.strip() for c in row.split("│")]
        assert str(task.max_time) in cells and f"{task.chance_cost:g}" in cells
    ngrams_row = next(line for line in result.stdout.splitlines() if " dynamic-ngrams " in line)
    assert "133." in ngrams_row  # the Bayes-optimal floor
    for name in TASK_NAMES:  # what solving each means, for --until solved and the studies' k of K
        assert f"  solved: {make_task(name).solved_text()}." in result.stdout


def test_show_prints_the_requested_example():
    result = runner.invoke(app, ["show", "copy", "--seed", "3", "--batch-index", "2", "--max-length", "7"])
    assert result.exit_code == 0, result.output
    task = make_task("copy", max_length=7)
    expected = task.render(task.sample(jax.random.key(3), 3), 2)
    # Same grid as example 2 of a batch drawn from the same key (header aside).
    assert result.stdout.splitlines()[1:] == expected.splitlines()[1:]
    assert result.stdout.startswith("copy: seed 3, example 2")


@pytest.mark.parametrize("alias, name", [("sort", "priority-sort"), ("recall", "associative-recall"),
                                         ("ngrams", "dynamic-ngrams"), ("repeat", "repeat-copy")])
def test_show_accepts_aliases(alias, name):
    result = runner.invoke(app, ["show", alias])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(name)


def test_show_unknown_task_names_the_valid_tasks():
    result = runner.invoke(app, ["show", "nosuchtask"])
    _assert_usage_error(result, "Unknown task 'nosuchtask'", "copy", "priority-sort (or sort)")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["show", "copy", "--min-length", "0"], "min length must be at least 1"),
        (["show", "copy", "--min-length", "9", "--max-length", "3"], "must not be below min length"),
        (["show", "copy", "--width", "-2"], "width must be at least 1"),
        (["show", "sort", "--num-outputs", "30"], "cannot exceed num inputs"),
        (["show", "recall", "--min-items", "1"], "at least 2"),
        (["show", "copy", "--min-repeats", "3"], "--min-repeats does not apply to task copy"),
    ],
)
def test_show_impossible_sizes_are_one_sentence_and_exit_2(args, phrase):
    _assert_usage_error(runner.invoke(app, args), phrase)


@pytest.mark.parametrize("args", [["show", "copy", "--width", "abc"], ["show", "copy", "--batch-index", "-1"], ["show"]])
def test_malformed_options_exit_2_without_traceback(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_params_lists_the_papers_15_configurations_beside_ours():
    import json

    from ntm_cli.experiments.paper import PAPER_MODELS

    result = runner.invoke(app, ["params", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 15 == len(PAPER_MODELS)
    assert {(r["task"], r["model"]) for r in rows} == {(p.task, p.model) for p in PAPER_MODELS}
    for row in rows:
        assert row["difference_percent"] == round(100 * (row["ours"] - row["paper"]) / row["paper"], 2)
    by_key = {(r["task"], r["model"]): r for r in rows}
    # Graves (2013) deep LSTM with skip connections and a learned initial state: exact where
    # the task's widths agree with the paper's.
    assert by_key[("dynamic-ngrams", "lstm")]["ours"] == 331_905
    assert by_key[("associative-recall", "lstm")]["ours"] == 1_344_518
    assert by_key[("copy", "ntm-lstm")]["ours_learned_memory"] == by_key[("copy", "ntm-lstm")]["ours"] + 128 * 20

    table = runner.invoke(app, ["params"], env={"COLUMNS": "120"})
    assert table.exit_code == 0 and "1,344,518" in table.stdout and "ntm-ff" in table.stdout


def test_the_command_keeps_compiled_programs_between_runs_unless_told_otherwise(tmp_path):
    """`ntm` keeps JAX's compilation cache in $XDG_CACHE_HOME/ntm/jax (bounded, so locked): a
    real command fills it; a folder the user set is kept, and NTM_NO_CACHE=1 turns it off."""
    import json
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    base["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    command = [sys.executable, "-c", "from ntm_cli.cli import main; main()", "train", "copy", "--model", "lstm",
               "--lstm-size", "1x8", "--max-length", "2", "--steps", "10", "--eval-batch-size", "8",
               "--out", str(tmp_path / "runs"), "--json"]
    done = subprocess.run(command, env=base, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["steps"] == 10
    assert any((tmp_path / "xdg" / "ntm" / "jax").iterdir())  # the programs it compiled
    probe = ("import os; from ntm_cli.training.devices import use_compilation_cache; use_compilation_cache(); "
             "print(os.environ.get('JAX_COMPILATION_CACHE_DIR'), os.environ.get('JAX_COMPILATION_CACHE_MAX_SIZE'))")
    for extra, expected in (({}, f"{tmp_path / 'xdg' / 'ntm' / 'jax'} {4 * 2**30}"),
                            ({"JAX_COMPILATION_CACHE_DIR": "/elsewhere"}, "/elsewhere None"),
                            ({"NTM_NO_CACHE": "1"}, "None None")):
        out = subprocess.run([sys.executable, "-c", probe], env=base | extra, capture_output=True, text=True)
        assert out.stdout.split() == expected.split(), out.stderr
