"""Metrics agree with scikit-learn; -1 cells and classes without positives are handled."""

import numpy as np
import pytest
from sklearn import metrics as skm

from vpbehavior.classify import metrics as M


def _random_case(seed, n=400, c=5, p_unannotated=0.2):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, c)) < rng.uniform(0.05, 0.5, c)).astype(np.int64)
    y[rng.random((n, c)) < p_unannotated] = -1
    scores = rng.random((n, c))
    scores[:, 0] = np.round(scores[:, 0], 1)  # many ties in one column
    return y, scores


@pytest.mark.parametrize("seed", range(5))
def test_average_precision_matches_sklearn(seed):
    y, scores = _random_case(seed)
    ap = M.per_class_ap(y, scores)
    for j in range(y.shape[1]):
        keep = y[:, j] >= 0
        expected = skm.average_precision_score(y[keep, j], scores[keep, j])
        assert ap[j] == pytest.approx(expected, abs=1e-12)


def test_pr_curve_matches_sklearn():
    y, scores = _random_case(7, p_unannotated=0.0)
    precision, recall, thr = M.precision_recall_curve(y[:, 0], scores[:, 0])
    p_sk, r_sk, t_sk = skm.precision_recall_curve(y[:, 0], scores[:, 0], drop_intermediate=False)
    # sklearn: increasing thresholds plus the (1, 0) end point
    np.testing.assert_allclose(precision, p_sk[:-1][::-1])
    np.testing.assert_allclose(recall, r_sk[:-1][::-1])
    np.testing.assert_allclose(thr, t_sk[::-1])


def test_unannotated_cells_are_excluded():
    y, scores = _random_case(3)
    before = M.per_class_ap(y, scores)
    # changing scores of unannotated cells must change nothing
    scores2 = scores.copy()
    scores2[y == -1] = 1.0
    np.testing.assert_allclose(M.per_class_ap(y, scores2), before)
    pred = scores > 0.5
    pred2 = pred.copy()
    pred2[y == -1] = ~pred2[y == -1]
    for key in ("precision", "recall", "f1"):
        np.testing.assert_allclose(M.precision_recall_f1(y, pred)[key], M.precision_recall_f1(y, pred2)[key])


@pytest.mark.parametrize("seed", range(3))
def test_prf_matches_sklearn(seed):
    y, scores = _random_case(seed, p_unannotated=0.0)
    pred = scores > 0.6
    ours = M.precision_recall_f1(y, pred)
    p, r, f, s = skm.precision_recall_fscore_support(y, pred.astype(int), average=None, zero_division=np.nan)
    np.testing.assert_allclose(ours["precision"], p)
    np.testing.assert_allclose(ours["recall"], r)
    np.testing.assert_allclose(ours["f1"], f)
    np.testing.assert_array_equal(ours["support"], s)
    assert M.macro_f1(y, pred) == pytest.approx(
        skm.f1_score(y, pred.astype(int), average="macro", zero_division=np.nan)
    )


def test_class_without_positives_is_nan_and_skipped():
    y, scores = _random_case(1, p_unannotated=0.0)
    y[:, 2] = 0
    ap = M.per_class_ap(y, scores)
    assert np.isnan(ap[2]) and np.isfinite(ap[[0, 1, 3, 4]]).all()
    assert M.mean_average_precision(y, scores) == pytest.approx(np.mean(ap[[0, 1, 3, 4]]))
    prf = M.precision_recall_f1(y, np.zeros_like(y, bool))
    assert np.isnan(prf["recall"][2]) and np.isnan(prf["precision"][2]) and np.isnan(prf["f1"][2])
    assert np.isnan(M.mean_average_precision(np.zeros((5, 2), int), np.ones((5, 2))))


def test_map_excludes_background():
    y, scores = _random_case(2, p_unannotated=0.0)
    classes = ["a", "b", "other", "c", "d"]
    ap = M.per_class_ap(y, scores)
    got = M.mean_average_precision(y, scores, classes, background="other")
    assert got == pytest.approx(np.mean(ap[[0, 1, 3, 4]]))
    assert got != pytest.approx(np.mean(ap))


@pytest.mark.parametrize("seed", range(3))
def test_single_label_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, 500)
    pred = np.where(rng.random(500) < 0.5, y, rng.integers(0, 6, 500))
    assert M.class_averaged_accuracy(y, pred) == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert M.top1_accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    np.testing.assert_array_equal(M.confusion_matrix(y, pred, 6), skm.confusion_matrix(y, pred, labels=range(6)))
    y_masked = y.copy()
    y_masked[:50] = -1
    keep = y_masked >= 0
    assert M.class_averaged_accuracy(y_masked, pred) == pytest.approx(skm.balanced_accuracy_score(y[keep], pred[keep]))


def test_segmental_f1():
    y = np.zeros((30, 1), int)
    y[2:8] = 1
    y[15:20] = 1
    pred = np.zeros((30, 1), bool)
    pred[3:8] = True  # IoU 5/6 with the first bout
    pred[16:17] = True  # IoU 1/5: no match
    pred[25:28] = True  # false positive
    counts = M.segmental_counts(y, pred, iou=0.5)
    assert (counts["tp"][0], counts["fp"][0], counts["fn"][0]) == (1, 2, 1)
    assert M.segmental_f1([(y, pred)], iou=0.5)[0] == pytest.approx(2 / (2 + 2 + 1))
    assert M.segmental_f1([(y, pred)], iou=0.1)[0] == pytest.approx(4 / (4 + 1))
    # a perfect prediction
    assert M.segmental_f1([(y, y.astype(bool))])[0] == 1.0
    # unannotated frames split nothing out of thin air: a predicted bout inside them is ignored
    y2 = y.copy()
    y2[24:29] = -1
    assert M.segmental_counts(y2, pred)["fp"][0] == 1


def test_evaluation_report_is_strict_json():
    import json

    y, scores = _random_case(4)
    y[:, 1] = np.where(y[:, 1] == 1, 0, y[:, 1])  # class without positives
    report = M.evaluation_report(y, scores, scores > 0.5, list("abcde"), background="e")
    text = json.dumps(report, allow_nan=False)
    assert "mAP" in report and report["per_class"][1]["ap"] is None
    assert report["classes_without_positives"] == ["b"]
    assert json.loads(text)["per_class"][4]["background"] is True
