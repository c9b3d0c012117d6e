"""Work counted, not wall time (STYLE.md: "Bound work, not wall time"): a test that must show
a parser stops early, or does no more for a hostile input than for a sound one, counts the
Python-level calls it makes. The count is the same on an idle machine and on a loaded one."""
from __future__ import annotations

import sys
from typing import Any, Callable


def counted(fn: Callable[[], Any]) -> tuple[Any, int]:
    """(fn(), the Python-level calls it made, C functions included). Imports done on the way
    (once per process, whichever test comes first) are not counted."""
    steps = 0
    importing = None

    def profile(frame, event, arg) -> None:
        nonlocal steps, importing
        if importing is not None:
            if event == "return" and frame is importing:
                importing = None
        elif event == "call":
            if frame.f_code.co_filename.startswith("<frozen importlib"):
                importing = frame
            else:
                steps += 1
        elif event == "c_call":
            steps += 1
    before = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = fn()
    finally:
        sys.setprofile(before)
    return result, steps
