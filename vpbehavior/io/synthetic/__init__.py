"""Procedural behavior videos with exact ground truth, for tests, the demo, benchmarks and sample data.

Two or more animals move in a textured arena; every frame of every animal carries exactly one
behavior of a scripted ethogram (`BEHAVIORS`; the rules are in `simulation`), and directed
behaviors know their target. Trajectories are simulated first (cheap); frames are rendered on
demand, so a long video never has to sit in memory. Everything is seeded: the same
`SyntheticConfig` gives identical frames, pose and labels.

- `generate` -> `SyntheticRecording` (pose, labels, `bouts` with targets, frames on demand);
- `write_recording` / `make_experiment` write ``.mp4`` + ``.behavior.json`` + ``.slp`` files;
- `sample_recording` writes and returns one short `Recording` (sample data, notebooks).

Modules: `config` (what to generate), `simulation` (trajectories and the ethogram),
`rendering` (frames), `writing` (files).
"""

from .config import BEHAVIORS, BOUT_LENGTHS, DIRECTED_BEHAVIORS, SCENE_WEIGHTS, BoutLength, NoiseConfig, SyntheticConfig
from .rendering import Renderer, SyntheticRecording, generate
from .simulation import KEYPOINTS, Interaction, Trajectories, simulate
from .writing import experiment_seeds, make_experiment, sample_recording, write_recording

__all__ = [
    "BEHAVIORS",
    "BOUT_LENGTHS",
    "DIRECTED_BEHAVIORS",
    "KEYPOINTS",
    "SCENE_WEIGHTS",
    "BoutLength",
    "Interaction",
    "NoiseConfig",
    "Renderer",
    "SyntheticConfig",
    "SyntheticRecording",
    "Trajectories",
    "experiment_seeds",
    "generate",
    "make_experiment",
    "sample_recording",
    "simulate",
    "write_recording",
]
