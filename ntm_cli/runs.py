"""Run folders: config, metrics, checkpoints and summary, written so a crash never leaves half a file.

    runs/copy-ntm-lstm-s0/
        config.json        the effective TrainConfig, package versions, git commit, command
        metrics.jsonl      one JSON object per report
        checkpoints/latest.msgpack, checkpoints/best.msgpack   flax-serialised training state
        summary.json       status and final figures (written at every report)
        eval.json          from `ntm eval`
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from ntm_cli.config import TrainConfig
from ntm_cli.errors import InputError, RunFolderError, StorageError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
EVAL = "eval.json"
CHECKPOINTS = "checkpoints"
CHECKPOINT_KINDS = ("best", "latest")  # the best held-out cost so far, and the last report


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
    """'<task>-<model>-s<seed>', e.g. 'copy-ntm-lstm-s0'."""
    return f"{config.task}-{config.model_name}-s{seed}"


def reserve_run_dir(runs_dir: Path, name: str) -> Path:
    """Creates and returns a new folder `runs_dir/name`, or `name-1`, `name-2`, ... if taken."""
    if runs_dir.exists() and not runs_dir.is_dir():
        raise InputError(f"{runs_dir} is not a folder.")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"cannot create the runs folder {runs_dir} ({error.strerror}).") from None
    for n in range(10_000):
        path = runs_dir / (name if n == 0 else f"{name}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as error:
            raise StorageError(f"cannot create the run folder {path} ({error.strerror}).") from None
    raise RunFolderError(f"too many runs named {name} in {runs_dir}.")


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


def write_config(run_dir: Path, config: TrainConfig) -> None:
    atomic_write_json(run_dir / CONFIG, {"config": config.to_dict(), "environment": environment()})


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
        return TrainConfig.from_dict(json.loads(path.read_text())["config"])
    except (json.JSONDecodeError, KeyError, TypeError, InputError) as error:
        raise RunFolderError(f"{path} is not a readable run config ({error}).") from error


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / METRICS, "a") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The metric records; a line cut short by a crash (always the last) is left out."""
    path = run_dir / METRICS
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_metrics(run_dir: Path, last_step: int) -> None:
    """Drops metric records after `last_step` (written after the checkpoint a resume starts from)."""
    kept = [r for r in read_metrics(run_dir) if r["step"] <= last_step]
    atomic_write_bytes(run_dir / METRICS, "".join(json.dumps(r) + "\n" for r in kept).encode())


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / SUMMARY
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def checkpoint_path(run_dir: Path, which: str) -> Path:
    """`which` is one of CHECKPOINT_KINDS: 'best' or 'latest'."""
    return run_dir / CHECKPOINTS / f"{which}.msgpack"
