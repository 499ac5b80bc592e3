"""The dependency direction of DESIGN.md, checked by parsing every module's imports.

cli -> pipelines -> api -> {classify, features, protocols} -> {models, io, runtime} -> core.
Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import vpbehavior

PACKAGE = Path(vpbehavior.__file__).parent
PUBLIC_API = {"vpbehavior", "vpbehavior.api", "vpbehavior.core", "vpbehavior.core.errors", "vpbehavior.reporting"}


def _imports(path: Path) -> set[str]:
    """Absolute names of the vpbehavior modules a file imports (relative imports resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{a.name}" for a in node.names)
    return {n for n in names if n == "vpbehavior" or n.startswith("vpbehavior.")}


def _files(sub: str) -> list[Path]:
    return sorted((PACKAGE / sub).rglob("*.py"))


def test_core_imports_no_other_vpbehavior_package():
    offenders = {}
    for path in _files("core"):
        bad = {n for n in _imports(path) if not n.startswith("vpbehavior.core") and n != "vpbehavior"}
        if bad:
            offenders[path.name] = sorted(bad)
    assert not offenders, offenders


def test_io_and_models_do_not_import_the_layers_above():
    above = ("vpbehavior.classify", "vpbehavior.features", "vpbehavior.pipelines", "vpbehavior.api", "vpbehavior.cli")
    offenders = {}
    for sub in ("io", "models"):
        for path in _files(sub):
            bad = {n for n in _imports(path) if n.startswith(above)}
            if bad:
                offenders[f"{sub}/{path.name}"] = sorted(bad)
    assert not offenders, offenders


def test_features_never_import_classify():
    offenders = {p.name: sorted(_imports(p)) for p in _files("features") if any("classify" in n for n in _imports(p))}
    assert not offenders, offenders


def test_search_sits_beside_classify_and_pretrain():
    """search builds on features, models and io; nothing at its level or above, and features never need it."""
    beside = ("vpbehavior.classify", "vpbehavior.pretrain", "vpbehavior.scoring", "vpbehavior.pipelines",
              "vpbehavior.api", "vpbehavior.cli", "vpbehavior.protocols")  # fmt: skip
    offenders = {p.name: sorted(n for n in _imports(p) if n.startswith(beside)) for p in _files("search")}
    offenders = {k: v for k, v in offenders.items() if v}
    offenders.update({p.name: ["vpbehavior.search"] for p in _files("features") + _files("models") + _files("io")
                      if any(n.startswith("vpbehavior.search") for n in _imports(p))})  # fmt: skip
    assert not offenders, offenders


def test_pipelines_use_only_the_public_api():
    """Commands call `vpbehavior` / `vpbehavior.api` (and their own flag and output helpers), nothing below."""
    allowed_internal = {
        "vpbehavior._outputs",  # output checks made before work starts
        "vpbehavior.pipelines",  # the commands' own helpers (_flags)
    }
    offenders = {}
    for path in _files("pipelines"):
        bad = set()
        for name in _imports(path):
            if name in PUBLIC_API or any(name == a or name.startswith(a + ".") for a in allowed_internal):
                continue
            if name.rpartition(".")[0] in PUBLIC_API:  # from vpbehavior.api import X
                continue
            bad.add(name)
        if bad:
            offenders[path.name] = sorted(bad)
    assert not offenders, offenders


def test_import_vpbehavior_loads_no_torch_or_h5py():
    code = "import sys, vpbehavior; vpbehavior.Recording; print(sorted(m for m in ('torch', 'h5py', 'av', 'cv2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out


def test_cli_help_builds_without_torch():
    code = "import sys; from vpbehavior.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
