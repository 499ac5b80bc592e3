"""The Python API end to end on synthetic videos: load -> extract -> train -> predict -> evaluate.

The synthetic behaviors are defined by keypoint motion, so the pose-feature path must reach
mAP >= 0.9 on held-out recordings; the video path (a randomly initialized tiny encoder) must beat
a classifier trained on shuffled labels. A few CLI runs check that flags map onto the same calls.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import vpbehavior as vpb
from vpbehavior.cli import main

SYNTH = dict(height=96, width=96, n_frames=600, progress=False)
EXTRACT = dict(size=96, token_grid=2, batch_size=16, device="cpu")
RECIPE = dict(head="mlp", hidden=64, lr=3e-3, batch_size=128, max_epochs=20, patience=5)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    vpb.make_experiment(root / "train", n_videos=8, seed=1, **SYNTH)
    vpb.make_experiment(root / "test", n_videos=3, seed=2, **SYNTH)
    encoder = vpb.load_encoder("random:tiny", device="cpu")
    for split in ("train", "test"):
        result = vpb.extract_features(vpb.load(root / split).recordings, encoder, vpb.ExtractConfig(**EXTRACT),
                                      cache=root / "features")  # fmt: skip
        assert result.ok and len(result.paths) == (8 if split == "train" else 3)
    return root


@pytest.fixture(scope="module")
def video_classifier(experiment):
    train = vpb.load(experiment / "train")
    clf = vpb.train_classifier(train.recordings, config=vpb.TrainConfig(kind="video", **RECIPE),
                               features=experiment / "features")  # fmt: skip
    return clf.save(experiment / "video.safetensors")


def test_notebook_sized_script(experiment, tmp_path):
    # the script of the issue note: load, extract, train, predict, evaluate; no argparse
    import vpbehavior as vpb

    train, test = vpb.load(experiment / "train"), vpb.load(experiment / "test")
    encoder = vpb.load_encoder("random:tiny")
    vpb.extract_features(test.recordings, encoder, vpb.ExtractConfig(size=96, token_grid=2), cache=tmp_path / "f")
    clf = vpb.train_classifier(train.recordings, config=vpb.TrainConfig(kind="pose", hidden=64, lr=3e-3))
    pred = clf.predict(test.recordings[0])
    report = vpb.evaluate(clf, test.recordings)
    report.write(tmp_path / "report")

    assert isinstance(pred, vpb.Predictions)
    rec = test.recordings[0]
    assert pred.scores.shape == (rec.n_frames, len(rec.subjects), len(clf.classes))
    assert pred.subjects == rec.subjects and pred.fps == rec.fps and pred.presence.all()
    assert pred.bouts() and all(b.behavior in clf.classes for b in pred.bouts())
    assert report.mAP >= 0.9, report.per_class
    for name in ("report.json", "per_class.csv", "bouts.csv", "pr_curves.png", "ethogram.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert "idle" in (tmp_path / "report" / "bouts.csv").read_text()
    assert len(list((tmp_path / "f").glob("*.features.h5"))) == 3


def test_video_path_beats_shuffled_labels(experiment, video_classifier):
    from vpbehavior.classify.data import FeatureSequence, build_sequences, split_sequences
    from vpbehavior.classify.metrics import mean_average_precision
    from vpbehavior.classify.training import fit

    clf = vpb.load_classifier(video_classifier)
    assert clf.feature_spec["encoder"]["model"] == "random:tiny:seed0" and clf.config.uses_sequence_norm
    test = vpb.load(experiment / "test").recordings
    report = vpb.evaluate(clf, test, features=experiment / "features")
    # the control: the same features and recipe, training labels shuffled in time
    train_recs = vpb.load(experiment / "train").recordings
    train, _ = build_sequences(train_recs, "video", clf.classes, experiment / "features")
    test_seqs, _ = build_sequences(test, "video", clf.classes, experiment / "features")
    rng = np.random.default_rng(0)
    shuffled = [FeatureSequence(s.features, s.targets[rng.permutation(len(s))], s.recording, s.subject) for s in train]
    tr, va = split_sequences(shuffled, 0.2)
    control = fit(tr, va, clf.classes, clf.config)
    y = np.concatenate([s.targets for s in test_seqs])
    control_map = mean_average_precision(y, np.concatenate([control.predict_scores(s.features) for s in test_seqs]))
    print(f"video path held-out mAP {report.mAP:.4f} vs shuffled-label control {control_map:.4f}")
    assert report.mAP > control_map


def test_evaluate_scores_through_predict(experiment, video_classifier):
    clf = vpb.load_classifier(video_classifier)
    test = vpb.load(experiment / "test").recordings
    report = vpb.evaluate(clf, test, features=experiment / "features")
    for scored, rec in zip(report.scored, test):
        direct = clf.predict(rec, features=experiment / "features")
        np.testing.assert_array_equal(scored.predictions.scores, direct.scores)
        np.testing.assert_array_equal(scored.predictions.calls, direct.calls)
    assert report.metrics["n_cells"] == sum(r.labels.annotated_cells() for r in test)


def test_predictions_only_where_a_subject_is_present(experiment):
    test = vpb.load(experiment / "test").recordings
    rec = test[0]
    train = vpb.load(experiment / "train").recordings
    clf = vpb.train_classifier(train, config=vpb.TrainConfig(kind="pose", hidden=32, max_epochs=3))
    # the second animal is tracked in 4 frames only
    points = np.array(rec.pose.points)
    points[:, 1] = np.nan
    points[100:104, 1] = rec.pose.points[100:104, 1]
    sparse = rec.replace(pose=vpb.Pose(points, rec.pose.keypoint_names, rec.pose.subjects), presence=None)
    assert sparse.presence[:, 1].sum() == 4
    pred = clf.predict(sparse)
    assert pred.presence[:, 1].sum() == 4
    assert not pred.calls[:100, 1].any() and not pred.calls[104:, 1].any()
    assert np.isnan(pred.scores[:100, 1]).all() and np.isfinite(pred.scores[100:104, 1]).all()
    assert all(b.stop - b.start <= 4 for b in pred.bouts() if b.subject == rec.subjects[1])


def test_scoring_refuses_features_of_another_encoder(experiment, video_classifier, tmp_path):
    other = vpb.load_encoder("random:tiny", seed=3)
    test = vpb.load(experiment / "test").recordings
    vpb.extract_features(test, other, vpb.ExtractConfig(**EXTRACT), cache=tmp_path / "other")
    clf = vpb.load_classifier(video_classifier)
    with pytest.raises(vpb.DataError, match="encoder"):
        clf.predict(test[0], features=tmp_path / "other")


def test_cli_maps_flags_onto_the_same_api(experiment, tmp_path, capsys):
    clf_file = tmp_path / "pose.safetensors"
    argv = [
        "train",
        str(experiment / "train"),
        "--kind",
        "pose",
        "--head",
        "mlp",
        "--hidden",
        "64",
        "--lr",
        "3e-3",
        "--train-batch-size",
        "128",
        "--epochs",
        "20",
        "--patience",
        "5",
        "--min-bout",
        "3",
        "--out",
        str(clf_file),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "best epoch" in printed and "annotated frame x subject cells" in printed and "thresholds:" in printed
    clf = vpb.load_classifier(clf_file)
    assert (clf.config.hidden, clf.config.lr, clf.config.batch_size, clf.config.max_epochs) == (64, 3e-3, 128, 20)
    assert clf.postprocess.min_bout == 3 and 1 <= clf.info["best_epoch"] <= clf.info["epochs_run"]
    out = tmp_path / "report"
    assert main(["evaluate", str(experiment / "test"), "--classifier", str(clf_file), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    api_report = vpb.evaluate(clf, vpb.load(experiment / "test").recordings)
    assert report["mAP"] == pytest.approx(api_report.mAP)
    # a second train run may replace its own classifier file
    assert main(argv) == 0


def test_train_goes_on_without_recordings_whose_features_are_unusable(experiment, video_classifier, tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(experiment / "train", data)
    features = tmp_path / "features"
    encoder = vpb.load_encoder("random:tiny")
    recs = vpb.load(data).recordings
    vpb.extract_features(recs[1:], encoder, vpb.ExtractConfig(**EXTRACT), cache=features)
    rc = main(["train", str(data), "--features", str(features), "--kind", "video", "--epochs", "2",
               "--out", str(tmp_path / "c.safetensors")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 1 and f"left out (features unusable): {recs[0].name}" in out
    assert (tmp_path / "c.safetensors").is_file()


def test_robust_thresholds_do_not_call_everything():
    from vpbehavior.classify.training import robust_thresholds

    rng = np.random.default_rng(0)
    y = (rng.random((2000, 2)) < 0.05).astype(np.int8)
    weak = rng.random((2000, 2)) * 1e-3  # an uninformative classifier with tiny scores
    good = np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.05, y.shape)
    scores = np.stack([weak[:, 0], good[:, 1]], 1)
    thresholds, methods = robust_thresholds(y, scores)
    called = (scores >= thresholds).mean(0)
    assert called[0] <= 0.1, (thresholds, methods)  # best F1 would call ~everything
    assert "prevalence-matched" in methods[0] and methods[1] == "best F1 on validation"
    assert 0.3 < thresholds[1] < 0.7
    few = robust_thresholds(np.array([[1], [0], [0]]), np.array([[0.9], [0.1], [0.2]]))
    assert few == ([0.5], ["default 0.5 (1 validation positives)"])


def test_default_evaluation_split_never_falls_back_to_training_data(tmp_path):
    from vpbehavior.classify.data import default_test_split

    def ds(splits, test_split=None):
        recs = [vpb.Recording(f"r{i}", n_frames=1, split=s) for i, s in enumerate(splits)]
        return vpb.Dataset(recs, "x", tmp_path, test_split=test_split)

    assert default_test_split(ds(["train", "test"])) == "test"
    assert default_test_split(ds(["train", "val"], test_split="val")) == "val"
    assert default_test_split(ds([None, None])) == "all"
    with pytest.raises(vpb.ConfigError, match="no test split"):
        default_test_split(ds(["train", "val"]))


def test_training_never_validates_on_the_test_split(tmp_path):
    from vpbehavior.classify.data import training_splits

    labels = vpb.BehaviorLabels.empty(2, ["a"], annotated=True)

    def ds(splits, test_split=None):
        recs = [vpb.Recording(f"r{i}", n_frames=2, split=s, labels=labels) for i, s in enumerate(splits)]
        return vpb.Dataset(recs, "x", tmp_path, test_split=test_split)

    train, val = training_splits(ds(["train", "val", "test"], test_split="test"))
    assert [r.name for r in train] == ["r0"] and [r.name for r in val] == ["r1"]
    train, val = training_splits(ds(["train", "val"], test_split="val"))  # KABR: val is the test split
    assert [r.name for r in train] == ["r0"] and val == []
    train, val = training_splits(ds([None, None, "test"], test_split="test"))  # no train split: all but test
    assert [r.name for r in train] == ["r0", "r1"] and val == []
    with pytest.raises(vpb.ConfigError, match="test split"):
        training_splits(ds(["train", "val"], test_split="val"), val_split="val")


def test_frame_level_features_collapse_subjects_into_one_row():
    from vpbehavior.classify.data import row_targets

    values = np.array([[[1, 0], [0, 1]],     # fly1 lunges, fly2 shows background
                       [[0, 1], [0, 1]],     # both background
                       [[0, 1], [-1, -1]],   # fly2 not annotated
                       [[0, 0], [1, 0]]], np.int8)  # fmt: skip
    labels = vpb.BehaviorLabels(values, ["lunge", "other"], ["fly1", "fly2"], background="other")
    rec = vpb.Recording("r", n_frames=4, subjects=["fly1", "fly2"], labels=labels)
    merged = row_targets(rec, ("all",), ["lunge", "other"], False, "other")
    assert merged.shape == (4, 1, 2) and merged[:, 0].tolist() == [[1, 0], [0, 1], [-1, -1], [1, 0]]
    np.testing.assert_array_equal(row_targets(rec, ("fly1", "fly2"), ["lunge", "other"], False, "other"), values)


def test_flyvsfly_protocol_drops_rare_behaviors_and_never_scores_untracked_frames():
    from vpbehavior.classify.data import targets_for
    from vpbehavior.protocols import keep_frequent_behaviors

    def movie(name, split, lunge, presence):
        bouts = [vpb.Bout(0, lunge, "fly1", "lunge"), vpb.Bout(0, 30, "fly2", "wing threat")]
        labels = vpb.BehaviorLabels.from_bouts(bouts, 2000, ["lunge", "wing threat"], ["fly1", "fly2"])
        return vpb.Recording(name, n_frames=2000, subjects=["fly1", "fly2"], labels=labels, split=split,
                             presence=presence)  # fmt: skip

    tracked = np.ones((2000, 2), bool)
    tracked[100:200, 0] = False
    recs = keep_frequent_behaviors([movie("m1", "train", 1500, tracked), movie("m2", "test", 10, None)])
    assert all(r.classes == ("lunge",) for r in recs)
    assert recs[0].labels.label_counts() == {"lunge": 1500}
    targets = targets_for(recs[0], ("lunge",), False, None)
    assert (targets[100:200, 0] == -1).all() and (targets[100:200, 1] == 0).all()
    assert ((targets[:, 0] == 1).sum()) == 1400


def test_benchmark_protocols_and_table():
    from vpbehavior.protocols import PROTOCOLS, BenchmarkResult

    table = BenchmarkResult(PROTOCOLS["flyvsfly"], 0.5, "tiny", {}, None).table()
    assert "50.0" in table and "89.1" in table and "88.6" in table
    assert PROTOCOLS["kabr"].frame_step == 5 and PROTOCOLS["chimpact"].clip_length == 64


def test_unlabelled_recordings_work_wherever_labels_are_not_needed(experiment, video_classifier, tmp_path):
    import shutil

    shutil.copy(experiment / "test" / "synthetic_00.mp4", tmp_path / "m1.mp4")  # a bare video, no pose, no labels
    data = vpb.load(tmp_path)
    rec = data.recordings[0]
    assert rec.labels is None and rec.classes == () and rec.pose is None and rec.subjects == (vpb.FRAME_LEVEL,)
    summary = data.summary()
    assert summary["labelled_recordings"] == 0 and summary["annotated_cells"] == 0
    assert "labels" not in repr(rec) and "600 frames" in repr(rec)
    encoder = vpb.load_encoder("random:tiny")
    assert vpb.extract_features(data.recordings, encoder, vpb.ExtractConfig(**EXTRACT), cache=tmp_path / "f").ok
    per_subject = vpb.load_classifier(video_classifier)  # trained on box-pooled features of each animal
    with pytest.raises(vpb.DataError, match="per-subject .* need pose or boxes"):
        per_subject.predict(rec, features=tmp_path / "f")
    train = vpb.load(experiment / "train").recordings
    config = vpb.TrainConfig(kind="tokens", head="attention", window=1, max_epochs=1)
    clf = vpb.train_classifier(train, config=config, features=experiment / "features")  # frame-level features
    pred = clf.predict(rec, features=tmp_path / "f")
    assert pred.scores.shape == (rec.n_frames, 1, len(clf.classes)) and pred.presence.all()
    with pytest.raises(vpb.DataError, match="no labelled recordings"):
        vpb.evaluate(clf, data.recordings, features=tmp_path / "f")
    with pytest.raises(vpb.DataError, match="no labelled"):
        vpb.train_classifier(data.recordings, config=vpb.TrainConfig(kind="video"), features=tmp_path / "f")
