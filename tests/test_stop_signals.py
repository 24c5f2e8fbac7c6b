"""A stop signal swallowed by a library's catch-all still stops the run at the next check."""

import os
import signal

import pytest

from flow import stop_signals


@pytest.mark.parametrize("sig,raised", [(signal.SIGTERM, stop_signals.Terminated), (signal.SIGINT, KeyboardInterrupt)])
def test_a_swallowed_signal_is_raised_again(sig, raised):
    restore = stop_signals.install()
    try:
        stop_signals.check()  # nothing received yet
        try:  # the shape of Brevitas' optional import: `try: import x except: ...`
            os.kill(os.getpid(), sig)  # the handler runs, and raises, before the next statement
            pytest.fail("the handler did not raise")
        except:  # noqa: E722
            pass
        with pytest.raises(raised):
            stop_signals.check()
    finally:
        restore()
    assert signal.getsignal(sig) is not stop_signals._handler


def test_install_forgets_an_earlier_runs_signal():
    stop_signals._received = signal.SIGTERM
    stop_signals.install()()
    stop_signals.check()
