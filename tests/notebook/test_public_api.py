"""The public namespace: a sorted ``__all__`` that is exactly the public names, all importable."""

from __future__ import annotations

import subprocess
import sys
import types

import wsh_nb

LAZY_AND_EXPORTED = {"AsyncHub", "Hub", "IdleResult", "LocalCluster", "ScreenView", "Session", "get_hub"}


def test_all_is_sorted_and_every_name_resolves():
    assert wsh_nb.__all__ == sorted(wsh_nb.__all__)
    for name in wsh_nb.__all__:
        assert getattr(wsh_nb, name) is not None


def test_all_equals_the_public_names():
    for name in LAZY_AND_EXPORTED:
        getattr(wsh_nb, name)
    public = {
        name
        for name, value in vars(wsh_nb).items()
        if not name.startswith("_") and not (isinstance(value, types.ModuleType) and name != "errors")
    }
    assert public | {"__version__"} == set(wsh_nb.__all__)


def test_names_are_the_real_objects():
    from wsh_nb import errors
    from wsh_nb.hub import AsyncHub
    from wsh_nb.notebook.facade import Hub, get_hub

    assert wsh_nb.Hub is Hub and wsh_nb.get_hub is get_hub and wsh_nb.AsyncHub is AsyncHub
    assert wsh_nb.errors is errors and wsh_nb.SessionNotFound is errors.SessionNotFound
    assert wsh_nb.__version__ == __import__("wsh_nb._version").__version__


def test_importing_wsh_nb_does_not_load_pandas():
    code = "import sys, wsh_nb; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "False", out.stderr
