"""Run folders: config, metrics, checkpoints and summary, written so a crash never leaves half a file.

    runs/copy-ntm-lstm-s0/
        config.json        the effective TrainConfig, package versions, git commit, command
        metrics.jsonl      one JSON object per report
        checkpoints/latest.msgpack, checkpoints/best.msgpack   flax-serialised training state
        summary.json       status and final figures (written at every report)
        eval.json          from `ntm eval`
"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from ntm_cli.config import TrainConfig
from ntm_cli.errors import InputError, RunFolderError, StorageError
from ntm_cli.schema import CHECKPOINT_META, CHECKPOINT_META_OPTIONAL, MetricsRow, RunRow, Summary, check_fields

CONFIG = "config.json"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
EVAL = "eval.json"
CHECKPOINTS = "checkpoints"
DONE = ("finished", "diverged")  # a run in either state trains no more (a diverged one is counted as not solved)
CHECKPOINT_KINDS = ("best", "latest")  # the best held-out cost so far, and the last report


def process_umask() -> int:
    """The process's umask (read by setting it, then setting it back), for files and folders
    made with owner-only modes (mkstemp, mkdtemp) to end as open() and mkdir() would make them."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes `data` to `path` via a temporary file and a rename, so readers see all or nothing.

    Raises:
      StorageError: the file cannot be written (the old file, if any, is left as it was).
    """
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~process_umask())  # as open() would make it, not mkstemp's 0600
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        raise StorageError(f"cannot write {path} ({error.strerror or error}).") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def default_run_name(config: TrainConfig, seed: int) -> str:
    """'<task>-<model>-s<seed>', e.g. 'copy-ntm-lstm-s0'; an archive's run 'data-<file stem>-...'."""
    task = config.task if config.data is None else f"data-{Path(config.data.path).stem}"
    return f"{task}-{config.model_name}-s{seed}"


STAGING = ".ntm-staging-"  # a run folder being made ('.ntm-staging-XXXX'), renamed once its config is in


def reserve_run_dir(runs_dir: Path, name: str, fill: Callable[[Path], None]) -> tuple[Path, Lock]:
    """Makes a new run folder `runs_dir/name` (or `name-run2`, `name-run3`, ... if taken), locked,
    with what `fill(folder)` writes in it (its config.json), and returns the folder and its lock.

    The folder is made whole or not at all: it is filled under a hidden staging name
    ('.ntm-staging-XXXX') and renamed to its name, so a process killed at any moment never leaves a
    run folder without its config (a staging folder it leaves is unlocked, and the next run made
    here removes it)."""
    if runs_dir.exists() and not runs_dir.is_dir():
        raise InputError(f"{runs_dir} is not a folder.")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        remove_abandoned_staging(runs_dir)
    except OSError as error:
        raise StorageError(f"cannot create the runs folder {runs_dir} ({error.strerror}).") from None
    staging, lock = _locked_staging(runs_dir)
    try:
        fill(staging)
        for n in range(10_000):
            path = runs_dir / (name if n == 0 else f"{name}-run{n + 1}")  # never '-s0-3', a seed range
            if path.exists() or path.is_symlink():
                continue
            try:
                os.rename(staging, path)  # fails on a folder with files in it: another process's run
            except OSError as error:
                if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                    continue
                raise StorageError(f"cannot create the run folder {path} ({error.strerror}).") from None
            lock.path = path / LOCK
            return path, lock
        raise RunFolderError(f"too many runs named {name} in {runs_dir}.")
    except BaseException:
        lock.release()
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _locked_staging(runs_dir: Path) -> tuple[Path, Lock]:
    """A new staging folder and its lock. Another process's sweep (`remove_abandoned_staging`) may
    take or remove it in the instant before it is locked: then another is made."""
    for _ in range(100):
        try:
            staging = Path(tempfile.mkdtemp(dir=runs_dir, prefix=STAGING))
            os.chmod(staging, 0o777 & ~process_umask())  # as mkdir() would make it, not mkdtemp's 0700
        except OSError as error:
            raise StorageError(f"cannot create a run folder in {runs_dir} ({error.strerror or error}).") from None
        try:
            lock = Lock(staging / LOCK)
        except BlockingIOError:  # a sweep holds it (and removes it)
            continue
        except StorageError:
            if staging.is_dir():  # not a sweep: the lock file itself cannot be made here
                shutil.rmtree(staging, ignore_errors=True)
                raise
            continue  # a sweep removed the folder
        if lock.linked():
            return staging, lock
        lock.release()  # locked a lock file a sweep had already removed
    raise StorageError(f"cannot create a run folder in {runs_dir}: another process kept removing it.")


def remove_abandoned_staging(runs_dir: Path) -> None:
    """Removes the staging folders of runs whose process died while making them (their lock free)."""
    for staging in runs_dir.glob(f"{STAGING}*"):
        try:
            lock = Lock(staging / LOCK)
        except (BlockingIOError, StorageError):  # being made by a live process, or not ours to judge
            continue
        shutil.rmtree(staging, ignore_errors=True)
        lock.release()


# --- locks: a run is trained by one process at a time -----------------------------------------------

LOCK = ".lock"  # in a run folder: held by the process training the run
CLAIMS = ".claims"  # in a runs folder: one lock per configuration a comparison is making a run of


class Lock:
    """An exclusive advisory lock (`fcntl.flock`) on a file, held until `release` or until the
    process ends: the operating system releases it when a process dies, so a crash leaves no
    stale lock. The file holds the holder's process id, for messages."""

    def __init__(self, path: Path, wait: bool = False):
        import fcntl

        self.path = path
        try:
            self._handle = open(path, "a+")
        except OSError as error:
            raise StorageError(f"cannot create the lock file {path} ({error.strerror}).") from None
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            self._handle.close()
            raise
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(f"{os.getpid()}\n")
        self._handle.flush()

    @staticmethod
    def holder(path: Path) -> str:
        """The process id written in a lock file ('?' if unreadable)."""
        try:
            return path.read_text().strip() or "?"
        except OSError:
            return "?"

    @staticmethod
    def held(path: Path) -> bool:
        """Whether some process holds the lock on `path` now (probed with a shared lock, let go at
        once; False for a file that cannot be opened)."""
        import fcntl

        try:
            with open(path) as handle:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)  # released as the file closes
        except BlockingIOError:
            return True
        except OSError:
            return False
        return False

    def linked(self) -> bool:
        """Whether the locked file is still the one at `path` (not removed, or replaced, since)."""
        try:
            return os.fstat(self._handle.fileno()).st_ino == os.stat(self.path).st_ino
        except OSError:
            return False

    def release(self) -> None:
        if not self._handle.closed:
            self._handle.close()  # closing the file releases the lock


def lock_run(run_dir: Path) -> Lock:
    """The lock on a run folder, for the process about to train it.

    Raises:
      RunFolderError: another live process is training the run (its lock is held).
    """
    path = run_dir / LOCK
    try:
        return Lock(path)
    except BlockingIOError:
        raise RunFolderError(f"{run_dir} is being trained by another process (pid {Lock.holder(path)}); "
                             "wait for it to stop, or train another run.") from None


def claim(runs_dir: Path, config: TrainConfig, say=None) -> Lock:
    """The claim on making a run of exactly `config` (seed included) in `runs_dir`, so that two
    comparisons never train the same run at once: if another process holds it, this waits until
    that process lets go (`say` tells the user it is waiting)."""
    import hashlib

    key = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:24]
    folder = runs_dir / CLAIMS
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"cannot create {folder} ({error.strerror}).") from None
    path = folder / f"{key}.lock"
    try:
        return Lock(path)
    except BlockingIOError:
        if say is not None:
            say(f"waiting for another process (pid {Lock.holder(path)}) that is training the same run")
        return Lock(path, wait=True)


def find_run(runs_dir: Path, config: TrainConfig) -> Path | None:
    """The run folder in `runs_dir` made with exactly `config` (a finished one first), or None.
    Folders whose config cannot be read are not it, and neither is a run trained in one program
    with other seeds (`ntm train --seeds K`): it rounds differently from the seed alone, and
    under a time budget it also saw fewer sequences than the config's time gives one seed."""
    if not runs_dir.is_dir():
        return None
    wanted = json.loads(json.dumps(config.to_dict()))
    matches = []
    for config_file in (folder / CONFIG for folder in run_folders(runs_dir)):
        try:
            saved = json.loads(config_file.read_bytes().decode("utf-8"))["config"]
            if saved != wanted and (_fields_of(saved) == _fields_of(wanted)
                                    or json.loads(json.dumps(TrainConfig.from_dict(saved).to_dict())) != wanted):
                continue
            if len(seeds_trained_with(config_file.parent) or ()) > 1:
                continue
        except (ValueError, KeyError, TypeError, AttributeError, OSError, InputError):  # a damaged config: not it
            continue
        matches.append((status(config_file.parent) not in DONE, config_file.parent))
    return min(matches)[1] if matches else None


def _fields_of(config: dict[str, Any]) -> tuple[frozenset, ...]:
    """The field names of a config's JSON form and its parts. Where they are those of today's
    config, a difference is a different run; where they are not, the saved config is read
    through TrainConfig first, so that a field added since (with its default) does not set an
    older run apart. (Most folders differ in values: they skip the reading.)"""
    return tuple(frozenset(part) for part in (config, config.get("model") or {}, config.get("optimizer") or {}))


def done_run(run_dir: Path, accepted: tuple[str, ...], then: str) -> tuple[TrainConfig, Summary]:
    """A run folder's config and summary, where its status is one of `accepted`.

    Raises:
      RunFolderError: not a run folder, or damaged.
      InputError: the run is in another state (`then`: what the user can do, after the reason).
    """
    config, summary = read_config(run_dir), read_summary(run_dir)
    if summary is None or summary.status not in accepted:
        state = "has no report yet" if summary is None else f"is {summary.status}"
        raise InputError(f"{run_dir} {state}; {then}")
    return config, summary


def status(run_dir: Path) -> str | None:
    """A run's status from its summary: running, finished or interrupted (None before its first
    report, or if the summary is damaged: either way the run is continued from its checkpoint)."""
    try:
        summary = read_summary(run_dir)
        return None if summary is None else summary.status
    except RunFolderError:
        return None


def remove_leftovers(run_dir: Path) -> None:
    """Deletes temporary files an interrupted write left (`.<name>.<random>.tmp`, see
    `atomic_write_bytes`); the files they were to replace are whole."""
    for folder in (run_dir, run_dir / CHECKPOINTS):
        for leftover in folder.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)


def environment() -> dict[str, Any]:
    """Package versions, Python, platform and the git commit of this checkout (if any)."""
    versions = {}
    for package in ("ntm", "jax", "jaxlib", "flax", "optax", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit,
        "command": " ".join(["ntm"] + sys.argv[1:]),
    }


def write_config(run_dir: Path, config: TrainConfig, devices: dict[str, Any] | None = None,
                 trained_with: tuple[int, ...] | None = None) -> None:
    """config.json: the config, and what it ran with (versions, commit, command, devices, and the
    seeds trained in one program with it: `trained_with`, kept from the file when not given)."""
    if trained_with is None:
        trained_with = seeds_trained_with(run_dir)
    env = (environment() | ({"devices": devices} if devices is not None else {})
           | ({"trained_with": list(trained_with)} if trained_with is not None else {}))
    atomic_write_json(run_dir / CONFIG, {"config": config.to_dict(), "environment": env})


def seeds_trained_with(run_dir: Path) -> tuple[int, ...] | None:
    """The seeds a run was trained with in one compiled program (its own among them); None for a
    run made before this was recorded, or a config.json that cannot be read."""
    try:
        seeds = json.loads((run_dir / CONFIG).read_bytes().decode("utf-8"))["environment"]["trained_with"]
        return tuple(int(s) for s in seeds)
    except (ValueError, KeyError, TypeError, OSError):
        return None


def read_config(run_dir: Path) -> TrainConfig:
    """The TrainConfig a run folder was made with; RunFolderError if it is not a run folder."""
    if not run_dir.exists():
        raise RunFolderError(f"{run_dir} is not a run folder (it does not exist).")
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is not a run folder (it is a file).")
    path = run_dir / CONFIG
    if not path.is_file():
        raise RunFolderError(f"{run_dir} is not a run folder (it has no {CONFIG}).")
    try:
        saved = check_fields({"config": dict}, json.loads(path.read_bytes().decode("utf-8")), "the file")
        return TrainConfig.from_dict(saved["config"])
    except (ValueError, InputError) as error:  # not UTF-8, not JSON, not a config
        raise RunFolderError(f"{path} is not a readable run config ({str(error).rstrip('.')}).") from None
    except OSError as error:
        raise RunFolderError(f"{path} cannot be read ({error.strerror}).") from None


def append_metrics(run_dir: Path, record: MetricsRow) -> None:
    """Adds a line to metrics.jsonl (a line a crash cuts short is skipped when read)."""
    try:
        with open(run_dir / METRICS, "a") as handle:
            handle.write(json.dumps(record.to_json()) + "\n")
            handle.flush()
    except OSError as error:
        raise StorageError(f"cannot write {run_dir / METRICS} ({error.strerror or error}).") from None


def read_metrics(run_dir: Path) -> list[MetricsRow]:
    """The metric records; a last line cut short by a crash is left out.

    Raises:
      RunFolderError: any other line that is not a metrics record, named with what is wrong.
    """
    path = run_dir / METRICS
    if not path.is_file():
        return []
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except (ValueError, OSError) as error:
        raise RunFolderError(f"{path} cannot be read ({error}).") from None
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # a write a crash cut short
                continue
            raise RunFolderError(f"{path} is damaged: line {number} is not JSON.") from None
        try:
            records.append(MetricsRow.from_json(record, f"line {number}"))
        except ValueError as error:
            raise RunFolderError(f"{path} is damaged ({error}).") from None
    return records


def truncate_metrics(run_dir: Path, last_step: int) -> None:
    """Drops metric records after `last_step` (written after the checkpoint a resume starts from)."""
    kept = [r for r in read_metrics(run_dir) if r.step <= last_step]
    atomic_write_bytes(run_dir / METRICS, "".join(json.dumps(r.to_json()) + "\n" for r in kept).encode())


def read_summary(run_dir: Path) -> Summary | None:
    """A run's summary.json, or None before its first report.

    Raises:
      RunFolderError: the file is there but is not a summary, named with what is wrong.
    """
    path = run_dir / SUMMARY
    if not path.is_file():
        return None
    try:
        return Summary.from_json(json.loads(path.read_bytes().decode("utf-8")), "the summary")
    except ValueError as error:  # not UTF-8, not JSON, not a summary
        raise RunFolderError(f"{path} is damaged ({str(error).rstrip('.')}).") from None
    except OSError as error:
        raise RunFolderError(f"{path} cannot be read ({error.strerror}).") from None


def write_summary(run_dir: Path, summary: Summary) -> None:
    """summary.json, written whole or not at all."""
    atomic_write_json(run_dir / SUMMARY, summary.to_json())


def checkpoint_path(run_dir: Path, which: str) -> Path:
    """`which` is one of CHECKPOINT_KINDS: 'best' or 'latest'."""
    return run_dir / CHECKPOINTS / f"{which}.msgpack"


def being_trained(run_dir: Path) -> bool:
    """Whether a live process holds the run's lock: a run whose summary says "running" but whose
    process died (kill -9) is not, nor one whose lock file names a process id that the system has
    since given to another process (the lock itself is free)."""
    path = run_dir / LOCK
    holder = Lock.holder(path)
    if not holder.isdigit():
        return False
    try:
        os.kill(int(holder), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return Lock.held(path)  # that process is alive; probed only now, so a free lock is rarely touched


def list_runs(runs_dir: Path) -> list[RunRow]:
    """Every run folder in `runs_dir` (one with a config.json), as `run_row` finds it.

    Raises:
      InputError: `runs_dir` is a file.
    """
    if runs_dir.exists() and not runs_dir.is_dir():
        raise InputError(f"--runs {runs_dir} is a file, not a runs folder.")
    if not runs_dir.is_dir():
        return []
    return [run_row(run_dir) for run_dir in run_folders(runs_dir)]


def run_folders(runs_dir: Path) -> list[Path]:
    """The run folders in `runs_dir`, sorted: those with a config.json, but for hidden ones (a run
    folder being made, see `reserve_run_dir`; the comparisons' claims)."""
    return sorted(p for p in runs_dir.iterdir() if not p.name.startswith(".") and (p / CONFIG).is_file())


def run_row(run_dir: Path) -> RunRow:
    """One run folder as `ntm runs` lists it, its status checked against the files eval and
    resume need (without JAX: a checkpoint is read as msgpack, not restored into a model):

      running       a live process trains it (it holds the run's lock)
      finished, diverged   as its summary says, every file it needs readable
      interrupted   stopped (Ctrl-C, a time limit, kill -9, or its summary lost) with a readable
                    checkpoint: `ntm train --resume` continues it
      not started   stopped before its first checkpoint: a resume starts it again
      damaged       a file it needs cannot be read, or its config names no task: `problem` says which
    """
    try:
        config = read_config(run_dir)
    except RunFolderError as error:
        return RunRow(run_dir=str(run_dir), status="damaged", problem=str(error))
    named = RunRow(run_dir=str(run_dir), status="damaged", task=config.task, model=config.model_name,
                   preset=config.preset, seed=config.seed)
    summary, metrics = None, []
    try:
        summary = read_summary(run_dir)
        metrics = read_metrics(run_dir)
        check_task(run_dir, config)
        status, figures = _checked_status(run_dir, summary, metrics)
        return dataclasses.replace(named, status=status, **figures)
    except RunFolderError as error:  # with what its summary or metrics say, as far as they can be read
        figures = _summary_figures(summary) if summary is not None else _metrics_figures(metrics)
        return dataclasses.replace(named, problem=str(error), **figures)


def _checked_status(run_dir: Path, summary: Summary | None,
                    metrics: list[MetricsRow]) -> tuple[str, dict[str, Any]]:
    """A run's status and figures (see `run_row`): from its summary, or, where the summary is
    lost, from its checkpoint and the metrics up to it.

    Raises:
      RunFolderError: a checkpoint the run needs is missing or cannot be read.
    """
    latest, best = checkpoint_path(run_dir, "latest"), checkpoint_path(run_dir, "best")
    if summary is None and not latest.exists():
        if any(row.step > 0 for row in metrics):  # a checkpoint is written at every report, step 0's first
            raise RunFolderError(f"{run_dir / METRICS} records {metrics[-1].step:,} steps, but the checkpoint "
                                 f"{latest} is missing.")
        return ("running" if being_trained(run_dir) else "not started"), {}
    meta = read_checkpoint_meta(latest)
    if best.exists():  # eval reads it first
        read_checkpoint_meta(best)
    live = being_trained(run_dir)
    if summary is not None:
        return ("interrupted" if summary.status == "running" and not live else summary.status), _summary_figures(summary)
    return ("running" if live else "interrupted"), _metrics_figures(metrics, meta)


def _summary_figures(summary: Summary) -> dict[str, Any]:
    return {"steps": summary.steps, "sequences": summary.sequences, "best_eval_cost": summary.best_eval_cost,
            "final_eval_cost": summary.final_eval_cost, "wall_time": summary.wall_time}


def _metrics_figures(metrics: list[MetricsRow], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run's figures where its summary is lost: its last metrics record (the last a resume keeps,
    up to the step of the checkpoint's counters `meta`), and the checkpoint's best held-out cost."""
    kept = [row for row in metrics if meta is None or row.step <= meta["step"]]
    figures: dict[str, Any] = {}
    if meta is not None and math.isfinite(meta["best_eval_cost"]):
        figures["best_eval_cost"] = meta["best_eval_cost"]
    if kept:
        last = kept[-1]
        figures |= {"steps": last.step, "sequences": last.sequences, "final_eval_cost": last.eval_cost,
                    "wall_time": last.wall_time}
    return figures


def check_task(run_dir: Path, config: TrainConfig) -> None:
    """RunFolderError if the config's task is not one this version knows (or its plugin's is left
    out), or its sizes do not fit it."""
    from ntm_cli.tasks import TaskConfigError, TaskPluginError, UnknownTaskError, make_task

    if config.data is not None:  # an archive's run: its file is checked when it is read again
        return
    try:
        make_task(config.task, **config.task_sizes)
    except TaskPluginError as error:
        raise RunFolderError(f"{run_dir / CONFIG} names task {config.task!r}, but {error}") from None
    except UnknownTaskError:
        raise RunFolderError(f"{run_dir / CONFIG} names an unknown task {config.task!r}.") from None
    except TaskConfigError as error:
        raise RunFolderError(f"{run_dir / CONFIG} gives task sizes that do not fit {config.task} "
                             f"({str(error).rstrip('.')}).") from None



def read_checkpoint_meta(path: Path) -> dict[str, Any]:
    """The counters of the checkpoint at `path`, the whole file parsed as msgpack (a millisecond
    for a small run) but not restored into a model, so without JAX: what a listing can afford
    to check. A file that passes may still not fit the run's model (`load_checkpoint` says so).

    Raises:
      RunFolderError: the file is missing, cannot be read, is cut short or is not a checkpoint.
    """
    import msgpack

    if not path.is_file():
        raise RunFolderError(f"the checkpoint {path} is missing.")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RunFolderError(f"the checkpoint {path} cannot be read ({error.strerror}).") from None
    try:
        payload = msgpack.unpackb(data, raw=False, strict_map_key=False)  # arrays stay msgpack ExtTypes
    except (ValueError, TypeError, msgpack.UnpackException) as error:  # bad bytes; a map as a key: TypeError
        cut = isinstance(error, ValueError) and "incomplete input" in str(error)
        raise RunFolderError(f"the checkpoint {path} is corrupt and cannot be read "
                             f"({'it is cut short' if cut else 'it is not msgpack'}).") from None
    try:
        if not isinstance(payload, dict) or not isinstance(payload.get("leaves"), dict) or not payload["leaves"]:
            raise ValueError("it holds no training state")
        return check_fields(CHECKPOINT_META, payload.get("meta"), "its counters", CHECKPOINT_META_OPTIONAL)
    except ValueError as error:
        raise RunFolderError(f"the checkpoint {path} is corrupt and cannot be read ({error}).") from None
