"""What a synthetic recording is made of: the ethogram, bout lengths, scene weights and the configs."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

import numpy as np

from vpbehavior.core.errors import ConfigError

#: Behavior name -> its motion rule (the ethogram, in vocabulary order).
BEHAVIORS: dict[str, str] = {
    "idle": "no motion: position, heading and posture constant",
    "grooming": "in place; head and neck swing sideways (~4 Hz), body centre fixed",
    "approach": "walks straight at the partner (1.5-3 L/s); the distance shrinks every frame until the bodies nearly touch",
    "retreat": "walks away from a nearby partner (1.2-2.5 L/s); the distance grows every frame",
    "circling": "orbits a stationary partner at constant radius, heading tangential (2-3 L/s)",
    "chase": "pursues a fleeing partner fast, heading at it, staying behind it",
    "flee": "runs fast (3.5-5 L/s) away from a chasing partner, which follows behind",
    "attack": "brief rapid lunges (~4/s, peak 7-13 L/s): the head touches the partner's thorax, then pulls back",
}

#: Behaviors directed at another animal: their bouts carry the partner as ``target``
#: (a flee bout's target is the chaser).
DIRECTED_BEHAVIORS: tuple[str, ...] = ("approach", "retreat", "circling", "chase", "flee", "attack")


@dataclass(frozen=True)
class BoutLength:
    """Log-normal bout length in seconds: ``median * exp(sigma * N(0, 1))`` clipped to [lo, hi]."""

    median: float
    sigma: float
    lo: float
    hi: float

    def draw(self, rng: np.random.Generator, fps: float) -> int:
        """A length in frames (at least 1)."""
        sec = float(np.clip(self.median * math.exp(self.sigma * rng.standard_normal()), self.lo, self.hi))
        return max(1, int(round(sec * fps)))


#: Default bout-length distributions (seconds). "scene" is the length of a solo scene.
BOUT_LENGTHS: dict[str, BoutLength] = {
    "scene": BoutLength(2.0, 0.5, 0.6, 6.0),
    "idle": BoutLength(1.5, 0.6, 0.4, 6.0),
    "grooming": BoutLength(1.2, 0.4, 0.5, 3.0),
    "approach": BoutLength(1.2, 0.4, 0.4, 4.0),  # aimed at; the speed range has the last word
    "retreat": BoutLength(1.0, 0.4, 0.4, 2.5),
    "circling": BoutLength(1.5, 0.4, 0.7, 3.0),
    "chase": BoutLength(1.2, 0.35, 0.6, 2.5),
    "attack": BoutLength(0.5, 0.4, 0.25, 1.0),
}

#: Default relative weights of the scene types (a social scene is picked only where feasible).
SCENE_WEIGHTS: dict[str, float] = {
    "solo": 1.0,
    "approach": 1.0,
    "retreat": 0.8,
    "circling": 1.2,
    "chase": 1.2,
    "attack": 0.45,
}


@dataclass(frozen=True)
class NoiseConfig:
    """Nuisance factors of a synthetic video.

    Attributes
    ----------
    pixel_std
        Standard deviation of per-pixel Gaussian noise (0-255 scale), fresh every frame.
    keypoint_std
        Standard deviation (pixels) of the tracking error added to the stored pose; the
        drawn animals use the exact keypoints (see `SyntheticRecording.true_pose`).
    texture
        Contrast of the static background texture (0 = flat background, 1 = strong).
    flicker
        Relative amplitude of a global lighting flicker (0 = none, 0.1 = +-10 %).
    """

    pixel_std: float = 4.0
    keypoint_std: float = 0.5
    texture: float = 0.5
    flicker: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"NoiseConfig.{f.name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate (frozen: use `replace` for a changed one).

    Attributes
    ----------
    height, width
        Frame size in pixels.
    n_frames, fps
        Length and frame rate.
    n_animals
        Number of animals (>= 2).
    noise
        A `NoiseConfig` (or a dict of its fields).
    seed
        Random seed (>= 0); the same config always gives the same recording.
    behaviors
        Behaviors that may occur, a subset of `BEHAVIORS` containing "idle"; "chase" and
        "flee" come together. The label vocabulary is this subset, in `BEHAVIORS` order.
    body_length
        Animal length (head to tail base plus tail) in pixels; default 13 % of the shorter side.
    weights
        Overrides of `SCENE_WEIGHTS` (scene type -> relative weight); stored read-only.
    groom_fraction
        Probability that a solo (or passive partner) bout is grooming rather than idle.
    """

    height: int = 240
    width: int = 320
    n_frames: int = 600
    fps: float = 30.0
    n_animals: int = 2
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    seed: int = 0
    behaviors: tuple[str, ...] = tuple(BEHAVIORS)
    body_length: float | None = None
    weights: Mapping[str, float] = field(default_factory=dict, hash=False)
    groom_fraction: float = 0.3
    # whether body_length was derived from the frame size (then `replace` derives it again)
    _derived_length: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        noise = self.noise
        if isinstance(noise, Mapping):
            unknown = sorted(set(noise) - {f.name for f in fields(NoiseConfig)})
            if unknown:
                raise ConfigError(f"SyntheticConfig.noise: unknown fields {unknown}")
            noise = NoiseConfig(**noise)
        if not isinstance(noise, NoiseConfig):
            raise ConfigError(f"SyntheticConfig.noise must be a NoiseConfig or dict, got {type(noise).__name__}")
        set_(self, "noise", noise)
        for name in ("height", "width", "n_frames", "n_animals", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"SyntheticConfig.{name} must be an integer, got {value!r}")
            set_(self, name, int(value))
        if min(self.height, self.width) < 32:
            raise ConfigError(f"SyntheticConfig: frame size {self.height}x{self.width} is too small (min 32x32)")
        if self.n_frames < 1:
            raise ConfigError(f"SyntheticConfig.n_frames must be >= 1, got {self.n_frames}")
        if self.n_animals < 2:
            raise ConfigError(f"SyntheticConfig.n_animals must be >= 2, got {self.n_animals}")
        if self.seed < 0:
            raise ConfigError(f"SyntheticConfig.seed must be >= 0, got {self.seed}")
        if not (isinstance(self.fps, (int, float)) and self.fps > 0 and math.isfinite(self.fps)):
            raise ConfigError(f"SyntheticConfig.fps must be > 0, got {self.fps!r}")
        set_(self, "fps", float(self.fps))
        set_(self, "behaviors", _behaviors(self.behaviors))
        self._check_weights()
        if not 0 <= self.groom_fraction <= 1:
            raise ConfigError(f"SyntheticConfig.groom_fraction must lie in [0, 1], got {self.groom_fraction}")
        set_(self, "groom_fraction", float(self.groom_fraction) if "grooming" in self.behaviors else 0.0)
        set_(self, "_derived_length", self.body_length is None)
        length = 0.13 * min(self.height, self.width) if self.body_length is None else float(self.body_length)
        set_(self, "body_length", length)
        if not 8 <= length <= min(self.height, self.width) / 4:
            raise ConfigError(
                f"SyntheticConfig.body_length {length:.1f} px must lie in [8, {min(self.height, self.width) / 4:.1f}] "
                f"for a {self.height}x{self.width} frame"
            )

    def _check_weights(self) -> None:
        if not isinstance(self.weights, Mapping):
            raise ConfigError(f"SyntheticConfig.weights must be a mapping, got {type(self.weights).__name__}")
        unknown = sorted(set(self.weights) - set(SCENE_WEIGHTS))
        if unknown:
            raise ConfigError(f"SyntheticConfig.weights: unknown scene types {unknown}; known: {list(SCENE_WEIGHTS)}")
        if any(not isinstance(w, (int, float)) or not w >= 0 for w in self.weights.values()):
            raise ConfigError(f"SyntheticConfig.weights must be numbers >= 0, got {dict(self.weights)}")
        object.__setattr__(self, "weights", MappingProxyType({k: float(w) for k, w in self.weights.items()}))

    def replace(self, **changes) -> SyntheticConfig:
        """A copy with some fields changed; a derived body length follows a new frame size."""
        known = {f.name for f in fields(self) if f.init}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"SyntheticConfig has no field(s) {unknown}; known: {sorted(known)}")
        if self._derived_length and "body_length" not in changes:
            changes["body_length"] = None
        return dataclasses.replace(self, **changes)

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(f"animal{i}" for i in range(self.n_animals))

    def scene_weights(self) -> dict[str, float]:
        """Scene weights with overrides, restricted to the enabled behaviors."""
        weights = {**SCENE_WEIGHTS, **self.weights}
        return {k: w for k, w in weights.items() if k == "solo" or k in self.behaviors}

    def to_dict(self) -> dict:
        """JSON-ready form (the provenance stored in recording metadata)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        out.update(noise=dataclasses.asdict(self.noise), behaviors=list(self.behaviors), weights=dict(self.weights))
        return out


def _behaviors(behaviors) -> tuple[str, ...]:
    """The enabled behaviors in vocabulary order, with "idle" and chase / flee pairs completed."""
    if isinstance(behaviors, str):
        behaviors = (behaviors,)
    unknown = sorted(set(behaviors) - set(BEHAVIORS))
    if unknown:
        raise ConfigError(f"SyntheticConfig.behaviors: unknown {unknown}; known: {list(BEHAVIORS)}")
    chosen = set(behaviors) | {"idle"}
    if chosen & {"chase", "flee"}:
        chosen |= {"chase", "flee"}
    return tuple(b for b in BEHAVIORS if b in chosen)
