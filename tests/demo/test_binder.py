"""The Binder files: a requirements file that installs the package's dependencies, an executable
``postBuild`` with ``set -e`` that installs the package, and a ``start`` that ends with ``exec "$@"``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_requirements_install_the_package_and_its_notebook_dependencies():
    lines = [
        ln.strip()
        for ln in (BINDER / "requirements.txt").read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    names = {_name(ln) for ln in lines if not ln.startswith(("-", "."))}
    for needed in ("ipykernel", "ipywidgets", "jupyterlab"):  # what the notebooks need on top
        assert needed in names, f"{needed} missing from binder/requirements.txt"
    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in runtime:
        if ";" in dep and "python_version < '3.11'" in dep:
            continue  # the image's Python is current; this marker never applies there
        assert _name(dep) in names, f"pyproject dependency {dep!r} missing from binder/requirements.txt"


def test_postbuild_is_executable_strict_and_installs_the_package():
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    text = post.read_text()
    assert text.startswith("#!"), "postBuild needs a shebang"
    code = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert "set -e" in code[0] or any(re.match(r"set -[a-z]*e", ln) for ln in code[:2]), code
    assert any(re.search(r"pip install\b.*(\s\.|\s\.\[)", ln) for ln in code), "postBuild must pip install ."


def test_start_is_executable_and_ends_with_exec():
    start = BINDER / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable"
    code = [ln.strip() for ln in start.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert code[-1] == 'exec "$@"', f'binder/start must end with exec "$@", ends with {code[-1]!r}'


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("script", ["postBuild", "start"])
def test_binder_scripts_parse(script):
    subprocess.run(["bash", "-n", str(BINDER / script)], check=True)


def test_start_runs_the_given_command():
    out = subprocess.run(
        [str(BINDER / "start"), "sh", "-c", 'echo "started with SHELL=$SHELL"'],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout.strip().startswith("started with SHELL=/")
