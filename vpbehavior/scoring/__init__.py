"""Scoring: a trained classifier over every video of an experiment folder, a dataset or one video.

    import vpbehavior as vpb

    result = vpb.score("experiment/", "clf.safetensors", "scores/", vpb.ScoreConfig(export="boris,slp"))
    result.scored, result.failures          # per video: scored, up to date, by another run, failed
    vpb.read_predictions("scores/m1.predictions.h5")   # -> Predictions

Modules: `config` (ScoreConfig, shards, results), `walk` (which videos, output names),
`locks` (claims that work without HDF5 file locking), `job` (one video), `run` (the folder,
worker processes), `summary` and `report` (summary.csv, failures.csv, score.json, report.html,
ethograms), `export` (BORIS, sleap-io, NWB, per-frame CSV). The predictions file itself is
`vpbehavior.io.predictions`.
"""

from .config import EXPORT_FORMATS, ScoreConfig, ScoreResult, Shard, VideoOutcome
from .run import score, summarize_scores

__all__ = ["EXPORT_FORMATS", "ScoreConfig", "ScoreResult", "Shard", "VideoOutcome", "score", "summarize_scores"]
