"""Ctrl-C and SIGTERM stop a run even where a library swallows the exception they raise.

SIGTERM (a CI timeout, a cluster's scheduler) raises ``Terminated`` and Ctrl-C ``KeyboardInterrupt``, both
BaseExceptions, so the build unwinds and removes its staging folder and lock (flow/pipeline.py). Some
libraries catch everything around an optional import (Brevitas' ``try: import fast_hadamard_transform
except:``): a signal that lands there would be swallowed and the build would run on to the end. So the
signal is also recorded, and ``check()``, called by the pipeline before each step and before the output is
swapped into place, raises it again.
"""

import signal


class Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C."""


_received = None  # the stop signal received during this run, if any


def _handler(signum, frame):
    global _received
    _received = signum
    raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def install():
    """Route SIGTERM and SIGINT through ``_handler``; return a function that restores the previous handlers."""
    global _received
    _received = None
    previous = {s: signal.signal(s, _handler) for s in (signal.SIGTERM, signal.SIGINT)}

    def restore():
        for s, h in previous.items():
            signal.signal(s, h)

    return restore


def check() -> None:
    """Raise again a stop signal received during this run (one that a library may have swallowed)."""
    if _received == signal.SIGINT:
        raise KeyboardInterrupt()
    if _received is not None:
        raise Terminated()
