"""Training and evaluation over several devices (jax.sharding), on CPU host devices.

XLA decides how many host devices a CPU has when JAX starts, so the checks run in a fresh
Python process with `--xla_force_host_platform_device_count=4` in its environment. The same
tiny runs are trained on one device (`--devices 1`) and on the four, splitting the seed axis
(`--seeds 2`) or the batch axis (`--batch-size 32`, 8 sequences a device); their held-out
costs must agree to float rounding, and a checkpoint written on one layout must resume on
the other.
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
    # Seeds split the same way whatever the model (the seed axis of the vmapped step), so one model
    # checks it; the batch split goes through each model's own kernels.
    CASES = [("ntm-lstm", "seeds"), ("ntm-lstm", "batch"), ("dnc", "batch"), ("lstm", "batch")]
    # One learning-rate schedule for every run (by default it would follow each run's own budget,
    # and a run resumed to 20 steps was made with a budget of 10).
    COMMON = ["--max-length", "3", "--steps-per-call", "5", "--report-every", "10", "--eval-batch-size", "32",
              "--lr-decay-steps", "20"]

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
        sizes, option = SIZES[model], {"seeds": ["--seeds", "2"], "batch": ["--batch-size", "32"]}[split]
        name = f"{model}-{split}"
        one = train("--model", model, *sizes, *option, "--steps", "20", "--devices", "1", "--name", name + "-1")
        four = train("--model", model, *sizes, *option, "--steps", "20", "--name", name + "-4")
        first = name + ("-4-s0" if split == "seeds" else "-4")
        report[name] = {"one": one, "four": four, "devices": devices(first)}

    # A checkpoint from four devices resumes on one, and one from one device on four; each
    # continued run ends where a run trained straight through on one device ends.
    sizes = SIZES["ntm-lstm"] + ["--batch-size", "32"]
    straight = report["ntm-lstm-batch"]["one"]  # the same settings, 20 steps on one device
    train(*sizes, "--steps", "10", "--name", "from-four")
    on_one = train("--resume", str(out / "from-four"), "--steps", "20", "--devices", "1")
    train(*sizes, "--steps", "10", "--devices", "1", "--name", "from-one")
    on_four = train("--resume", str(out / "from-one"), "--steps", "20")
    report["resume"] = {"straight": straight, "four_then_one": on_one, "one_then_four": on_four,
                        "devices_after": [devices("from-four"), devices("from-one")]}
    # How many CPU devices a batch is split across: shares of 8 sequences or more.
    from ntm_cli.training.devices import evaluation_layout, training_layout
    report["shares"] = {b: training_layout(jax.local_devices(), 1, b).count for b in (4, 8, 12, 16, 24, 32)}
    report["shares"]["seeds"] = training_layout(jax.local_devices(), 4, 1).count
    report["shares"]["eval"] = [evaluation_layout(jax.local_devices(), b).count for b in (16, 32)]
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
                                              ("lstm", "batch")])
def test_four_devices_train_as_one_does(report, model, split):
    entry = report[f"{model}-{split}"]
    assert entry["devices"] == 4 if split == "batch" else entry["devices"] == 2
    assert entry["one"] == pytest.approx(entry["four"], rel=1e-4)
    if split == "seeds":  # each device trained its own seed, not a copy of the first
        assert entry["four"][0] != pytest.approx(entry["four"][1], rel=1e-4)


def test_a_cpu_batch_is_split_only_into_shares_of_eight_or_more(report):
    assert report["shares"] == {"4": 1, "8": 1, "12": 1, "16": 2, "24": 3, "32": 4, "seeds": 4, "eval": [2, 4]}


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


@pytest.mark.parametrize(("flags", "count", "replace", "expected"), [
    ("", 2, False, "--xla_force_host_platform_device_count=2"),
    ("--xla_backend_optimization_level=0", 2, False,
     "--xla_backend_optimization_level=0 --xla_force_host_platform_device_count=2"),
    ("--xla_force_host_platform_device_count=4  --x=1", 2, False, "--xla_force_host_platform_device_count=4  --x=1"),
    ("--xla_force_host_platform_device_count=4 --x=1", 1, True, "--x=1 --xla_force_host_platform_device_count=1"),
    ("", 1, False, ""),  # one core: nothing to ask for
    (" --x=1 ", 1, False, "--x=1"),
])
def test_host_device_flags_keep_the_users_count_unless_replaced(flags, count, replace, expected):
    from ntm_cli.training.devices import host_device_flags

    assert host_device_flags(flags, count, replace) == expected


# Each in a fresh interpreter, as the `ntm` command and a pool worker start; prints the
# number of CPU devices JAX then has, and the cores the process may use.
CORE_SCRIPTS = {
    "command": "from ntm_cli.cli import commands\n"
               "commands.app = lambda: None  # the entry point's set-up, without a command\n"
               "commands.main()\n",
    "worker": "import multiprocessing as mp\n"
              "from ntm_cli.studies import executors\n"
              "from ntm_cli.training.devices import usable_cores\n"
              "cores = mp.Queue(); cores.put(sorted(__import__('os').sched_getaffinity(0))[0])\n"
              "executors._start_worker(mp.Value('i', 0), cores)\n",
}


def _cpu_devices(kind: str, xla_flags: str) -> tuple[int, int]:
    script = CORE_SCRIPTS[kind] + ("import jax\nfrom ntm_cli.training.devices import usable_cores\n"
                                   "print(len(jax.devices('cpu')), usable_cores())")
    env = dict(os.environ, XLA_FLAGS=xla_flags)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    devices, cores = map(int, done.stdout.split()[-2:])
    return devices, cores


def test_the_command_makes_a_cpu_device_per_core_and_a_pinned_worker_one():
    devices, cores = _cpu_devices("command", "")
    assert devices == cores  # 2 on the CI machine: one training splits its batch across both
    assert _cpu_devices("command", "--xla_force_host_platform_device_count=3")[0] == 3  # the user's count
    # A pool worker, pinned to one core, gets one device even if its parent asked for more.
    assert _cpu_devices("worker", "--xla_force_host_platform_device_count=3") == (1, 1)
