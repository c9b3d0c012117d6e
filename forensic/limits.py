"""Caps that keep hostile input from exhausting time, memory or disk."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 4                      # nested archives inside archives/images
    max_members: int = 200_000              # entries per archive
    archive_min_budget: int = 1 << 30       # output bytes an archive may always expand to
    archive_ratio: int = 200                # ... or this many times its own size, if larger
    max_dir_depth: int = 256                # folder nesting inside a file system
    extractor_bytes: int = 64 << 20         # content handed to extractors in memory
    max_carved: int = 100_000               # photos carved from one space (unallocated, slack, unpartitioned)
    chunk: int = 1 << 20                    # read size


DEFAULT_LIMITS = Limits()
