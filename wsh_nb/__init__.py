"""wsh_nb: drive terminal sessions across a federation of wsh servers from a Jupyter notebook.

    from wsh_nb import get_hub
    hub = get_hub()                       # the kernel's hub (a background loop thread)
    s = hub.create_session("build", tags=["ci"])
    s.send("make\\n"); s.wait_idle(); s.screen()

Public names only.  The notebook names (``Hub``, ``Session``, … which pull in pandas) and ``AsyncHub`` are
imported on first use, so ``python -m wsh_nb serve`` starts without loading the notebook stack.
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from . import errors
from ._version import __version__
from .errors import (
    AmbiguousSession,
    HealthTimeout,
    IdleTimeout,
    InvalidRequest,
    NoSessions,
    ServerNotFound,
    ServerUnavailable,
    SessionNotFound,
    WshError,
)

if _TYPE_CHECKING:
    from .hub import AsyncHub
    from .launchers import LocalCluster
    from .notebook.display import ScreenView
    from .notebook.facade import Hub, IdleResult, Session, get_hub

__all__ = [
    "AmbiguousSession",
    "AsyncHub",
    "HealthTimeout",
    "Hub",
    "IdleResult",
    "IdleTimeout",
    "InvalidRequest",
    "LocalCluster",
    "NoSessions",
    "ScreenView",
    "ServerNotFound",
    "ServerUnavailable",
    "Session",
    "SessionNotFound",
    "WshError",
    "__version__",
    "errors",
    "get_hub",
    "load_ipython_extension",
    "unload_ipython_extension",
]

_LAZY = {
    "AsyncHub": ".hub",
    "Hub": ".notebook.facade",
    "IdleResult": ".notebook.facade",
    "LocalCluster": ".launchers",
    "ScreenView": ".notebook.display",
    "Session": ".notebook.facade",
    "get_hub": ".notebook.facade",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wsh_nb' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: _Any) -> None:
    """``%load_ext wsh_nb``: registers the ``%wsh`` magics (implemented in ``wsh_nb.notebook.magics``)."""
    from .notebook import magics

    magics.load_ipython_extension(ipython)


def unload_ipython_extension(ipython: _Any) -> None:
    """``%unload_ext wsh_nb``."""
    from .notebook import magics

    unload = getattr(magics, "unload_ipython_extension", None)
    if unload is not None:
        unload(ipython)
