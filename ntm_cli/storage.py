"""Where a command may write: checked before any work, so that a path it cannot write ends the
command with one sentence (a `StorageError`, exit code 1) and leaves nothing behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from ntm_cli.errors import StorageError


def check_writable(path: Path, given: Path | None = None) -> None:
    """Refuses a file or folder `path` that could not be created there (its missing folders with
    it), replaced (an existing file) or written into (an existing folder); writes nothing.

    `given` is how the message names it (default `path`): the option's value as the user gave it.
    `path` itself being a file where a folder is wanted, or the reverse, is the caller's to refuse
    in its own words; this checks where it goes.

    Raises:
      StorageError: a file stands where one of `path`'s folders should be, or the nearest folder
        that exists cannot be written to.
    """
    given = path if given is None else given
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if existing == path and not path.is_dir():
        existing = path.parent  # an existing file is replaced in its folder
    if not existing.is_dir():
        raise StorageError(f"cannot write {given}: {existing} is a file, not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "it" if existing == given else f"the folder {existing}"
        raise StorageError(f"cannot write {given}: {where} is not writable (permission denied).")


def write_failed(path: Path, error: OSError, given: Path | None = None) -> StorageError:
    """`error`, raised while writing `path`, as one sentence that names the path and the problem."""
    try:
        check_writable(path, given)
    except StorageError as precise:
        return precise
    return StorageError(f"cannot write {path if given is None else given} ({error.strerror or error}).")
