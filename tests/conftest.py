"""Shared test fixtures."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_shared_dir() -> Path | None:
    """../shared next to the checkout (or $VPBEHAVIOR_SHARED), if present."""
    candidate = Path(os.environ.get("VPBEHAVIOR_SHARED", REPO_ROOT.parent / "shared"))
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared reference data; tests that need it skip only when it is absent."""
    path = find_shared_dir()
    if path is None:
        pytest.skip("../shared (reference data) is not present")
    return path
