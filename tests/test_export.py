"""`ntm export` and `ntm_cli.load_run`: a trained model that JAX alone runs, giving the logits the
run's own model gives."""

import json
import re
import subprocess
import sys

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

import ntm_cli
from ntm_cli.cli import app
from ntm_cli.training.trainer import eval_batch

from run_folders import copy_run

runner = CliRunner()
TINY = ["--max-length", "3", "--memory", "8x4", "--controller-size", "16", "--steps-per-call", "5",
        "--report-every", "10", "--eval-batch-size", "16", "--steps", "20"]

# Run in a fresh interpreter: JAX and NumPy only, never this package.
ALONE = """
import sys, jax, numpy as np
f = jax.export.deserialize(open(sys.argv[1] + "/model.jaxexport", "rb").read())
params = dict(np.load(sys.argv[1] + "/params.npz"))
batch = np.load(sys.argv[2])
logits = f.call(params, batch["inputs"], batch["targets"], batch["mask"])
np.save(sys.argv[3], np.asarray(logits))
assert not any(name.startswith("ntm_cli") for name in sys.modules), "ntm_cli was imported"
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("export")
    result = runner.invoke(app, ["train", "copy", *TINY, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    return tmp_path / "copy-ntm-lstm-s0"


def test_an_exported_model_runs_with_jax_alone_and_gives_the_runs_logits(trained, tmp_path):
    result = runner.invoke(app, ["export", str(trained), "--out", str(tmp_path / "model"), "--checkpoint", "latest"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "model"
    assert {p.name for p in folder.iterdir()} == {"model.jaxexport", "params.npz", "config.json", "README.txt", "orbax"}
    description = json.loads((folder / "config.json").read_text())
    model = ntm_cli.load_run(trained, "latest")
    time = model_task(model).max_time
    assert description["task"] == "copy" and description["max_time"] == time and description["step"] == 20
    assert model.step == 20 and model.config.task == "copy"
    for size in (1, 5):  # any batch size: the batch axis is symbolic
        batch = eval_batch(model_task(model), size)
        np.savez(tmp_path / "batch.npz", inputs=batch.inputs, targets=batch.targets, mask=batch.mask)
        subprocess.run([sys.executable, "-c", ALONE, str(folder), str(tmp_path / "batch.npz"),
                        str(tmp_path / "logits.npy")], check=True)
        alone = np.load(tmp_path / "logits.npy")
        here = np.asarray(model.apply(batch.inputs, batch.targets, batch.mask))
        assert alone.shape == (time, size, 8)
        np.testing.assert_allclose(alone, here, rtol=1e-6, atol=1e-6)
    import orbax.checkpoint as ocp

    restored = ocp.StandardCheckpointer().restore((folder / "orbax").resolve())
    flat = {jax.tree_util.keystr(path): np.asarray(leaf)
            for path, leaf in jax.tree_util.tree_flatten_with_path(restored)[0]}
    npz = dict(np.load(folder / "params.npz"))
    assert len(flat) == len(npz)
    for name, value in npz.items():  # the same parameters, named by their place in the model
        key = re.sub(r"\[(\d+)\]", r"['\1']", name.replace(".value", ""))  # Orbax keys list items as '0'
        match = [v for k, v in flat.items() if k == key]
        assert match and np.array_equal(match[0], value), name


def model_task(model):
    from ntm_cli.tasks import make_task

    return make_task(model.config.task, **model.config.task_sizes)


def test_a_run_that_cannot_be_exported_is_one_sentence_and_nothing_is_written(trained, tmp_path):
    unfinished = copy_run(trained, tmp_path / "unfinished", status="interrupted")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("keep me")
    cases = [
        ([str(unfinished), "--out", str(tmp_path / "a")], "is interrupted; export a finished run"),
        ([str(tmp_path), "--out", str(tmp_path / "b")], "is not a run folder"),
        ([str(trained), "--out", str(taken)], "exists and is not an empty folder"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["export", *args])
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output, result.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert [p.name for p in taken.iterdir()] == ["mine.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left
