"""The one error type users see: bad input, reported on one line with exit code 2."""

import contextlib
import reprlib
import signal
import threading

# A message quotes the user's values through this: a 10**23 typed by mistake, a 1 MB string or a structure of a
# million nodes must not fill the screen, nor take minutes and gigabytes to format.
_BRIEF = reprlib.Repr()  # keyword arguments only from Python 3.12
_BRIEF.maxlevel, _BRIEF.maxstring, _BRIEF.maxother, _BRIEF.maxlong = 3, 60, 40, 24
_BRIEF.maxdict = _BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxset = 4
MAX_MESSAGE = 600


def first_line(exc: BaseException, limit: int = 200) -> str:
    """What an exception says on its first line, bounded; its type's name when it says nothing."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:limit]


def disk_full(exc: BaseException) -> str | None:
    """What says the disk is full in an exception or anything it was raised from (an OSError ENOSPC or EDQUOT,
    SQLite's "database or disk is full" under MLflow's and Optuna's wrappers), or None."""
    import errno

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return exc.strerror or "No space left on device"
        if "database or disk is full" in str(exc):
            return "database or disk is full"
        exc = exc.__cause__ or exc.__context__
    return None


def brief(value) -> str:
    """``repr(value)``, bounded in size and in the work it takes."""
    return _BRIEF.repr(value)


class SweepLabError(Exception):
    """A problem with the user's input (sweep file, data, options).

    The message is shown as a single line, so it must name the file, key or column and say what was expected.
    Line breaks and other control characters from the user's input (a YAML key "\\n") are shown escaped.
    """

    exit_code = 2

    def __init__(self, message: str):
        text = str(message)
        if len(text) > MAX_MESSAGE:
            text = f"{text[:MAX_MESSAGE]}... ({len(text):,} characters)"
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in text))


class OptionError(SweepLabError):
    """A bad option value. Python callers passed it as a keyword (``workers``), the command line as a flag
    (``--workers``): the message names it in the caller's words. Each ``{}`` of ``template`` takes an option's name
    in turn; the rest of the template is left as it is (user values in it may hold braces)."""

    FLAGS = {"sources": "--source", "register": "--no-register"}  # where a flag is not the keyword with dashes

    def __init__(self, template: str, *options: str, flag_template: str | None = None):
        """``flag_template``: the words for the command line where they differ (a flag cannot be None)."""
        self.template, self.options, self.flag_template = template, options, flag_template or template
        super().__init__(self._fill(self.template, options))

    def as_flags(self, positionals: dict | None = None) -> str:
        """The message in the command line's words: each option as its flag, or as the METAVAR of a positional
        argument (``positionals``: keyword -> METAVAR)."""
        named = {**self.FLAGS, **(positionals or {})}
        flags = [named.get(o, f"--{o.replace('_', '-')}") for o in self.options]
        return str(SweepLabError(self._fill(self.flag_template, flags)))

    @staticmethod
    def _fill(template: str, names) -> str:
        parts = template.split("{}", len(names))
        return "".join(part + name for part, name in zip(parts, [*names, ""]))


class _StopRequest(threading.Event):
    signum = signal.SIGINT  # which signal asked, for the exit status
    held = 0  # how deep the main thread is in held_stop() blocks
    pending = False  # a stop came while held: raise it when the block ends

    def clear(self) -> None:
        """Forget any stop, as a new command starts (in-process callers such as the tests run several)."""
        self.signum = signal.SIGINT
        self.pending = False
        super().clear()


# Set by the command line's stop handler. A library may turn the KeyboardInterrupt raised inside its code into an
# ordinary exception (a failed fit, to an engine); engines check this to stop instead of going on to the next trial.
INTERRUPTED = _StopRequest()
# The ways a process is asked to stop: Ctrl-C; kill, timeout, systemd, Kubernetes and batch schedulers; a closed
# terminal. Each ends a command the same way, with the conventional status 128 + the signal's number.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def interrupt(signum, frame):
    """Stop handler: remember that a stop was asked and by which signal, then raise KeyboardInterrupt as Python
    does for Ctrl-C, so that every cleanup written for Ctrl-C runs for the others too."""
    INTERRUPTED.signum = signum
    INTERRUPTED.set()
    if INTERRUPTED.held and not INTERRUPTED.pending:  # a second stop while held does not wait
        INTERRUPTED.pending = True
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def held_stop():
    """Hold a stop until the block ends, then deliver it (replacing any error the block raised).

    For store calls and a store's creation: raised inside SQLite's driver, the interrupt once left a connection
    mid-transaction that held the database's lock against every later write of the process; raised inside MLflow's
    schema migration, which SQLite cannot roll back, it left a store no later command could open. Under sweeplab's
    command line the stop is then raised as KeyboardInterrupt. A Python caller (a notebook, a script) keeps its own
    handlers: they are held too, and the signal is raised again for them once the block ends (Ctrl-C then raises
    KeyboardInterrupt, an unhandled SIGTERM ends the process). Only the main thread, where Python runs signal
    handlers, holds anything."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    callers = {} if INTERRUPTED.held else _hold_callers_signals()
    INTERRUPTED.held += 1
    try:
        yield
    finally:
        INTERRUPTED.held -= 1
        if not INTERRUPTED.held:
            for signum, handler in callers.items():
                signal.signal(signum, handler)
            if INTERRUPTED.pending:
                INTERRUPTED.pending = False
                if INTERRUPTED.signum in callers:  # the caller's signal: its own handler decides, as if it came now
                    signum = INTERRUPTED.signum
                    INTERRUPTED.clear()
                    signal.raise_signal(signum)
                else:
                    raise KeyboardInterrupt


def _hold_callers_signals() -> dict:
    """Put :func:`interrupt` on the stop signals that have another handler (outside sweeplab's command line);
    the handlers it replaced. A signal the caller ignores stays ignored."""
    replaced = {}
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if handler not in (interrupt, signal.SIG_IGN, None):  # None: a handler not set from Python, left as it is
            replaced[signum] = signal.signal(signum, interrupt)
    return replaced


def stop_status() -> int:
    return 128 + int(INTERRUPTED.signum)


def stop_name() -> str:
    return signal.Signals(INTERRUPTED.signum).name
