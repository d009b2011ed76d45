"""Errors a user can cause when naming or sizing a task; each message is one sentence."""

from ntm_cli.errors import InputError


class TaskConfigError(InputError):
    """A task was given sizes that cannot describe a valid sequence (for example length 0)."""


class UnknownTaskError(TaskConfigError):
    """A task name that is neither a registered name nor an alias."""


class TaskPluginError(TaskConfigError):
    """A task named after a plugin (another package's task) that failed to import or breaks the
    task contract; the message names the plugin and the problem."""
