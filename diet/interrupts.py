"""Ctrl-C that is never lost in a finaliser.

Python runs a SIGINT handler between any two bytecodes, so its KeyboardInterrupt can land inside a `__del__`
(or a weakref callback) that the garbage collector happens to be running. There Python cannot raise it: it
prints "Exception ignored in ..." with a traceback and goes on as if nothing had been pressed.
`interrupts_kept` catches that case and delivers the interrupt again a moment later, outside the finaliser,
through whatever SIGINT handler is installed then.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

REDELIVERY_SECONDS = 0.01  # after the finaliser has returned


def _redeliver(signum, frame) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)


def _keep_interrupt(unraisable, previous) -> None:
    if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
        signal.setitimer(signal.ITIMER_REAL, REDELIVERY_SECONDS)
    else:
        previous(unraisable)


def keep_interrupts() -> None:
    """For the rest of this process (a worker): an interrupt swallowed by a finaliser is delivered again."""
    if not hasattr(signal, "setitimer"):  # Windows: no timer signal; the interrupt stays lost, as in plain Python
        return
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: _keep_interrupt(unraisable, previous)
    signal.signal(signal.SIGALRM, _redeliver)


@contextlib.contextmanager
def interrupts_kept():
    """`keep_interrupts` for the block only; the previous hook and SIGALRM handler come back after it."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    hook, alarm = sys.unraisablehook, signal.getsignal(signal.SIGALRM)
    keep_interrupts()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.unraisablehook = hook
        signal.signal(signal.SIGALRM, signal.SIG_DFL if alarm is None else alarm)  # None: one set outside Python
