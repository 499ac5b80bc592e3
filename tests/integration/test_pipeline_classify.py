"""End to end on synthetic videos: extract -> train -> evaluate through the CLI, on held-out videos.

The synthetic behaviors are defined by keypoint motion, so the pose-feature path must reach
mAP >= 0.9 on held-out recordings; the video path (a randomly initialized tiny encoder) must
beat a classifier trained on shuffled labels.
"""

import json

import numpy as np
import pytest

from vpbehavior.cli import main

SYNTH = dict(height=96, width=96, n_frames=600, progress=False)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    from vpbehavior.io.synthetic import make_experiment

    root = tmp_path_factory.mktemp("synthetic")
    make_experiment(root / "train", n_videos=8, seed=1, **SYNTH)
    make_experiment(root / "test", n_videos=3, seed=2, **SYNTH)
    for split in ("train", "test"):
        rc = main(["extract", str(root / split), "--out", str(root / "features"), "--model", "tiny", "--size", "96",
                   "--token-grid", "2", "--batch-size", "16", "--device", "cpu"])
        assert rc == 0
    return root


def _train_and_evaluate(root, kind, extra=("--hidden", "64")):
    model = root / f"{kind}.safetensors"
    rc = main(["train", str(root / "train"), "--features", str(root / "features"), "--kind", kind, "--head", "mlp",
               "--out", str(model), "--lr", "3e-3", "--train-batch-size", "128", "--epochs", "20", "--patience", "5",
               *extra])
    assert rc == 0
    report_dir = root / f"report_{kind}"
    assert main(["evaluate", str(root / "test"), "--features", str(root / "features"), "--model", str(model),
                 "--out", str(report_dir)]) == 0
    return model, json.loads((report_dir / "report.json").read_text()), report_dir


def test_pose_path_reaches_map_09(experiment, capsys):
    _, report, report_dir = _train_and_evaluate(experiment, "pose")
    print(f"pose path held-out mAP {report['mAP']:.4f}")
    assert report["recordings"] == ["synthetic_00", "synthetic_01", "synthetic_02"]
    assert report["mAP"] >= 0.9, report["per_class"]
    for name in ("report.json", "per_class.csv", "bouts.csv", "pr_curves.png", "ethogram.png"):
        assert (report_dir / name).stat().st_size > 0
    assert "idle" in (report_dir / "bouts.csv").read_text()


def test_video_path_beats_shuffled_labels(experiment):
    from vpbehavior.classify.metrics import mean_average_precision
    from vpbehavior.classify.train import (
        BehaviorClassifier,
        FeatureSequence,
        TrainConfig,
        split_sequences,
        train_classifier,
    )
    from vpbehavior.io.registry import load
    from vpbehavior.pipelines.sequences import build_sequences

    model, report, _ = _train_and_evaluate(experiment, "video")
    clf = BehaviorClassifier.load(model)
    assert clf.feature_spec["encoder"]["model"] == "random:tiny:seed0" and clf.config.sequence_norm
    # the control: the same features and recipe, training labels shuffled in time
    train_recs = load(experiment / "train").recordings
    test_recs = load(experiment / "test").recordings
    train, _ = build_sequences(train_recs, "video", clf.classes, experiment / "features")
    test, _ = build_sequences(test_recs, "video", clf.classes, experiment / "features")
    rng = np.random.default_rng(0)
    shuffled = [FeatureSequence(s.features, s.targets[rng.permutation(len(s))], s.recording, s.subject) for s in train]
    tr, va = split_sequences(shuffled, 0.2)
    control = train_classifier(tr, va, clf.classes, TrainConfig(**{**clf.config.__dict__}), progress=False)
    y = np.concatenate([s.targets for s in test])
    control_map = mean_average_precision(y, np.concatenate([control.predict_scores(s.features) for s in test]))
    print(f"video path held-out mAP {report['mAP']:.4f} vs shuffled-label control {control_map:.4f}")
    assert report["mAP"] > control_map


def test_scoring_refuses_other_features(experiment, tmp_path):
    # features from another encoder must not be scored with this classifier
    rc = main(["extract", str(experiment / "test"), "--out", str(tmp_path / "other"), "--model", "tiny", "--seed", "3",
               "--size", "96", "--token-grid", "2", "--device", "cpu"])
    assert rc == 0
    model = experiment / "video.safetensors"
    if not model.exists():
        _train_and_evaluate(experiment, "video")
    assert main(["evaluate", str(experiment / "test"), "--features", str(tmp_path / "other"), "--model", str(model),
                 "--out", str(tmp_path / "r")]) == 2


def test_benchmark_says_what_is_missing(tmp_path, capsys):
    from vpbehavior.pipelines.benchmark import PROTOCOLS, results_table

    assert main(["benchmark", "kabr", "--data", str(tmp_path / "nowhere"), "--model", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "download kabr" in err
    table = results_table(PROTOCOLS["flyvsfly"], 0.5, "tiny")
    assert "50.0" in table and "89.1" in table and "88.6" in table
    assert PROTOCOLS["kabr"].frame_step == 5 and PROTOCOLS["chimpact"].clip_length == 64


def test_default_evaluation_split_never_falls_back_to_training_data(tmp_path):
    from vpbehavior.core import Dataset, Recording
    from vpbehavior.pipelines.evaluate import _default_test_split

    def ds(splits, **metadata):
        return Dataset([Recording(f"r{i}", n_frames=1, split=s) for i, s in enumerate(splits)], "x", tmp_path,
                       metadata=metadata)

    assert _default_test_split(ds(["train", "test"])) == "test"
    assert _default_test_split(ds(["train", "val"], test_split="val")) == "val"
    assert _default_test_split(ds([None, None])) == "all"
    with pytest.raises(ValueError, match="no test split"):
        _default_test_split(ds(["train", "val"]))


def test_frame_level_features_collapse_subjects_into_one_row():
    from vpbehavior.core import BehaviorLabels, Recording
    from vpbehavior.pipelines.sequences import subject_rows

    values = np.array([[[1, 0], [0, 1]],     # fly1 lunges, fly2 shows background
                       [[0, 1], [0, 1]],     # both background
                       [[0, 1], [-1, -1]],   # fly2 not annotated
                       [[0, 0], [1, 0]]], np.int8)
    labels = BehaviorLabels(values, ["lunge", "other"], ["fly1", "fly2"], background="other")
    rec = Recording("r", n_frames=4, subjects=["fly1", "fly2"], labels=labels)
    feats = np.random.default_rng(0).random((4, 2, 3)).astype(np.float32)
    rows = subject_rows(rec, feats, values, {"kind": "video", "per_subject": False}, background_index=1)
    assert len(rows) == 1 and rows[0][0] == "all"
    assert rows[0][2].tolist() == [[1, 0], [0, 1], [-1, -1], [1, 0]]
    per_subject = subject_rows(rec, feats, values, {"kind": "video", "per_subject": True})
    assert [r[0] for r in per_subject] == ["fly1", "fly2"]
    np.testing.assert_array_equal(per_subject[1][2], values[:, 1])


def test_flyvsfly_protocol_drops_rare_behaviors_and_untracked_frames():
    from vpbehavior.core import BehaviorLabels, Bout, Recording
    from vpbehavior.pipelines.benchmark import apply_flyvsfly_protocol

    def movie(name, split, lunge, tracked):
        bouts = [Bout(0, lunge, "fly1", "lunge"), Bout(0, 30, "fly2", "wing threat")]
        labels = BehaviorLabels.from_bouts(bouts, 2000, ["lunge", "wing threat"], ["fly1", "fly2"])
        return Recording(name, n_frames=2000, subjects=["fly1", "fly2"], labels=labels, split=split,
                         metadata={"tracked": tracked})

    tracked = np.ones((2000, 2), bool)
    tracked[100:200, 0] = False
    recs = [movie("m1", "train", 1500, tracked), movie("m2", "test", 10, np.ones((2000, 2), bool))]
    assert apply_flyvsfly_protocol(recs) == ["lunge"]
    assert all(r.classes == ("lunge",) for r in recs)
    assert (recs[0].labels.values[100:200, 0] == -1).all() and (recs[0].labels.values[100:200, 1] == 0).all()
    assert recs[0].labels.label_counts() == {"lunge": 1400}
