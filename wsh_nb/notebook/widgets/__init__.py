"""Live ipywidgets for the notebook: ``ClusterDashboard``, ``SessionGrid``, ``TerminalView``.

Each widget owns one updater thread (``updater.py``) that talks only to the sync ``Hub`` facade, is fed by
hub events where there are any, is throttled to at most 5 refreshes a second, and stops on ``close()``.
"""

from .dashboard import ClusterDashboard
from .grid import SessionGrid
from .terminal import TerminalView

__all__ = ["ClusterDashboard", "SessionGrid", "TerminalView"]
