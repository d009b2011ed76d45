"""A study: tasks x models x a grid of settings x seeds, every run with one budget.

`ntm compare` is the study whose grid is models (each task's own, or those given); `ntm sweep`
the study whose grid is settings. Both plan, train, collect and rank through this module:

    Study ──plan_jobs──> [Job] ──executors──> run folders ──collect──> StudyResults

Every run is the run `ntm train TASK --model MODEL --<setting> VALUE ... --seed S` would make
(its config built by `build_config`, the same config.json), so a finished run is found and
reused by its saved config whichever command made it, and an unfinished one is resumed.

A setting a model or task does not have (`--memory` for the LSTM baseline) is left out of that
model's runs, and `Study.ignored` says so; one that no run of the study has is refused. Every
seed trains alone, as a job of its own (`plan_jobs`). Rows are figures over seeds (medians with
intervals, solved k of K: `statistics`), ranked by the task's own criterion at the end (a class
task by wrong answers, the rest by cost), and judged against each other at equal sequences,
seed by seed (`verdicts`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import shlex
import statistics
from pathlib import Path
from typing import Any, Callable, NamedTuple

from ntm_cli import runs
from ntm_cli.config import Budget, DataFile, TrainConfig
from ntm_cli.errors import InputError
from ntm_cli.models.config import MODEL_NAMES, model_family
from ntm_cli.schema import RESULTS_VERSION, MetricsRow, ResultRow, StudyResults, Summary, TaskResults
from ntm_cli.settings import setting as setting_row
from ntm_cli.studies.executors import Job
from ntm_cli.studies.statistics import finite, solved_from, summarise, value_at
from ntm_cli.studies.verdicts import Figure, paper_verdict, ranking, verdict

Setting = dict[str, Any]  # setting name -> one value, as typed


class Trial(NamedTuple):
    """One group of runs: a model with one setting on one task (its seeds share all else)."""

    task: str
    model: str
    setting: Setting


@dataclasses.dataclass(frozen=True)
class Study:
    """What to train and with what budget.

    The budget is one of steps, sequences or time per run, the same on every task; none given:
    each task's own (`compare_budget` seconds, or `compare_sequences`, from the presets).
    """

    kind: str  # 'compare' or 'sweep': which command made it, for the results file
    tasks: tuple[str, ...]  # canonical names
    models: tuple[str, ...] | None = None  # None: each task's own (`Task.compare_models`)
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # (setting name, values), in the order given
    preset: str = "fast"
    seeds: int = 1
    budget: Budget = Budget()
    data: DataFile | None = None  # the archive of task 'data' (`--data`), whose targets are `data_kind`
    data_kind: str = "bits"

    def __post_init__(self) -> None:
        if not self.tasks:
            raise InputError("give at least one task.")
        if self.data is None and "data" in self.tasks:
            raise InputError("task data is read from an archive: give --data FILE instead.")
        if self.data is not None and self.tasks != ("data",):
            raise InputError("a study on an archive (--data) trains on its sequences alone; give no --tasks with it.")
        if len(set(self.tasks)) != len(self.tasks):
            raise InputError(f"a task is given twice: {', '.join(self.tasks)}.")
        if self.models is not None:
            if not self.models:
                raise InputError("give at least one model.")
            if len(set(self.models)) != len(self.models):
                raise InputError(f"a model is given twice: {', '.join(self.models)}.")
            for name in self.models:
                if name not in MODEL_NAMES:
                    raise InputError(f"Unknown model '{name}'; valid models are {', '.join(MODEL_NAMES)}.")
        if self.seeds < 1:
            raise InputError(f"--seeds must be at least 1, got {self.seeds}.")
        if len(self.budget.words()) > 1:
            raise InputError(f"give a study one budget, not {' and '.join(self.budget.words())}: every run of it "
                             "trains to the same one.")
        for name, values in self.grid:
            row = setting_row(name)
            if not values:
                raise InputError(f"{row.flag} needs at least one value.")
            if len(set(values)) != len(values):
                raise InputError(f"{row.flag} gives a value twice: {', '.join(map(str, values))}.")
            if not any(row.applies(task, model) for task in self.tasks for model in self.models_for(task)):
                models = ", ".join(dict.fromkeys(m for t in self.tasks for m in self.models_for(t)))
                raise InputError(f"{row.flag} applies to none of the runs ({models} on {', '.join(self.tasks)}).")

    def models_for(self, task: str) -> tuple[str, ...]:
        """The models trained on a task: those given, else the task's own."""
        from ntm_cli.tasks import task_class

        return self.models if self.models is not None else task_class(task).compare_models

    def settings_for(self, task: str, model: str) -> list[Setting]:
        """The product of the values of the grid's settings that the model and task have."""
        grid = [(name, values) for name, values in self.grid if setting_row(name).applies(task, model)]
        return [dict(zip([name for name, _ in grid], combo)) for combo in itertools.product(*[v for _, v in grid])]

    def ignored(self) -> list[str]:
        """A sentence per setting that some runs do not have ('--memory does not apply to lstm;
        its runs keep the preset's.')."""
        notes = []
        for name, _ in self.grid:
            row = setting_row(name)
            without = [f"{m} on {t}" if len(self.tasks) > 1 else m
                       for t in self.tasks for m in self.models_for(t) if not row.applies(t, m)]
            if without:
                notes.append(f"{row.flag} does not apply to {', '.join(without)}; "
                             f"{'those runs keep' if len(without) > 1 else 'its runs keep'} the preset's.")
        return notes

    def budget_for(self, task: str) -> Budget:
        """The budget of every run on a task: the one given, else the task's own."""
        from ntm_cli.experiments.presets import compare_budget, compare_sequences

        if self.budget.given:
            return self.budget
        seconds = compare_budget(self.preset, task)
        return Budget(time_limit=seconds) if seconds is not None else Budget(sequences=compare_sequences(task))

    @property
    def varied(self) -> tuple[str, ...]:
        """The settings given more than one value: what tells a task's rows of one model apart."""
        return tuple(name for name, values in self.grid if len(values) > 1)

    def label(self, setting: Setting) -> str:
        """'lr=0.001 batch-size=8': the row's values of the varied settings ('' if none varies)."""
        return label({name: value for name, value in setting.items() if name in self.varied})

    def trials(self) -> list[Trial]:
        return [Trial(task, model, setting) for task in self.tasks for model in self.models_for(task)
                for setting in self.settings_for(task, model)]

    def config(self, trial: Trial, seed: int) -> TrainConfig:
        """One run's config, exactly as `ntm train` builds it from the same options.

        Raises:
          InputError: a value the task or model cannot take, named.
        """
        from ntm_cli.studies.launch import build_config

        return build_config(trial.task, trial.model, self.preset, seed, self.budget_for(trial.task), trial.setting,
                            data=self.data, data_kind=self.data_kind)

    def command(self, trial: Trial) -> str:
        """The `ntm train` command that makes the trial's run of seed 0."""
        what = [trial.task] if self.data is None else ["--data", self.data.path]
        parts = ["ntm", "train", *what, "--model", trial.model]
        if self.preset != "fast":
            parts += ["--preset", self.preset]
        for name, value in trial.setting.items():
            parts += [setting_row(name).flag, _text(value)]
        budget = self.budget_for(trial.task)
        for flag, value in (("--steps", budget.steps), ("--sequences", budget.sequences),
                            ("--time", None if budget.time_limit is None else f"{budget.time_limit:g}s")):
            if value is not None:
                parts += [flag, str(value)]
        return shlex.join(parts)

    def check(self) -> int:
        """Builds every run's config before anything runs (a bad value stops the study here, with
        nothing written); returns the number of runs."""
        for trial in self.trials():
            self.config(trial, 0)
        return len(self.trials()) * self.seeds


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def label(setting: Setting) -> str:
    """'lr=0.001 batch-size=8', or '' for the preset's settings."""
    return " ".join(f"{name.replace('_', '-')}={_text(value)}" for name, value in setting.items())


def trial_label(study: Study, trial: Trial, seeds: list[int]) -> str:
    """'copy / ntm-lstm / lr=0.001 / seeds 0, 1 (2,000 sequences)' for progress lines."""
    parts = [trial.task, trial.model] + ([label(trial.setting)] if trial.setting else [])  # every value given
    parts.append(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}")
    return f"{' / '.join(parts)} ({study.budget_for(trial.task).text()})"


def plan_jobs(study: Study, runs_dir: Path, say: Callable[[str], None],
              tensorboard: bool = False) -> tuple[list[Job], set[str]]:
    """The training jobs that finish the study, and the finished run folders it reuses (each
    said so); a job makes sure of the rest (continuing unfinished runs, training missing seeds).
    `tensorboard`: the jobs' reports also go to TensorBoard event files (a reused run gets none).

    Every seed is a job of its own, trained alone, so that a seed's run is the run `ntm train
    --seed S` makes whoever else the study trains (seeds vmapped in one program round
    differently, and training amplifies the last bit), and the jobs spread over the workers, one
    per core. That is also the faster way on a CPU at small batches: at batch 1, 4 seeds vmapped
    on one device took 4.7-4.9x one seed's training (recall NTM-FF, copy NTM-LSTM; the benchmark
    record), where 4 seeds alone on 2 cores take 2x.
    """
    jobs, reused = [], set()
    for trial in study.trials():
        to_do = []
        for seed in range(study.seeds):
            found = runs.find_run(runs_dir, study.config(trial, seed))
            if found is not None and runs.status(found) in runs.DONE:
                say(f"{trial_label(study, trial, [seed])}: reusing {found}")
                reused.add(str(found))
            else:
                to_do.append(seed)
        for seed in to_do:
            jobs.append(Job(trial_label(study, trial, [seed]), study.config(trial, seed), (seed,), runs_dir,
                            tensorboard))
    return jobs, reused


class SeedRun(NamedTuple):
    """One finished seed of a trial: its summary and its learning curve."""

    seed: int
    summary: Summary
    curve: list[MetricsRow]
    reused: bool  # finished before this command started


def _finished(study: Study, trial: Trial, runs_dir: Path, reused: set[str]) -> list[SeedRun]:
    """The trial's finished seeds, in seed order."""
    out = []
    for seed in range(study.seeds):
        found = runs.find_run(runs_dir, study.config(trial, seed))
        summary = runs.read_summary(found) if found is not None else None
        if summary is not None and summary.status in runs.DONE:
            out.append(SeedRun(seed, dataclasses.replace(summary, run_dir=str(found)), runs.read_metrics(found),
                               str(found) in reused))
    return out


def _median(values: list[float | None]) -> float | None:
    """The median of the finite values (no interval: `summarise` where one is shown)."""
    kept = finite(values)
    return statistics.median(kept) if kept else None


def _mean(values: list[float | None]) -> float | None:
    kept = finite(values)
    return statistics.fmean(kept) if kept else None


def _equal_sequences(task, finished: list[list[SeedRun]], floors: list[float]) -> float | None:
    """Where rows are compared: the fewest sequences any seed that ends unsolved (and did not
    diverge) reached, so a fast model's extra training does not decide. A seed that ends solved
    (stopped by `--until solved`, say) keeps its last reading past its end, as it would have
    stayed solved; where every seed ends solved, the fewest any reached (who solved first).
    `floors`: each trial's (`RowSource.floor`)."""
    seeds = [(s, floor) for trial, floor in zip(finished, floors, strict=True) for s in trial
             if s.summary.status != "diverged"]  # those stopped early
    unsolved = [s.summary.sequences for s, floor in seeds if _to_solve(task, s.curve, floor) is None]
    reached = unsolved or [s.summary.sequences for s, _ in seeds]
    return float(min(reached)) if reached else None


def _to_solve(task, curve: list[MetricsRow], floor: float) -> MetricsRow | None:
    """The report from which the task's solved rule held to the end of the run, if it holds;
    `floor`: the held-out batch's (`heldout_floor`)."""
    if task.solved is None:
        return None
    first = solved_from([task.solved.holds(m.eval_cost, m.eval_bit_errors, m.eval_scores, floor) for m in curve])
    return None if first is None else curve[first]


class RowSource(NamedTuple):
    """What a row is made from besides its seeds: its trial, name, command and floor."""

    trial: Trial
    label: str  # the settings that tell it apart from the task's other rows of its model
    seeds_planned: int
    command: str  # the `ntm train` command that makes seed 0's run
    floor: float  # what its held-out costs are measured against (`row_floor`)


def row_floor(task, config: TrainConfig) -> float:
    """The floor a row's held-out costs are measured against: the optimal predictor's cost on its
    runs' held-out batch (`trainer.heldout_floor`, at the sizes and batch size of `config`) where
    `task` (the table's) computes it, else the task's expected floor. JAX is imported, and the
    run's task made, only where there is a batch to measure."""
    if not task.heldout().computes_optimal_costs:
        return task.floor_cost()
    from ntm_cli.training.data import task_of
    from ntm_cli.training.trainer import heldout_floor

    return heldout_floor(task_of(config), config.eval_batch_size)


def _row(source: RowSource, seeds: list[SeedRun], task, equal_sequences: float | None) -> ResultRow:
    trial = source.trial
    summaries = [s.summary for s in seeds]
    gone = [s.status == "diverged" for s in summaries]  # not solved; their figures never enter a median
    costs = [None if out else s.final_eval_cost for s, out in zip(summaries, gone)]
    errors = [None if out else s.final_eval_bit_errors for s, out in zip(summaries, gone)]
    cost, error = summarise(costs), summarise(errors)
    solved = [_to_solve(task, s.curve, source.floor) for s in seeds]
    at_equal = {field: [None if equal_sequences is None or out else
                        value_at([(m.sequences, getattr(m, field)) for m in s.curve], equal_sequences)
                        for s, out in zip(seeds, gone)]
                for field in ("eval_cost", "eval_bit_errors")}
    paper = task.paper.get(model_family(trial.model))
    return ResultRow(
        task=trial.task, model=trial.model, setting=dict(trial.setting), label=source.label,
        seeds=len(seeds), seeds_planned=source.seeds_planned, seed_numbers=tuple(s.seed for s in seeds),
        reused=sum(s.reused for s in seeds),
        params=summaries[0].params if summaries else None,
        cost=cost.median if cost else None, cost_interval=(cost.low, cost.high) if cost else None,
        cost_iqm=cost.iqm if cost else None, cost_mean=cost.mean if cost else None,
        cost_std=cost.std if cost else None, seed_costs=tuple(costs),
        bit_errors=error.median if error else None, bit_errors_interval=(error.low, error.high) if error else None,
        seed_bit_errors=tuple(errors),
        best_cost=_median([s.best_eval_cost for s in summaries]),
        scores={score.key: value for score in task.scores
                if (value := _median([s.final_eval_scores.get(score.key) for s in summaries])) is not None},
        solved=None if task.solved is None else sum(m is not None for m in solved),
        seed_solved=tuple(m is not None for m in solved),
        sequences_to_solve=_median([m.sequences for m in solved if m is not None]),
        seconds_to_solve=_median([m.wall_time for m in solved if m is not None]),
        cost_at_equal_sequences=_median(at_equal["eval_cost"]),
        seed_costs_at_equal_sequences=tuple(at_equal["eval_cost"]),
        errors_at_equal_sequences=_median(at_equal["eval_bit_errors"]),
        seed_errors_at_equal_sequences=tuple(at_equal["eval_bit_errors"]),
        sequences=_mean([s.sequences for s in summaries]),
        wall_time=_mean([s.wall_time for s in summaries]),
        sequences_per_second=_mean([s.sequences_per_second for s in summaries]),
        paper_cost=paper.value if paper else None,
        paper_cost_text=paper.text if paper else None,
        rank=None,
        command=source.command,
        run_dirs=tuple(s.run_dir for s in summaries),
        diverged=sum(gone),
        seed_diverged=tuple(gone),
    )


def collect(study: Study, runs_dir: Path, reused: set[str] = frozenset()) -> StudyResults:
    """The study's results from its finished run folders: a row per trial (figures over its
    finished seeds), ranked within each task by the task's criterion at the end, with verdicts
    read at equal sequences. `reused`: the run folders an earlier command had finished."""
    from ntm_cli.training.data import task_of

    tasks = {}
    for task_name in study.tasks:
        trials = [t for t in study.trials() if t.task == task_name]
        # The task at the sizes its runs train at (its chance and floor depend on them; where a
        # grid varies a size, the first setting's), or the archive's.
        task = task_of(study.config(trials[0], 0))
        sources = [RowSource(t, study.label(t.setting), study.seeds, study.command(t),
                             row_floor(task, study.config(t, 0))) for t in trials]
        finished = [_finished(study, trial, runs_dir, reused) for trial in trials]
        tasks[task_name] = task_results(task, sources, finished, study.budget_for(task_name),
                                        with_paper=not study.varied)
    return StudyResults(
        version=RESULTS_VERSION,
        kind=study.kind,
        preset=study.preset,
        seeds=study.seeds,
        models=tuple(dict.fromkeys(m for t in study.tasks for m in study.models_for(t))),
        grid={name: list(values) for name, values in study.grid if name in study.varied},
        fixed={name: values[0] for name, values in study.grid if name not in study.varied},
        tasks=tasks,
    )


def task_results(task, sources: list[RowSource], finished: list[list[SeedRun]], budget: Budget | None,
                 with_paper: bool = True) -> TaskResults:
    """One task's rows (one per source, over its finished seeds), ranked by the task's criterion
    at the end, with verdicts read at equal sequences. `budget`: the runs' shared budget (None:
    each run's own). The Bayes-optimal row is the first source's floor (rows differ only where
    their held-out batches do)."""
    equal_sequences = _equal_sequences(task, finished, [source.floor for source in sources])
    figure = ranking(task.output_kind)
    rows = _ranked([_row(source, seeds, task, equal_sequences) for source, seeds in zip(sources, finished)], figure)
    best = rows[0] if rows and rows[0].rank is not None else None
    return TaskResults(
        budget=budget.text() if budget is not None else "each run's own budget",
        time_limit=budget.time_limit if budget is not None else None,
        sequences=budget.sequences if budget is not None else None,
        steps=budget.steps if budget is not None else None,
        chance_cost=task.chance_cost,
        floor_cost=(sources[0].floor if sources else task.floor_cost()) or None,
        floor_text=task.paper_floor,
        output_kind=task.output_kind,
        ranked_by=figure.field,
        unit=figure.unit,
        scores=tuple((score.key, score.label) for score in task.scores),
        score_notes=task.score_notes(budget.sequences) if budget is not None and budget.sequences else {},
        solved_rule=task.solved_text(),
        equal_sequences=equal_sequences,
        rows=tuple(rows),
        best=best.name if best else None,
        best_command=best.command if best else None,
        verdict=verdict(rows, figure, equal_sequences),
        paper_verdict=paper_verdict(task.paper_order, rows, figure) if with_paper else None,
    )


class _Run(NamedTuple):
    path: Path
    config: TrainConfig
    summary: Summary


def collect_runs(run_dirs: list[Path]) -> StudyResults:
    """The results of run folders trained by any command (`ntm compare RUN...`): the runs of one
    model on one task with one config (all but the seed) are one row, each run a seed, ranked and
    judged as a study's rows are; a model's rows are told apart by the values that differ
    between them (as `ntm plot` draws a line per config).

    Raises:
      InputError (RunFolderError among them): a folder given twice, one that is no run folder,
        is damaged or has not finished, or two runs of one seed with one config.
    """
    from ntm_cli.training.data import task_of

    loaded: list[_Run] = []
    for path in run_dirs:
        if any(path.resolve() == other.path.resolve() for other in loaded):
            raise InputError(f"{path} is given twice.")
        config, summary = runs.done_run(path, runs.DONE, f"finish it with `ntm train --resume {path}`, or leave it out.")
        loaded.append(_Run(path, config, dataclasses.replace(summary, run_dir=str(path))))
    archives = {run.config.data.sha256: run for run in loaded if run.config.data is not None}
    if len(archives) > 1:
        one, other = list(archives.values())[:2]
        raise InputError(f"{one.path} and {other.path} trained on different archives ({one.config.data.path} and "
                         f"{other.config.data.path}); compare the runs of one archive at a time.")
    firsts: dict[str, _Run] = {}
    for run in loaded:  # a task's chance, floor and solved rule depend on its sizes: one set per table
        first = firsts.setdefault(run.config.task, run)
        if run.config.task_sizes != first.config.task_sizes:
            raise InputError(f"{first.path} and {run.path} are runs of {run.config.task} at other sizes "
                             f"({first.config.task_sizes} against {run.config.task_sizes}); compare one set of sizes "
                             "at a time.")
    groups: dict[tuple[str, str, str], list[_Run]] = {}  # (task, model, config but the seed): a row
    for run in loaded:
        flat = _flat(dataclasses.replace(run.config, seed=0).to_dict())
        groups.setdefault((run.config.task, run.config.model_name, json.dumps(flat, sort_keys=True)), []).append(run)
    tasks = {}
    for task_name in dict.fromkeys(task for task, _, _ in groups):
        task_groups = [(model, members) for (task, model, _), members in groups.items() if task == task_name]
        first = task_groups[0][1][0].config
        task = task_of(first)  # an archive's (read again and checked), or the generator at the runs' sizes
        sources, finished = [], []
        for model, members in task_groups:
            members = sorted(members, key=lambda run: run.config.seed)
            _check_seeds(model, task_name, members)
            trial = Trial(task_name, model, {})
            same_model = [others[0].config for name, others in task_groups if name == model]
            label = _difference(members[0].config, same_model)
            if any(source.trial.model == model and source.label == label for source in sources):
                label = f"{label} ({members[0].path.name})".strip()  # values that print alike: the folder tells
            sources.append(RowSource(trial, label, len(members), "", row_floor(task, members[0].config)))
            finished.append([SeedRun(run.config.seed, run.summary, runs.read_metrics(run.path), False)
                             for run in members])
        budgets = {_budget_of(run.config) for _, members in task_groups for run in members}
        tasks[task_name] = task_results(task, sources, finished, budgets.pop() if len(budgets) == 1 else None)
    presets = {run.config.preset for run in loaded}
    return StudyResults(
        version=RESULTS_VERSION, kind="runs", preset=presets.pop() if len(presets) == 1 else "mixed",
        seeds=max(len(members) for members in groups.values()),
        models=tuple(dict.fromkeys(model for _, model, _ in groups)), grid={}, fixed={}, tasks=tasks,
    )


def _budget_of(config: TrainConfig) -> Budget:
    """The budget a run was given, in sequences (and time, where it had one)."""
    if config.time_only:
        return Budget(time_limit=config.time_limit)
    return Budget(sequences=config.steps * config.batch_size, time_limit=config.time_limit)


def _check_seeds(model: str, task: str, members: list[_Run]) -> None:
    """The runs of one row (one config) must each be another seed."""
    for previous, run in zip(members, members[1:]):
        if previous.config.seed == run.config.seed:
            raise InputError(f"{previous.path} and {run.path} are both seed {run.config.seed} of {model} on {task} "
                             "with one config; give one of them.")


def _difference(config: TrainConfig, same_model: list[TrainConfig]) -> str:
    """A row's label among the rows of its model on its task: its values of the config fields
    that differ among them ('learning-rate=0.001 steps=20000'); '' for a model's only row."""
    flats = [{key: json.dumps(value) for key, value in _flat(other.to_dict()).items()} for other in same_model]
    mine = _flat(config.to_dict())
    keys = sorted({key for flat in flats for key in flat if key != "seed" and any(
        other.get(key) != flat.get(key) for other in flats)})  # as the rows were told apart: by JSON
    return " ".join(f"{key.split('.')[-1].replace('_', '-')}={_text(mine.get(key))}" for key in keys)


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'optimizer': {'learning_rate': 0.001}} -> {'optimizer.learning_rate': 0.001}."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "task_sizes":
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _ranked(rows: list[ResultRow], figure: Figure) -> list[ResultRow]:
    """Rows with a figure first, best first, ranked 1, 2, ...; rows without one (no finished
    seed) last, unranked."""
    scored = sorted((r for r in rows if getattr(r, figure.field) is not None), key=lambda r: getattr(r, figure.field))
    return ([dataclasses.replace(r, rank=i) for i, r in enumerate(scored, 1)]
            + [r for r in rows if getattr(r, figure.field) is None])
