"""Frame-level behavior classification on frozen features.

Modules: `heads` (attention-pooling probe, linear, MLP, temporal conv), `losses` (BCE /
CE, focal, EQL), `train` (training with early stopping; `BehaviorClassifier` save / load),
`metrics` (AP, mAP, F1, class-averaged accuracy, bout-level F1, reports), `postprocess`
(thresholds, smoothing, bout rules, bouts tables).
"""
