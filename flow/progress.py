"""Progress lines for long steps: '[  12.3s] stage: message' on stderr."""

import sys
import time

_T0 = time.monotonic()


def say(stage: str, message: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {stage}: {message}", file=sys.stderr, flush=True)
