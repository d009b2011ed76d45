"""`ntm train --data`: sequences from a NumPy archive, its record, its held-out set, and every
malformed archive refused in one sentence with exit 2 and no run folder left behind."""

import hashlib
import json
import shutil
import zipfile

import numpy as np
import pytest
from typer.testing import CliRunner

from ntm_cli.cli import app
from ntm_cli.training.data import HELDOUT_FRACTION, read_archive

runner = CliRunner()
TINY = ["--memory", "8x4", "--controller-size", "16", "--steps-per-call", "5", "--report-every", "20",
        "--eval-batch-size", "16"]
S, T, W = 64, 6, 3  # sequences, steps, bits a step


def delay_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """A one-step delay: targets[t] = inputs[t - 1], scored from t = 1 (inputs [S, T, W])."""
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, 2, (S, T, W)).astype(np.float32)
    targets = np.zeros_like(inputs)
    targets[:, 1:] = inputs[:, :-1]
    mask = np.ones((S, T), np.float32)
    mask[:, 0] = 0
    return {"inputs": inputs, "targets": targets, "mask": mask}


def save(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_read_archive_holds_out_the_end_and_infers_the_kind(tmp_path):
    arrays = delay_arrays()
    archive = read_archive(save(tmp_path / "d.npz", **arrays))
    held = round(S * HELDOUT_FRACTION)
    assert archive.heldout == held == 8 and archive.output_kind == "bits" and archive.inferred
    np.testing.assert_array_equal(archive.inputs, arrays["inputs"][:S - held])
    np.testing.assert_array_equal(archive.eval_targets, arrays["targets"][S - held:])
    # no mask: every step scored; one-hot targets over 4 outputs: classes
    onehot = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (S, T))]
    classes = read_archive(save(tmp_path / "c.npz", inputs=arrays["inputs"], targets=onehot))
    assert classes.output_kind == "class" and classes.inferred and classes.mask.min() == 1.0
    declared = read_archive(save(tmp_path / "b.npz", inputs=arrays["inputs"], targets=onehot, output_kind="bits"))
    assert declared.output_kind == "bits" and not declared.inferred


def test_lengths_make_the_mask_where_none_is_given(tmp_path):
    arrays = delay_arrays()
    lengths = np.arange(S) % T + 1  # 1, 2, ..., 6, 1, 2, ...
    archive = read_archive(save(tmp_path / "l.npz", inputs=arrays["inputs"], targets=arrays["targets"],
                                lengths=lengths))
    expected = (np.arange(T)[None, :] < lengths[:, None]).astype(np.float32)  # 1 up to each length
    np.testing.assert_array_equal(np.concatenate([archive.mask, archive.eval_mask]), expected)
    within = arrays["mask"] * expected  # a mask that scores nothing past a length is kept as given
    kept = read_archive(save(tmp_path / "m.npz", **(arrays | {"mask": within}), lengths=lengths))
    np.testing.assert_array_equal(np.concatenate([kept.mask, kept.eval_mask]), within)


def test_data_task_draws_its_sequences_and_reads_the_held_out_set_in_order(tmp_path):
    import jax

    from ntm_cli.training.data import load_data

    arrays = delay_arrays()
    _, task, _ = load_data(save(tmp_path / "d.npz", **arrays))
    assert (task.input_size, task.output_size, task.max_time, task.name) == (W, W, T, "data")
    assert task.chance_cost == pytest.approx((T - 1) * W)  # 0.5 on every scored bit: 1 bit each
    batch = task.sample(jax.random.key(0), 32)  # time-major
    assert batch.inputs.shape == (T, 32, W) and batch.mask.shape == (T, 32)
    train = {arrays["inputs"][i].tobytes() for i in range(S - 8)}
    drawn = np.swapaxes(np.asarray(batch.inputs), 0, 1)
    assert all(x.tobytes() in train for x in drawn)  # only training sequences
    held = task.heldout().sample(jax.random.key(5), 10)
    expected = arrays["targets"][S - 8:][np.arange(10) % 8]
    np.testing.assert_array_equal(np.swapaxes(np.asarray(held.targets), 0, 1), expected)


def test_a_64_sequence_archive_trains_records_its_file_evaluates_and_refuses_a_changed_one(tmp_path):
    data = save(tmp_path / "mine.npz", **delay_arrays())
    out = tmp_path / "runs"
    result = runner.invoke(app, ["train", "--data", str(data), *TINY, "--steps", "60", "--batch-size", "16",
                                 "--lr", "0.01", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert "64 sequences (8 held out from its end)" in result.stderr and "bits (inferred" in result.stderr
    run_dir = out / "data-mine-ntm-lstm-s0"
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["task"] == "data" and config["task_sizes"] == {}
    assert config["data"] == {"path": str(data), "bytes": data.stat().st_size,
                              "sha256": hashlib.sha256(data.read_bytes()).hexdigest(), "heldout": 8,
                              "output_kind": "bits"}
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    first, last = rows[0]["eval_cost"], rows[-1]["eval_cost"]
    assert first == pytest.approx(15.0, abs=1.0)  # chance: 5 scored steps x 3 bits
    assert last < 0.6 * first  # it learns the delay

    refused = runner.invoke(app, ["eval", str(run_dir), "--batches", "3"])  # no batches to count: each once
    assert refused.exit_code == 2 and "--batches does not apply to an archive's held-out" in refused.stderr
    assert "Traceback" not in refused.output and not list(run_dir.glob("eval*.json"))
    evaluated = runner.invoke(app, ["eval", str(run_dir), "--batch-size", "16", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert report["task"] == "data" and report["results"][0]["sequences"] == 8  # each held-out sequence once
    assert report["results"][0]["cost"] == pytest.approx(last, rel=1e-3)  # the held-out set, in order
    assert "each of its 8 held-out sequences once, in 1 batch of 16" in evaluated.stderr
    # in batches of 3 (the last filled up from the start, its extra results dropped): the same 8
    thirds = runner.invoke(app, ["eval", str(run_dir), "--batch-size", "3", "--json"])
    assert thirds.exit_code == 0, thirds.output
    again = json.loads(thirds.stdout)["results"][0]
    assert again["sequences"] == 8 and again["cost"] == pytest.approx(report["results"][0]["cost"], rel=1e-5)

    arrays = delay_arrays()
    arrays["inputs"][0, 0, 0] = 1 - arrays["inputs"][0, 0, 0]
    save(data, **arrays)
    resumed = runner.invoke(app, ["train", "--resume", str(run_dir), "--steps", "80"])
    assert resumed.exit_code == 2 and "Traceback" not in resumed.output
    message = " ".join(resumed.stderr.split())
    assert message.startswith(f"Error: the archive {data} has changed since this run trained on it")
    assert message.count(". ") == 0 and message.endswith(".")
    assert json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 60  # nothing trained


def test_a_class_archive_counts_wrong_answers_in_its_lines_and_table(tmp_path):
    arrays = delay_arrays()
    onehot = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (S, T))]
    data = save(tmp_path / "classes.npz", inputs=arrays["inputs"], targets=onehot)
    result = runner.invoke(app, ["train", "--data", str(data), "--model", "lstm", "--lstm-size", "1x8", "--steps", "20",
                                 "--steps-per-call", "5", "--report-every", "10", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "class (inferred" in result.stderr and "wrong answers" in result.stderr and "bit err" not in result.stderr
    header = next(line for line in result.stdout.splitlines() if "seed" in line and "final" in line)
    assert "wrong" in header and "bit err" not in header
    from ntm_cli.reports.figures import curve_errors, run_curve

    assert curve_errors(run_curve(tmp_path / "runs" / "data-classes-lstm-s0")) == "wrong answers"  # ntm plot's axis


def test_compare_on_an_archive_trains_each_model_reuses_its_runs_and_reads_them_back(tmp_path):
    data = save(tmp_path / "mine.npz", **delay_arrays())
    runs_dir, out = tmp_path / "runs", tmp_path / "study"
    args = ["compare", "--data", str(data), "--models", "lstm,ntm-lstm", "--seeds", "1", "--sequences", "40",
            "--memory", "8x4", "--controller-size", "16", "--lstm-size", "1x8", "--report-every", "20",
            "--runs", str(runs_dir), "--out", str(out), "--workers", "1", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    task = json.loads(result.stdout)["tasks"]["data"]
    assert [row["model"] for row in sorted(task["rows"], key=lambda r: r["model"])] == ["lstm", "ntm-lstm"]
    assert all(row["seeds"] == 1 and row["sequences"] == 40 for row in task["rows"])
    assert task["chance_cost"] == pytest.approx(15.0)  # the archive's: 5 scored steps x 3 bits
    command = next(row["command"] for row in task["rows"] if row["model"] == "ntm-lstm")
    assert command.startswith(f"ntm train --data {data} --model ntm-lstm")
    assert sorted(p.name for p in runs_dir.iterdir() if not p.name.startswith(".")) == [
        "data-mine-lstm-s0", "data-mine-ntm-lstm-s0"]
    again = runner.invoke(app, args)  # every run reused: nothing trained again
    assert again.exit_code == 0 and again.stderr.count("reusing") == 2
    # the same runs given as folders: the same table
    folders = runner.invoke(app, ["compare", *map(str, sorted(runs_dir.glob("data-*"))), "--json", "--out", str(out)])
    assert folders.exit_code == 0, folders.output
    rows = {r["model"]: r["cost"] for r in json.loads(folders.stdout)["tasks"]["data"]["rows"]}
    assert rows == {r["model"]: r["cost"] for r in task["rows"]}
    other = tmp_path / "other-run"  # a run of another archive beside them: refused, named
    shutil.copytree(runs_dir / "data-mine-lstm-s0", other)
    saved = json.loads((other / "config.json").read_text())
    saved["config"]["data"] |= {"path": str(tmp_path / "theirs.npz"), "sha256": "0" * 64}
    (other / "config.json").write_text(json.dumps(saved))
    mixed = runner.invoke(app, ["compare", str(runs_dir / "data-mine-ntm-lstm-s0"), str(other), "--out", str(out)])
    assert mixed.exit_code == 2 and "trained on different archives" in mixed.stderr
    # a study on an archive takes no tasks, and a solved rule it does not have is refused, nothing written
    for extra, phrase in ((["--tasks", "copy"], "give no --tasks with it"), (["--until", "solved"], "no solved rule")):
        refused = runner.invoke(app, ["compare", "--data", str(data), *extra, "--runs", str(tmp_path / "r2")])
        assert refused.exit_code == 2 and phrase in refused.stderr and not (tmp_path / "r2").exists()


def _pickled(path):
    arrays = delay_arrays()
    np.savez(path, inputs=arrays["inputs"], targets=np.array([object(), 1], dtype=object))


def _not_an_archive(path):
    path.write_text("inputs,targets\n1,0\n")


def _empty(path):
    zipfile.ZipFile(path, "w").close()


def _with(**changes):
    def make(path):
        arrays = delay_arrays() | changes
        save(path, **{k: v for k, v in arrays.items() if v is not None})
    return make


_GOOD = delay_arrays()
_NAN = _GOOD["inputs"].copy()
_NAN[3, 2, 1] = np.nan
_INF = _GOOD["targets"].copy()
_INF[5, 1, 0] = np.inf


@pytest.mark.parametrize("make, phrase", [
    (_with(targets=None), "has no 'targets' array"),
    (_with(targets=_GOOD["targets"][:, :-1]), "must agree in S and T"),
    (_with(mask=_GOOD["mask"][:, :-1]), "'mask' has shape (64, 5), not [S, T] = (64, 6)"),
    (_with(inputs=_NAN), "'inputs' holds NaN or infinite values (the first at index (3, 2, 1))"),
    (_with(targets=_INF), "'targets' holds NaN or infinite values"),
    (_with(mask=np.full((S, T), "x")), "'mask' has dtype <U1, which cannot be read as numbers"),
    (_pickled, "'targets' is an array of Python objects"),
    (_empty, "is an empty archive"),
    (_not_an_archive, "is not a NumPy archive"),
    (_with(inputs=np.zeros((0, T, W)), targets=np.zeros((0, T, W)), mask=np.zeros((0, T))), "'inputs' is empty"),
    (_with(eval_targets=_GOOD["targets"]), "has eval_targets or eval_mask but no 'eval_inputs'"),
    (_with(lengths=np.full(S, T + 1)), "'lengths' must be whole numbers from 1 to T = 6"),
    (_with(lengths=np.full(S, 4)), "'mask' scores step 4 of sequence 0, past its length 4 in 'lengths'"),
    (_with(lengths=np.full(S, T), eval_inputs=_GOOD["inputs"], eval_targets=_GOOD["targets"]), "give 'eval_mask' too"),
    (_with(extra=np.zeros(3)), "holds 'extra', which is not one of"),
])
def test_a_malformed_archive_is_one_sentence_exit_2_and_no_run_folder(tmp_path, make, phrase):
    path = tmp_path / "bad.npz"
    make(path)
    result = runner.invoke(app, ["train", "--data", str(path), *TINY, "--steps", "10", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert "Traceback" not in result.output and message.startswith("Error: ") and str(path) in message
    assert phrase in message and message.endswith(".") and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_an_archive_larger_than_memory_is_refused_with_its_size_and_the_limit(tmp_path, monkeypatch):
    from ntm_cli.training import resources

    path = save(tmp_path / "big.npz", **delay_arrays())
    monkeypatch.setattr(resources, "available_bytes", lambda: 10_000)
    result = runner.invoke(app, ["train", "--data", str(path), *TINY, "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2 and not (tmp_path / "runs").exists()
    message = " ".join(result.stderr.split())
    # 10,752 bytes stored (float32 already), and as much twice more read as float32: 32,256
    assert f"{path} needs about 32 KB of memory to read, more than this machine can give (8 KB)" in message


def test_a_process_reuses_programs_by_an_archives_digest_and_keeps_none_of_its_arrays(tmp_path):
    """The key of a run's compiled programs names its archive by SHA-256 and shapes, not by the
    task object (which holds the arrays): two archives of one shape and other contents differ,
    and the key holds no array."""
    import dataclasses

    import jax

    from ntm_cli.config import OptimizerConfig, TrainConfig
    from ntm_cli.models import LSTMConfig
    from ntm_cli.training.data import load_data
    from ntm_cli.training.trainer import Trainer

    keys = []
    for seed in (0, 1, 0):
        path = tmp_path / f"d{len(keys)}.npz"
        save(path, **delay_arrays(seed))
        record, task, _ = load_data(path)
        config = TrainConfig(task="data", task_sizes={}, model=LSTMConfig(num_layers=1, hidden_size=4),
                             optimizer=OptimizerConfig(name="adam", learning_rate=1e-3), batch_size=2,
                             eval_batch_size=4, data=record)
        trainer = Trainer(config, [0])
        keys.append(trainer.program_key(trainer.initial_state()))
    assert keys[0] != keys[1] and keys[0] == keys[2]  # other contents; the same contents at another path

    def items(x):  # every element of the nested tuples of a key
        return [y for e in x for y in items(e)] if isinstance(x, tuple) else [x]

    assert not any(isinstance(x, (jax.Array, np.ndarray)) for x in items(keys[2]))
    assert dataclasses.is_dataclass(trainer.task) and trainer.task not in items(keys[2])
