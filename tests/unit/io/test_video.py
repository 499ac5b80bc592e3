"""Tests for vpbehavior.io.video: frame-accurate access, streaming, damaged files, writing."""

from __future__ import annotations

import hashlib
import logging
import pickle
import random
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from vpbehavior.testing.fixtures import find_shared_dir

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

from vpbehavior.core import errors  # noqa: E402
from vpbehavior.io.video import (  # noqa: E402
    DEFAULT_IMAGE_FOLDER_FPS,
    ImageFolderReader,
    PyAVReader,
    VideoError,
    VideoTruncatedWarning,
    natural_sort_key,
    open_video,
    probe_video,
    verify_video,
    write_video,
)
from vpbehavior.reporting import DataWarning, ProgressUpdate  # noqa: E402

SHARED = find_shared_dir() or Path("/nonexistent-shared")
FLY = SHARED / "recordings" / "sleap_fly_pair" / "centered_pair_low_quality.mp4"
GIF = SHARED / "datasets" / "kabr" / "ZP0446-Auto-Groom.gif"
needs_fly = pytest.mark.skipif(not FLY.exists(), reason=f"shared recording missing: {FLY}")
needs_gif = pytest.mark.skipif(not GIF.exists(), reason=f"shared GIF missing: {GIF}")

# ---------------------------------------------------------------------------------------------
# synthetic frames that encode their own index (robust to lossy compression)

H, W = 96, 128
N_BITS = 8  # 8 blocks of 16x16 px in the top row, white = 1


def pattern_frame(i: int, h: int = H, w: int = W) -> np.ndarray:
    """RGB frame whose top row of 16 px blocks spells ``i`` in binary."""
    f = np.full((h, w, 3), 40, np.uint8)
    f[32:, :, 0] = (i * 7) % 200 + 30  # a per-frame tint below the code row
    for b in range(N_BITS):
        if (i >> b) & 1:
            f[:16, b * 16 : (b + 1) * 16] = 255
    return f


def decode_pattern(frame: np.ndarray) -> int:
    bits = [frame[2:14, b * 16 + 2 : b * 16 + 14].mean() > 150 for b in range(N_BITS)]
    return sum(int(v) << b for b, v in enumerate(bits))


def sha(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def bframe_video(tmp_path_factory) -> Path:
    """120-frame H.264 mp4 with B-frames (bf=3) and a 12-frame GOP."""
    path = tmp_path_factory.mktemp("vid") / "bframes.mp4"
    write_video(
        path, (pattern_frame(i) for i in range(120)), fps=30, codec="h264", gop_size=12, bframes=3, preset="veryfast"
    )
    return path


def test_synthetic_video_really_has_bframes(bframe_video):
    with av.open(str(bframe_video)) as c:
        pts = [p.pts for p in c.demux(video=0) if p.size]
    assert len(pts) == 120
    assert pts != sorted(pts), "decode order equals presentation order: no B-frames"


def test_bframe_sequential_and_random_access_agree(bframe_video):
    with open_video(bframe_video) as r:
        assert isinstance(r, PyAVReader)
        assert r.shape == (120, H, W, 3) and r.dtype == np.uint8 and r.ndim == 4 and len(r) == 120
        assert r.fps == pytest.approx(30.0)
        assert r.codec == "h264"
        assert len(r.index.keyframes) >= 10  # GOP 12 (+ scene cuts)
        seq = list(r.iter_frames())
        assert [decode_pattern(f) for f in seq] == list(range(120))
        hashes = [sha(f) for f in seq]
    for cache_size in (None, 0):
        order = list(range(120))
        random.Random(cache_size).shuffle(order)
        with open_video(bframe_video, cache_size=cache_size) as r:
            for i in order:
                assert sha(r[i]) == hashes[i], f"frame {i} (cache_size={cache_size})"


def test_iter_frames_ranges_match_random_access(bframe_video):
    r = open_video(bframe_video)
    all_frames = np.stack(list(r.iter_frames()))
    for start, stop, step in [(0, None, 1), (17, 60, 1), (5, 100, 7), (-10, None, 3), (37, 38, 1), (50, 20, 1)]:
        got = list(r.iter_frames(start, stop, step))
        want = all_frames[start:stop:step]
        assert len(got) == len(want)
        for g, w_ in zip(got, want):
            np.testing.assert_array_equal(g, w_)
    with pytest.raises(ValueError):
        next(r.iter_frames(step=0))


def test_indexing_forms(bframe_video):
    r = open_video(bframe_video)
    full = np.stack(list(r))
    np.testing.assert_array_equal(r[-1], full[-1])
    np.testing.assert_array_equal(r[-120], full[0])
    np.testing.assert_array_equal(r[10:20], full[10:20])
    np.testing.assert_array_equal(r[::-7], full[::-7])
    np.testing.assert_array_equal(r[[5, 3, 5, -1]], full[[5, 3, 5, -1]])
    np.testing.assert_array_equal(r[np.array([99, 0, 42])], full[[99, 0, 42]])
    mask = np.zeros(120, bool)
    mask[[1, 50, 51]] = True
    np.testing.assert_array_equal(r[mask], full[mask])
    np.testing.assert_array_equal(r[np.int64(7)], full[7])
    np.testing.assert_array_equal(r[7, :10, 5:9], full[7, :10, 5:9])
    np.testing.assert_array_equal(r[3:6, 0, 0], full[3:6, 0, 0])
    np.testing.assert_array_equal(r[..., 0][2], full[2, ..., 0])
    assert r[5:5].shape == (0, H, W, 3)
    assert r[[]].shape == (0, H, W, 3)
    np.testing.assert_array_equal(r.get_frames([4, 2]), full[[4, 2]])
    with pytest.raises(IndexError):
        r[120]
    with pytest.raises(IndexError):
        r[-121]
    with pytest.raises(TypeError):
        r[1.5]
    # returned arrays are independent of the cache
    a = r[8]
    a[:] = 0
    np.testing.assert_array_equal(r[8], full[8])


def test_pickle_and_worker_process(bframe_video):
    r = open_video(bframe_video)
    want = r[33]
    r2 = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(r2[33], want)
    with ProcessPoolExecutor(max_workers=1) as ex:
        got = ex.submit(_frame_in_worker, r, 33).result()
    np.testing.assert_array_equal(got, want)


def _frame_in_worker(reader, i):
    return reader[i]


def test_context_manager_close_and_reuse(bframe_video):
    with open_video(bframe_video) as r:
        a = r[40]
    r.close()
    np.testing.assert_array_equal(r[40], a)  # reopens lazily


def test_threaded_access(bframe_video):
    r = open_video(bframe_video, cache_size=4)
    hashes = [sha(f) for f in r.iter_frames()]
    errors = []

    def work(seed):
        rng = random.Random(seed)
        for _ in range(40):
            i = rng.randrange(120)
            if sha(r[i]) != hashes[i]:
                errors.append(i)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_index_persistence(bframe_video, tmp_path):
    r1 = open_video(bframe_video, index_cache=tmp_path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    r2 = open_video(bframe_video, index_cache=tmp_path)
    np.testing.assert_array_equal(r1.index.pts, r2.index.pts)
    np.testing.assert_array_equal(r2[77], r1[77])


def test_probe_video(bframe_video):
    info = probe_video(bframe_video)
    assert info["n_frames"] == 120 and info["fps"] == pytest.approx(30)
    assert (info["height"], info["width"], info["codec"]) == (H, W, "h264")
    assert info["duration"] == pytest.approx(4.0)
    assert info["container"] == "mp4" and info["truncated"] is False and info["warnings"] == []
    assert info["metadata_frames"] == 120


def test_verify_clean_video(bframe_video):
    updates: list[ProgressUpdate] = []
    report = verify_video(bframe_video, progress=updates.append)
    assert report == {
        "path": str(bframe_video),
        "n_frames": 120,
        "good_frames": 120,
        "first_bad_frame": None,
        "truncated": False,
        "error": None,
    }
    assert updates[-1].finished and updates[-1].done == updates[-1].total == 120


# ---------------------------------------------------------------------------------------------
# other codecs / containers


def test_mp4v_writer_and_reader(tmp_path):
    for name in ("mpeg4.mp4", "mpeg4.avi"):
        path = write_video(tmp_path / name, (pattern_frame(i) for i in range(40)), fps=15, codec="mp4v")
        with open_video(path) as r:
            assert r.codec == "mpeg4" and len(r) == 40 and r.fps == pytest.approx(15)
            assert [decode_pattern(f) for f in r.iter_frames()] == list(range(40))
            assert [decode_pattern(r[i]) for i in (39, 3, 20, 0)] == [39, 3, 20, 0]


def test_mpeg4_part2_bframes_in_avi(tmp_path):
    path = tmp_path / "bf.avi"
    _write_raw(path, "mpeg4", 60, {"bf": "2"}, max_b_frames=2)
    r = open_video(path)
    assert len(r) == 60
    assert [decode_pattern(f) for f in r.iter_frames()] == list(range(60))
    order = list(range(60))
    random.Random(3).shuffle(order)
    assert [decode_pattern(r[i]) for i in order] == order


def test_h264_bframes_in_avi_falls_back_to_counting(tmp_path):
    """AVI has no presentation timestamps: B-frame H.264 there must still be exact."""
    path = tmp_path / "h264.avi"
    _write_raw(path, "libx264", 50, {"bf": "3"})
    with pytest.warns(UserWarning, match="timestamps are unreliable"):
        r = open_video(path)
    assert not r.index.exact and len(r) == 50
    assert [decode_pattern(f) for f in r.iter_frames()] == list(range(50))
    assert [decode_pattern(r[i]) for i in (49, 0, 25, 24, 3)] == [49, 0, 25, 24, 3]


def _write_raw(path: Path, codec: str, n: int, options: dict, max_b_frames: int | None = None) -> None:
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=15)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.codec_context.gop_size = 10
        if max_b_frames is not None:
            s.codec_context.max_b_frames = max_b_frames
        s.options = options
        for i in range(n):
            f = av.VideoFrame.from_ndarray(pattern_frame(i), format="rgb24")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


# ---------------------------------------------------------------------------------------------
# writing


def test_write_video_is_atomic(tmp_path):
    path = tmp_path / "out.mp4"

    def frames():
        for i in range(5):
            yield pattern_frame(i)
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        write_video(path, frames(), fps=10)
    assert list(tmp_path.iterdir()) == []
    write_video(path, (pattern_frame(i) for i in range(5)), fps=10)
    write_video(path, (pattern_frame(i) for i in range(7)), fps=10)  # overwrite
    assert len(open_video(path)) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_write_video_rejects_bad_frames(tmp_path):
    with pytest.raises(VideoError, match="even"):
        write_video(tmp_path / "odd.mp4", [np.zeros((11, 16, 3), np.uint8)], fps=10)
    with pytest.raises(VideoError, match="uint8"):
        write_video(tmp_path / "f.mp4", [np.zeros((16, 16, 3), np.float32)], fps=10)
    with pytest.raises(VideoError, match="size"):
        write_video(tmp_path / "s.mp4", [np.zeros((16, 16, 3), np.uint8), np.zeros((8, 16, 3), np.uint8)], fps=10)
    with pytest.raises(VideoError, match="no frames"):
        write_video(tmp_path / "e.mp4", [], fps=10)
    gray = write_video(tmp_path / "g.mp4", [np.full((16, 16), 200, np.uint8)] * 3, fps=10)
    assert open_video(gray).shape == (3, 16, 16, 3)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------------------------------------
# bad input


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty_recording.mp4"
    p.touch()
    with pytest.raises(VideoError, match="empty_recording.mp4") as e:
        open_video(p)
    assert "empty" in str(e.value)


def test_text_file_named_mp4(tmp_path):
    p = tmp_path / "notes_not_a_video.mp4"
    p.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoError, match="notes_not_a_video.mp4"):
        open_video(p)
    assert issubclass(VideoError, ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        open_video(tmp_path / "nope.mp4")


def test_truncated_synthetic_mp4(tmp_path, bframe_video):
    data = bframe_video.read_bytes()
    full = list(open_video(bframe_video).iter_frames())
    # header only (cut before any complete frame data): clear error at open
    head = tmp_path / "cut_header.mp4"
    head.write_bytes(data[:200])
    with pytest.raises(VideoError, match="cut_header.mp4"):
        open_video(head)
    # cut at 60%: a valid prefix with a warning; every exposed frame is the right one
    cut = tmp_path / "cut_60.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.warns(VideoTruncatedWarning, match="cut_60.mp4"):
        r = open_video(cut)
    assert 0 < len(r) < 120
    assert [decode_pattern(f) for f in r.iter_frames()] == list(range(len(r)))
    for i in random.Random(0).sample(range(len(r)), min(20, len(r))):
        np.testing.assert_array_equal(r[i], full[i])
    with pytest.raises(IndexError):
        r[len(r)]


@needs_fly
def test_truncated_real_mp4(tmp_path):
    cut = tmp_path / "fly_truncated.mp4"
    data = FLY.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.warns(VideoTruncatedWarning, match="fly_truncated.mp4"):
        r = open_video(cut)
    n = len(r)
    assert 300 < n < 1100
    ref = open_video(FLY)
    got = list(r.iter_frames(n - 160))
    assert len(got) == 160
    for k, f in enumerate(got):
        assert sha(f) == sha(ref[n - 160 + k])
    np.testing.assert_array_equal(r[n - 1], ref[n - 1])
    tiny = tmp_path / "fly_tiny.mp4"
    tiny.write_bytes(data[:5000])
    with pytest.raises(VideoError, match="fly_tiny.mp4"):
        open_video(tiny)


# ---------------------------------------------------------------------------------------------
# damaged videos


def textured_frame(i: int) -> np.ndarray:
    """`pattern_frame` (index mod 256) with a moving patch of noise, so packets have realistic sizes."""
    f = pattern_frame(i % 256)
    f[40:90, i % 100 : i % 100 + 24] = np.random.default_rng(i).integers(0, 256, (50, 24, 3), dtype=np.uint8)
    return f


@pytest.fixture(scope="module")
def video300(tmp_path_factory) -> Path:
    """300-frame H.264 mp4 (index at the front), B-frames, a keyframe every 30 frames."""
    path = tmp_path_factory.mktemp("vid300") / "video300.mp4"
    write_video(path, (textured_frame(i) for i in range(300)), fps=30, gop_size=30, preset="veryfast")
    return path


@pytest.fixture(scope="module")
def video300_frames(video300) -> list[np.ndarray]:
    return list(open_video(video300).iter_frames())


def test_truncated_video_is_reported_once_per_file(tmp_path, video300, caplog):
    cut = tmp_path / "half_cut.mp4"
    data = video300.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="vpbehavior"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = open_video(cut)
        info = probe_video(cut)  # second open, same file: no second warning
        open_video(cut).close()
    n = len(r)
    assert 0 < n < 300
    truncated = [w for w in caught if issubclass(w.category, VideoTruncatedWarning)]
    assert len(truncated) == 1 and issubclass(VideoTruncatedWarning, DataWarning)
    message = str(truncated[0].message)
    assert message.startswith(str(cut)) and f"only the first {n} frames of the 300 frames its header lists" in message
    assert "\n" not in message
    assert truncated[0].filename == __file__  # the warning points at the caller, not into the package
    assert [rec.getMessage() for rec in caplog.records if rec.name == "vpbehavior"] == [message]
    assert info["truncated"] is True and info["n_frames"] == n and info["metadata_frames"] == 300
    assert info["warnings"] == [message]
    report = verify_video(cut)
    assert (report["good_frames"], report["first_bad_frame"], report["truncated"]) == (n, n, True)


def _damage_middle(src: Path, dst: Path, n_bytes: int = 4096) -> Path:
    data = bytearray(src.read_bytes())
    mid = len(data) // 2
    data[mid : mid + n_bytes] = np.random.default_rng(7).integers(0, 256, n_bytes, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(data))
    return dst


def test_damaged_mp4_names_the_frame_that_fails(tmp_path, video300, video300_frames):
    path = _damage_middle(video300, tmp_path / "damaged_middle.mp4")
    info = probe_video(path)  # every packet is there: only decoding finds the damage
    assert info["n_frames"] == 300 and info["truncated"] is False
    updates: list[ProgressUpdate] = []
    report = verify_video(path, progress=updates.append)
    bad = report["first_bad_frame"]
    assert report["n_frames"] == 300 and bad is not None and 0 < bad < 300
    assert 0 < report["good_frames"] < 300 and "\n" not in report["error"]
    assert updates[-1].finished and updates[-1].total == 300 and updates[-1].done == report["good_frames"]

    r = open_video(path)
    got = []
    with pytest.raises(VideoError, match=rf"damaged_middle\.mp4: cannot decode frame {bad} of 300 ") as e:
        for frame in r.iter_frames():
            got.append(frame)
    assert "\n" not in str(e.value) and e.value.path == path
    assert len(got) == bad
    assert all(np.array_equal(g, video300_frames[i]) for i, g in enumerate(got))
    with pytest.raises(VideoError, match=rf"cannot decode frame {bad} "):
        r[bad]
    # random access: every frame is either exactly the intact file's frame or refused, and verify
    # counted exactly the frames that are delivered
    delivered = 0
    for i in range(300):
        try:
            frame = r[i]
        except VideoError as err:
            assert f"cannot decode frame {i} " in str(err)
            continue
        np.testing.assert_array_equal(frame, video300_frames[i])
        delivered += 1
    assert delivered == report["good_frames"]
    # streaming from a later, intact GOP works
    later = int(r.index.keyframes[r.index.keyframe_for(bad) + 2])
    np.testing.assert_array_equal(next(r.iter_frames(later)), video300_frames[later])


def test_silently_dropped_frame_is_detected(tmp_path, video300, video300_frames):
    """A packet the decoder turns into no picture, without any error, must not shift or skip frames."""
    path = tmp_path / "dropped_frame.mp4"
    with av.open(str(video300)) as src:
        stream = src.streams.video[0]
        packets = [p for p in src.demux(stream) if p.size]
        k = next(k for k in range(150, len(packets)) if packets[k].pts < packets[k - 1].pts)  # a B-frame
        dropped_pts = packets[k].pts
        with av.open(str(path), "w") as dst:
            out = dst.add_stream_from_template(stream)
            for j, p in enumerate(packets):
                if j == k:  # a lone end-of-sequence NAL unit: decodes to nothing, silently
                    q = av.Packet(b"\x00\x00\x00\x01\x0a")
                    q.pts, q.dts, q.time_base = p.pts, p.dts, p.time_base
                    p = q
                p.stream = out
                dst.mux(p)
    r = open_video(path)
    assert len(r) == 300
    f = r.index.pts_to_index[dropped_pts]
    with pytest.raises(VideoError, match=rf"cannot decode frame {f} of 300 \(the decoder dropped it\)"):
        r[f]
    with pytest.raises(VideoError, match=rf"cannot decode frame {f + 1} of 300 \(frame {f} before it"):
        r[f + 1]
    np.testing.assert_array_equal(r[f - 1], video300_frames[f - 1])
    with pytest.raises(VideoError, match=rf"cannot decode frame {f} "):
        list(r.iter_frames(f - 5))
    report = verify_video(path)
    assert report["first_bad_frame"] == f and report["good_frames"] < 300


def test_unopenable_videos_raise_one_line_errors(tmp_path):
    empty = tmp_path / "zero_bytes.mp4"
    empty.touch()
    text = tmp_path / "text_named.mp4"
    text.write_text("frame,x,y\n1,2,3\n" * 100)
    moov_last = tmp_path / "moov_last.mp4"
    _write_raw(moov_last, "libx264", 60, {})  # no faststart: the 'moov' index is written last
    moovless = tmp_path / "moovless.mp4"
    moovless.write_bytes(moov_last.read_bytes()[: moov_last.stat().st_size // 2])
    for path in (empty, text, moovless):
        with pytest.raises(VideoError) as e:
            open_video(path)
        assert type(e.value) is errors.VideoError and isinstance(e.value, errors.DataError)
        assert str(e.value).startswith(f"{path}: ") and "\n" not in str(e.value)
        assert e.value.path == path
    with pytest.raises(VideoError, match="moov"):
        probe_video(moovless)


def test_verify_image_folder_with_a_damaged_image(tmp_path):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"{i}.png"), cv2.cvtColor(pattern_frame(i), cv2.COLOR_RGB2BGR))
    data = (tmp_path / "2.png").read_bytes()
    (tmp_path / "2.png").write_bytes(data[: len(data) // 2])  # header intact, pixels cut
    report = verify_video(tmp_path)
    assert (report["n_frames"], report["good_frames"], report["first_bad_frame"]) == (4, 3, 2)
    assert "2.png" in report["error"]
    assert probe_video(tmp_path)["container"] == "image folder"


# ---------------------------------------------------------------------------------------------
# real recordings


@needs_fly
def test_fly_video_every_frame_random_equals_sequential():
    """All 1100 frames: shuffled random access returns exactly the sequential frames."""
    with open_video(FLY) as r:
        assert r.shape == (1100, 384, 384, 3)
        assert r.fps == pytest.approx(15.0)
        hashes = [sha(f) for f in r.iter_frames()]
        assert len(hashes) == 1100
        order = list(range(1100))
        random.Random(1234).shuffle(order)
        bad = [i for i in order if sha(r[i]) != hashes[i]]
    assert bad == []
    # the uncached seek path on a random subset (every access seeks and decodes)
    with open_video(FLY, cache_size=0) as r0:
        sub = random.Random(5).sample(range(1100), 60)
        assert [i for i in sub if sha(r0[i]) != hashes[i]] == []


@needs_gif
def test_real_gif():
    with open_video(GIF) as r:
        assert r.shape == (26, 210, 280, 3)
        assert r.fps == pytest.approx(1000 / 130, rel=1e-6)
        seq = [sha(f) for f in r.iter_frames()]
        assert len(seq) == 26
        order = list(range(26))
        random.Random(0).shuffle(order)
        assert [sha(r[i]) for i in order] == [seq[i] for i in order]
    info = probe_video(GIF)
    assert (info["codec"], info["container"]) == ("gif", "gif")


# ---------------------------------------------------------------------------------------------
# image folders


def test_natural_sort_key():
    names = ["10.jpg", "2.jpg", "1.jpg", "frame_100.png", "frame_9.png", "Frame_10.png"]
    assert sorted(names, key=natural_sort_key) == [
        "1.jpg",
        "2.jpg",
        "10.jpg",
        "frame_9.png",
        "Frame_10.png",
        "frame_100.png",
    ]


def test_image_folder_natural_order_and_fps(tmp_path):
    for i in range(12):
        cv2.imwrite(str(tmp_path / f"{i + 1}.png"), cv2.cvtColor(pattern_frame(i), cv2.COLOR_RGB2BGR))
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / ".hidden.png").write_bytes(b"junk")
    r = open_video(tmp_path)
    assert isinstance(r, ImageFolderReader)
    assert r.shape == (12, H, W, 3) and r.fps == DEFAULT_IMAGE_FOLDER_FPS
    assert [p.name for p in r.files][:3] == ["1.png", "2.png", "3.png"] and r.files[-1].name == "12.png"
    assert [decode_pattern(f) for f in r.iter_frames()] == list(range(12))
    np.testing.assert_array_equal(r[9], pattern_frame(9))  # PNG is lossless
    np.testing.assert_array_equal(r[[-1, 0]], np.stack([pattern_frame(11), pattern_frame(0)]))
    assert open_video(tmp_path, fps=25).fps == 25
    r2 = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(r2[3], r[3])
    assert probe_video(tmp_path, fps=10)["duration"] == pytest.approx(1.2)


def test_image_folder_jpeg_and_gray(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"img_{i}.jpg"), np.full((20, 30), 100 + i, np.uint8))
    r = open_video(tmp_path, fps=5)
    assert r.shape == (3, 20, 30, 3) and r.codec == "jpeg"
    assert abs(int(r[2][0, 0, 0]) - 102) <= 2


def test_image_folder_mixed_sizes(tmp_path):
    cv2.imwrite(str(tmp_path / "1.png"), np.zeros((20, 30, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "2.png"), np.zeros((20, 30, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "3.png"), np.zeros((24, 30, 3), np.uint8))
    with pytest.raises(VideoError, match="3.png"):
        open_video(tmp_path)
    # without the up-front check, the bad frame is caught when read
    r = ImageFolderReader(tmp_path, check_sizes=False)
    with pytest.raises(VideoError, match="3.png"):
        r[2]


def test_image_folder_errors(tmp_path):
    with pytest.raises(VideoError, match="no image frames"):
        open_video(tmp_path)
    (tmp_path / "1.jpg").write_text("not a jpeg")
    with pytest.raises(VideoError, match="1.jpg"):
        open_video(tmp_path)


def test_no_warnings_on_clean_files(bframe_video):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_video(bframe_video)[5]


# ---------------------------------------------------------------------------------------------
# streaming at the encoder's resolution; the decoder hook


@pytest.mark.parametrize("size", [(64, 48), (36, 36), (200, 160)])
def test_iter_frames_scaled_in_the_decoder_matches_opencv(bframe_video, size):
    """Scaled by swscale as frames leave the decoder vs the old path (reader[i] resized by OpenCV)."""
    r = open_video(bframe_video)
    down = size[0] < W and size[1] < H
    interp = cv2.INTER_AREA if down else cv2.INTER_LINEAR
    want = np.stack([cv2.resize(r[i], size, interpolation=interp) for i in range(0, 120, 3)]).astype(int)
    got = np.stack(list(r.iter_frames(0, None, 3, size=size)))
    assert got.shape == (40, size[1], size[0], 3) and got.dtype == np.uint8
    diff = np.abs(got.astype(int) - want)
    assert diff.mean() < 0.1 and diff.max() <= 4, (diff.mean(), diff.max())
    assert [decode_pattern(f) for f in r.iter_frames(0, None, 3, size=(W, H))] == list(range(0, 120, 3))
    # a square int, from the middle of the file (a seek first)
    square = next(r.iter_frames(77, size=36))
    assert square.shape == (36, 36, 3)
    np.testing.assert_array_equal(square, list(r.iter_frames(size=(36, 36)))[77])
    with pytest.raises(errors.ConfigError):
        next(r.iter_frames(size=(0, 10)))


def test_iter_frames_native_size_is_exact_with_threads(bframe_video):
    threaded = open_video(bframe_video, threads=True)
    single = open_video(bframe_video, threads=False, cache_size=0)
    assert [sha(f) for f in threaded.iter_frames(size=(W, H))] == [sha(single[i]) for i in range(120)]


def test_image_folder_streams_at_a_size(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), cv2.cvtColor(pattern_frame(i), cv2.COLOR_RGB2BGR))
    r = open_video(tmp_path)
    got = list(r.iter_frames(size=(64, 48)))
    np.testing.assert_array_equal(got[2], cv2.resize(pattern_frame(2), (64, 48), interpolation=cv2.INTER_AREA))
    with pytest.raises(errors.ConfigError):
        next(r.iter_frames(decoder="torchcodec"))


def test_decoder_hook(bframe_video):
    from vpbehavior.io.video import available_decoders, register_stream_decoder
    from vpbehavior.io.video import decoders as registry

    def pyav_frames(path, seek_pts, size, drop=None):
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            if seek_pts is not None:
                c.seek(seek_pts, stream=s, backward=True)
            for f in c.decode(s):
                if f.pts == drop:
                    continue
                yield f.pts, f.to_ndarray(format="rgb24", width=(size or (W, H))[0], height=(size or (W, H))[1])

    r = open_video(bframe_video)
    with pytest.raises(errors.ConfigError, match="torchcodec.*not available.*register_stream_decoder"):
        next(r.iter_frames(decoder="torchcodec"))
    try:
        register_stream_decoder("test-pyav", pyav_frames)
        register_stream_decoder("test-dropping", lambda p, s, z: pyav_frames(p, s, z, drop=int(r.index.pts[50])))
        assert "test-pyav" in available_decoders()
        got = [decode_pattern(f) for f in r.iter_frames(40, 70, 2, decoder="test-pyav")]
        assert got == list(range(40, 70, 2))
        with pytest.raises(VideoError, match="cannot decode frame 50 .*dropped"):
            list(r.iter_frames(30, 80, decoder="test-dropping"))
    finally:
        registry._REGISTRY.pop("test-pyav", None)
        registry._REGISTRY.pop("test-dropping", None)
