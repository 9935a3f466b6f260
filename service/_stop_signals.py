"""SIGINT and SIGTERM as a request to stop, for verbs that must close files first.

A command started as a shell's background job (``cmd &``) inherits SIGINT
*ignored*, and SIGTERM (what systemd and docker send) ends a process at once
by default: either way a recording would be left without its footers. A
verb that owns a file therefore installs its own handlers with
:class:`StopSignals`. A signal only interrupts the code inside
:meth:`StopSignals.waiting` (blocking waits, safe to abandon); one that
arrives elsewhere (creating or closing the file) is remembered and stops the
next wait at once, and later signals are ignored while the verb cleans up.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Longest one blocking wait lasts. Linux may deliver a signal to any thread
#: (liblsl's among them); its Python handler then runs only when the main
#: thread next returns to the interpreter, so waits must come back that often.
WAKE_S = 0.1


def wait_until(ready: Callable[[float], bool], timeout_s: float | None) -> None:
    """Call ``ready(slice_s)`` (which blocks up to ``slice_s``) until it is true or ``timeout_s`` has passed."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        left = WAKE_S if deadline is None else min(WAKE_S, deadline - time.monotonic())
        if left <= 0 or ready(left):
            return


class StopRequested(Exception):
    """Raised inside :meth:`StopSignals.waiting` when SIGINT or SIGTERM came."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's code for "ended by this signal": 128 + its number (130 for Ctrl-C)."""
        return 128 + self.signum


class StopSignals:
    """While entered, SIGINT and SIGTERM request a stop (see the module docstring).

    Handlers can only be installed from the main thread; elsewhere (a verb run
    in a thread by a test) this does nothing, and the process's handlers stay.
    """

    def __init__(self) -> None:
        self.requested: int | None = None
        self._waiting = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _handle(self, signum: int, frame) -> None:
        first = self.requested is None
        if first:
            self.requested = signum
        if first and self._waiting:
            raise StopRequested(signum)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """A block that a stop request may interrupt (raising :class:`StopRequested`)."""
        self._waiting = True
        try:
            if self.requested is not None:  # it came while we were busy elsewhere
                raise StopRequested(self.requested)
            yield
        finally:
            self._waiting = False
