"""The host loop: runs compiled chunks, reports, evaluates, checkpoints, resumes, handles Ctrl-C
and SIGTERM.

Each seed has its own run folder; seeds trained together share one compiled program. Reports
fall on multiples of `report_every` (itself a multiple of the chunk size), and every report
writes a metrics line, the latest checkpoint (and the best one when the held-out cost improves)
and the summary, and goes to the session's `EventLog` if it has one (TensorBoard's event files,
`ntm_cli.reports.events`). A checkpoint holds the training state and the running sums of the
current report interval, so a resumed run reports exactly what an uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import time
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import jax
import numpy as np

from ntm_cli import runs
from ntm_cli.config import TrainConfig
from ntm_cli.errors import InputError, RunFolderError, StorageError
from ntm_cli.schema import MetricsRow, Summary
from ntm_cli.training.checkpoints import LoopState, RunProgress, load_checkpoint, save_checkpoint
from ntm_cli.training.trainer import Pace, Trainer, learning_rate_at


class Stopped(KeyboardInterrupt):
    """A stop asked for by a signal other than Ctrl-C's own KeyboardInterrupt: SIGTERM (a
    scheduler stopping the job, `kill`), or a parent process passing a signal on. Handled as
    Ctrl-C is."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def sigterm_interrupts():
    """Within the block, SIGTERM raises `Stopped`, so that a run stopped by a batch scheduler
    saves a checkpoint and its status as after Ctrl-C instead of dying mid-interval. The
    previous handler comes back afterwards; off the main thread signals are left alone."""

    def handler(signum, frame):
        raise Stopped(signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # signal handlers can only be set from the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Reporter(Protocol):
    """Where progress goes: a Rich progress bar, plain lines, or nothing."""

    def note(self, line: str) -> None: ...  # a line of its own: before compiling, a diverged seed

    def start(self, info: dict[str, Any]) -> None: ...

    def report(self, records: list[MetricsRow]) -> None: ...

    def finish(self, summaries: list[Summary]) -> None: ...


class EventLog(Protocol):
    """Where every report also goes, beside metrics.jsonl: TensorBoard's event files
    (`reports.events.TensorBoardEvents`)."""

    def open(self, run_dirs: list[Path], done_sequences: int, trainer: Trainer) -> None: ...

    def write(self, index: int, row: MetricsRow, learning_rate: float, gradient_norm: float | None,
              state: Any) -> None: ...  # seed `index`'s report; `state`: the TrainState, `[S, ...]`

    def close(self) -> None: ...


# --- the loop ---------------------------------------------------------------------------------------


class TrainingSession:
    """Trains one TrainConfig for one or more seeds, each in its own run folder."""

    def __init__(self, config: TrainConfig, seeds: Sequence[int], reporter: Reporter,
                 devices: list | None = None, compile: bool = True, events: EventLog | None = None):
        """Builds and initialises the models and compiles the training (`compile` False: on the
        first call of `compile` or `run`); `attach` then names the run folders. Every report
        also goes to `events`, opened and closed by `run`, where one is given.

        Raises:
          InputError: the configuration cannot fit this machine's memory (so no run folder is
            made for it).
        """
        self.config = config
        self.reporter = reporter
        self.trainer = Trainer(config, seeds, devices)
        self.seeds = self.trainer.seeds
        self.state = self.trainer.initial_state()
        if compile:
            self.compile()
        self.loop = LoopState(pending_cost=np.zeros(len(seeds)), pending_errors=np.zeros(len(seeds)),
                              pending_gradient_norm=np.zeros(len(seeds)))
        self.events = events
        self.progress: list[RunProgress] = []
        self.locks: list[runs.Lock] = []
        self.interrupted = False
        self.stop_signal: int | None = None  # signal.SIGINT or SIGTERM when interrupted

    def compile(self) -> None:
        """Compiles the training step (seconds; a line says so first, once the sizes are known to
        fit), and checks that the programs fit this machine's memory."""
        if self.trainer.compiled:
            return
        count = len(self.seeds)
        self.reporter.note(f"compiling the training step for {self.config.model_name} on {self.config.task}, "
                           f"batch {self.config.batch_size}" + (f", {count} seeds" if count > 1 else "") + " ...")
        self.trainer.compile(self.state)

    def attach(self, run_dirs: list[Path], locks: list[runs.Lock] | None = None) -> None:
        """The run folders (one per seed, in order) that reports and checkpoints go to. Each is
        locked for this process until `run` ends (`locks`: those its caller already holds), and
        cleared of what an interrupted write left.

        Raises:
          RunFolderError: another live process is training one of them.
        """
        if len(run_dirs) != len(self.seeds):
            raise ValueError("one run folder per seed")
        self.locks = list(locks or [])
        try:
            for run_dir in run_dirs[len(self.locks):]:
                self.locks.append(runs.lock_run(run_dir))
        except RunFolderError:
            self.release()
            raise
        for run_dir in run_dirs:
            runs.remove_leftovers(run_dir)
        self.progress = [RunProgress(run_dir) for run_dir in run_dirs]

    def release(self) -> None:
        """Lets other processes train these runs again."""
        for lock in self.locks:
            lock.release()
        self.locks = []

    @classmethod
    def resume(cls, run_dir: Path, reporter: Reporter, steps: int | None = None, time_limit: float | None = None,
               devices: list | None = None, events: EventLog | None = None):
        """Continues the run in `run_dir` from its latest checkpoint (optionally with a new budget),
        on any number of devices."""
        config = with_budget(runs.read_config(run_dir), steps, time_limit)
        session = cls(config, [config.seed], reporter, devices, compile=False, events=events)
        session.attach([run_dir])
        try:
            session._restore(run_dir, steps, time_limit)  # a damaged file says so before compiling
            session.compile()
            if steps is not None or time_limit is not None:
                runs.write_config(run_dir, config, devices=session.trainer.devices_used)  # the new budget, recorded
        except BaseException:
            session.release()
            raise
        return session

    def _restore(self, run_dir: Path, steps: int | None, time_limit: float | None) -> None:
        """The state, counters and metrics of the run's latest checkpoint; the new budget checked."""
        one_seed = jax.tree.map(lambda x: x[0], self.state)
        restored, meta = load_checkpoint(runs.checkpoint_path(run_dir, "latest"), one_seed)
        self.state = self.trainer.place(jax.tree.map(lambda x: x[None], restored))
        done_steps, done_time = int(meta["step"]), float(meta["wall_time"])
        if steps is not None and steps <= done_steps:
            raise InputError(f"the run has done {done_steps:,} steps already; give a larger total than that.")
        if time_limit is not None and time_limit <= done_time:
            raise InputError(f"the run has trained for {done_time:.1f} s already; give a longer total time than that.")
        self.loop = LoopState(
            step=int(meta["step"]),
            wall_time=float(meta["wall_time"]),
            pending_cost=np.array([meta["pending_cost"]]),
            pending_errors=np.array([meta["pending_errors"]]),
            pending_gradient_norm=np.array([meta.get("pending_gradient_norm", 0.0)]),
            pending_steps=int(meta["pending_steps"]),
            interval_time=float(meta["interval_time"]),
        )
        progress = self.progress[0]
        progress.best_eval_cost = float(meta["best_eval_cost"])
        progress.best_eval_errors = float(meta.get("best_eval_errors", math.inf))
        progress.solved_streak = int(meta.get("solved_streak", 0))
        progress.best_step = int(meta["best_step"])
        progress.last_eval_cost = float(meta["last_eval_cost"])
        progress.last_eval_bit_errors = float(meta["last_eval_bit_errors"])
        progress.last_eval_scores = {k: float(v) for k, v in meta.get("last_eval_scores", {}).items()}
        progress.skipped_at_report = int(np.asarray(self.state.skipped)[0])  # checkpoints are saved at reports
        runs.truncate_metrics(run_dir, self.loop.step)

    # --- reporting helpers ------------------------------------------------------------------

    def _record(self, index: int, eval_cost: float, eval_errors: float, scores: dict[str, float]) -> MetricsRow:
        loop = self.loop
        steps = loop.pending_steps
        sequences = steps * self.config.batch_size
        return MetricsRow(
            step=loop.step,
            sequences=loop.step * self.config.batch_size,
            train_cost=_finite_or_none(float(loop.pending_cost[index]) / steps) if steps else None,
            train_bit_errors=_finite_or_none(float(loop.pending_errors[index]) / steps) if steps else None,
            eval_cost=_finite_or_none(eval_cost),
            eval_bit_errors=_finite_or_none(eval_errors),
            wall_time=round(loop.wall_time, 3),
            sequences_per_second=round(sequences / loop.interval_time, 1) if loop.interval_time > 0 else None,
            skipped_updates=int(self.state.skipped[index]),
            eval_scores=scores,
            curriculum_stage=int(self.state.pace.stage[index]) if isinstance(self.state.pace, Pace) else None,
        )

    def summary(self, index: int, status: str) -> Summary:
        progress, loop = self.progress[index], self.loop
        return Summary(
            status=status,
            run_dir=str(progress.run_dir),
            task=self.config.task,
            model=self.config.model_name,
            preset=self.config.preset,
            seed=self.seeds[index],
            params=self.trainer.params_count,
            steps=loop.step,
            budget_steps=self.config.steps,
            sequences=loop.step * self.config.batch_size,
            final_eval_cost=_finite_or_none(progress.last_eval_cost),
            final_eval_bit_errors=_finite_or_none(progress.last_eval_bit_errors),
            best_eval_cost=_finite_or_none(progress.best_eval_cost),
            best_step=progress.best_step if progress.best_step >= 0 else None,
            wall_time=round(loop.wall_time, 3),
            compile_seconds=round(self.trainer.compile_seconds, 3),
            sequences_per_second=round(loop.step * self.config.batch_size / loop.wall_time, 1)
            if loop.wall_time > 0 else None,
            skipped_updates=int(self.state.skipped[index]),
            final_eval_scores=progress.last_eval_scores,
            diverged_step=progress.diverged_step,
            diverged_reason=progress.diverged,
        )

    def _report(self, status: str = "running") -> None:
        eval_cost, eval_errors, counts = jax.tree.map(np.asarray, self.trainer.evaluate(self.state))
        records = []
        for i, progress in enumerate(self.progress):
            scores = accuracies({key: (right[i], total[i]) for key, (right, total) in counts.items()})
            record = self._record(i, float(eval_cost[i]), float(eval_errors[i]), scores)
            records.append(record)
            if progress.diverged is not None:  # stopped: its record ended at the divergence
                continue
            runs.append_metrics(progress.run_dir, record)
            self._write_events(i, record)
            why = self._diverged(float(eval_cost[i]), int(self.state.skipped[i]) - progress.skipped_at_report)
            progress.skipped_at_report = int(self.state.skipped[i])
            if why is not None:
                progress.diverged, progress.diverged_step = why, self.loop.step
                progress.last_eval_cost, progress.last_eval_bit_errors = math.nan, math.nan
                progress.solved_streak = 0
                self.reporter.note(f"seed {self.seeds[i]} diverged at step {self.loop.step:,}: {why}; it is "
                                   "stopped and counted as not solved.")
                continue
            progress.last_eval_cost, progress.last_eval_bit_errors = float(eval_cost[i]), float(eval_errors[i])
            progress.last_eval_scores = scores
            solved = self.trainer.task.solved
            meets = solved is not None and solved.holds(record.eval_cost, record.eval_bit_errors, scores,
                                                        self.trainer.floor)
            progress.solved_streak = progress.solved_streak + 1 if meets else 0
            if self._better(record, progress):
                progress.best_eval_cost, progress.best_step = record.eval_cost, self.loop.step
                progress.best_eval_errors = record.eval_bit_errors
        self.loop.pending_cost[:] = 0.0
        self.loop.pending_errors[:] = 0.0
        self.loop.pending_gradient_norm[:] = 0.0
        self.loop.pending_steps = 0
        self.loop.interval_time = 0.0
        for i, progress in enumerate(self.progress):
            if progress.diverged is None or progress.diverged_step == self.loop.step:
                self._save(i, "diverged" if progress.diverged else status, best=progress.best_step == self.loop.step)
        self.reporter.report(records)

    def _write_events(self, index: int, record: MetricsRow) -> None:
        """Seed `index`'s report to the event log, with the learning rate of the next update and
        the mean gradient norm of the interval's updates (the skipped steps made none)."""
        if self.events is None:
            return
        loop = self.loop
        skipped = int(self.state.skipped[index])
        updates = loop.pending_steps - (skipped - self.progress[index].skipped_at_report)
        norm = float(loop.pending_gradient_norm[index]) / updates if updates > 0 else None
        rate = learning_rate_at(self.config.optimizer, loop.step - skipped)
        self.events.write(index, record, rate, norm, self.state)

    def _diverged(self, eval_cost: float, skipped: int) -> str | None:
        """Why a seed's training has diverged at this report, or None: a held-out cost that is not
        a number or is over DIVERGED_FACTOR x chance, or no update since the last report (every one
        non-finite, so skipped)."""
        chance = self.trainer.task.chance_cost
        if not math.isfinite(eval_cost):
            return "its held-out cost is not a finite number"
        if self.loop.pending_steps and skipped >= self.loop.pending_steps:
            return f"every update of the last {skipped:,} steps was non-finite (skipped)"
        if eval_cost > DIVERGED_FACTOR * chance:
            return f"its held-out cost ({eval_cost:,.4g} bits/seq) is over {DIVERGED_FACTOR:g}x chance ({chance:g})"
        return None

    def _better(self, record: MetricsRow, progress: RunProgress) -> bool:
        """Whether a report beats the best checkpoint: a lower held-out cost; for a class task
        fewer wrong answers, then a lower cost (its models are ranked so: a memory's answer has no
        calibrated probability)."""
        if self.trainer.task.output_kind == "class":
            return (record.eval_bit_errors, record.eval_cost) < (progress.best_eval_errors, progress.best_eval_cost)
        return record.eval_cost < progress.best_eval_cost

    def _save(self, index: int, status: str, best: bool = False) -> None:
        progress = self.progress[index]
        save_checkpoint(runs.checkpoint_path(progress.run_dir, "latest"), self.state, index, self.loop, progress)
        if best:
            save_checkpoint(runs.checkpoint_path(progress.run_dir, "best"), self.state, index, self.loop, progress)
        runs.write_summary(progress.run_dir, self.summary(index, status))

    # --- the loop ---------------------------------------------------------------------------

    def run(self, should_stop: Callable[[], int] | None = None) -> list[Summary]:
        """Trains until the step or time budget is spent, or Ctrl-C or SIGTERM, or `should_stop`
        (asked after every compiled call) returns a signal number; returns each seed's summary.
        An interrupted run saves its checkpoint and status, and says so in `interrupted` and
        `stop_signal`."""
        try:
            if self.events is not None:
                self.events.open([p.run_dir for p in self.progress], self.loop.step * self.config.batch_size,
                                 self.trainer)
            return self._run(should_stop)
        finally:
            if self.events is not None:
                self.events.close()
            self.release()

    def _run(self, should_stop: Callable[[], int] | None) -> list[Summary]:
        config, loop = self.config, self.loop
        self.reporter.start({"config": config, "seeds": self.seeds, "params": self.trainer.params_count,
                             "run_dirs": [p.run_dir for p in self.progress], "start_step": loop.step})
        try:
            with sigterm_interrupts():
                self._loop(should_stop)
            status = "finished"
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM and passed-on signals (Stopped)
            self.interrupted = True
            self.stop_signal = stop.signum if isinstance(stop, Stopped) else signal.SIGINT
            status = "interrupted"
        except StorageError:  # a full disk: the last whole checkpoint stays; say so if the disk lets us
            self.interrupted = True
            for i in range(len(self.seeds)):
                with contextlib.suppress(StorageError):
                    runs.write_summary(self.progress[i].run_dir, self.summary(i, "interrupted"))
            raise
        summaries = []
        for i, progress in enumerate(self.progress):
            if progress.diverged is None:  # a diverged seed's record ends where it diverged
                self._save(i, status)
            summaries.append(self.summary(i, status if progress.diverged is None else "diverged"))
        self.reporter.finish(summaries)
        return summaries

    def _loop(self, should_stop: Callable[[], int] | None) -> None:
        """Compiled calls, reports and checkpoints until the budget is spent. A call runs at most
        K steps and never past the next report or the budget; the first runs one step, and each
        later one as many as `next_call_steps` fits in CALL_SECONDS at the pace measured, so that
        Ctrl-C, SIGTERM and a time budget are answered within about that, whatever K is."""
        config, loop = self.config, self.loop
        self.compile()
        if loop.step == 0 and not runs.read_metrics(self.progress[0].run_dir):
            self._report()  # the untrained model: the curve's first point
        call_steps = 1
        while (loop.step < config.steps and not self._out_of_time() and not self._solved()
               and not all(p.diverged for p in self.progress)):
            previous = loop.step
            end = min(previous + call_steps, config.steps, (previous // config.report_every + 1) * config.report_every)
            started = time.perf_counter()
            state, metrics = self.trainer.train_chunk(self.state, previous, end)
            active = np.asarray(metrics.active[0])
            cost, errors = np.asarray(metrics.cost), np.asarray(metrics.bit_errors)  # waits for the chunk
            norms = np.asarray(metrics.gradient_norm)  # [S, K]
            elapsed = time.perf_counter() - started
            self.state = state
            for j in np.flatnonzero(active):  # step by step: the sums do not depend on how calls split
                loop.pending_cost += cost[:, j].astype(np.float64)
                loop.pending_errors += errors[:, j].astype(np.float64)
                kept = np.isfinite(norms[:, j]) & np.isfinite(cost[:, j])  # a skipped step's are not finite
                loop.pending_gradient_norm += np.where(kept, norms[:, j], 0.0).astype(np.float64)
            loop.pending_steps += int(active.sum())
            loop.step = end
            loop.wall_time += elapsed
            loop.interval_time += elapsed
            call_steps = next_call_steps(end - previous, elapsed, config.steps_per_call)
            if end % config.report_every == 0 or end >= config.steps:
                self._report()
            signum = should_stop() if should_stop is not None else 0
            if signum:
                raise Stopped(signum)
        if loop.pending_steps:
            self._report()  # a time budget ended between reports

    def _solved(self) -> bool:
        """With `--until solved`: every seed has met the solved rule at enough reports in a row."""
        needed = self.config.until_solved
        return needed is not None and all(p.solved_streak >= needed for p in self.progress if not p.diverged)

    def _out_of_time(self) -> bool:
        return self.config.time_limit is not None and self.loop.wall_time >= self.config.time_limit


# How long one compiled call should take at most, in seconds: the host answers signals, checks the
# time budget and reports only between calls.
CALL_SECONDS = 1.0


def next_call_steps(steps: int, elapsed: float, most: int) -> int:
    """Steps for the next compiled call after one that ran `steps` steps in `elapsed` seconds: as
    many as fit CALL_SECONDS at that pace, between 1 and `most` (the compiled K)."""
    if elapsed <= 0:
        return most
    return max(1, min(most, int(steps * CALL_SECONDS / elapsed)))


def with_budget(config: TrainConfig, steps: int | None, time_limit: float | None) -> TrainConfig:
    """A run's config with a new total budget: a step count replaces a time limit unless one is
    given too; a time alone keeps the step count."""
    if steps is not None:
        return dataclasses.replace(config, steps=steps, time_limit=time_limit)
    if time_limit is not None:
        return dataclasses.replace(config, time_limit=time_limit)
    return config


def accuracies(counts: dict[str, tuple[Any, Any]]) -> dict[str, float]:
    """{score: (right answers, answers)} -> {score: accuracy}, for the scores with any answers."""
    return {key: float(right) / float(total) for key, (right, total) in counts.items() if float(total) > 0}


# A held-out cost above this many times the task's chance cost is a diverged run, not a slow one
# (the worst seen while training normally: ~4x, a curriculum's early stages tested on the full task).
DIVERGED_FACTOR = 10.0


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
