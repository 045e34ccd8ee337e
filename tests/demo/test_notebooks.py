"""Every notebook in ``notebooks/`` executed top to bottom by a real ``python3`` kernel (nbclient), the way
CI and an agent run them: ``WSH_NONINTERACTIVE=1``, a deadline per cell, any error cell fails the test, and
no ``wsh-nb serve`` process the notebook started survives it."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from .conftest import still_running

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = [
    "01-quickstart.ipynb",
    "02-distributed-fanout.ipynb",
    "03-pipelines-and-failures.ipynb",
    "04-dashboard.ipynb",
]
CELL_TIMEOUT = 60


def test_the_four_notebooks_exist_with_stripped_outputs():
    assert [nb.name for nb in NOTEBOOKS] == EXPECTED
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs in git"
        kinds = [cell.cell_type for cell in nb.cells]
        assert kinds[0] == "markdown", f"{path.name} opens with a narrative cell"
        says = " ".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "You should see" in says, f"{path.name}: tell the reader what to expect"


@pytest.mark.timeout(150)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, run_marker):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()  # the kernel inherits WSH_NONINTERACTIVE=1 and the run marker
    except CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed\n{exc}")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert still_running(run_marker) == [], "the notebook left processes behind"
