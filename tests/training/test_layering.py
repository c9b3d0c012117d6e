"""The trainer's package sits on top: the core never imports forensic.training.

forensic.training builds sample images with everything below it (sources, extractors,
custody); if the core imported it back, every examiner's install would load the trainer and
the layers could no longer be changed one at a time. The CLI may import it, but only inside
the commands that use it, so that ``forensic --help`` does not load it.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Folder -> installed package name (pyproject.toml [tool.setuptools.package-dir]).
CORE = {"forensic": "forensic", "extractors": "forensic.extractors",
        "chain_of_custody": "forensic.chain_of_custody", "exporters": "forensic.exporters"}
TRAINING = "forensic.training"


def _is_training(name: str) -> bool:
    return any(name == top or name.startswith(top + ".") for top in (TRAINING, "training"))


def _package(path: Path, folder: str, package: str) -> list[str]:
    """The dotted package that ``path`` (a .py file under ``folder``) belongs to."""
    parts = path.relative_to(ROOT / folder).with_suffix("").parts
    parts = parts if path.name == "__init__.py" else parts[:-1]
    return package.split(".") + [p for p in parts if p != "__init__"]


def training_imports(path: Path, package: list[str], *, top_level_only: bool = False) -> list[str]:
    """``file:line: statement`` for each import of forensic.training in ``path``: import,
    from-import (relative ones resolved against ``package``) and import_module/__import__ of
    a literal name. ``top_level_only``: skip those inside a function (imported lazily)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lazy: set[int] = set()
    if top_level_only:
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                lazy.update(id(n) for n in ast.walk(fn) if n is not fn)
    found = []
    for node in ast.walk(tree):
        if id(node) in lazy:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names = [module] + [f"{module}.{a.name}" for a in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Name) and node.func.id == "__import__")
                   or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"))):
            names = [node.args[0].value]
        if any(_is_training(n) for n in names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def _py_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def test_the_core_never_imports_training():
    files = [(p, folder, package) for folder, package in CORE.items() for p in _py_files(folder)]
    assert len(files) > 20                                   # the scan did find the core
    found = [hit for p, folder, package in files for hit in training_imports(p, _package(p, folder, package))]
    assert not found, "the core imports forensic.training (it must not):\n" + "\n".join(found)


def test_the_cli_imports_training_only_inside_commands():
    found = [hit for p in _py_files("cli")
             for hit in training_imports(p, _package(p, "cli", "forensic.cli"), top_level_only=True)]
    assert not found, ("the CLI imports forensic.training when a module loads; import it inside the "
                       "command function:\n" + "\n".join(found))


def test_the_scan_finds_each_form_of_import(tmp_path, monkeypatch):
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    bad = tmp_path / "forensic" / "store" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("import forensic.training.build\n"
                   "from forensic.training import check\n"
                   "from forensic import training\n"
                   "from .. import training\n"
                   "from ..training.story import SCENARIOS\n"
                   "import training\n"
                   "importlib.import_module('forensic.training.check')\n"
                   "from forensic import trainingwheels, errors\n"
                   "from . import training\n"
                   "def later():\n    from forensic.training import build\n", encoding="utf-8")
    lines = [int(hit.split(":")[1]) for hit in training_imports(bad, _package(bad, "forensic", "forensic"))]
    assert lines == [1, 2, 3, 4, 5, 6, 7, 11]               # 8: another name; 9: forensic.store.training
    top = [int(hit.split(":")[1])
           for hit in training_imports(bad, _package(bad, "forensic", "forensic"), top_level_only=True)]
    assert top == [1, 2, 3, 4, 5, 6, 7]


def _loaded_after(code: str, tmp_path: Path) -> list[str]:
    probe = code + ("\nimport sys\nprint('\\n'.join(m for m in sys.modules if m == 'training'"
                    " or m.startswith(('forensic.training', 'training.'))))")
    r = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_loading_the_cli_does_not_load_training(tmp_path):
    assert _loaded_after("import forensic.cli.main", tmp_path) == []


def test_forensic_help_does_not_load_training(tmp_path):
    # `forensic --help` imports every command module to list the commands' short help.
    code = ("import contextlib, io\nfrom forensic.cli.main import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n    assert main(['--help']) == 0\n"
            "assert 'sample-image' in out.getvalue() and 'training' in out.getvalue()")
    assert _loaded_after(code, tmp_path) == []


def test_sample_image_help_still_lists_the_scenarios(tmp_path):
    code = ("import contextlib, io\nfrom forensic.cli.main import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n    assert main(['sample-image', '--help']) == 0\n"
            "text = ' '.join(out.getvalue().split())\n"
            "assert '--scenario [atlantic-route|balkan-route]' in text, text\n"
            "assert '[default: balkan-route]' in text, text")
    assert "forensic.training" in _loaded_after(code, tmp_path)
