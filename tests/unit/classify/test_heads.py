"""Heads, losses, training with early stopping, and classifier save / load."""

import numpy as np
import pytest
import torch

from vpbehavior.classify.classifier import BehaviorClassifier
from vpbehavior.classify.config import TrainConfig
from vpbehavior.classify.data import FeatureSequence, WindowedFrames, split_sequences
from vpbehavior.classify.heads import HEADS, build_head
from vpbehavior.classify.losses import BehaviorLoss, balanced_weights
from vpbehavior.classify.metrics import mean_average_precision
from vpbehavior.classify.training import fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("kind", HEADS)
def test_head_shapes(kind):
    window = 1 if kind in ("linear", "mlp") else 9
    shape = (4, 16) if kind == "attention" else (16,)
    head = build_head(kind, shape, 3, window=window)
    out = head(torch.randn(5, window, *shape))
    assert out.shape == (5, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in head.parameters() if p.requires_grad)


def test_conv_head_uses_context_linear_does_not():
    conv = build_head("conv", (8,), 2, window=9)
    x = torch.randn(1, 9, 8)
    x2 = x.clone()
    x2[:, 0] += 5.0  # change a context frame only
    assert not torch.allclose(conv(x), conv(x2))
    lin = build_head("linear", (8,), 2)
    assert torch.allclose(lin(x[:, 4:5]), lin(x2[:, 4:5]))


def test_windows_do_not_cross_sequences():
    a = FeatureSequence(np.zeros((5, 1)), None, "a")
    b = FeatureSequence(np.ones((4, 1)), None, "b")
    data = WindowedFrames([a, b], window=5)
    assert len(data) == 9
    np.testing.assert_array_equal(data.gather(np.array([4]))[0, :, 0], 0)  # last frame of a: padded with a's edge
    np.testing.assert_array_equal(data.gather(np.array([5]))[0, :, 0], 1)  # first frame of b
    assert data.gather(np.array([0, 8])).shape == (2, 5, 1)


def test_losses_mask_unannotated_and_eql_drops_rare_negatives():
    logits = torch.randn(6, 3, requires_grad=True)
    t = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [-1, -1, -1], [1, 0, -1]])
    base = BehaviorLoss("bce")(logits, t)
    t2 = t.clone()
    t2[4] = torch.tensor([1, 1, 1])
    logits2 = logits.detach().clone()
    logits2[4] = 100.0
    assert torch.isclose(BehaviorLoss("bce")(logits2, t), base.detach())  # -1 rows contribute nothing
    freq = np.array([0.5, 0.01, 0.01])
    eql = BehaviorLoss("eql", frequencies=freq, eql_lambda=0.1)
    loss = eql(logits, t)
    loss.backward()
    # rare class 1 gets no gradient from frame 0 (foreground: class 0), but does from its own positive
    assert logits.grad[0, 1] == 0 and logits.grad[1, 1] != 0
    for kind in ("bce", "focal", "eql"):
        single = BehaviorLoss(kind, single_label=True, frequencies=freq, eql_lambda=0.1, background_index=0)
        assert torch.isfinite(single(logits, t))
    w = balanced_weights(np.array([[1, 0], [0, 0], [0, 0], [0, 1]]), single_label=False)
    assert w[0] == pytest.approx(3.0)


def _toy_sequences(n_rec=4, t=300, f=12, seed=0, shuffle=False):
    """Class c is on when feature c is high; one class depends on temporal context."""
    rng = np.random.default_rng(seed)
    seqs = []
    for r in range(n_rec):
        y = np.zeros((t, 3), np.int8)
        for c in range(3):
            for start in rng.integers(0, t - 20, 6):
                y[start : start + rng.integers(5, 20), c] = 1
        x = rng.normal(size=(t, f)).astype(np.float32)
        x[:, :3] += 2.5 * y
        y[rng.random((t, 3)) < 0.05] = -1
        if shuffle:
            y = y[rng.permutation(t)]
        seqs.append(FeatureSequence(x, y, f"rec{r}"))
    return seqs


@pytest.mark.parametrize("kind", ["linear", "mlp", "conv"])
def test_training_learns_and_roundtrips(kind, tmp_path):
    seqs = _toy_sequences()
    train, val = split_sequences(seqs, 0.25)
    assert {s.recording for s in train}.isdisjoint({s.recording for s in val})
    cfg = TrainConfig(
        head=kind, window=None if kind != "conv" else 7, max_epochs=10, patience=3, hidden=32, lr=2e-2, batch_size=64
    )
    clf = fit(train, val, ["a", "b", "c"], cfg)
    test = _toy_sequences(seed=9)[0]
    scores = clf.predict_scores(test.features)
    assert mean_average_precision(test.targets, scores) > 0.8  # logistic regression reaches ~0.91
    assert len(clf.postprocess.thresholds) == 3 and clf.info["epochs_run"] <= 10
    path = clf.save(tmp_path / "clf.safetensors")
    loaded = BehaviorClassifier.load(path)
    np.testing.assert_allclose(loaded.predict_scores(test.features), scores, atol=1e-6)
    assert loaded.classes == ("a", "b", "c") and loaded.postprocess == clf.postprocess
    with pytest.raises(ValueError, match="per-frame shape"):
        loaded.predict_scores(test.features[:, :5])


def test_attention_probe_single_label_trains():
    rng = np.random.default_rng(0)
    seqs = []
    for r in range(3):
        ids = np.repeat(rng.integers(0, 3, 30), 10)
        tokens = rng.normal(size=(300, 4, 8)).astype(np.float32)
        tokens[np.arange(300), :, ids] += 3.0
        y = np.eye(3, dtype=np.int8)[ids]
        seqs.append(FeatureSequence(tokens, y, f"r{r}"))
    cfg = TrainConfig(kind="tokens", head="attention", window=5, max_epochs=6, lr=3e-3, dropout=0.0, mode="single")
    clf = fit(seqs[:2], seqs[2:], ["bg", "x", "y"], cfg, background="bg")
    scores = clf.predict_scores(seqs[2].features)
    np.testing.assert_allclose(scores.sum(1), 1.0, rtol=1e-5)
    assert (scores.argmax(1) == seqs[2].targets.argmax(1)).mean() > 0.8


def test_early_stopping_on_shuffled_labels():
    seqs = _toy_sequences(shuffle=True)
    cfg = TrainConfig(head="mlp", max_epochs=40, patience=2, hidden=32)
    clf = fit(seqs[:3], seqs[3:], ["a", "b", "c"], cfg)
    assert clf.info["epochs_run"] < 40
    assert clf.info["epochs_run"] - clf.info["best_epoch"] <= 3


def test_load_rejects_foreign_files(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="not a classifier"):
        BehaviorClassifier.load(tmp_path / "w.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="junk.safetensors"):
        BehaviorClassifier.load(tmp_path / "junk.safetensors")


def _saved_classifier(tmp_path):
    clf = fit(_toy_sequences()[:3], None, ["a", "b", "c"], TrainConfig(head="mlp", hidden=8, max_epochs=1))
    return clf.save(tmp_path / "ok.safetensors")


def _rewrite(path, out, edit_meta=None, edit_tensors=None):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as fh:
        meta = json.loads(fh.metadata()["vpbehavior"])
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    if edit_meta:
        edit_meta(meta)
    if edit_tensors:
        edit_tensors(tensors)
    save_file(tensors, str(out), metadata={"vpbehavior": json.dumps(meta)})
    return out


@pytest.mark.parametrize(
    "what, edit_meta, edit_tensors, needle",
    [
        ("unknown config key", lambda m: m["config"].update(colour="blue"), None, "colour"),
        ("missing classes", lambda m: m.pop("classes"), None, "classes"),
        ("empty classes", lambda m: m.update(classes=[]), None, "classes"),
        ("missing tensor", None, lambda t: t.pop(sorted(k for k in t if k.startswith("head."))[0]), "missing"),
        ("a 30 GB head", lambda m: m["config"].update(hidden=60000, layers=4), None, "missing"),
        ("a head of another width", lambda m: m["config"].update(hidden=64000), None, "shape"),
        ("unknown post-processing key", lambda m: m["postprocess"].update(wobble=1), None, "wobble"),
        ("newer format", lambda m: m.update(format_version=99), None, "version"),
        ("thresholds of the wrong length", lambda m: m["postprocess"].update(thresholds=[0.5]), None, "thresholds"),
        ("a threshold of 7", lambda m: m["postprocess"].update(thresholds=[7.0] * 3), None, "thresholds"),
        ("a bad frame shape", lambda m: m.update(frame_shape=["x"]), None, "frame_shape"),
        ("feature spec not an object", lambda m: m.update(feature_spec=[1]), None, "feature_spec"),
        ("duplicate classes", lambda m: m.update(classes=["a", "a", "c"]), None, "repeats"),
        ("zero std", None, lambda t: t["norm.std"].zero_(), "std"),
    ],
)
def test_hand_edited_classifier_files_give_one_line_naming_the_file(tmp_path, what, edit_meta, edit_tensors, needle):
    from vpbehavior.core.errors import DataError

    bad = _rewrite(_saved_classifier(tmp_path), tmp_path / "edited.safetensors", edit_meta, edit_tensors)
    with pytest.raises(DataError) as err:
        BehaviorClassifier.load(bad)
    text = str(err.value)
    assert "edited.safetensors" in text and needle in text and "\n" not in text, (what, text)


def test_classifier_files_of_format_1_still_load(tmp_path):
    def to_v1(meta):
        meta["format_version"] = 1
        meta["single_label"] = False
        for key in ("kind", "mode", "smoothing", "smooth_window", "min_bout", "max_gap", "val_fraction", "thresholds"):
            meta["config"].pop(key)
        meta["config"]["sequence_norm"] = True  # v1 stored the resolved choice

    path = _saved_classifier(tmp_path)
    old = BehaviorClassifier.load(_rewrite(path, tmp_path / "v1.safetensors", to_v1))
    new = BehaviorClassifier.load(path)
    x = np.random.default_rng(0).normal(size=(20, 12)).astype(np.float32)
    np.testing.assert_allclose(old.predict_scores(x), new.predict_scores(x), atol=1e-6)
