"""The exceptions for bad input: the CLI prints them as one line and exits 2 (UsageError) or 3 (BadInput)."""


class UsageError(Exception):
    """Bad input: reported as one line, exit 2."""


class BadInput(Exception):
    """Bad input to `compare` or `ab` (a file that is not a readable concbench result, sets sharing no case,
    a bad argument): one line, exit 3, because exit 2 means 'inconclusive' for those commands."""
