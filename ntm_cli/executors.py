"""Where training jobs run: here, one after another, or in worker processes, one per core.

A job trains new runs of a config (one or more seeds, in one compiled program) or continues a
run folder; either way it writes the ordinary run folders `ntm train` writes. The local pool is
the standard library's `ProcessPoolExecutor` with spawned workers, each pinned to one core: a
training uses one core (a second one does not make it faster, experiments/benchmarks/README.md),
so on the 2-core machine two trainings at once take about the time of one.

Stopping: Ctrl-C or SIGTERM reaches this process, which asks every worker to stop at its next
compiled call; each saves a checkpoint and its status, as `ntm train` does when interrupted,
and jobs not yet started are dropped (the same command resumes all of them).
"""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path
from typing import Any, Callable, NamedTuple

from ntm_cli.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class Job:
    """Make sure `runs_dir` holds a finished run of `config` for each of `seeds`: a finished one
    is reused, an unfinished one continued from its checkpoint, and the missing seeds trained
    together in one compiled program. Another process making the same runs is waited for."""

    label: str  # for progress lines: 'copy / ntm-lstm / seed 0 (60 s of training)'
    config: TrainConfig
    seeds: tuple[int, ...]
    runs_dir: Path


class Outcome(NamedTuple):
    """What became of a job: its runs' summaries, the signal that stopped it (None: it finished),
    or the error that ended it (one sentence)."""

    job: Job
    summaries: list[dict[str, Any]]
    stop_signal: int | None = None
    error: str | None = None


def default_workers() -> int:
    """Trainings at once on this machine: one per core this process may use, and at most one
    per 2 GB of memory (a worker holds JAX and one model: ~1-1.5 GB at the paper's sizes)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return cores
    return max(1, min(cores, memory // (2 * 1024**3)))


def run_job(job: Job, reporter, say: Callable[[str], None],
            should_stop: Callable[[], int] | None = None) -> Outcome:
    """Runs one job here, reporting progress to `reporter`; `should_stop` (a signal number, or 0
    to go on) is asked after every compiled call."""
    from ntm_cli import runs
    from ntm_cli.errors import NtmError
    from ntm_cli.sessions import Budget, new_session, resume_session

    configs = {seed: dataclasses.replace(job.config, seed=seed) for seed in job.seeds}
    claims = []
    try:
        for config in configs.values():  # no other comparison makes these runs meanwhile
            claims.append(runs.claim(job.runs_dir, config, lambda line: say(f"{job.label}: {line}")))
        summaries, missing = [], []
        for seed, config in configs.items():
            found = runs.find_run(job.runs_dir, config)
            if found is None:
                missing.append(seed)
            elif runs.status(found) == "finished":
                summaries.append(runs.read_summary(found))
            else:
                session = resume_session(found, Budget(), reporter)
                summaries += session.run(should_stop)
                if session.interrupted:
                    return Outcome(job, summaries, session.stop_signal or signal.SIGINT)
        if missing:
            session, _ = new_session(configs[missing[0]], missing, job.runs_dir, None, reporter)
            summaries += session.run(should_stop)
            if session.interrupted:
                return Outcome(job, summaries, session.stop_signal or signal.SIGINT)
    except NtmError as error:
        return Outcome(job, [], error=str(error))
    finally:
        for lock in claims:
            lock.release()
    return Outcome(job, summaries)


def run_here(jobs: list[Job], reporter, say: Callable[[str], None]) -> list[Outcome]:
    """Runs the jobs one after another in this process; stops at the first interrupted one."""
    outcomes = []
    for job in jobs:
        say(f"{job.label}: training")
        outcome = run_job(job, reporter, say)
        outcomes.append(outcome)
        if outcome.stop_signal is not None:
            break
    return outcomes


# --- worker processes ------------------------------------------------------------------------------

_stop = None  # in a worker: the shared signal number the parent sets to ask for a stop


def _start_worker(stop, cores) -> None:
    """A worker's set-up: Ctrl-C and SIGTERM are the parent's to handle (it asks through
    `stop`), and the worker keeps to one core."""
    global _stop
    _stop = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    core = cores.get()
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})


def _worker_run(job: Job) -> Outcome:
    from ntm_cli.output import say
    from ntm_cli.progress import PlainReporter
    from ntm_cli.output import error_console

    return run_job(job, PlainReporter(error_console, prefix=f"[{job.label}] "), lambda line: say(line, stderr=True),
                   lambda: _stop.value)


def run_pool(jobs: list[Job], workers: int, say: Callable[[str], None]) -> list[Outcome]:
    """Runs the jobs in `workers` processes, each pinned to one of this process' cores. Every
    job runs, whatever happens to the others; after Ctrl-C or SIGTERM the running ones stop at
    their next compiled call and the rest are dropped."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, wait

    from ntm_cli.train_loop import Stopped, sigterm_interrupts

    context = multiprocessing.get_context("spawn")
    stop = context.Value("i", 0)
    cores = context.Queue()
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    for i in range(workers):
        cores.put(available[i % len(available)] if available else None)
    outcomes: dict[int, Outcome] = {}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(stop, cores)) as pool:
        futures = {pool.submit(_worker_run, job): i for i, job in enumerate(jobs)}
        for job in jobs:
            say(f"{job.label}: queued")
        pending = set(futures)
        while pending:
            try:
                with sigterm_interrupts():
                    done, pending = wait(pending)
            except KeyboardInterrupt as interrupt:
                stop.value = interrupt.signum if isinstance(interrupt, Stopped) else signal.SIGINT
                for future in pending:
                    future.cancel()
                continue
            for future in done:
                job = jobs[futures[future]]
                if future.cancelled():
                    outcomes[futures[future]] = Outcome(job, [], stop_signal=stop.value)
                    continue
                try:
                    outcomes[futures[future]] = future.result()
                except Exception as error:  # a worker that died (out of memory, killed): reported, not fatal
                    outcomes[futures[future]] = Outcome(job, [], error=f"{type(error).__name__}: {error}")
                outcome = outcomes[futures[future]]
                say(f"{job.label}: " + ("failed: " + outcome.error if outcome.error else
                                        "stopped" if outcome.stop_signal else "finished"))
    return [outcomes[i] for i in sorted(outcomes)]
