"""The tree stays ruff-clean and the layers only import downwards."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["terminal", "sessions", "federation", "hub", "server|notebook"]  # lower → higher
BASE = {"errors", "wire", "events", "_version"}  # shared by every layer


def test_ruff_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _layer(module: str) -> int | None:
    top = module.split(".")[0]
    for rank, names in enumerate(LAYERS):
        if top in names.split("|"):
            return rank
    return None


def test_lower_layers_never_import_higher_ones():
    package = ROOT / "wsh_nb"
    for path in package.rglob("*.py"):
        rel = path.relative_to(package).with_suffix("")
        own = _layer(rel.parts[0]) if rel.parts[0] != "__init__" else None
        if own is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                if node.level == 0 and not node.module.startswith("wsh_nb."):
                    continue
                target = node.module.removeprefix("wsh_nb.") if node.level == 0 else node.module
                if node.level == 1 and len(rel.parts) > 1:  # a sibling inside the same subpackage
                    continue
                imported = _layer(target)
                if imported is not None and target.split(".")[0] not in BASE:
                    assert imported <= own, (
                        f"{rel} (layer {LAYERS[own]}) imports {target} (layer {LAYERS[imported]})"
                    )
