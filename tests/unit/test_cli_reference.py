"""docs/cli.md is what scripts/cli_reference.py generates from the real parser, on any terminal."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cli_reference.py"


@pytest.fixture(scope="module")
def cli_reference():
    spec = importlib.util.spec_from_file_location("cli_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_docs_cli_md_is_up_to_date(cli_reference):
    generated = cli_reference.render()
    on_disk = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert on_disk == generated, (
        "docs/cli.md differs from the command-line parser; run `python scripts/cli_reference.py` and commit docs/cli.md"
    )


def test_every_command_has_a_section(cli_reference):
    from vpbehavior.cli import SUBCOMMANDS

    text = cli_reference.render()
    for name, _, _ in SUBCOMMANDS:
        assert f"\n## vpbehavior {name}\n" in text
        assert f"usage: vpbehavior {name} " in text
    assert "\n## vpbehavior pretrain stage1\n" in text


def test_output_does_not_depend_on_the_terminal_width(cli_reference, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    wide = cli_reference.render()
    monkeypatch.setenv("COLUMNS", "30")
    narrow = cli_reference.render()
    assert wide == narrow
    width = cli_reference.WIDTH
    blocks = wide.split("```text\n")[1:]
    assert blocks and all(len(line) <= width for b in blocks for line in b.split("```")[0].splitlines())


def test_version_quirks_are_normalized(cli_reference):
    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("--speed", help="about 30% faster (default: 1)")
    parser.add_argument("--flag", action=argparse.BooleanOptionalAction, default=True, help="a switch (default: True)")
    parser.add_argument("--pct", help="a literal 50%% and the prog %(prog)s")
    text = cli_reference.render(parser)
    assert "about 30% faster (default: 1)" in text  # argparse alone would %-format it into the action's dict
    assert "0x" not in text
    assert "a switch (default: True)\n" in text  # Python 3.10 would add "(default: True)" a second time
    assert "a literal 50% and the prog demo" in text
    assert "optional arguments:" not in text and "\noptions:\n" in text
    assert "\x1b[" not in text


def test_check_reports_a_stale_file(cli_reference, tmp_path, capsys):
    stale = tmp_path / "cli.md"
    stale.write_text(cli_reference.render().replace("show this help message", "show help"), encoding="utf-8")
    assert cli_reference.main(["--check", "--out", str(stale)]) == 1
    captured = capsys.readouterr()
    assert "-  -h, --help            show help" in captured.out
    assert "python scripts/cli_reference.py" in captured.err
    assert cli_reference.main(["--out", str(stale)]) == 0
    assert cli_reference.main(["--check", "--out", str(stale)]) == 0
