"""Errors a user of the command line can act on."""


class CliError(Exception):
    """A problem the user can fix; printed as one line without a traceback, exit code 2."""
