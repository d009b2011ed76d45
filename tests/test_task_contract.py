"""A task is one class: a new one registered in one place works through evaluation, figures and
comparison tables without any of them naming it; and the package installs no generic top-level
module names."""

import dataclasses
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntm_cli.reports import figures
from ntm_cli.config import Budget
from ntm_cli.models.config import LSTMConfig
from ntm_cli.tasks import registry
from ntm_cli.tasks.base import Example, Reading, SizeAxis, Task, random_bits, size


@dataclasses.dataclass(frozen=True)
class InvertTask(Task):
    """Read bits, then write them inverted (a toy sixth task)."""

    name = "invert"
    aliases = ("inv",)
    summary = "write the complement of a bit sequence"
    axes = (SizeAxis("lengths", ("length",), "length {}", "sequence length"),)
    paper = {"lstm": Reading(1.0, "~1 (made up)")}

    length: int = size(3, "Bits per sequence.")

    @property
    def input_size(self):
        return 1

    @property
    def output_size(self):
        return 1

    @property
    def max_time(self):
        return 2 * self.length

    @property
    def chance_cost(self):
        return float(self.length)

    def input_labels(self):
        return ["bit"]

    def output_labels(self):
        return ["inverted"]

    def sample_one(self, key):
        bits = random_bits(key, (self.length, 1))
        zeros = jnp.zeros_like(bits)
        answer = jnp.concatenate([jnp.zeros(self.length), jnp.ones(self.length)])
        return Example(jnp.concatenate([bits, zeros]), jnp.concatenate([zeros, 1.0 - bits]), answer)

    def generalisation_sizes(self):
        return [{"lengths": 6}]


@pytest.fixture
def registered(monkeypatch):
    """InvertTask added to the registry, as its one line would add it."""
    monkeypatch.setattr(registry, "TASKS", registry.TASKS + (InvertTask,))
    monkeypatch.setattr(registry, "_BY_NAME", {**registry._BY_NAME, "invert": InvertTask})
    monkeypatch.setattr(registry, "ALIASES", {**registry.ALIASES, "inv": "invert"})


def test_a_new_task_works_through_evaluation_figures_and_tables(registered):
    task = registry.make_task("inv", length=4)
    assert task.name == "invert" and "inv" in registry.size_options()["length"][1]
    assert list(task.evaluation_variants()) == ["training sizes", "length 6"]
    assert task.evaluation_variants({"lengths": [2]})["length 2"].length == 2
    with pytest.raises(registry.TaskConfigError, match="--items does not apply to task invert, which takes --lengths"):
        task.evaluation_variants({"items": [3]})

    # a model trains on it and is scored at its generalisation size
    from flax import nnx

    from ntm_cli.training.evaluation import heldout_metrics
    from ntm_cli.models import build_model

    model = build_model(LSTMConfig(num_layers=1, hidden_size=8), task.input_size, task.output_size, jax.random.key(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    for label, variant in task.evaluation_variants().items():
        cost, errors, scores = heldout_metrics(graphdef, variant, 4, params, rest, (), jax.random.key(1))
        assert scores == {}
        assert cost.shape == (4,) and np.all(np.asarray(cost) > 0)

    # figures and tables ask the task, never its name
    result = {"task": "invert", "results": [
        {"label": "training sizes", "sizes": {"length": 4}, "cost": 1.0, "bit_errors": 0.5},
        {"label": "length 6", "sizes": {"length": 6}, "cost": 3.0, "bit_errors": 1.5}]}
    (line,), axis = figures.generalisation_series(result)
    assert axis == "sequence length" and list(line.x) == [6.0]
    assert figures.training_range("invert", {"length": 4}) == (4.0, 4.0)
    from ntm_cli.schema import MetricsRow, Summary
    from ntm_cli.studies.study import RowSource, SeedRun, Study, Trial, _row

    study = Study("compare", ("invert",), models=("lstm",), budget=Budget(sequences=5))
    summary = Summary(status="finished", run_dir="runs/invert-lstm-s0", task="invert", model="lstm", preset="fast",
                      seed=0, params=10, steps=5, budget_steps=5, sequences=5, final_eval_cost=2.0,
                      final_eval_bit_errors=1.0, best_eval_cost=2.0, best_step=5, wall_time=1.0, compile_seconds=1.0,
                      sequences_per_second=5.0, skipped_updates=0)
    curve = [MetricsRow(step=5, sequences=5, train_cost=2.0, train_bit_errors=1.0, eval_cost=2.0, eval_bit_errors=1.0,
                        wall_time=1.0, sequences_per_second=5.0, skipped_updates=0)]
    trial = Trial("invert", "lstm", {})
    source = RowSource(trial, study.label(trial.setting), study.seeds, study.command(trial), 0.0)
    row = _row(source, [SeedRun(0, summary, curve, False)], registry.make_task("invert"), equal_sequences=5.0)
    assert row.cost_at_equal_sequences == 2.0 and row.solved is None  # the toy task declares no solved rule
    assert row.paper_cost_text == "~1 (made up)" and row.command == "ntm train invert --model lstm --sequences 5"


def test_the_package_imports_tasks_and_experiments_under_its_own_name():
    """`tasks` and `experiments` are installed as ntm_cli.tasks and ntm_cli.experiments, so no
    module imports them by their generic top-level names (which a user's own modules may have)."""
    root = pathlib.Path(__file__).resolve().parent.parent
    generic = re.compile(r"^\s*(from|import)\s+(tasks|experiments)\b", re.MULTILINE)
    offenders = [str(path.relative_to(root)) for folder in ("ntm_cli", "tasks", "experiments", "tests")
                 for path in (root / folder).rglob("*.py") if generic.search(path.read_text())]
    assert offenders == []
