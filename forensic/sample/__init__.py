"""Sample evidence for training and end-to-end tests: ``forensic sample-image``.

:func:`build_sample` writes a small fictional case (phone disk image, camera card, logical
extraction) and its answer key; :mod:`forensic.sample.check` compares a case with the key.
"""
from __future__ import annotations

from forensic.sample.story import DEFAULT_SCENARIO, SCENARIOS

__all__ = ["DEFAULT_SCENARIO", "SCENARIOS", "build_sample"]


def build_sample(*args, **kwargs):
    from forensic.sample.build import build_sample as _build
    return _build(*args, **kwargs)
