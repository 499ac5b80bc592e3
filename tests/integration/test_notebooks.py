"""The example notebooks (examples/*.ipynb) run top to bottom on their tiny settings, and are committed clean.

Each notebook runs in a fresh kernel of this interpreter (a kernelspec written for the test, so
no other Python's "python3" kernel can be picked up), in a temporary working directory, with a
time limit per cell. The kernel sees the project's shared samples through ``$VPBEHAVIOR_SHARED``
(the notebooks skip, and say so, what is absent), one torch thread (tiny models on a shared
2-core machine are faster so) and no Hugging Face network access. A failing cell fails the test
with that cell's number, source and error; ``VPB_NOTEBOOK_EXECUTED=folder`` keeps the executed
notebooks, outputs and all, in that folder.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
CELL_TIMEOUT = int(os.environ.get("VPB_NOTEBOOK_CELL_TIMEOUT", "180"))  # seconds per cell
KERNEL_NAME = "vpbehavior-notebook-test"

#: What a notebook may import from vpbehavior: the public API, the model classes, and the
#: testing writers (synthetic files in a format's real layout, a tokenizer trained on the fly).
ALLOWED_IMPORTS = ("vpbehavior", "vpbehavior.models", "vpbehavior.testing")


def code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6, NOTEBOOKS
    listed = (EXAMPLES / "README.md").read_text()
    assert [p.name for p in NOTEBOOKS if p.name not in listed] == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean(path):
    nb = json.loads(path.read_text())
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts (python examples/_build.py)"
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# ")
    assert any("VPB_NOTEBOOK_TINY" in src for src in code_cells(path)), "no TINY switch"


def test_notebooks_match_their_build_script():
    proc = subprocess.run([sys.executable, str(EXAMPLES / "_build.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + proc.stdout


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_uses_the_public_api_only(path):
    for source in code_cells(path):
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] == "vpbehavior":
                    assert name in ALLOWED_IMPORTS or name.startswith("vpbehavior.testing."), (path.name, name)


@pytest.fixture(scope="module")
def kernel_spec_manager(tmp_path_factory):
    """A kernelspec that runs ipykernel in this interpreter, found only through this manager."""
    from jupyter_client.kernelspec import KernelSpecManager

    kernels = tmp_path_factory.mktemp("kernels")
    spec = kernels / KERNEL_NAME
    spec.mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "vpbehavior tests", "language": "python"})
    )
    return KernelSpecManager(kernel_dirs=[str(kernels)])


def kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    shared = REPO.parent / "shared"
    if shared.is_dir():
        env.setdefault("VPBEHAVIOR_SHARED", str(shared))
    defaults = {
        "VPB_NOTEBOOK_TINY": "1",
        "HF_HUB_OFFLINE": "1",  # CI must not need the network
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # quiets the debugger's frozen-modules note
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # a notebook's, whatever the shell says
    return env


def failed_cell(nb) -> str:
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"cell {i}"
    return "a cell"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, kernel_spec_manager):
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=kernel_spec_manager)
    client = NotebookClient(
        nb, km=km, timeout=CELL_TIMEOUT, startup_timeout=120, kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )  # fmt: skip
    started = time.perf_counter()
    try:
        client.execute(env=kernel_env())
    except (CellExecutionError, CellTimeoutError) as err:
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # IPython's colored traceback, as plain text
        pytest.fail(f"{path.name}: {failed_cell(nb)} failed:\n{message}", pytrace=False)
    finally:
        if km.has_kernel:  # nbclient leaves a kernel it did not start itself running
            km.shutdown_kernel(now=True)
        if os.environ.get("VPB_NOTEBOOK_EXECUTED"):  # a folder to keep the executed notebooks in (to look at)
            keep = Path(os.environ["VPB_NOTEBOOK_EXECUTED"])
            keep.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, keep / path.name)
    print(f"{path.name}: {time.perf_counter() - started:.1f} s")
    # a warning a reader would see (e.g. "FigureCanvasAgg is non-interactive": a plot that does not show) is a failure
    noisy = [
        f"cell {i}: {''.join(output['text']).strip()}"
        for i, cell in enumerate(nb.cells)
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stderr"
    ]
    assert not noisy, f"{path.name} wrote to stderr:\n" + "\n".join(noisy)
    assert (tmp_path / "outputs").is_dir()  # it wrote into its working directory, not beside itself
