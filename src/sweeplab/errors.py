"""The one error type users see: bad input, reported on one line with exit code 2."""

import threading


class SweepLabError(Exception):
    """A problem with the user's input (sweep file, data, options).

    The message is shown as a single line, so it must name the file, key or column and say what was expected.
    Line breaks and other control characters from the user's input (a YAML key "\\n") are shown escaped.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message)))


# Set by the command line's Ctrl-C handler. A library may turn the KeyboardInterrupt raised inside its code into an
# ordinary exception (a failed fit, to an engine); engines check this to stop instead of going on to the next trial.
INTERRUPTED = threading.Event()


def interrupt(signum, frame):
    """SIGINT handler: remember that the user asked to stop, then raise KeyboardInterrupt as Python would."""
    INTERRUPTED.set()
    raise KeyboardInterrupt
