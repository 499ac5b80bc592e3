"""Synthetic behavior videos: determinism, labels that match the drawn motion, files."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from vpbehavior.core import BehaviorLabels, ConfigError, Pose, Recording
from vpbehavior.io.synthetic import (
    BEHAVIORS,
    DIRECTED_BEHAVIORS,
    KEYPOINTS,
    NoiseConfig,
    SyntheticConfig,
    experiment_seeds,
    generate,
    make_experiment,
    sample_recording,
    write_recording,
)

HEAD, THORAX = KEYPOINTS.index("head"), KEYPOINTS.index("thorax")
QUIET = NoiseConfig(pixel_std=0.0, keypoint_std=0.0, texture=0.5, flicker=0.0)


def _small(**kw) -> SyntheticConfig:
    base = dict(height=120, width=160, n_frames=120, seed=3)
    base.update(kw)
    return SyntheticConfig(**base)


@pytest.fixture(scope="module")
def simulations():
    """Trajectories of several configurations (no rendering: cheap)."""
    configs = [SyntheticConfig(seed=s, n_frames=900) for s in range(6)]
    configs += [
        SyntheticConfig(seed=10 + s, n_frames=900, n_animals=3, fps=25.0, height=480, width=640) for s in range(3)
    ]
    configs += [SyntheticConfig(seed=20, n_frames=900, fps=15.0, n_animals=4)]
    return [generate(c) for c in configs]


# ------------------------------------------------------------------------------ determinism
def test_same_seed_same_recording_and_different_seed_differs():
    cfg = _small(noise=NoiseConfig(flicker=0.05))
    a, b = generate(cfg), generate(cfg)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.pose.points, b.pose.points)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert a.labels == b.labels
    c = generate(_small(seed=4, noise=NoiseConfig(flicker=0.05)))
    assert not np.array_equal(a.pose.points, c.pose.points)
    assert not np.array_equal(a.render_frame(0), c.render_frame(0))


def test_lazy_frames_agree_with_materialized_frames():
    rec = generate(_small(n_frames=20))
    frames = rec.frames
    assert frames.shape == (20, 120, 160, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(rec.render_frame(7), frames[7])
    streamed = list(rec.iter_frames(5, 9))
    assert len(streamed) == 4
    np.testing.assert_array_equal(streamed[0], frames[5])
    assert rec.shape == frames.shape and rec.dtype == np.uint8  # array-like, like a VideoReader
    np.testing.assert_array_equal(rec[-1], frames[-1])
    np.testing.assert_array_equal(rec[2:8:3], frames[2:8:3])
    with pytest.raises(IndexError):
        rec.render_frame(20)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(n_animals=1), "n_animals"),
        (dict(n_frames=0), "n_frames"),
        (dict(fps=0.0), "fps"),
        (dict(seed=-1), "seed"),
        (dict(behaviors=("idle", "dance")), "behaviors"),
        (dict(height=16), "too small"),
        (dict(body_length=200.0), "body_length"),
        (dict(noise=dict(pixel_std=-1.0)), "pixel_std"),
        (dict(weights={"teleport": 1.0}), "weights"),
    ],
)
def test_bad_config_is_rejected_naming_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field) as err:
        SyntheticConfig(**kwargs)
    assert "\n" not in str(err.value)  # one line


def test_config_is_frozen_and_replace_checks_and_rederives(tmp_path: Path):
    cfg = SyntheticConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_frames = 10
    small = cfg.replace(height=64, width=64)  # the derived body length follows the frame size
    assert small.body_length == pytest.approx(0.13 * 64)
    assert SyntheticConfig(body_length=20.0).replace(height=200).body_length == 20.0  # a given one stays
    with pytest.raises(ConfigError, match="teleport"):
        cfg.replace(teleport=1)
    with pytest.raises(ConfigError, match="n_franes"):
        generate(cfg, n_franes=10)
    with pytest.raises(ConfigError, match="n_videos"):
        make_experiment(tmp_path / "out", n_videos=0, progress=False)
    with pytest.raises(ConfigError, match="hieght"):
        make_experiment(tmp_path / "out", hieght=64, progress=False)
    assert not (tmp_path / "out").exists()  # checked before anything is written
    json.dumps(SyntheticConfig(weights={"chase": 2.0}, noise={"flicker": 0.1}).to_dict())  # JSON-ready


# ------------------------------------------------------------------------------ labels
def test_labels_cover_every_cell_with_exactly_one_behavior(simulations):
    for rec in simulations:
        labels = rec.labels
        assert labels.classes == tuple(BEHAVIORS)
        assert labels.subjects == tuple(f"animal{i}" for i in range(rec.config.n_animals))
        assert labels.annotated.all()
        assert (labels.positive.sum(axis=2) == 1).all()
        # chase by one animal is flee by the other, frame for frame
        chase, flee = (
            labels.positive[..., labels.class_index("chase")],
            labels.positive[..., labels.class_index("flee")],
        )
        np.testing.assert_array_equal(chase.sum(axis=1), flee.sum(axis=1))


def test_behavior_subset_restricts_the_vocabulary():
    rec = generate(SyntheticConfig(seed=1, behaviors=("approach", "retreat")))
    assert rec.labels.classes == ("idle", "approach", "retreat")
    assert sum(rec.labels.label_counts().values()) == rec.n_frames * 2
    assert SyntheticConfig(behaviors=("chase",)).behaviors == ("idle", "chase", "flee")


def test_class_imbalance_idle_dominant_attack_rare_and_short(simulations):
    counts: dict[str, int] = {}
    lengths: dict[str, list[int]] = {}
    for rec in simulations:
        for name, n in rec.labels.label_counts().items():
            counts[name] = counts.get(name, 0) + n
        for bout in rec.labels.to_bouts():
            lengths.setdefault(bout.behavior, []).append(bout.n_frames / rec.fps)
    assert all(counts[name] > 0 for name in BEHAVIORS), counts
    assert max(counts, key=counts.get) == "idle"
    assert counts["idle"] > 0.4 * sum(counts.values())
    assert counts["attack"] == min(counts.values())
    assert np.median(lengths["attack"]) < np.median(lengths["idle"])
    assert max(lengths["attack"]) <= 1.5


# ------------------------------------------------------------------------------ motion rules
def _bouts(rec, behavior):
    return [i for i in rec.interactions if i.behavior == behavior]


def _path(rec, subject, kp, start, stop):
    """Keypoint positions of frames start-1 .. stop-1 (the frame before the bout included)."""
    s = rec.subjects.index(subject)
    return rec.true_pose.points[max(start - 1, 0) : stop, s, kp].astype(np.float64)


def _speeds(rec, s, kp=THORAX):
    """Per-frame displacement of a keypoint, in body lengths per second ([T-1, ...])."""
    pts = rec.true_pose.points[:, s, kp].astype(np.float64)
    return np.linalg.norm(np.diff(pts, axis=0), axis=-1) * rec.fps / rec.config.body_length


def test_idle_is_motionless_and_grooming_jitters_in_place(simulations):
    for rec in simulations:
        L = rec.config.body_length
        pos = rec.labels.positive
        for s in range(rec.config.n_animals):
            step = np.abs(np.diff(rec.true_pose.points[:, s], axis=0)).max(axis=(1, 2))  # all keypoints
            idle = pos[1:, s, rec.labels.class_index("idle")]
            groom = pos[1:, s, rec.labels.class_index("grooming")]
            assert (step[idle] < 1e-3).all()
            if groom.any():
                thorax_step = _speeds(rec, s)[groom]
                head_step = _speeds(rec, s, HEAD)[groom]
                assert thorax_step.max() < 1e-3
                assert head_step.mean() > 0.5  # the head swings (L/s)
                head = rec.true_pose.points[1:, s, HEAD][groom]
                thorax = rec.true_pose.points[1:, s, THORAX][groom]
                np.testing.assert_allclose(np.linalg.norm(head - thorax, axis=1), 0.45 * L, rtol=1e-3)


def test_approach_and_retreat_change_the_distance_monotonically(simulations):
    n = {"approach": 0, "retreat": 0}
    for rec in simulations:
        L = rec.config.body_length
        for behavior, sign in (("approach", -1), ("retreat", 1)):
            for b in _bouts(rec, behavior):
                if b.start == 0:
                    continue
                head = _path(rec, b.actor, HEAD, b.start, b.stop)
                partner = _path(rec, b.partner, THORAX, b.start, b.stop)
                dist = np.linalg.norm(head[1:] - partner[1:], axis=1)
                prev = np.linalg.norm(head[:-1] - partner[1:], axis=1)  # partner holds still
                assert (sign * (dist - prev) > 0).all(), (behavior, b)  # every frame
                assert sign * (dist[-1] - prev[0]) > 0.5 * L or b.stop - b.start < rec.fps / 2
                assert np.abs(partner - partner[0]).max() < 1e-4  # the partner holds still
                n[behavior] += 1
        for b in _bouts(rec, "approach"):  # ends with the bodies nearly touching
            end = np.linalg.norm(
                _path(rec, b.actor, THORAX, b.stop, b.stop) - _path(rec, b.partner, THORAX, b.stop, b.stop)
            )
            assert end < 1.5 * L or b.stop == rec.n_frames
    assert n["approach"] >= 5 and n["retreat"] >= 5, n


def test_circling_orbits_the_partner_at_constant_radius(simulations):
    n = 0
    for rec in simulations:
        L = rec.config.body_length
        for b in _bouts(rec, "circling"):
            rel = _path(rec, b.actor, THORAX, b.start, b.stop) - _path(rec, b.partner, THORAX, b.start, b.stop)
            radius = np.linalg.norm(rel, axis=1)
            assert radius.std() < 0.01 * L
            omega = np.diff(np.unwrap(np.arctan2(rel[:, 1], rel[:, 0]))) * rec.fps  # rad/s about the partner
            assert np.all(np.abs(omega) > 0.5) and (np.all(omega > 0) or np.all(omega < 0))
            n += 1
    assert n >= 3


def test_chase_is_fast_with_similar_headings_and_chaser_behind(simulations):
    n_frames, all_cos = 0, []
    for rec in simulations:
        L = rec.config.body_length
        for b in _bouts(rec, "chase"):
            if b.start == 0:
                continue
            c = rec.subjects.index(b.actor)
            f = rec.subjects.index(b.partner)
            frames = np.arange(b.start, b.stop)
            assert rec.labels.positive[frames, f, rec.labels.class_index("flee")].all()
            v_c, v_f = _speeds(rec, c)[frames - 1], _speeds(rec, f)[frames - 1]
            assert v_c.min() > 2.0 and v_f.min() > 2.0, (v_c.min(), v_f.min())
            axis_f = rec.true_pose.points[frames, f, HEAD] - rec.true_pose.points[frames, f, THORAX]
            axis_c = rec.true_pose.points[frames, c, HEAD] - rec.true_pose.points[frames, c, THORAX]
            cos = np.sum(axis_f * axis_c, 1) / np.linalg.norm(axis_f, axis=1) / np.linalg.norm(axis_c, axis=1)
            assert np.median(cos) > 0.5 and np.mean(cos > 0) > 0.9  # within 60 degrees
            all_cos.append(cos)
            behind = np.sum(
                (rec.true_pose.points[frames, c, THORAX] - rec.true_pose.points[frames, f, THORAX]) * axis_f, 1
            )
            assert np.mean(behind < 0) > 0.9
            gap = np.linalg.norm(
                rec.true_pose.points[frames, c, THORAX] - rec.true_pose.points[frames, f, THORAX], axis=1
            )
            assert gap.min() > 0.8 * L
            n_frames += len(frames)
    assert n_frames > 100
    assert np.median(np.concatenate(all_cos)) > 0.9  # headings within 25 degrees in most frames


def test_attack_is_brief_rapid_contact(simulations):
    n = 0
    for rec in simulations:
        L = rec.config.body_length
        for b in _bouts(rec, "attack"):
            if b.start == 0 or b.stop - b.start < rec.fps / 4.5:  # a whole lunge
                continue
            head = _path(rec, b.actor, HEAD, b.start, b.stop)
            partner = _path(rec, b.partner, THORAX, b.start, b.stop)
            assert np.linalg.norm(head - partner, axis=1).min() < 0.4 * L  # contact
            thorax = _path(rec, b.actor, THORAX, b.start, b.stop)
            peak = np.linalg.norm(np.diff(thorax, axis=0), axis=1).max() * rec.fps / L
            assert peak > 5.0  # rapid (L/s)
            assert (b.stop - b.start) / rec.fps <= 1.5
            s = rec.subjects.index(b.partner)
            assert rec.labels.positive[b.start : b.stop, s, rec.labels.class_index("idle")].all()
            n += 1
    assert n >= 3


# ------------------------------------------------------------------------------ targets
def test_directed_bouts_target_the_partner_and_undirected_ones_nobody(simulations):
    n_directed = 0
    for rec in simulations:
        bouts = rec.bouts()
        # the bouts are the labels, cell for cell
        untargeted = [dataclasses.replace(b, target=None) for b in bouts]
        rebuilt = BehaviorLabels.from_bouts(untargeted, rec.n_frames, rec.labels.classes, rec.subjects)
        np.testing.assert_array_equal(rebuilt.values, rec.labels.values)
        for b in bouts:
            assert (b.target is not None) == (b.behavior in DIRECTED_BEHAVIORS), b
            assert b.target is None or (b.target in rec.subjects and b.target != b.subject)
        directed = {(b.start, b.stop, b.subject, b.behavior): b.target for b in bouts if b.target}
        assert len(directed) == sum(2 if i.behavior == "chase" else 1 for i in rec.interactions)
        for i in rec.interactions:
            assert directed[(i.start, i.stop, i.actor, i.behavior)] == i.partner
            if i.behavior == "chase":  # the fleer flees from its chaser
                assert directed[(i.start, i.stop, i.partner, "flee")] == i.actor
            if i.start > 0:  # the actor's partner is its nearest animal when the bout starts
                thorax = rec.true_pose.points[i.start - 1, :, THORAX]
                a = rec.subjects.index(i.actor)
                dist = np.linalg.norm(thorax - thorax[a], axis=1)
                dist[a] = np.inf
                assert rec.subjects[int(np.argmin(dist))] == i.partner
        n_directed += len(directed)
    assert n_directed > 100


def test_labels_keep_the_targets_they_can_hold(simulations):
    for rec in simulations:
        bouts = rec.bouts()
        if rec.config.n_animals == 2:  # one partner: the labels hold every target
            assert rec.labels.to_bouts() == bouts
            continue
        by_pair: dict[tuple[str, str], set] = {}
        for b in bouts:
            by_pair.setdefault((b.subject, b.behavior), set()).add(b.target)
        held = {k: next(iter(v)) for k, v in by_pair.items() if len(v) == 1 and None not in v}
        assert dict(rec.labels.targets) == held


# ------------------------------------------------------------------------------ pixels
def test_rendered_animals_lie_on_their_keypoints():
    rec = generate(SyntheticConfig(seed=5, n_frames=200, noise=QUIET))
    bg = rec.background
    checked = 0
    for t in range(0, rec.n_frames, 10):
        img = rec.render_frame(t).astype(int)
        pts = rec.true_pose.points[t]
        for s, color in enumerate(rec.colors):
            others = [o for o in range(len(rec.colors)) if o != s]
            if (
                min(np.linalg.norm(pts[o] - pts[s][:, None], axis=-1).min() for o in others)
                < rec.config.body_length * 0.6
            ):
                continue  # bodies touching: the other animal may be drawn on top
            hx, hy = np.round(pts[s, HEAD]).astype(int)
            tx, ty = np.round(pts[s, THORAX]).astype(int)
            assert np.abs(img[hy, hx] - (250, 240, 110)).max() <= 12, (t, s, img[hy, hx])
            assert np.abs(img[ty, tx] - np.array(color)).max() <= 12, (t, s, img[ty, tx])
            assert np.abs(img[ty, tx] - bg[ty, tx]).max() > 50  # contrast with the floor
            checked += 1
    assert checked >= 20
    # outside the boxes the frame is the bare floor
    img = rec.render_frame(0).astype(float)
    mask = np.ones(img.shape[:2], bool)
    for x1, y1, x2, y2 in rec.boxes[0]:
        mask[int(y1) : int(math.ceil(y2)) + 1, int(x1) : int(math.ceil(x2)) + 1] = False
    np.testing.assert_allclose(img[mask], np.clip(np.round(bg[mask]), 0, 255), atol=1)


def test_noise_flicker_and_keypoint_noise_are_applied():
    quiet = generate(_small(noise=QUIET))
    noisy = generate(_small(noise=NoiseConfig(pixel_std=6.0, keypoint_std=1.0, flicker=0.2)))
    diff = noisy.render_frame(3).astype(float) - quiet.render_frame(3).astype(float)
    assert diff.std() > 3.0
    means = [noisy.render_frame(t).mean() for t in range(0, 30, 3)]
    assert np.ptp(means) > 5.0  # lighting flicker
    np.testing.assert_array_equal(noisy.true_pose.points, quiet.true_pose.points)
    err = noisy.pose.points - noisy.true_pose.points
    assert 0.7 < err.std() < 1.3
    # boxes enclose the drawn keypoints
    pts = quiet.true_pose.points
    assert (quiet.boxes[..., :1] <= pts[..., 0].min(-1, keepdims=True)).all()
    assert (quiet.boxes[..., 2:3] >= pts[..., 0].max(-1, keepdims=True)).all()


# ------------------------------------------------------------------------------ files
def test_write_recording_round_trips(tmp_path: Path):
    import sleap_io as sio

    from vpbehavior.io.labels_file import load_labels
    from vpbehavior.io.pose import events_to_bouts, events_to_labels, pose_from_sleap

    cfg = SyntheticConfig(height=96, width=128, n_frames=45, seed=1)  # approach, attack and circling bouts
    video = write_recording(cfg, tmp_path, "clip")
    assert video == tmp_path / "clip.mp4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.behavior.json", "clip.mp4", "clip.slp"]
    rec = generate(cfg)
    assert load_labels(tmp_path / "clip.behavior.json") == rec.labels
    slp = sio.load_slp(str(tmp_path / "clip.slp"))
    pose = pose_from_sleap(slp, n_frames=cfg.n_frames)
    assert pose.subjects == rec.subjects and pose.keypoint_names == KEYPOINTS
    np.testing.assert_allclose(pose.points, rec.pose.points, atol=1e-4)
    assert events_to_labels(slp, cfg.n_frames, subjects=rec.subjects) == rec.labels
    # the targets survive both files
    assert load_labels(tmp_path / "clip.behavior.json").to_bouts() == rec.bouts()
    key = lambda b: (b.start, b.subject, b.behavior)  # noqa: E731
    directed = [(b.start, b.stop, b.subject, b.behavior, b.target) for b in sorted(rec.bouts(), key=key)]
    events = [(b.start, b.stop, b.subject, b.behavior, b.target) for b in sorted(events_to_bouts(slp), key=key)]
    assert events == directed and any(b[-1] for b in directed)
    video_mod = pytest.importorskip("vpbehavior.io.video")
    with video_mod.open_video(video) as reader:
        assert len(reader) == cfg.n_frames
        frame = reader[10]
    assert frame.shape == (96, 128, 3)
    assert np.abs(frame.astype(float) - rec.render_frame(10)).mean() < 8  # lossy, but the same picture


def test_make_experiment_writes_distinct_recordings(tmp_path: Path):
    pytest.importorskip("vpbehavior.io.video")
    paths = make_experiment(tmp_path, n_videos=2, seed=7, height=64, width=96, n_frames=20, progress=False)
    assert [p.name for p in paths] == ["synthetic_00.mp4", "synthetic_01.mp4"]
    for p in paths:
        assert p.with_suffix(".slp").is_file() and (p.parent / f"{p.stem}.behavior.json").is_file()
    seeds = experiment_seeds(7, 2)
    assert len(set(seeds)) == 2 and seeds == experiment_seeds(7, 2) and seeds != experiment_seeds(8, 2)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_experiment_folder_loads_back_through_the_folder_format(tmp_path: Path):
    pytest.importorskip("vpbehavior.io.folder")
    import vpbehavior

    overrides = dict(height=64, width=96, n_frames=24)
    make_experiment(tmp_path, n_videos=2, seed=3, progress=False, **overrides)
    dataset = vpbehavior.load(tmp_path, format="folder")
    assert not dataset.failures, [str(f) for f in dataset.failures]
    assert sorted(r.name for r in dataset) == ["synthetic_00", "synthetic_01"]
    for rec, seed in zip(sorted(dataset, key=lambda r: r.name), experiment_seeds(3, 2)):
        expected = generate(SyntheticConfig(seed=seed, **overrides))
        assert rec.n_frames == 24 and rec.subjects == expected.subjects
        assert rec.labels == expected.labels
        np.testing.assert_allclose(rec.pose.points, expected.pose.points, atol=1e-4)


def test_recording_is_immutable_with_provenance_only_metadata():
    syn = generate(_small(n_frames=30))
    with pytest.raises(dataclasses.FrozenInstanceError):
        syn.labels = None
    for array in (syn.pose.points, syn.true_pose.points, syn.labels.values, syn.boxes, syn.center, syn.background):
        assert not array.flags.writeable
    rec = syn.to_recording("clip")
    assert isinstance(rec, Recording) and isinstance(rec.pose, Pose) and rec.pose is syn.pose
    assert rec.presence.all() and rec.labels == syn.labels
    assert set(rec.metadata) == {"source", "config"}
    assert SyntheticConfig(**rec.metadata["config"]) == syn.config  # the provenance rebuilds the config


def test_sample_recording_is_cheap_and_complete(tmp_path: Path):
    pytest.importorskip("vpbehavior.io.video")
    start = time.perf_counter()
    rec = sample_recording(seed=1, folder=tmp_path)
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0, elapsed
    assert isinstance(rec, Recording) and rec.video == (tmp_path / "sample.mp4").resolve() and rec.video.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.behavior.json", "sample.mp4", "sample.slp"]
    expected = generate(SyntheticConfig(seed=1, n_frames=rec.n_frames, height=240, width=320))
    assert rec.labels == expected.labels and rec.subjects == expected.subjects and rec.fps == 30.0
    np.testing.assert_array_equal(rec.pose.points, expected.pose.points)
    square = sample_recording(seed=2, n_frames=12, size=64)  # into a new temporary folder
    assert square.n_frames == 12 and square.video.is_file() and square.video.parent != tmp_path
    assert square.metadata["config"]["height"] == square.metadata["config"]["width"] == 64
    shutil.rmtree(square.video.parent)
    with pytest.raises(ConfigError, match="size"):
        sample_recording(size=(64, 64, 3), folder=tmp_path / "bad")
