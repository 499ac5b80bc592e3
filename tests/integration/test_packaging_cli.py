"""Packaging, import cost, registry and the `vpbehavior` command."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vpbehavior
from vpbehavior.cli import main
from vpbehavior.core import BehaviorLabels, Bout, Dataset, Recording
from vpbehavior.io import registry

REPO = Path(__file__).resolve().parents[2]
# conda-forge names of the pip packages where they differ
CONDA_NAMES = {"torch": "pytorch", "pyqt6": "pyqt", "tables": "pytables"}


def _names(requirements):
    return {re.split(r"[<>=!\[ ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_environment_yml_names_the_same_packages_as_setup_py():
    setup_text = (REPO / "setup.py").read_text()
    namespace: dict = {}
    for var in ("INSTALL_REQUIRES", "EXTRAS_REQUIRE"):
        block = re.search(rf"^{var} = (.*?)^[\]\}}]", setup_text, re.S | re.M).group(0)
        exec(block, namespace)
    pip_names = _names(namespace["INSTALL_REQUIRES"])
    for extra in namespace["EXTRAS_REQUIRE"].values():
        pip_names |= _names(extra)
    deps = (REPO / "environment.yml").read_text().split("dependencies:", 1)[1]
    env_lines = [
        ln.strip()[2:].strip()
        for ln in deps.splitlines()
        if ln.strip().startswith("- ") and not ln.strip().startswith("- pip:")
    ]
    env_names = _names(env_lines) - {"python", "pip", "-e ."}
    env_names = {n for n in env_names if not n.startswith("-e")}
    assert {CONDA_NAMES.get(n, n) for n in pip_names} == env_names


def test_import_does_not_pull_torch_or_h5py():
    code = "import sys, vpbehavior; print([m for m in ('torch', 'h5py', 'cv2', 'av') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_napari_manifest_is_registered_and_valid():
    from importlib.metadata import entry_points

    import npe2

    eps = [ep for ep in entry_points(group="napari.manifest") if ep.name == "napari-vpbehavior"]
    assert eps, "napari.manifest entry point missing (is the package installed?)"
    manifest = npe2.PluginManifest.from_file(REPO / "plugins/napari_vpbehavior/napari.yaml")
    assert manifest.name == "vpbehavior"  # npe2: the manifest name is the distribution name


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert vpbehavior.__version__ in capsys.readouterr().out
    assert main([]) == 0
    assert "inspect" in capsys.readouterr().out


def _toy_format(tmp_path):
    """Register a throwaway format that claims *.toy files."""

    def detect(path):
        return 1.0 if path.suffix == ".toy" else 0.0

    def load(path):
        labels = BehaviorLabels.from_bouts([Bout(0, 4, "m", "walk"), Bout(6, 7, "m", "rear")], 10, subjects=["m"])
        recs = [Recording(path.stem, n_frames=10, subjects=["m"], labels=labels, split="train")]
        return Dataset(recs, "toy", root=path)

    registry.register_format("toy", detect, load)
    path = tmp_path / "a.toy"
    path.write_text("x")
    return path


def test_registry_detects_and_loads_and_inspect_reports(tmp_path, capsys):
    path = _toy_format(tmp_path)
    try:
        assert registry.detect_format(path) == "toy"
        assert vpbehavior.load(path).recordings[0].name == "a"
        assert main(["inspect", str(path), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["format"] == "toy" and summary["recordings"] == 1 and summary["frames"] == 10
        assert summary["classes"] == ["walk", "rear"]
        assert summary["label_counts"] == {"walk": 4, "rear": 1}
        assert main(["inspect", str(path)]) == 0
        assert "walk" in capsys.readouterr().out
    finally:
        registry._FORMATS.pop("toy", None)


def test_registry_errors_name_the_path(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="nope"):
        vpbehavior.load(tmp_path / "nope")
    with pytest.raises(ValueError, match="unknown format"):
        vpbehavior.load(tmp_path, format="no-such-format")
    assert main(["inspect", str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "vpbehavior.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "inspect" in out.stdout


def test_every_flag_shows_its_default():
    import argparse

    from vpbehavior.cli import build_parser

    missing = []
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        for action in parser._actions:
            if not action.option_strings or action.required or isinstance(action, (argparse._HelpAction,)):
                continue
            if action.nargs == 0 and not isinstance(action, argparse.BooleanOptionalAction):
                continue  # plain switches (--force, --json) default to off
            if "default" not in (action.help or ""):
                missing.append(f"{name} {action.option_strings[0]}")
    assert not missing, missing


def test_config_fields_and_flags_agree():
    """Every TrainConfig / ExtractConfig field reaches the CLI and back unchanged."""
    import dataclasses

    from vpbehavior.cli import build_parser
    from vpbehavior.pipelines._flags import config_from_args

    args = build_parser().parse_args(["train", "d", "--out", "c.safetensors", "--epochs", "7", "--train-seed", "3",
                                      "--no-standardize", "--window", "1"])  # fmt: skip
    config = config_from_args(vpbehavior.TrainConfig, args)
    assert (config.max_epochs, config.seed, config.standardize, config.window) == (7, 3, False, 1)
    assert dataclasses.replace(config, max_epochs=50, seed=0, standardize=True) == vpbehavior.TrainConfig()
    args = build_parser().parse_args(["extract", "d", "--features", "f", "--clip-length", "8", "--no-subjects"])
    extract = config_from_args(vpbehavior.ExtractConfig, args)
    assert extract == vpbehavior.ExtractConfig(clip_length=8, subjects=False)
