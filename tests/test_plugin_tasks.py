"""A task from another package, registered under the entry-point group `ntm.tasks`: found through
importlib.metadata as an installed package's would be, listed, trained, evaluated and compared by
its name; a plugin that fails to import or breaks the contract is one sentence naming it.

The example is the one experiments/README.md shows (experiments/plugin_example), installed as
pip lays a package out: its module and a `<name>-<version>.dist-info` folder with METADATA and
entry_points.txt, the entry points read off its pyproject.toml. (pip itself would build a wheel,
which needs the `wheel` package and, for isolation, the network.)
"""

import importlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from ntm_cli.cli import app
from ntm_cli.tasks import plugins, registry

runner = CliRunner()
ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "experiments" / "plugin_example"
TINY = ["--memory", "8x4", "--controller-size", "16", "--steps-per-call", "5", "--report-every", "10",
        "--eval-batch-size", "16", "--steps", "20"]


def install(folder: pathlib.Path, distribution: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Lays out a package in `folder` as `pip install --target` would: its modules, and a
    dist-info folder whose entry_points.txt declares `entry_points` (name -> 'module:Class')
    in the group `ntm.tasks`."""
    folder.mkdir(parents=True, exist_ok=True)
    for module, text in modules.items():
        (folder / f"{module}.py").write_text(text)
    info = folder / f"{distribution.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1.0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{plugins.GROUP}]\n{lines}")


def install_example(folder: pathlib.Path) -> None:
    """The example package, its entry points as its pyproject.toml declares them."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    modules = {path.stem: path.read_text() for path in EXAMPLE.glob("*.py")}
    install(folder, project["name"], project["entry-points"][plugins.GROUP], modules)


@pytest.fixture
def discover(monkeypatch):
    """Puts folders on sys.path and lets the registry find the plugins again as it does when `ntm`
    starts (its import, run once more); the registry, sys.path and sys.modules are put back after
    the test."""
    before = set(sys.modules)

    def run(*folders: pathlib.Path) -> None:
        for folder in folders:
            monkeypatch.syspath_prepend(str(folder))
        importlib.invalidate_caches()
        kept = dict(vars(registry))
        importlib.reload(registry)
        found = {name: value for name, value in vars(registry).items() if value is not kept.get(name)}
        vars(registry).update(kept)
        for name, value in found.items():  # the tables it made, through monkeypatch, which undoes them
            if not callable(value):
                monkeypatch.setattr(registry, name, value)

    yield run
    for module in set(sys.modules) - before:
        if module.startswith("plugin_") or module == "ntm_reverse":
            del sys.modules[module]


def test_the_documented_example_is_the_one_the_tests_install():
    """experiments/README.md shows the example's module and pyproject.toml as they are."""
    doc = (ROOT / "experiments" / "README.md").read_text()
    for path in (EXAMPLE / "ntm_reverse.py", EXAMPLE / "pyproject.toml"):
        indented = "\n".join(("    " + line).rstrip() for line in path.read_text().splitlines())
        assert indented in doc, f"experiments/README.md does not show {path.name} as it is"


def test_the_example_writes_the_vectors_last_first(tmp_path, discover):
    install_example(tmp_path)
    discover(tmp_path)
    task = registry.make_task("reverse", width=3, max_length=5)
    assert registry.PLUGINS["reverse"].distribution == "ntm-reverse 0.1.0"
    batch = task.sample(jax.random.key(0), 500)
    inputs, targets, mask = (np.asarray(x) for x in batch)
    assert inputs.shape == (11, 500, 4) and targets.shape == (11, 500, 3) and mask.shape == (11, 500)
    for b in range(20):
        length = int(mask[:, b].sum())
        assert inputs[length, b, 3] == 1 and inputs[:, b, 3].sum() == 1  # the delimiter, once, at step L
        np.testing.assert_array_equal(targets[length + 1:2 * length + 1, b], inputs[:length, b, :3][::-1])
        np.testing.assert_array_equal(mask[length + 1:2 * length + 1, b], 1)
    lengths = mask.sum(axis=0)
    assert set(lengths.astype(int).tolist()) == {1, 2, 3, 4, 5}
    assert abs(lengths.mean() * 3 - task.chance_cost) < 0.1 * task.chance_cost  # chance: 9 bits


def test_a_plugin_task_is_listed_trained_evaluated_and_compared_by_its_name(tmp_path, discover):
    install_example(tmp_path / "site")
    discover(tmp_path / "site")
    listed = runner.invoke(app, ["tasks"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "reverse: read random binary vectors, then write them back last first" in listed.stdout
    assert listed.stderr == ""

    runs = tmp_path / "runs"
    trained = runner.invoke(app, ["train", "reverse", *TINY, "--out", str(runs), "--json"])
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    assert summary["task"] == "reverse" and summary["steps"] == 20 and summary["status"] == "finished"
    run = runs / "reverse-ntm-lstm-s0"
    assert json.loads((run / "config.json").read_text())["config"]["task"] == "reverse"

    evaluated = runner.invoke(app, ["eval", str(run), "--batches", "1", "--batch-size", "8", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    labels = [row["label"] for row in json.loads(evaluated.stdout)["results"]]
    assert labels == ["training sizes", "length up to 20"]  # the example's generalisation size

    compared = runner.invoke(app, ["compare", "--tasks", "reverse", "--models", "ntm-lstm", *TINY, "--seeds", "1",
                                   "--until", "budget", "--workers", "1", "--runs", str(runs),
                                   "--out", str(tmp_path / "compare"), "--json"])
    assert compared.exit_code == 0, compared.output
    assert compared.stderr.count("reusing") == 1  # the run `ntm train` made: the same config
    (row,) = json.loads(compared.stdout)["tasks"]["reverse"]["rows"]
    assert row["run_dirs"] == [str(run)]


def test_a_real_ntm_process_finds_the_plugin_and_its_sizes_are_options(tmp_path):
    """`ntm` as a user runs it, the example on PYTHONPATH: listed, and its sizes are options the
    task takes (its own check refuses an impossible one), and nothing is imported from JAX."""
    install_example(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "COLUMNS": "200"}
    ntm = shutil.which("ntm", path=os.path.dirname(sys.executable)) or "ntm"
    listed = subprocess.run([ntm, "tasks"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and re.search(r"^reverse: read random binary vectors", listed.stdout, re.M)
    refused = subprocess.run([ntm, "train", "reverse", "--max-length", "0", "--out", str(tmp_path / "runs")],
                             env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "Error: width and max length must be at least 1."
    assert not (tmp_path / "runs").exists()
    code = "import sys, ntm_cli.cli, ntm_cli.tasks as t; assert t.make_task('reverse'); assert 'jax' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


SUBCLASS = "import dataclasses\nfrom ntm_reverse import ReverseTask\n\n\n@dataclasses.dataclass(frozen=True)\nclass Broken(ReverseTask):\n"


@pytest.mark.parametrize("module, problem", [
    ("import no_such_module\n", "failed to import: ModuleNotFoundError: No module named 'no_such_module'."),
    ("class Broken:\n    name = 'broken'\n",
     "breaks the task contract: it loads <class 'plugin_broken.Broken'>, which is not a subclass of "
     "ntm_cli.tasks.base.Task."),
    (SUBCLASS + "    name = 'broken'\n    aliases = ('sort',)\n",
     "is left out: its alias 'sort' is taken by the built-in task priority-sort."),
    (SUBCLASS + "    name = 'broken'\n\n    @property\n    def input_size(self):\n        return self.width + 2\n",
     "breaks the task contract: its inputs come out float32[21, 2, 9] where float32[21, 2, 10] was due "
     "(T = max_time 21, B = 2, in 10, out 8)."),
], ids=["import error", "not a task", "name clash", "wrong shapes"])
def test_a_broken_plugin_is_one_sentence_naming_it_and_no_run_folder(tmp_path, discover, module, problem):
    install_example(tmp_path / "example")
    install(tmp_path / "broken", "plugin-broken", {"broken": "plugin_broken:Broken"}, {"plugin_broken": module})
    discover(tmp_path / "example", tmp_path / "broken")
    trained = runner.invoke(app, ["train", "broken", *TINY, "--out", str(tmp_path / "runs")])
    assert trained.exit_code == 2 and "Traceback" not in trained.output
    (line,) = trained.stderr.strip().splitlines()
    assert line == f"Error: task plugin 'broken' (plugin_broken:Broken, from plugin-broken 0.1.0) {problem}"
    assert not (tmp_path / "runs").exists()
    shown = runner.invoke(app, ["show", "broken"])
    assert shown.exit_code == 2 and shown.stderr.strip() == line

    listed = runner.invoke(app, ["tasks"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "reverse: read random" in listed.stdout and "copy: read random" in listed.stdout
    if "inputs come out" in problem:  # found only when it samples: listed like any other until then
        assert "broken: read random" in listed.stdout and listed.stderr == ""
    else:
        assert listed.stderr.strip() == line.replace("Error:", "Warning:", 1)


def test_two_plugins_that_claim_one_name_are_both_left_out(tmp_path, discover):
    for first in ("a", "b"):
        install(tmp_path / first, f"plugin-{first}", {"twice": f"plugin_{first}:Twice"},
                {f"plugin_{first}": "import dataclasses\nfrom ntm_reverse import ReverseTask\n\n\n"
                                    "@dataclasses.dataclass(frozen=True)\nclass Twice(ReverseTask):\n"
                                    "    name = 'twice'\n"})
    install_example(tmp_path / "example")
    discover(tmp_path / "a", tmp_path / "b", tmp_path / "example")
    assert "twice" not in registry.TASK_NAMES and "reverse" in registry.TASK_NAMES
    with pytest.raises(registry.TaskPluginError, match=r"^task plugin 'twice' \(plugin_\w:Twice, from plugin-\w "
                                                       r"0\.1\.0\) is left out: its name 'twice' is claimed by "
                                                       r"task plugin 'twice' \(plugin_\w:Twice, from plugin-\w 0\.1\.0\) "
                                                       r"as well\.$"):
        registry.make_task("twice")


def test_the_contract_checks_name_what_is_wrong():
    """What `contract_problem` says of classes that are not tasks, in words a plugin's author can act on."""
    import dataclasses

    from ntm_cli.tasks.copy import CopyTask

    class Undecorated(CopyTask):
        name = "undecorated"

    @dataclasses.dataclass(frozen=True)
    class Misnamed(CopyTask):
        name = "misnamed"

    @dataclasses.dataclass(frozen=True)
    class Impossible(CopyTask):
        name = "impossible"
        max_length: int = 0

    assert plugins.contract_problem(Undecorated, "undecorated").startswith("it is not a frozen dataclass")
    assert plugins.contract_problem(Misnamed, "other") == "its name 'misnamed' is not its entry point's name 'other'"
    assert plugins.contract_problem(Impossible, "impossible") == (
        "its default sizes do not make a task (TaskConfigError: max length (0) must not be below min length (1))")
    assert plugins.contract_problem(CopyTask, "copy") is None
