"""The wsh wire protocol over HTTP for an AsyncHub (``wsh-nb serve``, ``Hub(serve=...)``)."""

from .app import create_app
from .runner import RunningServer, bind_socket, serve_hub

__all__ = ["RunningServer", "bind_socket", "create_app", "serve_hub"]
