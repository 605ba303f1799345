"""The one error type genlab raises for a user's mistake; only the CLI turns it into exit code 2."""


class GenlabError(Exception):
    """A user error: bad flag, unreadable or malformed data, wrong run directory.

    The message is one line that says what is wrong and how to fix it. `exit_code`: 2, or 1 where
    the error reports a bug met elsewhere (a compare whose family failed with a traceback).
    """

    exit_code = 2
