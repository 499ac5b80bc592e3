"""Frame-level behavior classification on frozen features.

Modules: `data` (recordings + cached features -> rows of frames), `heads` (attention-pooling
probe, linear, MLP, temporal conv), `losses` (BCE / CE, focal, EQL), `classifier` (the
persisted `BehaviorClassifier` and its `TrainConfig`), `training` (the training loop with early
stopping and robust thresholds), `evaluation` (`evaluate` -> `EvaluationReport`), `metrics`
(AP, mAP, F1, class-averaged accuracy, bout-level F1), `postprocess` (smoothing, bout rules).
"""
