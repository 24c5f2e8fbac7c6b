"""Progress: a tqdm bar on a terminal, plain timed lines in a log."""

import io

import flow.progress as progress_module
from flow.progress import progress, ticker


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_plain_lines_only_as_time_passes(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(progress_module, "PLAIN_EVERY", 0.0)  # every item is "long enough" ...
    assert list(progress(range(4), "lower", "reference image", stream=log)) == [0, 1, 2, 3]
    lines = log.getvalue().splitlines()
    assert [l.split("] ")[1].rsplit(" (", 1)[0] for l in lines] == [  # ... but the last: the step says it
        "lower: reference image 1 of 4", "lower: reference image 2 of 4", "lower: reference image 3 of 4"]
    log = io.StringIO()
    monkeypatch.setattr(progress_module, "PLAIN_EVERY", 3600.0)
    assert list(progress(iter(range(5)), "csim", "image", stream=log)) == list(range(5))
    assert log.getvalue() == ""  # a quick loop leaves the log alone


def test_a_terminal_gets_a_bar():
    term = Terminal()
    with ticker("quantize", "reconstructed block", 3, stream=term) as tick:
        for _ in range(3):
            tick()
    shown = term.getvalue()  # tqdm draws the bar (at most every 0.1 s) and clears it when done
    assert shown.startswith("\rquantize: reconstructed blocks:   0%") and "0/3" in shown
    assert shown.rstrip("\r").endswith(" " * 20)
