"""The one error type users see: bad input, reported on one line with exit code 2."""


class SweepLabError(Exception):
    """A problem with the user's input (sweep file, data, options).

    The message is shown as a single line, so it must name the file, key or column and say what was expected.
    """

    exit_code = 2
