"""Sample evidence for training and end-to-end tests: ``forensic sample-image``.

:func:`build_sample` writes a small fictional case (phone disk image, camera card, logical
extraction) and its answer key; :mod:`forensic.training.check` compares a case with the key.
This package imports the core (forensic/, extractors/, ...); the core never imports it
(tests/training/test_layering.py), and the CLI only inside the commands that use it.
"""
from __future__ import annotations

from forensic.training.story import DEFAULT_SCENARIO, SCENARIOS

__all__ = ["DEFAULT_SCENARIO", "SCENARIOS", "build_sample"]


def build_sample(*args, **kwargs):
    from forensic.training.build import build_sample as _build
    return _build(*args, **kwargs)
