"""Where training jobs run: here, one after another, or in worker processes, one per core.

A job trains new runs of a config (one or more seeds, in one compiled program) or continues a
run folder; either way it writes the ordinary run folders `ntm train` writes. The local pool is
the standard library's `ProcessPoolExecutor` with spawned workers, each pinned to one core: a
second core makes one training at most ~1.5x faster (batch 32; not at all at batch 1,
experiments/benchmarks/README.md), so on the 2-core machine two trainings at once, one core
each, do more work than one after another on both.

Stopping: Ctrl-C or SIGTERM reaches this process, which asks every worker to stop at its next
compiled call; each saves a checkpoint and its status, as `ntm train` does when interrupted,
and jobs not yet started are dropped (the same command resumes all of them).
"""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path
from typing import Callable, NamedTuple

from ntm_cli.config import TrainConfig
from ntm_cli.errors import InputError
from ntm_cli.schema import Summary


@dataclasses.dataclass(frozen=True)
class Job:
    """Make sure `runs_dir` holds a finished run of `config` for each of `seeds`: a finished one
    is reused, an unfinished one continued from its checkpoint, and the missing seeds trained
    together in one compiled program. Another process making the same runs is waited for."""

    label: str  # for progress lines: 'copy / ntm-lstm / seed 0 (60 s of training)'
    config: TrainConfig
    seeds: tuple[int, ...]
    runs_dir: Path
    tensorboard: bool = False  # reports also go to TensorBoard event files (not in the config, so reuse ignores it)


class Outcome(NamedTuple):
    """What became of a job: its runs' summaries, the signal that stopped it (None: it finished),
    or the error that ended it (one sentence)."""

    job: Job
    summaries: list[Summary]
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
    from ntm_cli.config import Budget
    from ntm_cli.studies.launch import new_session, resume_session

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
            elif runs.status(found) in runs.DONE:
                summaries.append(runs.read_summary(found))
            else:
                session = resume_session(found, Budget(), reporter, tensorboard=job.tensorboard)
                summaries += session.run(should_stop)
                if session.interrupted:
                    return Outcome(job, summaries, session.stop_signal or signal.SIGINT)
        if missing:
            session, _ = new_session(configs[missing[0]], missing, job.runs_dir, None, reporter,
                                     tensorboard=job.tensorboard)
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
    `stop`), and the worker keeps to one core, so JAX gets one CPU host device."""
    global _stop
    _stop = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    core = cores.get()
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    from ntm_cli.training.devices import use_every_core

    use_every_core(1, replace=True)


def _worker_run(job: Job) -> Outcome:
    from ntm_cli.reports.consoles import say
    from ntm_cli.reports.progress import PlainReporter
    from ntm_cli.reports.consoles import error_console

    return run_job(job, PlainReporter(error_console, prefix=f"[{job.label}] "), lambda line: say(line, stderr=True),
                   lambda: _stop.value)


def run_pool(jobs: list[Job], workers: int, say: Callable[[str], None]) -> list[Outcome]:
    """Runs the jobs in `workers` processes, each pinned to one of this process' cores. Every
    job runs, whatever happens to the others; after Ctrl-C or SIGTERM the running ones stop at
    their next compiled call and the rest are dropped."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, wait

    from ntm_cli.training.session import Stopped, sigterm_interrupts

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


# --- a Ray cluster -----------------------------------------------------------------------------------
#
# Each job is a Ray task asking for its CPUs (and GPUs). It trains in a scratch folder on
# whichever node runs it and sends its run folders back, packed, with its outcome; the driver
# unpacks them into its own runs folder, so no shared file system is needed. An unfinished run
# the driver holds is packed and sent with the job, so that the worker resumes it. A job that
# fails (an error, or a node that dies under it) is tried once more, then reported; the
# others go on.


def _pack(folders: list[Path]) -> bytes:
    """The folders (with everything in them) as one gzipped tar, each under its own name."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for folder in folders:
            tar.add(folder, arcname=folder.name, filter=lambda m: None if m.name.endswith("/.lock") else m)
    return buffer.getvalue()


def _unpack(data: bytes, into: Path) -> list[Path]:
    """Unpacks `_pack`'s tar into `into`; returns the top-level folders. Members that would land
    outside `into` are refused by tarfile's 'data' filter."""
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(into, filter="data")
        names = sorted({member.name.split("/")[0] for member in tar.getmembers()})
    return [into / name for name in names]


def _ray_trial(job: Job, packed: bytes | None) -> tuple[Outcome, bytes]:
    """On a Ray worker: the job in a scratch runs folder (seeded with the driver's unfinished
    runs); returns its outcome and its run folders, packed."""
    import tempfile

    from ntm_cli.reports.consoles import error_console
    from ntm_cli.reports.progress import PlainReporter

    with tempfile.TemporaryDirectory(prefix="ntm-ray-") as scratch:
        local = dataclasses.replace(job, runs_dir=Path(scratch))
        if packed:
            _unpack(packed, local.runs_dir)
        outcome = run_job(local, PlainReporter(error_console, prefix=f"[{job.label}] "), lambda line: None)
        folders = [p for p in local.runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return outcome._replace(job=job), _pack(folders)


def _receive(job: Job, data: bytes, sent: list[Path]) -> list[Summary]:
    """Puts a Ray job's run folders into the driver's runs folder: a run it continued replaces
    the folder it was sent from; a new one takes a free name there. Returns their summaries."""
    import shutil
    import tempfile

    from ntm_cli import runs

    job.runs_dir.mkdir(parents=True, exist_ok=True)
    summaries = []
    with tempfile.TemporaryDirectory(prefix=".incoming-", dir=job.runs_dir) as incoming:
        sent_names = {p.name: p for p in sent}
        for folder in _unpack(data, Path(incoming)):
            if folder.name in sent_names:
                target = sent_names[folder.name]
                shutil.rmtree(target)
            else:
                target = next(job.runs_dir / name for name in
                              (folder.name if n == 0 else f"{folder.name}-{n}" for n in range(10_000))
                              if not (job.runs_dir / name).exists())
            folder.rename(target)
            summary = runs.read_summary(target)
            if summary is not None:  # the summary names the folder it now lives in
                summary = dataclasses.replace(summary, run_dir=str(target))
                runs.write_summary(target, summary)
                summaries.append(summary)
    return summaries


def connect_ray(address: str, cpus: int | None = None) -> None:
    """Starts Ray on this machine ('local', with `cpus` CPUs) or connects to a running cluster
    ('auto': the one `ray start` made here; or HOST:PORT of its head).

    Raises:
      InputError: Ray is not installed, or no cluster answers at the address.
    """
    import socket

    try:
        import ray
    except ImportError:
        raise InputError('--ray needs Ray: pip install -e ".[ray]".') from None
    if ray.is_initialized():
        return
    if address not in ("local", "auto"):
        host, _, port = address.removeprefix("ray://").rpartition(":")
        if not host or not port.isdigit():
            raise InputError(f"--ray takes local, auto or HOST:PORT of a cluster's head, got {address!r}.")
        try:  # Ray itself would retry an unreachable address for minutes
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as error:
            raise InputError(f"no Ray cluster answers at {address} ({error.strerror or error}).") from None
    try:
        if address == "local":
            # Ray starts its workers at nice 15, for a cluster's background jobs; here a trial is
            # the work itself, and a niced one on a busy core barely runs.
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(num_cpus=cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        else:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    except ConnectionError as error:
        raise InputError(f"no Ray cluster to connect to at {address} ({str(error).split('.')[0]}).") from None


def run_ray(jobs: list[Job], say: Callable[[str], None], cpus: float = 1, gpus: float = 0,
            retries: int = 1) -> list[Outcome]:
    """Runs the jobs as Ray tasks (Ray must be connected: `connect_ray`), each asking for
    `cpus` CPUs and `gpus` GPUs; a failed job is tried `retries` more times, then reported.
    Ctrl-C cancels what is still running; finished jobs are kept."""
    import ray

    from ntm_cli import runs

    from ntm_cli.training.devices import host_device_flags

    # A trial's CPU host devices: as many as the CPUs it asked for (set before JAX starts there).
    flags = host_device_flags(os.environ.get("XLA_FLAGS", ""), max(1, int(cpus)), replace=True)
    trial = ray.remote(_ray_trial).options(num_cpus=cpus, num_gpus=gpus, max_retries=0,
                                           runtime_env={"env_vars": {"XLA_FLAGS": flags}})
    tries = {i: 0 for i in range(len(jobs))}
    sent = {}

    def submit(i: int):
        job = jobs[i]
        sent[i] = [d for seed in job.seeds
                   if (d := runs.find_run(job.runs_dir, dataclasses.replace(job.config, seed=seed))) is not None]
        tries[i] += 1
        return trial.remote(job, _pack(sent[i]) if sent[i] else None)

    refs = {submit(i): i for i in range(len(jobs))}
    for job in jobs:
        say(f"{job.label}: queued on Ray")
    outcomes: dict[int, Outcome] = {}
    try:
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            i = refs.pop(done[0])
            job = jobs[i]
            try:
                outcome, data = ray.get(done[0])
                outcome = outcome._replace(summaries=_receive(job, data, sent[i]))
            except Exception as error:  # the task raised, or its worker or node died
                outcome = Outcome(job, [], error=f"{type(error).__name__}: {str(error).splitlines()[0][:300]}")
            if outcome.error and tries[i] <= retries:
                say(f"{job.label}: failed ({outcome.error}); trying once more")
                refs[submit(i)] = i
                continue
            outcomes[i] = outcome
            say(f"{job.label}: " + ("failed: " + outcome.error if outcome.error else "finished"))
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref, force=True)
        for i in refs.values():
            outcomes[i] = Outcome(jobs[i], [], stop_signal=signal.SIGINT)
    return [outcomes[i] for i in sorted(outcomes)]
