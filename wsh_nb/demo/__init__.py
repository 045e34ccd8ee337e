"""``wsh-nb demo``: a local three-backend cluster and a tour of the seed's workflows.

``LocalCluster`` (from ``wsh_nb.launchers``) is the reusable piece: the demo, the notebooks and the test
fixtures all start their servers with it.  ``run(args)`` is what ``wsh-nb demo`` calls.
"""

from ..launchers import LocalCluster
from .tour import run

__all__ = ["LocalCluster", "run"]
