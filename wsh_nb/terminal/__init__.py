"""The terminal layer: a PTY child, the VT screen over its output, and its activity / idle waits.

Imports only the stdlib, pyavt and ``wsh_nb.errors``; sessions build on it, never the other way round.
"""

from wsh_nb.terminal.activity import Activity
from wsh_nb.terminal.pty import PtyProcess
from wsh_nb.terminal.screen import Screen

__all__ = ["Activity", "PtyProcess", "Screen"]
