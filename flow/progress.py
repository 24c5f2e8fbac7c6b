"""Progress of the flow's steps on stderr: '[  12.3s] stage: message' lines (say), and over a long loop
(progress, or ticker where the loop runs inside a library) a tqdm bar when stderr is a terminal, or, in a
log or CI, a plain line whenever PLAIN_EVERY seconds have passed, so a log shows the loop alive without a
line per item."""

import sys
import time
from contextlib import contextmanager

_T0 = time.monotonic()
PLAIN_EVERY = 10.0  # seconds between plain progress lines in a log


def say(stage: str, message: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {stage}: {message}", file=sys.stderr, flush=True)


@contextmanager
def ticker(stage: str, what: str, total: int | None = None, stream=None):
    """A function to call once per item done (``what`` names an item: "image", "block"). A bar on a
    terminal (tqdm, cleared when done: the step's own summary line follows), plain lines elsewhere."""
    stream = stream or sys.stderr
    if stream.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"{stage}: {what}s", unit=f" {what}", file=stream, leave=False,
                   dynamic_ncols=True)
        try:
            yield lambda: bar.update(1)
        finally:
            bar.close()
        return
    state = {"done": 0, "start": time.monotonic()}
    state["last"] = state["start"]

    def tick():
        state["done"] += 1
        now = time.monotonic()
        if now - state["last"] >= PLAIN_EVERY and (total is None or state["done"] < total):
            of = f" of {total}" if total is not None else ""
            print(f"[{now - _T0:7.1f}s] {stage}: {what} {state['done']}{of} ({now - state['start']:.0f} s)",
                  file=stream, flush=True)
            state["last"] = now

    yield tick


def progress(items, stage: str, what: str, total: int | None = None, stream=None):
    """Yield ``items``, ticking once per item (ticker)."""
    total = total if total is not None else (len(items) if hasattr(items, "__len__") else None)
    with ticker(stage, what, total, stream) as tick:
        for item in items:
            yield item
            tick()
