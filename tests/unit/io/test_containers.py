"""Containers beyond mp4, written through PyAV with known frames: exact counts, random access equal to
sequential decoding for every frame, the decoded index (one DataWarning) where timestamps cannot be
used, and `vpbehavior.load` finding each file of a folder as a recording."""

from __future__ import annotations

import hashlib
import random
import warnings
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from vpbehavior.io.video import VIDEO_SUFFIXES, open_video, probe_video, verify_video  # noqa: E402
from vpbehavior.reporting import DataWarning  # noqa: E402

H, W = 64, 96
N = 75
BLOCK = 12  # the frame number is drawn in binary as 8 blocks of 12 x 12 px in the top row


def numbered_frame(i: int) -> np.ndarray:
    """RGB frame showing ``i`` in binary (top row), over a moving bar so that P and B frames occur."""
    f = np.full((H, W, 3), 50, np.uint8)
    f[24:, :, 2] = 90
    x = (3 * i) % (W - 16)
    f[30:58, x : x + 16] = (220, 180, 40)
    for b in range(8):
        if (i >> b) & 1:
            f[:BLOCK, b * BLOCK : (b + 1) * BLOCK] = 255
    return f


def frame_number(frame: np.ndarray) -> int:
    bits = [frame[2 : BLOCK - 2, b * BLOCK + 2 : (b + 1) * BLOCK - 2].mean() > 150 for b in range(8)]
    return sum(int(v) << b for b, v in enumerate(bits))


def write(path: Path, codec: str, n: int = N, fmt: str | None = None, pix_fmt: str = "yuv420p", **opts) -> Path:
    """Encode ``numbered_frame(0..n-1)`` with PyAV (GOP of 12; ``bf`` B-frames where the codec has them)."""
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height, s.pix_fmt = W, H, pix_fmt
        s.codec_context.gop_size = 12
        if "bf" in opts:
            s.codec_context.max_b_frames = int(opts.pop("bf"))
        s.options = {k: str(v) for k, v in opts.items()}
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(numbered_frame(i), format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def sha(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()


# name, codec, muxer format, pixel format, encoder options, index kind expected
CASES = {
    "mpeg2_bframes.mpg": ("mpeg2video", None, "yuv420p", {"bf": 2}, "decoded"),
    "mpeg1.mpeg": ("mpeg1video", None, "yuv420p", {"bf": 2}, "decoded"),
    "h264_bframes.mov": ("libx264", None, "yuv420p", {"bf": 3, "preset": "veryfast"}, "timestamps"),
    "h264_matroska.mkv": ("libx264", None, "yuv420p", {"bf": 3, "preset": "veryfast"}, "timestamps"),
    "mjpeg.avi": ("mjpeg", None, "yuvj420p", {}, "timestamps"),
    "vp9.webm": ("libvpx-vp9", None, "yuv420p", {"deadline": "realtime", "cpu-used": 8}, "timestamps"),
    "vp8.webm": ("libvpx", None, "yuv420p", {"deadline": "realtime", "cpu-used": 8}, "timestamps"),
    "camcorder.m2ts": ("mpeg2video", "mpegts", "yuv420p", {"bf": 2}, "timestamps"),
    "wmv2.wmv": ("wmv2", None, "yuv420p", {}, "timestamps"),
    "raw.h264": ("libx264", "h264", "yuv420p", {"bf": 3, "preset": "veryfast"}, "decoded"),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("containers")
    return {
        name: write(folder / name, codec, fmt=fmt, pix_fmt=pix, **dict(opts))
        for name, (codec, fmt, pix, opts, _) in CASES.items()
    }


@pytest.mark.parametrize("name", list(CASES))
def test_every_frame_exact(videos, name):
    path = videos[name]
    expected_kind = CASES[name][4]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = open_video(path)
    data_warnings = [w for w in caught if issubclass(w.category, DataWarning)]
    if expected_kind == "decoded":
        assert len(data_warnings) == 1, [str(w.message) for w in data_warnings]
        message = str(data_warnings[0].message)
        assert message.startswith(str(path)) and "decoding every frame once" in message and "\n" not in message
    else:
        assert data_warnings == [], [str(w.message) for w in data_warnings]
    assert reader.index.kind == expected_kind
    assert len(reader) == N and reader.shape == (N, H, W, 3)
    assert reader.fps == pytest.approx(25.0)
    seq = list(reader.iter_frames())
    assert [frame_number(f) for f in seq] == list(range(N))
    hashes = [sha(f) for f in seq]
    order = list(range(N))
    random.Random(len(name)).shuffle(order)
    assert [i for i in order if sha(reader[i]) != hashes[i]] == []  # every frame, default cache
    with open_video(path, cache_size=0) as uncached:  # every access seeks and decodes
        assert [i for i in order if sha(uncached[i]) != hashes[i]] == []
        # streaming from the middle (a seek, then sequential decoding)
        assert [sha(f) for f in uncached.iter_frames(41, 60, 3)] == hashes[41:60:3]
    assert verify_video(path)["good_frames"] == N


def test_probe_names_the_index_kind(videos):
    mpg = probe_video(videos["mpeg2_bframes.mpg"])
    assert (mpg["container"], mpg["codec"], mpg["n_frames"]) == ("mpeg", "mpeg2video", N)
    assert mpg["index"] == "decoded" and mpg["exact_seek"] is False and mpg["truncated"] is False
    assert any("decoding every frame once" in w for w in mpg["warnings"])
    mov = probe_video(videos["h264_bframes.mov"])
    assert (mov["index"], mov["warnings"], mov["container"]) == ("timestamps", [], "mov")


@pytest.mark.parametrize("fraction", [0.45, 0.6, 0.8])
def test_truncated_mpg_keeps_an_exact_prefix(videos, tmp_path, fraction):
    """A program stream has no frame count: a cut file is a shorter file whose frames stay exact.
    (The last frame can be cut inside its data, and the decoder conceals the missing part from a
    neighbouring frame without flagging it: it is numbered right but its picture is not checked.)"""
    data = videos["mpeg2_bframes.mpg"].read_bytes()
    cut = tmp_path / "cut.mpg"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        reader = open_video(cut, cache_size=0)
    n = len(reader)
    assert 10 <= n < N
    seq = list(reader.iter_frames())
    assert [frame_number(f) for f in seq[:-1]] == list(range(n - 1))
    full = list(open_video(videos["mpeg2_bframes.mpg"]).iter_frames())
    assert all(np.array_equal(seq[i], full[i]) for i in range(n - 1))
    assert all(np.array_equal(reader[i], seq[i]) for i in range(n - 1, -1, -1))
    report = verify_video(cut)
    assert report["good_frames"] == n and report["n_frames"] == n


def test_decoded_index_is_persisted(videos, tmp_path):
    path = videos["mpeg2_bframes.mpg"]
    first = open_video(path, index_cache=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    from vpbehavior.io.video.index import FrameIndex

    saved = FrameIndex.load(next(tmp_path.glob("*.npz")))
    assert saved.kind == "decoded" and saved.n_frames == N
    np.testing.assert_array_equal(saved.fingerprints, first.index.fingerprints)
    np.testing.assert_array_equal(saved.handles, first.index.handles)


def test_static_video_has_no_anchor_and_is_still_exact(tmp_path):
    """Identical keyframes cannot tell a seek where it landed: access decodes from the start."""
    path = tmp_path / "static.mpg"
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg2video", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.codec_context.gop_size = 6
        still = np.full((H, W, 3), 90, np.uint8)
        for i in range(40):
            f = still.copy()
            if i % 6 == 3:  # frames between keyframes differ, keyframes all look the same
                f[40:, :20] = 200
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.warns(DataWarning):
        reader = open_video(path, cache_size=0)
    assert len(reader) == 40
    seq = [sha(f) for f in reader.iter_frames()]
    assert [sha(reader[i]) for i in (39, 3, 9, 21, 0)] == [seq[i] for i in (39, 3, 9, 21, 0)]


def test_folder_of_containers_loads_every_video(videos, tmp_path):
    import vpbehavior

    folder = tmp_path / "experiment"
    folder.mkdir()
    names = [n for n in CASES if Path(n).suffix in VIDEO_SUFFIXES]
    assert {Path(n).suffix for n in names} >= {".mpg", ".mpeg", ".mov", ".mkv", ".avi", ".webm", ".m2ts", ".wmv"}
    for n in names:
        (folder / n).write_bytes(videos[n].read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        data = vpbehavior.load(folder)
    found = {Path(r.video).name: r for r in data.recordings}
    assert sorted(found) == sorted(names)
    assert all(r.n_frames == N for r in found.values())
    assert not data.failures
