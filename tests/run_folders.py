"""Run folders made for a test from a trained one."""

import json
import shutil
from pathlib import Path


def copy_run(source: Path, destination: Path, **summary) -> Path:
    """A copy of the run folder `source` at `destination` (its checkpoints and locks left out),
    its summary.json changed by `summary` (status="interrupted", say)."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("checkpoints", ".lock"))
    if summary:
        path = destination / "summary.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **summary}))
    return destination
