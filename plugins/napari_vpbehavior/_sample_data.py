"""Sample data: a short synthetic recording (video, pose, labels) with simulated predictions.

The video comes from `vpbehavior.io.synthetic.sample_recording` (two animals, scripted behaviors,
exact ground truth). The predictions are a noisy, smoothed copy of the ground truth (provenance
says so), so the ethogram's call and probability lanes have something to show without training.
"""

from __future__ import annotations

import numpy as np

from vpbehavior.core import Predictions, Recording

from ._layers import recording_layers


def simulated_predictions(rec: Recording, seed: int = 0, noise: float = 0.25) -> Predictions:
    """Scores near the labels (smoothed noise added), calls where a score exceeds 0.5."""
    labels = rec.labels
    rng = np.random.default_rng(seed)
    truth = (labels.values == 1).astype(np.float32)
    raw = rng.normal(0.0, noise, truth.shape).astype(np.float32)
    kernel = np.ones(9, np.float32) / 9
    smooth = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 0, raw) * 3
    blurred = np.apply_along_axis(lambda v: np.convolve(v, np.ones(5) / 5, mode="same"), 0, truth)
    scores = np.clip(0.1 + 0.8 * blurred + smooth, 0.0, 1.0).astype(np.float32)
    scores[~rec.presence] = np.nan
    calls = np.nan_to_num(scores) > 0.5
    return Predictions(
        recording=rec.name,
        scores=scores,
        calls=calls,
        classes=labels.classes,
        subjects=labels.subjects,
        presence=rec.presence,
        fps=rec.fps,
        background=labels.background,
        provenance={"source": "simulated: a noisy copy of the synthetic ground truth (sample data)"},
    )


def sample_recording_layers(n_frames: int = 300, seed: int = 0) -> list[tuple]:
    """The sample as napari layer data: lazy video, pose, and (through the session) labels and predictions."""
    import vpbehavior as vpb
    from vpbehavior.io.synthetic import sample_recording

    rec = sample_recording(seed=seed, n_frames=n_frames)
    reader = vpb.open_video(rec)
    return recording_layers(rec, reader, simulated_predictions(rec, seed), {"pose_file": rec.metadata.get("pose_file")})


def make_sample_data() -> list[tuple]:
    """npe2 sample-data command."""
    import napari

    from ._session import session_for

    if napari.current_viewer() is not None:
        session_for(napari.current_viewer())  # listening before napari inserts the layers
    return sample_recording_layers()
