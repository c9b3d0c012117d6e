"""CASE/UCO 1.x JSON-LD of a bundle's content (placeholder; see the full version)."""
from __future__ import annotations

import json


def render(info, files, photos, messages, custody) -> bytes:
    graph = {"@context": {"kb": "http://example.org/kb/"}, "@graph": []}
    return (json.dumps(graph, indent=1, sort_keys=True) + "\n").encode("utf-8")
