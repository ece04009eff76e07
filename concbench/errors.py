"""The one exception type for bad input: the CLI prints it as one line and exits 2."""


class UsageError(Exception):
    """Bad input: reported as one line, exit 2."""
