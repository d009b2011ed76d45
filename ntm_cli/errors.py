"""What can go wrong that a user can act on, by kind; every message is one sentence.

The commands catch `NtmError` in one place (`output.reported_errors`) and print its message
with its kind's exit code, never a traceback.
"""


class NtmError(Exception):
    """A failure the user can act on; `exit_code` is what the command exits with."""

    exit_code = 2  # as for Typer's own usage errors


class InputError(NtmError, ValueError):
    """An option, value or size the user gave that cannot work (an unknown name, a negative size)."""


class RunFolderError(NtmError):
    """A run folder that is missing, is not a run, or lacks what the command needs (a
    checkpoint, a held-out report), or holds a file that cannot be read."""


class StorageError(NtmError, OSError):
    """A file or folder that cannot be written (permissions, a full disk)."""

    exit_code = 1
