"""Procedural behavior videos with exact ground truth, for tests, the demo and benchmarks.

Two or more animals move in a textured rectangular arena. Each animal is an elongated body
(two ellipses and a tail) with a bright head marker, so heading is visible, and five
keypoints along its body axis: ``head, neck, thorax, tail_base, tail_tip``. Trajectories are
simulated first (cheap: positions, headings and head bends per frame); frames are rendered
on demand from them, so a long video never has to sit in memory.

Ethogram
--------
Labels are per animal (subjects ``animal0, animal1, ...``) and mutually exclusive: every
animal shows exactly one behavior in every frame, and every cell is annotated. The label
of frame ``t`` names the motion rule that moved the animal from its frame ``t - 1`` pose to
its frame ``t`` pose (frame 0 uses the initial placement as "frame -1"); behaviors switch
crisply at bout boundaries, there are no unlabeled transition frames. Social behaviors
involve an *actor* and a *partner* (the actor's nearest animal at the bout start); the
partner's own label describes the partner's own motion (it idles or grooms in place, or
flees from a chaser), so "chase" by one animal is "flee" by the other. Speeds are given in
body lengths ``L`` per second.

==========  ==================================================================================
idle        no motion at all: position, heading and posture constant.
grooming    stays in place; head and neck swing sideways (about 4 Hz, about 20 degrees),
            body centre and tail fixed, so displacement is ~0 while the head jitters.
approach    walks straight at the partner (1.5-3 L/s), heading at the partner; the distance
            shrinks every frame and the bout ends when the bodies nearly touch.
retreat     walks away from a nearby partner (1.2-2.5 L/s), heading within 60 degrees of
            straight away from it; the distance grows every frame.
circling    orbits a nearby stationary partner at constant radius (tangential speed 2-3 L/s),
            heading tangential: angular velocity about the partner, constant distance.
chase       pursues a fleeing partner at high speed (3-8 L/s), running at the point of its
            trail 0.7 L behind it: behind the partner, with a similar heading.
flee        the chased animal: runs fast (3.5-5 L/s) away from the chaser, steering along the
            arena walls; the chaser follows behind with a similar heading.
attack      brief (0.25-1 s) rapid lunges at a nearby partner (about 4 per second, peak speed
            7-13 L/s): the head touches the partner's thorax at every lunge, then pulls back.
==========  ==================================================================================

Bout lengths are drawn per behavior (log-normal, clipped; approach and retreat lengths
follow from the distance to travel and a drawn speed, a chase ends early where the fleer
would be cornered). A scene scheduler picks, among the social bouts feasible from the
current positions, one actor's bout (the other animals idle or groom meanwhile) or a solo
scene. With the defaults (2 animals, 20 seeds x 600 frames) the frame x animal shares are
about idle 57 %, grooming 17 %, approach 6 %, retreat 5 %, circling 7 %, chase 3 %,
flee 3 %, attack 1 % (median attack bout 0.5 s), like real social-behavior datasets.

Everything is seeded: the same `SyntheticConfig` gives identical frames, pose and labels.
`write_recording` writes ``<name>.mp4``, ``<name>.behavior.json`` and ``<name>.slp`` (pose,
with the labels also stored as sleap-io behavior events); `make_experiment` writes a folder
of such recordings, the layout the experiment-folder loader reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from statistics import NormalDist

import numpy as np

from vpbehavior._files import atomic_output
from vpbehavior.core import BehaviorLabels, Bout, Pose, Recording

KEYPOINTS: tuple[str, ...] = ("head", "neck", "thorax", "tail_base", "tail_tip")

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

# Keypoint offsets along the body axis, in body lengths (thorax = body centre).
_OFFSETS = np.array([0.45, 0.25, 0.0, -0.40, -0.80], np.float64)
_HEAD, _NECK, _THORAX, _TAIL_BASE, _TAIL_TIP = range(5)
_HEAD_MARKER_RGB = (250, 240, 110)
_BODY_RGB = ((205, 55, 45), (45, 85, 215), (40, 165, 60), (175, 60, 195), (230, 130, 20), (20, 170, 180))

# Geometry of social behaviors, in body lengths (centre-to-centre unless "head").
_CONTACT_DISTANCE = 1.25  # where an approach stops
_APPROACH_MIN_TRAVEL = 1.2
_RETREAT_MAX_START = 3.5
_RETREAT_SPEED = (1.2, 2.5)  # L/s
_CIRCLE_RADIUS = (1.05, 2.6)
_CIRCLE_SPEED = (2.0, 3.0)  # L/s, tangential
_CIRCLE_MIN_SECONDS = 0.6
_ATTACK_HEAD_START = (0.55, 1.5)  # head-to-partner-thorax distance at the start of an attack
_ATTACK_HEAD_CONTACT = 0.15  # head-to-partner-thorax distance at the lunge peak
_CHASE_START = (1.2, 3.0)
_CHASE_FOLLOW = 1.6


@dataclass(frozen=True)
class BoutLength:
    """Log-normal bout length in seconds: ``median * exp(sigma * N(0, 1))`` clipped to [lo, hi]."""

    median: float
    sigma: float
    lo: float
    hi: float

    def draw(self, rng: np.random.Generator, fps: float) -> int:
        sec = float(np.clip(self.median * math.exp(self.sigma * rng.standard_normal()), self.lo, self.hi))
        return max(1, int(round(sec * fps)))


#: Default bout-length distributions (seconds). "scene" is the length of a solo scene.
BOUT_LENGTHS: dict[str, BoutLength] = {
    "scene": BoutLength(2.0, 0.5, 0.6, 6.0),
    "idle": BoutLength(1.5, 0.6, 0.4, 6.0),
    "grooming": BoutLength(1.2, 0.4, 0.5, 3.0),
    "approach": BoutLength(1.2, 0.4, 0.4, 4.0),  # target; the speed range has the last word
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
_SOCIAL = ("approach", "retreat", "circling", "chase", "attack")
_NORMAL_QUANTILES = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)], np.float32)
_NORMAL_QUANTILES /= _NORMAL_QUANTILES.std()


@dataclass
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
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"NoiseConfig.{f.name} must be a finite number >= 0, got {value!r}")


@dataclass
class SyntheticConfig:
    """What to generate.

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
        Overrides of `SCENE_WEIGHTS` (scene type -> relative weight).
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
    weights: dict[str, float] = field(default_factory=dict)
    groom_fraction: float = 0.3

    def __post_init__(self) -> None:
        if isinstance(self.noise, dict):
            self.noise = NoiseConfig(**self.noise)
        if not isinstance(self.noise, NoiseConfig):
            raise TypeError(f"SyntheticConfig.noise must be a NoiseConfig or dict, got {type(self.noise).__name__}")
        for name in ("height", "width", "n_frames", "n_animals", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"SyntheticConfig.{name} must be an integer, got {value!r}")
            setattr(self, name, int(value))
        if min(self.height, self.width) < 32:
            raise ValueError(f"SyntheticConfig: frame size {self.height}x{self.width} is too small (min 32x32)")
        if self.n_frames < 1:
            raise ValueError(f"SyntheticConfig.n_frames must be >= 1, got {self.n_frames}")
        if self.n_animals < 2:
            raise ValueError(f"SyntheticConfig.n_animals must be >= 2, got {self.n_animals}")
        if self.seed < 0:
            raise ValueError(f"SyntheticConfig.seed must be >= 0, got {self.seed}")
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise ValueError(f"SyntheticConfig.fps must be > 0, got {self.fps}")
        self.fps = float(self.fps)
        if isinstance(self.behaviors, str):
            self.behaviors = (self.behaviors,)
        unknown = sorted(set(self.behaviors) - set(BEHAVIORS))
        if unknown:
            raise ValueError(f"SyntheticConfig.behaviors: unknown {unknown}; known: {list(BEHAVIORS)}")
        chosen = set(self.behaviors) | {"idle"}
        if chosen & {"chase", "flee"}:
            chosen |= {"chase", "flee"}
        self.behaviors = tuple(b for b in BEHAVIORS if b in chosen)
        unknown = sorted(set(self.weights) - set(SCENE_WEIGHTS))
        if unknown:
            raise ValueError(f"SyntheticConfig.weights: unknown scene types {unknown}; known: {list(SCENE_WEIGHTS)}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError(f"SyntheticConfig.weights must be >= 0, got {self.weights}")
        if not 0 <= self.groom_fraction <= 1:
            raise ValueError(f"SyntheticConfig.groom_fraction must lie in [0, 1], got {self.groom_fraction}")
        if "grooming" not in self.behaviors:
            self.groom_fraction = 0.0
        if self.body_length is None:
            self.body_length = 0.13 * min(self.height, self.width)
        self.body_length = float(self.body_length)
        if not 8 <= self.body_length <= min(self.height, self.width) / 4:
            raise ValueError(
                f"SyntheticConfig.body_length {self.body_length:.1f} px must lie in [8, {min(self.height, self.width) / 4:.1f}] "
                f"for a {self.height}x{self.width} frame"
            )

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(f"animal{i}" for i in range(self.n_animals))

    def scene_weights(self) -> dict[str, float]:
        """Scene weights with overrides, restricted to the enabled behaviors."""
        weights = {**SCENE_WEIGHTS, **self.weights}
        return {k: w for k, w in weights.items() if k == "solo" or k in self.behaviors}

    def to_dict(self) -> dict:
        """JSON-ready form (stored in recording metadata)."""
        out = asdict(self)
        out["behaviors"] = list(self.behaviors)
        return out


@dataclass(frozen=True)
class Interaction:
    """A social bout: ``actor`` shows ``behavior`` towards ``partner`` in frames ``[start, stop)``."""

    start: int
    stop: int
    behavior: str
    actor: str
    partner: str


# ---------------------------------------------------------------------------------- simulation
class _Simulator:
    """Fills per-frame centre, heading, bend and label arrays scene by scene."""

    def __init__(self, config: SyntheticConfig, rng: np.random.Generator) -> None:
        self.cfg = config
        self.rng = rng
        self.L = config.body_length
        self.fps = config.fps
        T, S = config.n_frames, config.n_animals
        self.center = np.zeros((T, S, 2))
        self.heading = np.zeros((T, S))
        self.bend = np.zeros((T, S))
        self.label = np.full((T, S), -1, np.int64)
        self.class_ids = {b: i for i, b in enumerate(config.behaviors)}
        self.interactions: list[Interaction] = []
        margin = 0.9 * self.L
        self.lo = np.array([margin, margin])
        self.hi = np.array([config.width - margin, config.height - margin])
        self.state_pos, self.state_heading = self._initial_placement()
        # grooming: whole cycles, so the bend is back to 0 at the end of every grooming bout
        self.groom_period = max(4, int(round(self.fps / 4.0)))
        self.groom_amplitude = math.radians(20.0)

    # --------------------------------------------------------------- helpers
    def _initial_placement(self) -> tuple[np.ndarray, np.ndarray]:
        S = self.cfg.n_animals
        min_sep = 2.2 * self.L
        for _ in range(200):
            pos = self.rng.uniform(self.lo, self.hi, size=(S, 2))
            d = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(S) * 1e9
            if d.min() >= min_sep:
                break
            min_sep *= 0.97  # crowded arena: relax gradually
        return pos, self.rng.uniform(-np.pi, np.pi, S)

    def _px_per_frame(self, speed: float) -> float:
        """Pixels per frame from a speed in body lengths per second."""
        return speed * self.L / self.fps

    def _speed(self, lo: float, hi: float) -> float:
        """A random speed from a range in body lengths per second, in pixels per frame."""
        return self._px_per_frame(self.rng.uniform(lo, hi))

    def _room(self, p: np.ndarray, direction: np.ndarray) -> float:
        """Distance from ``p`` along unit ``direction`` to the arena's inner border."""
        room = np.inf
        for k in range(2):
            if direction[k] > 1e-9:
                room = min(room, (self.hi[k] - p[k]) / direction[k])
            elif direction[k] < -1e-9:
                room = min(room, (self.lo[k] - p[k]) / direction[k])
        return max(0.0, room)

    def _set(self, t: int, s: int, pos: np.ndarray, heading: float, behavior: str, bend: float = 0.0) -> None:
        self.center[t, s] = pos
        self.heading[t, s] = heading
        self.bend[t, s] = bend
        self.label[t, s] = self.class_ids[behavior]

    def _dist(self, a: int, b: int) -> float:
        return float(np.linalg.norm(self.state_pos[a] - self.state_pos[b]))

    def _nearest(self, a: int) -> int:
        d = np.linalg.norm(self.state_pos - self.state_pos[a], axis=1)
        d[a] = np.inf
        return int(np.argmin(d))

    # --------------------------------------------------------------- scheduler
    def run(self) -> None:
        T = self.cfg.n_frames
        t = 0
        weights = self.cfg.scene_weights()
        last: tuple[str, int] = ("solo", -1)
        while t < T:
            options: list[tuple[str, int, int]] = []
            probs: list[float] = []
            if weights.get("solo", 0) > 0:
                options.append(("solo", -1, -1))
                probs.append(weights["solo"])
            S = self.cfg.n_animals
            for behavior in _SOCIAL:
                w = weights.get(behavior, 0.0)
                if w <= 0:
                    continue
                for a in range(S):
                    b = self._nearest(a)
                    # no social bout right after the same one: bouts keep their drawn lengths
                    if (behavior, a) != last and self._feasible(behavior, a, b):
                        options.append((behavior, a, b))
                        probs.append(w / S)
            if not options:
                options, probs = [("solo", -1, -1)], [1.0]
            p = np.asarray(probs) / np.sum(probs)
            kind, a, b = options[int(self.rng.choice(len(options), p=p))]
            last = (kind, a)
            if kind == "solo":
                stop = min(T, t + BOUT_LENGTHS["scene"].draw(self.rng, self.fps))
                for s in range(S):
                    self._solo(s, t, stop)
            else:
                stop = getattr(self, f"_{kind}")(a, b, t)
                self.interactions.append(Interaction(t, stop, kind, self.cfg.subjects[a], self.cfg.subjects[b]))
                for s in range(S):
                    if s != a and not (kind == "chase" and s == b):
                        self._solo(s, t, stop, idle_only=(kind == "attack" and s == b))
            for s in range(S):
                self.state_pos[s] = self.center[stop - 1, s]
                self.state_heading[s] = self.heading[stop - 1, s]
            t = stop

    def _feasible(self, behavior: str, a: int, b: int) -> bool:
        L, d = self.L, self._dist(a, b)
        pa, pb = self.state_pos[a], self.state_pos[b]
        if behavior == "approach":
            return d >= (_CONTACT_DISTANCE + _APPROACH_MIN_TRAVEL) * L
        if behavior == "retreat":
            return d <= _RETREAT_MAX_START * L and self._retreat_direction(a, b)[1] >= 1.0 * L
        if behavior == "circling":
            if not _CIRCLE_RADIUS[0] <= d / L <= _CIRCLE_RADIUS[1]:
                return False
            min_arc = _CIRCLE_MIN_SECONDS * self._px_per_frame(_CIRCLE_SPEED[0]) * self.fps / d
            return max(self._arc_room(a, b, +1.0), self._arc_room(a, b, -1.0)) >= min_arc
        if behavior == "attack":
            return _ATTACK_HEAD_START[0] <= d / L - _OFFSETS[_HEAD] <= _ATTACK_HEAD_START[1]
        if behavior == "chase":
            away = (pb - pa) / max(d, 1e-9)
            return _CHASE_START[0] * L <= d <= _CHASE_START[1] * L and self._room(pb, away) >= 2.0 * L
        raise ValueError(behavior)

    def _end(self, t: int, n: int) -> int:
        return min(self.cfg.n_frames, t + max(1, n))

    # --------------------------------------------------------------- solo behaviors
    def _solo(self, s: int, start: int, stop: int, idle_only: bool = False) -> None:
        """Idle / grooming bouts of one animal in ``[start, stop)``, in place."""
        pos, heading = self.state_pos[s].copy(), float(self.state_heading[s])
        t = start
        while t < stop:
            groom = not idle_only and self.rng.random() < self.cfg.groom_fraction
            n = BOUT_LENGTHS["grooming" if groom else "idle"].draw(self.rng, self.fps)
            n = min(n, stop - t)
            if groom:
                n -= n % self.groom_period  # whole swing cycles
            if n <= 0:
                groom, n = False, stop - t
            if groom:
                amp = self.groom_amplitude * self.rng.uniform(0.8, 1.2)
                sign = self.rng.choice([-1.0, 1.0])
                for j in range(n):
                    bend = sign * amp * math.sin(2 * math.pi * (j + 1) / self.groom_period)
                    self._set(t + j, s, pos, heading, "grooming", bend)
            else:
                for j in range(n):
                    self._set(t + j, s, pos, heading, "idle")
            t += n

    # --------------------------------------------------------------- social behaviors
    def _approach(self, a: int, b: int, t: int) -> int:
        pa, pb = self.state_pos[a], self.state_pos[b]
        vec = pb - pa
        d = float(np.linalg.norm(vec))
        travel = d - _CONTACT_DISTANCE * self.L
        unit = vec / d
        n = BOUT_LENGTHS["approach"].draw(self.rng, self.fps)
        n_min = math.ceil(travel / self._px_per_frame(3.0))
        n_max = max(n_min, math.floor(travel / self._px_per_frame(1.5)))
        n = int(np.clip(n, n_min, n_max))
        heading = math.atan2(unit[1], unit[0])
        stop = self._end(t, n)
        for j in range(stop - t):
            self._set(t + j, a, pa + unit * travel * (j + 1) / n, heading, "approach")
        return stop

    def _retreat_direction(self, a: int, b: int) -> tuple[np.ndarray | None, float]:
        """The direction within 60 degrees of straight away from ``b`` with the most room.

        Only directions in which the head, too, gets farther from ``b`` from the first
        frame on (despite the turn) are considered; ``(None, 0)`` if there is none.
        """
        pa, pb = self.state_pos[a], self.state_pos[b]
        old = float(self.state_heading[a])
        old_head = pa + _OFFSETS[_HEAD] * self.L * np.array([math.cos(old), math.sin(old)])
        away = pa - pb
        base = math.atan2(away[1], away[0])
        reach = _OFFSETS[_HEAD] * self.L + self._px_per_frame(_RETREAT_SPEED[0])
        best, best_room = None, 0.0
        for deg in (0, -20, 20, -40, 40, -60, 60):
            ang = base + math.radians(deg)
            u = np.array([math.cos(ang), math.sin(ang)])
            new_head = pa + reach * u
            if np.linalg.norm(new_head - pb) <= np.linalg.norm(old_head - pb) or np.dot(new_head - pb, u) <= 0:
                continue
            room = self._room(pa, u)
            if room > best_room + 0.25 * self.L:
                best, best_room = u, room
        return best, best_room

    def _retreat(self, a: int, b: int, t: int) -> int:
        unit, room = self._retreat_direction(a, b)
        step = self._speed(*_RETREAT_SPEED)
        n = BOUT_LENGTHS["retreat"].draw(self.rng, self.fps)
        n = max(1, min(n, int((room - 0.1 * self.L) / step)))
        heading = math.atan2(unit[1], unit[0])
        pa = self.state_pos[a]
        stop = self._end(t, n)
        for j in range(stop - t):
            self._set(t + j, a, pa + unit * step * (j + 1), heading, "retreat")
        return stop

    def _arc_room(self, a: int, b: int, sign: float) -> float:
        """How far (radians, up to 2 pi) ``a`` can orbit ``b`` in direction ``sign`` inside the arena."""
        pa, pb = self.state_pos[a], self.state_pos[b]
        r = float(np.linalg.norm(pa - pb))
        phi0 = math.atan2(pa[1] - pb[1], pa[0] - pb[0])
        steps = np.linspace(0.0, 2 * np.pi, 73)
        pts = pb + r * np.stack([np.cos(phi0 + sign * steps), np.sin(phi0 + sign * steps)], -1)
        inside = np.all((pts >= self.lo) & (pts <= self.hi), axis=1)
        return float(steps[-1] if inside.all() else steps[max(int(np.argmin(inside)) - 1, 0)])

    def _circling(self, a: int, b: int, t: int) -> int:
        pa, pb = self.state_pos[a], self.state_pos[b]
        r = self._dist(a, b)
        phi0 = math.atan2(pa[1] - pb[1], pa[0] - pb[0])
        rooms = {sign: self._arc_room(a, b, sign) for sign in (1.0, -1.0)}
        sign = float(self.rng.choice([-1.0, 1.0]))
        min_arc = _CIRCLE_MIN_SECONDS * self._px_per_frame(_CIRCLE_SPEED[0]) * self.fps / r
        if rooms[sign] < min_arc:
            sign = -sign
        omega = sign * self._speed(*_CIRCLE_SPEED) / r  # radians per frame
        n = BOUT_LENGTHS["circling"].draw(self.rng, self.fps)
        n = max(1, min(n, int(rooms[sign] / abs(omega))))
        stop = self._end(t, n)
        for j in range(stop - t):
            phi = phi0 + omega * (j + 1)
            pos = pb + r * np.array([math.cos(phi), math.sin(phi)])
            self._set(t + j, a, pos, phi + sign * math.pi / 2, "circling")
        return stop

    def _attack(self, a: int, b: int, t: int) -> int:
        pa, pb = self.state_pos[a], self.state_pos[b]
        vec = pb - pa
        d = float(np.linalg.norm(vec))
        unit = vec / d
        heading = math.atan2(unit[1], unit[0])
        amplitude = d - (_OFFSETS[_HEAD] + _ATTACK_HEAD_CONTACT) * self.L
        period = max(4, int(round(self.fps / self.rng.uniform(3.5, 4.5))))
        n_cycles = max(1, int(round(BOUT_LENGTHS["attack"].draw(self.rng, self.fps) / period)))
        stop = self._end(t, n_cycles * period)
        for j in range(stop - t):
            lunge = 0.5 * (1.0 - math.cos(2 * math.pi * (j + 1) / period))
            self._set(t + j, a, pa + unit * amplitude * lunge, heading, "attack")
        # the partner holds still (idle) during the attack
        return stop

    def _chase(self, a: int, b: int, t: int) -> int:
        """``a`` chases, ``b`` flees; fills both animals.

        The fleer turns (rate-limited) towards open space and away from the chaser. The
        chaser runs at the point of the fleer's trail 0.7 L behind the fleer, closing the gap
        to about 1.6 L, so it stays behind with a similar heading. The bout ends early, before a frame where
        the fleer would be cornered, so every chase frame is fast.
        """
        L = self.L
        chaser, fleer = self.state_pos[a].copy(), self.state_pos[b].copy()
        away = fleer - chaser
        head_f = math.atan2(away[1], away[0])
        v_flee = self._speed(3.5, 5.0)
        max_turn = 4.5 / self.fps  # rad per frame
        turns = np.linspace(-max_turn, max_turn, 9)
        wander = 0.0
        trail = [chaser, fleer]  # the path the chaser follows
        arc = [0.0, float(np.linalg.norm(away))]
        head_c = head_f
        n = BOUT_LENGTHS["chase"].draw(self.rng, self.fps)
        stop = self._end(t, n)
        for j in range(stop - t):
            wander = float(np.clip(0.85 * wander + self.rng.normal(0.0, 0.35 * max_turn), -max_turn, max_turn))
            flight = fleer - chaser
            flight_angle = math.atan2(flight[1], flight[0])
            scores = []
            for dt in turns:
                ang = head_f + dt
                u = np.array([math.cos(ang), math.sin(ang)])
                room = min(self._room(fleer, u), 3.0 * L) / L
                scores.append(room + 0.6 * math.cos(_wrap(ang - flight_angle)) - 0.3 * ((dt - wander) / max_turn) ** 2)
            new_head = head_f + float(turns[int(np.argmax(scores))])
            new_fleer = fleer + v_flee * np.array([math.cos(new_head), math.sin(new_head)])
            if np.any(new_fleer < self.lo) or np.any(new_fleer > self.hi):
                if j > 0:
                    return t + j  # cornered: the chase ends here
                new_fleer = np.clip(new_fleer, self.lo, self.hi)
            head_f, fleer = new_head, new_fleer
            trail.append(fleer)
            arc.append(arc[-1] + v_flee)
            # target: the point of the fleer's trail 0.7 L behind it
            s_target = max(arc[-1] - 0.7 * L, 0.0)
            k = min(int(np.searchsorted(arc, s_target, side="right")) - 1, len(arc) - 2)
            frac = (s_target - arc[k]) / max(arc[k + 1] - arc[k], 1e-9)
            target = trail[k] + frac * (trail[k + 1] - trail[k])
            gap = float(np.linalg.norm(fleer - chaser))
            gain = float(np.clip(1.0 + 0.8 * (gap - _CHASE_FOLLOW * L) / (_CHASE_FOLLOW * L), 0.8, 1.6))
            vec = target - chaser
            to_target = float(np.linalg.norm(vec))
            if to_target > 1e-6:
                chaser = chaser + min(v_flee * gain, to_target) * vec / to_target
                head_c = math.atan2(vec[1], vec[0])
            self._set(t + j, b, fleer, head_f, "flee")
            self._set(t + j, a, chaser, head_c, "chase")
        return stop


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _keypoints(center: np.ndarray, heading: np.ndarray, bend: np.ndarray, L: float) -> np.ndarray:
    """Keypoints ``[..., K, 2]`` from body centre, heading and head bend."""
    # head and neck turn by the bend about the thorax; the rest follows the heading
    angle = heading[..., None] + np.array([1.0, 0.5, 0.0, 0.0, 0.0]) * bend[..., None]
    off = _OFFSETS * L
    return center[..., None, :] + np.stack([off * np.cos(angle), off * np.sin(angle)], -1)


# ---------------------------------------------------------------------------------- rendering
def _background(config: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """Static textured floor, float32 ``[H, W, 3]``."""
    import cv2

    H, W = config.height, config.width
    base = np.array([128.0, 118.0, 100.0], np.float32)
    amp = 40.0 * config.noise.texture
    coarse = cv2.resize(
        rng.standard_normal((max(2, H // 24), max(2, W // 24))).astype(np.float32),
        (W, H),
        interpolation=cv2.INTER_CUBIC,
    )
    fine = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 1.2)
    texture = amp * (0.6 * coarse + 0.8 * fine)
    bg = base[None, None, :] + texture[..., None] * np.array([1.0, 0.95, 0.8], np.float32)
    # darker arena rim so the walls are visible
    yy, xx = np.mgrid[0:H, 0:W]
    rim = np.minimum.reduce([xx, yy, W - 1 - xx, H - 1 - yy]) < max(2, int(0.2 * config.body_length))
    bg[rim] *= 0.55
    return np.clip(bg, 0, 255).astype(np.float32)


class SyntheticRecording:
    """A generated recording: trajectories, pose, labels, and frames rendered on demand.

    Attributes
    ----------
    config
        The `SyntheticConfig` it was generated from.
    pose
        `Pose` ``[T, S, 5, 2]`` as a tracker would report it (``true_pose`` plus keypoint noise).
    true_pose
        The exact keypoints the animals are drawn with.
    labels
        `BehaviorLabels` ``[T, S, C]``, every cell annotated, one positive class per cell.
    boxes
        ``[T, S, 4]`` (x1, y1, x2, y2) around each drawn animal, clipped to the frame.
    interactions
        The social bouts (actor, partner) as `Interaction` records.
    """

    def __init__(
        self,
        config: SyntheticConfig,
        sim: _Simulator,
        background: np.ndarray,
        gains: np.ndarray,
        pose_noise: np.ndarray,
    ) -> None:
        self.config = config
        L = config.body_length
        true = _keypoints(sim.center, sim.heading, sim.bend, L).astype(np.float32)
        self.true_pose = Pose(true, KEYPOINTS, config.subjects)
        self.pose = Pose(true + pose_noise.astype(np.float32), KEYPOINTS, config.subjects)
        ids = sim.label
        self.labels = BehaviorLabels.from_single_label(ids, config.behaviors, config.subjects)
        pad = 0.2 * L
        boxes = self.true_pose.boxes(pad)
        boxes[..., 0::2] = np.clip(boxes[..., 0::2], 0, config.width - 1)
        boxes[..., 1::2] = np.clip(boxes[..., 1::2], 0, config.height - 1)
        self.boxes = boxes
        self.interactions = list(sim.interactions)
        self.center = sim.center.astype(np.float32)
        self.heading = sim.heading.astype(np.float32)
        self._background = background
        self._gains = gains
        std = config.noise.pixel_std
        self._noise_table = _NORMAL_QUANTILES * np.float32(std) if std > 0 else None
        self.colors = [_BODY_RGB[s % len(_BODY_RGB)] for s in range(config.n_animals)]

    # --------------------------------------------------------------- views
    @property
    def n_frames(self) -> int:
        return self.config.n_frames

    @property
    def fps(self) -> float:
        return self.config.fps

    @property
    def subjects(self) -> tuple[str, ...]:
        return self.config.subjects

    def __len__(self) -> int:
        return self.n_frames

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(T, H, W, 3)``, as for a `VideoReader`."""
        return (self.n_frames, self.config.height, self.config.width, 3)

    @property
    def background(self) -> np.ndarray:
        """The empty arena (float32 ``[H, W, 3]``, before noise and flicker)."""
        return self._background

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    def __getitem__(self, key: int | slice) -> np.ndarray:
        """Frame ``key`` (negative allowed) or a stack of frames for a slice, rendered now."""
        if isinstance(key, slice):
            frames = [self.render_frame(t) for t in range(*key.indices(self.n_frames))]
            return np.stack(frames) if frames else np.empty((0, *self.shape[1:]), np.uint8)
        t = int(key)
        return self.render_frame(t + self.n_frames if t < 0 else t)

    @property
    def frames(self) -> np.ndarray:
        """All frames, uint8 ``[T, H, W, 3]`` (rendered now; use `iter_frames` for long videos)."""
        out = np.empty((self.n_frames, self.config.height, self.config.width, 3), np.uint8)
        for t, frame in enumerate(self.iter_frames()):
            out[t] = frame
        return out

    def iter_frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Render frames ``[start, stop)`` one at a time."""
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        for t in range(start, stop):
            yield self.render_frame(t)

    def render_frame(self, t: int, noise: bool = True) -> np.ndarray:
        """Frame ``t`` as uint8 RGB ``[H, W, 3]``; ``noise=False`` leaves out pixel noise and flicker."""
        import cv2

        t = int(t)
        if not 0 <= t < self.n_frames:
            raise IndexError(f"frame {t} out of range for a {self.n_frames}-frame synthetic recording")
        img = self._background.copy()
        L = self.config.body_length
        shift = 4
        scale = 1 << shift
        pts = self.true_pose.points[t]

        def fx(p) -> tuple[int, int]:
            return int(round(float(p[0]) * scale)), int(round(float(p[1]) * scale))

        for s in range(self.config.n_animals):
            k = pts[s]
            color = tuple(float(c) for c in self.colors[s])
            tail_w = max(1, int(round(0.06 * L)))
            cv2.line(img, fx(k[_TAIL_BASE]), fx(k[_TAIL_TIP]), color, tail_w, cv2.LINE_AA, shift)
            for a, b, width in ((_THORAX, _TAIL_BASE, 0.19), (_THORAX, _HEAD, 0.15)):
                mid = (k[a] + k[b]) / 2
                vec = k[b] - k[a]
                half = float(np.hypot(*vec)) / 2 + 0.06 * L
                angle = math.degrees(math.atan2(vec[1], vec[0]))
                axes = (int(round(half * scale)), int(round(width * L * scale)))
                cv2.ellipse(img, fx(mid), axes, angle, 0, 360, color, -1, cv2.LINE_AA, shift)
            cv2.circle(img, fx(k[_HEAD]), int(round(0.11 * L * scale)), _HEAD_MARKER_RGB, -1, cv2.LINE_AA, shift)
        if noise:
            if self._gains[t] != 1.0:
                img *= self._gains[t]
            if self._noise_table is not None:
                # Gaussian noise through a 256-entry quantile table: much faster than standard_normal
                rng = np.random.default_rng([self.config.seed, 0x5EED, t])
                u8 = np.frombuffer(rng.bytes(img.size), np.uint8).reshape(img.shape)
                img += cv2.LUT(u8, self._noise_table)
        img += 0.5  # round, not truncate
        np.clip(img, 0, 255, out=img)
        return img.astype(np.uint8)

    # --------------------------------------------------------------- conversion
    def to_recording(self, name: str = "synthetic", video: str | Path | None = None) -> Recording:
        """The common data model (`Recording`) for this recording."""
        return Recording(
            name=name,
            video=video,
            n_frames=self.n_frames,
            fps=self.fps,
            subjects=self.subjects,
            pose=self.pose,
            boxes=self.boxes,
            labels=self.labels,
            metadata={
                "source": "vpbehavior.io.synthetic",
                "config": self.config.to_dict(),
                "interactions": [asdict(i) for i in self.interactions],
            },
        )

    def bouts(self) -> list[Bout]:
        return self.labels.to_bouts()


def generate(config: SyntheticConfig | None = None, **overrides) -> SyntheticRecording:
    """Simulate one recording (trajectories, pose, labels); frames render lazily.

    Parameters
    ----------
    config
        What to generate (default `SyntheticConfig()`).
    **overrides
        Fields replacing those of ``config``.
    """
    config = SyntheticConfig() if config is None else config
    if overrides:
        config = replace(config, **overrides)
    streams = np.random.default_rng(config.seed).spawn(4)
    sim = _Simulator(config, streams[0])
    sim.run()
    background = _background(config, streams[1])
    T = config.n_frames
    gains = np.ones(T, np.float32)
    if config.noise.flicker > 0:
        tt = np.arange(T) / config.fps
        phase = streams[2].uniform(0, 2 * np.pi, 2)
        gains += config.noise.flicker * (
            0.7 * np.sin(2 * np.pi * 1.3 * tt + phase[0]) + 0.3 * np.sin(2 * np.pi * 7.1 * tt + phase[1])
        ).astype(np.float32)
    pose_noise = streams[3].normal(0.0, 1.0, sim.center.shape[:2] + (len(KEYPOINTS), 2)) * config.noise.keypoint_std
    return SyntheticRecording(config, sim, background, gains, pose_noise)


# ---------------------------------------------------------------------------------- files
def write_recording(
    config: SyntheticConfig,
    out_dir: str | Path,
    name: str = "synthetic",
    codec: str = "h264",
    video_options: dict | None = None,
) -> Path:
    """Generate ``config`` and write ``<name>.mp4``, ``<name>.behavior.json`` and ``<name>.slp``.

    Every file is written under a temporary name and renamed into place. The .slp holds
    the (noisy) pose, one track per animal, and the labels as sleap-io behavior events.

    Parameters
    ----------
    config
        What to generate.
    out_dir
        Folder to write into (created if needed).
    name
        File stem.
    codec, video_options
        Passed to `vpbehavior.io.video.write_video` (``video_options`` e.g. ``crf``,
        ``preset``; the preset defaults to "veryfast": pixel noise makes x264 slow).

    Returns
    -------
    Path
        The video file.
    """
    import sleap_io as sio

    from vpbehavior.io.labels_file import SUFFIX, save_labels
    from vpbehavior.io.pose import labels_to_events, pose_to_sleap
    from vpbehavior.io.video import write_video

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rec = generate(config)
    video_path = out_dir / f"{name}.mp4"
    write_video(
        video_path, rec.iter_frames(), config.fps, codec=codec, **{"preset": "veryfast", **(video_options or {})}
    )
    save_labels(rec.labels, out_dir / f"{name}{SUFFIX}")
    slp = pose_to_sleap(rec.pose, video_path=video_path.resolve())
    labels_to_events(rec.labels, slp)
    with atomic_output(out_dir / f"{name}.slp", suffix=".slp") as tmp:
        sio.save_slp(slp, str(tmp), verbose=False)
    return video_path


def experiment_seeds(seed: int, n_videos: int) -> list[int]:
    """The per-video seeds `make_experiment` uses: distinct and stable for a given ``seed``."""
    children = np.random.SeedSequence(seed).spawn(n_videos)
    return [int(c.generate_state(1, np.uint32)[0]) for c in children]


def make_experiment(
    out_dir: str | Path,
    n_videos: int = 4,
    seed: int = 0,
    progress: bool = True,
    codec: str = "h264",
    video_options: dict | None = None,
    **config_overrides,
) -> list[Path]:
    """Write a folder of ``n_videos`` synthetic recordings with different seeds.

    Each recording is ``synthetic_XX.mp4`` with a same-stem ``.behavior.json`` and ``.slp``,
    the layout the experiment-folder loader reads. Video ``i`` uses seed
    ``experiment_seeds(seed, n_videos)[i]``.

    Parameters
    ----------
    out_dir
        Folder to write into.
    n_videos, seed
        How many recordings, and the seed their seeds derive from.
    progress
        Show a tqdm progress bar.
    codec, video_options
        See `write_recording`.
    **config_overrides
        `SyntheticConfig` fields (``seed`` excluded).

    Returns
    -------
    list[Path]
        The video files, in order.
    """
    from tqdm.auto import tqdm

    if n_videos < 1:
        raise ValueError(f"n_videos must be >= 1, got {n_videos}")
    if "seed" in config_overrides:
        raise TypeError("make_experiment: pass the base seed as seed=, not as a config override")
    paths = []
    seeds = experiment_seeds(seed, n_videos)
    for i in tqdm(range(n_videos), desc="synthetic videos", disable=not progress):
        config = SyntheticConfig(seed=seeds[i], **config_overrides)
        paths.append(write_recording(config, out_dir, f"synthetic_{i:02d}", codec=codec, video_options=video_options))
    return paths


__all__ = [
    "BEHAVIORS",
    "BOUT_LENGTHS",
    "KEYPOINTS",
    "SCENE_WEIGHTS",
    "BoutLength",
    "Interaction",
    "NoiseConfig",
    "SyntheticConfig",
    "SyntheticRecording",
    "experiment_seeds",
    "generate",
    "make_experiment",
    "write_recording",
]
