"""`ntm bench`: it measures and reports every field (no timings are asserted), and rejects bad input."""

import json

import pytest
from typer.testing import CliRunner

from ntm_cli.cli import app

runner = CliRunner()
SMALL = ["--models", "ntm-ff", "--batch-sizes", "2", "--repeats", "2", "--calls", "1", "--steps-per-call", "2"]


def test_bench_json_reports_every_figure_and_the_machine(monkeypatch):
    import dataclasses

    from ntm_cli.training import bench
    from ntm_cli.models import NTMConfig

    real = bench.case_config

    def small_model(*args):  # the preset's task and training, a small NTM-FF (the plumbing is tested)
        config = real(*args)
        return dataclasses.replace(config, model=NTMConfig(controller="ff", controller_sizes=(16,), memory_rows=8,
                                                           memory_width=4), eval_batch_size=16)

    monkeypatch.setattr(bench, "case_config", small_model)
    result = runner.invoke(app, ["bench", *SMALL, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"cpu", "cores", "backend", "jax", "python"} <= set(report["machine"])
    assert 0 < report["help_seconds"] < 30
    (row,) = report["results"]
    assert (row["task"], row["model"], row["batch_size"], row["steps_per_call"]) == ("copy", "ntm-ff", 2, 2)
    assert row["params"] > 0 and row["finite"]
    assert row["train_sequences_per_second_min"] <= row["train_sequences_per_second"] \
        <= row["train_sequences_per_second_max"]
    assert row["ms_per_step_min"] <= row["ms_per_step"] <= row["ms_per_step_max"]
    # sequences per second and milliseconds per step describe the same timings
    assert row["train_sequences_per_second"] == pytest.approx(1000 * 2 / row["ms_per_step"], rel=1e-6)
    assert row["compile_seconds"] > 0 and row["eval_sequences_per_second"] > 0 and row["peak_memory_mb"] > 0


@pytest.mark.parametrize("args, message", [
    (["--task", "cpy"], "Unknown task 'cpy'"),
    (["--models", "gru"], "Unknown model 'gru'"),
    (["--models", ","], "--models needs at least one value"),
    (["--batch-sizes", "0"], "--batch-sizes must be whole numbers from 1 to"),
    (["--batch-sizes", "a"], "--batch-sizes must be whole numbers"),
    (["--repeats", "0"], "repeats"),
])
def test_bench_rejects_bad_input_in_one_sentence(args, message):
    result = runner.invoke(app, ["bench", *args])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output
