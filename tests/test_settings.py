"""The settings table: every row reaches the config field it names, for every model that has
it, and nothing else; rows a run lacks are refused in one sentence; the three commands take
their options from it."""

import dataclasses

import pytest
from typer.testing import CliRunner

from ntm_cli.cli import app
from ntm_cli.config import Budget
from ntm_cli.errors import InputError
from ntm_cli.experiments.presets import preset_config
from ntm_cli.models.config import MODEL_NAMES, model_family
from ntm_cli.settings import ALL_SETTINGS, SETTINGS, SIZE_SETTINGS, apply_settings, setting
from ntm_cli.studies.launch import build_config
from ntm_cli.studies.study import Study, Trial

# A task each model family trains on in the fast preset (the key-value memory: class tasks only).
TASK_OF = {"ntm": "copy", "dnc": "copy", "lstm": "copy", "kv": "one-shot"}
MODEL_OF = {"ntm": "ntm-lstm", "dnc": "dnc", "lstm": "lstm", "kv": "kv-ff"}


def _changed(before, after) -> dict:
    """The dotted config fields that differ: {'model.memory_rows': (128, 16), ...}."""
    old, new = before.to_dict(), after.to_dict()
    out = {}
    for part in ("model", "optimizer", "task_sizes"):
        for key in set(old[part]) | set(new[part]):
            if old[part].get(key) != new[part].get(key):
                out[f"{part}.{key}"] = (old[part].get(key), new[part].get(key))
    out |= {key: (old[key], new[key]) for key in old if key not in ("model", "optimizer", "task_sizes")
            and old[key] != new[key]}
    return out


@pytest.mark.parametrize("row", SETTINGS, ids=lambda row: row.name)
def test_every_setting_changes_what_it_names_for_every_model_that_has_it(row):
    """Each of the row's two example values, applied alone, changes exactly the fields the row
    says (its `fields`), and the two values give two different configs."""
    for family in sorted(row.families):
        task, model = TASK_OF[family], MODEL_OF[family]
        base = preset_config("fast", task, model)
        if row.name in ("lr_decay_from", "lr_decay_to"):  # they shape a decay: refused on a constant rate (below)
            base = dataclasses.replace(base, optimizer=dataclasses.replace(base.optimizer, decay_steps=100))
        configs = []
        for value in row.example.split(","):
            config = apply_settings(base, {row.name: value})
            expected = row.fields(row.value(value), base)
            for path, want in expected.items():
                part, _, field = path.rpartition(".")
                got = getattr(getattr(config, part) if part else config, field)
                assert got == want, (row.name, family, path)
            assert set(_changed(base, config)) <= set(expected), (row.name, family)
            configs.append(config)
        assert len(set(map(repr, configs))) == len(configs), (row.name, family)  # each value its own config


@pytest.mark.parametrize("row", SIZE_SETTINGS, ids=lambda row: row.name)
def test_every_task_size_reaches_the_task_sizes_of_the_tasks_that_have_it(row):
    from ntm_cli.tasks import make_task

    for task in sorted(row.tasks):
        own = getattr(make_task(task), row.name)  # the task's own value: valid beside its other sizes
        config = build_config(task, "lstm", "fast", 0, Budget(), {row.name: str(own)})
        assert config.task_sizes == {row.name: own}


def test_shaping_a_decay_that_is_not_there_is_refused_and_with_decay_steps_it_applies():
    constant = preset_config("fast", "copy", "ntm-lstm")  # copy's NTMs keep a constant rate
    assert constant.optimizer.decay_steps is None
    with pytest.raises(InputError, match=r"^--lr-decay-from and --lr-decay-to shape a learning-rate decay, and the "
                                         r"rate of ntm-lstm on copy is constant; give --lr-decay-steps a number of "
                                         r"steps\.$"):
        apply_settings(constant, {"lr_decay_from": "0.5", "lr_decay_to": "0.01"})
    with pytest.raises(InputError, match=r"is constant \(--lr-decay-steps 0\); give --lr-decay-steps a number"):
        apply_settings(preset_config("fast", "priority-sort", "ntm-lstm"), {"lr_decay_from": "0.5", "lr_decay_steps": "0"})
    held = apply_settings(constant, {"lr_decay_from": "0.5", "lr_decay_to": "0.01", "lr_decay_steps": "400"}).optimizer
    assert (held.decay_steps, held.decay_from, held.decay_to) == (400, 0.5, 0.01)
    decaying = preset_config("fast", "priority-sort", "ntm-lstm").optimizer  # decays over its budget: shaped without it
    assert apply_settings(preset_config("fast", "priority-sort", "ntm-lstm"), {"lr_decay_from": "0.3"}).optimizer == \
        dataclasses.replace(decaying, decay_from=0.3)


def test_a_setting_a_model_or_task_lacks_is_one_sentence_naming_what_it_takes():
    with pytest.raises(InputError, match=r"--memory does not apply to the LSTM baseline \(lstm\), which takes "
                                         r"--lstm-size\."):
        apply_settings(preset_config("fast", "copy", "lstm"), {"memory": "16x8"})
    with pytest.raises(InputError, match=r"--margin does not apply to the NTM \(ntm-lstm\)"):
        apply_settings(preset_config("fast", "copy", "ntm-lstm"), {"margin": 0.2})
    with pytest.raises(InputError, match=r"--num-inputs does not apply to task copy, which takes --width, --min-length, --max-length\."):
        apply_settings(preset_config("fast", "copy", "ntm-lstm"), {"num_inputs": 4})
    with pytest.raises(InputError, match="'beta' is not a setting"):
        setting("beta")


@pytest.mark.parametrize(("name", "value", "phrase"), [
    ("lr", "nan", "--lr takes finite numbers"), ("heads", "1.5", "--heads takes whole numbers"),
    ("optimizer", "sgd", "--optimizer must be one of adam, rmsprop"), ("memory", "16", "ROWSxWIDTH"),
    ("lstm_size", "64,32", "all have one size"), ("curriculum", "-1", "or 0 for none"),
    ("batch_size", "0", "--batch-size must be at least 1"), ("clip_norm", "-1", "--clip-norm must be positive"),
])
def test_values_are_checked_by_their_row(name, value, phrase):
    with pytest.raises(InputError, match=phrase):
        setting(name).value(value)


def test_zero_turns_an_option_off_and_steps_per_call_keeps_reports_on_whole_calls():
    config = apply_settings(preset_config("fast", "copy", "ntm-lstm"),
                            {"clip_norm": 0, "lr_decay_steps": 0, "head_clip": 0, "curriculum": 0})
    assert (config.optimizer.clip_norm, config.optimizer.decay_steps, config.model.head_clip, config.curriculum) == (
        None, None, None, None)
    config = apply_settings(preset_config("fast", "copy", "ntm-lstm"), {"steps_per_call": 7})
    assert config.report_every % 7 == 0
    assert apply_settings(preset_config("fast", "copy", "ntm-lstm"),
                          {"steps_per_call": 7, "report_every": 14}).report_every == 14


def test_train_compare_and_sweep_offer_every_setting_and_the_same_budget_options():
    flags = {row.flag for row in ALL_SETTINGS} | {"--steps", "--sequences", "--time"}
    for command in ("train", "compare", "sweep"):
        result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "250"})
        assert result.exit_code == 0
        shown = {word.strip("│,") for word in result.stdout.split() if word.startswith("--")}
        assert flags <= shown, (command, sorted(flags - shown))


def test_a_study_leaves_a_setting_out_of_the_runs_that_lack_it_and_says_so():
    study = Study("compare", ("copy",), models=("lstm", "ntm-lstm"), grid=(("memory", ("16x8",)),),
                  budget=Budget(sequences=40))
    assert study.settings_for("copy", "lstm") == [{}] and study.settings_for("copy", "ntm-lstm") == [{"memory": "16x8"}]
    assert study.ignored() == ["--memory does not apply to lstm; its runs keep the preset's."]
    config = study.config(Trial("copy", "ntm-lstm", {"memory": "16x8"}), seed=2)
    assert (config.model.memory_rows, config.model.memory_width, config.seed, config.steps) == (16, 8, 2, 40)
    # the same run `ntm train copy --memory 16x8 --sequences 40 --seed 2` makes
    assert config == build_config("copy", "ntm-lstm", "fast", 2, Budget(sequences=40), {"memory": "16x8"})


def test_a_grid_crosses_the_values_each_model_has():
    study = Study("sweep", ("copy",), models=("ntm-lstm", "lstm"),
                  grid=(("lr", (1e-3, 3e-4)), ("heads", (1, 2)), ("lstm_size", ("2x64",))))
    assert len(study.settings_for("copy", "ntm-lstm")) == 4 and len(study.settings_for("copy", "lstm")) == 2
    assert study.varied == ("lr", "heads")
    assert study.label({"lr": 3e-4, "lstm_size": "2x64"}) == "lr=0.0003"
    assert study.command(Trial("copy", "lstm", {"lr": 3e-4, "lstm_size": "2x64"})) == \
        "ntm train copy --model lstm --lr 0.0003 --lstm-size 2x64 --sequences 10000"


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_model_has_a_task_here(model):
    assert model_family(model) in TASK_OF  # the table's families are the models' families
    assert dataclasses.is_dataclass(preset_config("fast", TASK_OF[model_family(model)], model))


def test_the_learning_rate_decay_follows_a_budget_in_steps_or_sequences():
    """A preset whose schedule spans its own budget decays over the run's (a 2,000-step run
    decays over 2,000 steps, not the preset's 20,000); one the user gives, and a time budget (no
    step count to follow) keep theirs."""
    def decay(task, budget, settings=None, model="lstm"):
        return build_config(task, model, "fast", 0, budget, settings or {}).optimizer.decay_steps

    assert decay("copy", Budget(steps=2000)) == 2000
    assert decay("copy", Budget(sequences=5000), {"batch_size": 4}) == 1250
    assert decay("copy", Budget(time_limit=30.0)) == decay("copy", Budget()) == 20_000
    assert decay("copy", Budget(steps=2000), model="ntm-lstm") is None  # a constant rate stays constant
    assert decay("dynamic-ngrams", Budget(steps=100)) == 100
    assert decay("dynamic-ngrams", Budget(time_limit=60.0)) == 4_000  # the preset's own budget
    assert decay("copy", Budget(steps=100), {"lr_decay_steps": 50}) == 50
