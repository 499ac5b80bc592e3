"""Fixtures of the napari plugin tests: a shown viewer (under Xvfb, via pytest-xvfb) with the plugin's session."""

from __future__ import annotations

import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")


@pytest.fixture
def viewer(make_napari_viewer):
    """A shown viewer whose session never asks before discarding edits (no modal dialogs in tests)."""
    from napari_vpbehavior._session import session_for

    v = make_napari_viewer(show=True)
    session = session_for(v)
    session.confirm_discard = lambda what: True
    yield v
    session.model.mark_saved()


@pytest.fixture
def fly_video(shared_dir):
    path = shared_dir / "recordings/sleap_fly_pair/centered_pair_low_quality.mp4"
    if not path.is_file():
        pytest.skip("the fly recording is not in ../shared")
    return path
