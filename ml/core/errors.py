"""The project's own error types. A UserError is a problem with what the user gave (a file, a folder,
an option) and its message is one line naming the file and the problem: the CLI and the app show it as
it is. Any other exception is a bug: it is shown in one line too, with the traceback in the log."""


class UserError(Exception):
    """Base of every error a user can cause and fix; str(error) is the whole message."""


class BundleError(UserError, ValueError):
    """A file that is not a usable model bundle; the message names the file and the problem."""


class TrainingError(UserError, ValueError):
    """A training run that cannot go on as asked (nothing to train on, a run folder of other settings)."""
