"""Training and evaluation over several devices (jax.sharding), on CPU host devices.

XLA decides how many host devices a CPU has when JAX starts, so the checks run in a fresh
Python process with `--xla_force_host_platform_device_count=4` in its environment. The same
tiny runs are trained on one device (`--devices 1`) and on the four, splitting the seed axis
(`--seeds 2`) or the batch axis (`--batch-size 4`); their held-out costs must agree to float
rounding, and a checkpoint written on one layout must resume on the other.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from ntm_cli.cli import app

runner = CliRunner()

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import jax
    from typer.testing import CliRunner
    from ntm_cli.cli import app

    assert len(jax.local_devices()) == 4, jax.local_devices()
    out = Path(sys.argv[1])
    runner = CliRunner()
    SIZES = {"ntm-lstm": ["--memory", "8x4", "--controller-size", "16"],
             "dnc": ["--memory", "8x4", "--controller-size", "16"],
             "lstm": ["--lstm-size", "16"]}
    CASES = [("ntm-lstm", "seeds"), ("ntm-lstm", "batch"), ("dnc", "batch"), ("lstm", "seeds"), ("lstm", "batch")]
    COMMON = ["--max-length", "3", "--steps-per-call", "5", "--report-every", "10", "--eval-batch-size", "16"]

    def train(*args):
        head = ["train", "--json"] if "--resume" in args else ["train", "copy", *COMMON, "--out", str(out), "--json"]
        result = runner.invoke(app, [*head, *args])
        assert result.exit_code == 0, result.output
        record = json.loads(result.output[result.output.index("{"):])
        return [run["final_eval_cost"] for run in record.get("runs", [record])]

    def devices(name):
        return json.loads((out / name / "config.json").read_text())["environment"]["devices"]["count"]

    report = {}
    for model, split in CASES:
        sizes, option = SIZES[model], {"seeds": ["--seeds", "2"], "batch": ["--batch-size", "4"]}[split]
        name = f"{model}-{split}"
        one = train("--model", model, *sizes, *option, "--steps", "20", "--devices", "1", "--name", name + "-1")
        four = train("--model", model, *sizes, *option, "--steps", "20", "--name", name + "-4")
        first = name + ("-4-s0" if split == "seeds" else "-4")
        report[name] = {"one": one, "four": four, "devices": devices(first)}

    # A checkpoint from four devices resumes on one, and one from one device on four; each
    # continued run ends where a run trained straight through on one device ends.
    sizes = SIZES["ntm-lstm"] + ["--batch-size", "4"]
    straight = report["ntm-lstm-batch"]["one"]  # the same settings, 20 steps on one device
    train(*sizes, "--steps", "10", "--name", "from-four")
    on_one = train("--resume", str(out / "from-four"), "--steps", "20", "--devices", "1")
    train(*sizes, "--steps", "10", "--devices", "1", "--name", "from-one")
    on_four = train("--resume", str(out / "from-one"), "--steps", "20")
    report["resume"] = {"straight": straight, "four_then_one": on_one, "one_then_four": on_four,
                        "devices_after": [devices("from-four"), devices("from-one")]}
    print("REPORT" + json.dumps(report))
""")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    out = tmp_path_factory.mktemp("devices")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("REPORT"))
    return json.loads(line[len("REPORT"):])


@pytest.mark.parametrize(("model", "split"), [("ntm-lstm", "seeds"), ("ntm-lstm", "batch"), ("dnc", "batch"),
                                              ("lstm", "seeds"), ("lstm", "batch")])
def test_four_devices_train_as_one_does(report, model, split):
    entry = report[f"{model}-{split}"]
    assert entry["devices"] == 4 if split == "batch" else entry["devices"] == 2
    assert entry["one"] == pytest.approx(entry["four"], rel=1e-4)
    if split == "seeds":  # each device trained its own seed, not a copy of the first
        assert entry["four"][0] != pytest.approx(entry["four"][1], rel=1e-4)


def test_checkpoints_resume_across_device_counts(report):
    entry = report["resume"]
    assert entry["devices_after"] == [1, 4]  # config.json records the devices the last session used
    assert entry["four_then_one"] == pytest.approx(entry["straight"], rel=1e-4)
    assert entry["one_then_four"] == pytest.approx(entry["straight"], rel=1e-4)


def test_more_devices_than_the_machine_has_is_refused(tmp_path):
    result = runner.invoke(app, ["train", "copy", "--devices", "64", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "asks for more devices than this machine has" in result.output
    assert list(tmp_path.iterdir()) == []
    result = runner.invoke(app, ["train", "copy", "--devices", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--devices must be at least 1" in result.output
