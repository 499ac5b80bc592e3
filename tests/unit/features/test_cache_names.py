"""Feature cache file names always fit the 255-byte file-name limit and stay unique."""

import os

import pytest

from vpbehavior.features import cache as fcache


def name_bytes(path) -> int:
    return len(os.fsencode(path.name))


@pytest.mark.parametrize("with_video", [False, True])
def test_250_character_name_fits_and_works_on_disk(tmp_path, with_video):
    name = "m" * 250
    video = tmp_path / "v.mp4" if with_video else None
    path = fcache.cache_path(tmp_path, name, video)
    assert path.name.endswith(fcache.SUFFIX) and path.name.startswith("m" * 100)
    assert name_bytes(path) <= 240
    # the real file and the partial file used while extracting can be created
    path.write_bytes(b"")
    fcache.partial_path(path).write_bytes(b"")
    assert name_bytes(fcache.partial_path(path)) <= 255
    # deterministic, and different long names sharing a beginning do not collide
    assert fcache.cache_path(tmp_path, name, video) == path
    assert fcache.cache_path(tmp_path, name + "x", video) != path
    assert fcache.cache_path(tmp_path, "m" * 249 + "n", video) != path


def test_long_non_ascii_name_counts_bytes(tmp_path):
    name = "マウス_社会的行動_" * 20  # 200 characters, 600 UTF-8 bytes
    path = fcache.cache_path(tmp_path, name, tmp_path / "day1" / "m1.mp4")
    assert name_bytes(path) <= 240
    assert path.name.startswith("マウス_社会的行動_")
    path.write_bytes(b"")  # the file system accepts it
    fcache.partial_path(path).write_bytes(b"")
    stem = path.name[: -len(fcache.SUFFIX)]
    stem.encode("utf-8")  # never a broken character
    assert fcache.cache_path(tmp_path, name, tmp_path / "day2" / "m1.mp4") != path
    assert fcache.cache_path(tmp_path, name + "!", tmp_path / "day1" / "m1.mp4") != path


def test_short_names_are_unchanged(tmp_path):
    assert fcache.cache_path(tmp_path, "m1") == tmp_path / "m1.features.h5"
    assert fcache.cache_path(tmp_path, "a b/c") == tmp_path / "a_b_c.features.h5"
    video = tmp_path / "m1.mp4"
    path = fcache.cache_path(tmp_path, "m1", video)
    assert path.name.startswith("m1-") and len(path.name) == len("m1-12345678.features.h5")
