"""A Ctrl-C that lands in a finaliser is delivered again just after it, not swallowed with a printed traceback."""

import os
import signal
import sys
import time

import pytest

from diet.interrupts import interrupts_kept

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="no timer signal on this platform")


class PressesCtrlCWhileFinalised:
    """Its `__del__` gets a real SIGINT, whose handler then raises inside the finaliser (what the GC can do)."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # bytecodes: the handler runs among them, here
            pass


def wait_for_interrupt(seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            time.sleep(0.001)
    except KeyboardInterrupt:
        return True
    return False


def test_an_interrupt_swallowed_by_a_finaliser_comes_again(capfd):
    with interrupts_kept():
        PressesCtrlCWhileFinalised()  # dropped at once: __del__ runs here
        assert wait_for_interrupt()
    assert "Exception ignored" not in capfd.readouterr().err


def test_without_it_python_loses_the_interrupt_and_prints_a_traceback(capfd):
    """The failure the hook exists for (this is what plain Python does)."""
    hook, sys.unraisablehook = sys.unraisablehook, sys.__unraisablehook__
    try:
        PressesCtrlCWhileFinalised()
        assert not wait_for_interrupt(0.2)
    finally:
        sys.unraisablehook = hook
    err = capfd.readouterr().err
    assert "Exception ignored" in err and "KeyboardInterrupt" in err


def test_other_unraisable_errors_still_reach_the_previous_hook():
    seen = []

    class Raises:
        def __del__(self):
            raise ValueError("from a finaliser")

    hook, sys.unraisablehook = sys.unraisablehook, seen.append
    try:
        with interrupts_kept():
            Raises()
            assert not wait_for_interrupt(0.05)
        assert sys.unraisablehook == seen.append  # restored
    finally:
        sys.unraisablehook = hook
    assert [u.exc_type for u in seen] == [ValueError]
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
