"""The layers of docs/architecture.md, checked: no module imports a layer above its own."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"forensic": "forensic", "cli": "forensic.cli", "exporters": "forensic.exporters",
           "chain_of_custody": "forensic.chain_of_custody", "extractors": "forensic.extractors",
           "training": "forensic.training"}

# layer -> the layers it may import (besides itself), as the table in docs/architecture.md
ALLOWED = {
    "core": {"core", "sources", "store"},
    "sources": {"core", "sources", "store"},
    "store": {"core", "sources", "store"},
    "extractors": {"core", "store"},
    "pipeline": {"core", "sources", "store", "extractors"},
    "custody": {"core", "store"},
    "exporters": {"core", "sources", "store", "custody"},
    "training": {"core", "sources", "store", "extractors", "pipeline", "custody", "exporters"},
    "cli": {"core", "sources", "store", "extractors", "pipeline", "custody", "exporters", "training", "serve"},
    # the review workspace: a user interface like the CLI, whose tagging is `forensic tag add`'s own code
    "serve": {"core", "sources", "store", "extractors", "pipeline", "custody", "exporters", "cli"},
}
PREFIXES = (("forensic.cli", "cli"), ("forensic.serve", "serve"), ("forensic.exporters", "exporters"),
            ("forensic.chain_of_custody", "custody"),
            ("forensic.extractors", "extractors"), ("forensic.training", "training"), ("forensic.store", "store"),
            ("forensic.sources", "sources"), ("forensic.pipeline", "pipeline"), ("forensic.intake", "pipeline"),
            ("forensic.cluster", "pipeline"),
            ("forensic", "core"))


def layer_of(module: str) -> str | None:
    for prefix, name in PREFIXES:
        if module == prefix or module.startswith(prefix + "."):
            return name
    return None


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    rest = [p for p in parts[1:] if p != "__init__"]
    return ".".join([FOLDERS[parts[0]], *rest])


def imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
    return out


def test_no_module_imports_a_layer_above_its_own():
    wrong = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            mine = layer_of(module_of(path))
            for line, target in imports(path):
                theirs = layer_of(target)
                if theirs is not None and theirs not in ALLOWED[mine] and theirs != mine:
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: {mine} imports {target} ({theirs})")
    assert not wrong, "imports against docs/architecture.md:\n" + "\n".join(wrong)


def test_the_check_knows_every_layer():
    assert layer_of("forensic.store.records") == "store"
    assert layer_of("forensic.intake") == "pipeline"
    assert layer_of("forensic.case") == "core"
    assert layer_of("forensic.training.check") == "training"
    assert "training" not in ALLOWED["core"] and "custody" not in ALLOWED["extractors"]
