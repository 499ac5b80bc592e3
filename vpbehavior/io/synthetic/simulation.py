"""Trajectories and the scripted ethogram of a synthetic recording (no pixels).

Two or more animals move in a rectangular arena. Each animal has five keypoints along its
body axis: ``head, neck, thorax, tail_base, tail_tip``. `simulate` fills per-frame body
centre, heading and head bend scene by scene; rendering happens elsewhere, on demand.

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

Social bouts are directed: their `Bout` carries the partner as ``target`` (a flee bout's
target is its chaser); see `Interaction.bouts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from vpbehavior.core import BehaviorLabels, Bout, runs

from .config import BOUT_LENGTHS, DIRECTED_BEHAVIORS, SyntheticConfig

KEYPOINTS: tuple[str, ...] = ("head", "neck", "thorax", "tail_base", "tail_tip")

# Keypoint offsets along the body axis, in body lengths (thorax = body centre).
OFFSETS = np.array([0.45, 0.25, 0.0, -0.40, -0.80], np.float64)
HEAD, NECK, THORAX, TAIL_BASE, TAIL_TIP = range(5)


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
_SOCIAL = ("approach", "retreat", "circling", "chase", "attack")


@dataclass(frozen=True)
class Interaction:
    """A social bout: ``actor`` shows ``behavior`` towards ``partner`` in frames ``[start, stop)``."""

    start: int
    stop: int
    behavior: str
    actor: str
    partner: str

    def bouts(self) -> tuple[Bout, ...]:
        """Its bouts, each with its target: the actor's, and for a chase the partner's flee bout."""
        own = Bout(self.start, self.stop, self.actor, self.behavior, target=self.partner)
        if self.behavior != "chase":
            return (own,)
        return own, Bout(self.start, self.stop, self.partner, "flee", target=self.actor)


@dataclass(frozen=True, eq=False)
class Trajectories:
    """What `simulate` returns: per-frame body state and behavior of every animal (read-only arrays).

    ``center`` ``[T, S, 2]`` pixels, ``heading`` and ``bend`` ``[T, S]`` radians, ``label`` ``[T, S]``
    class ids into ``config.behaviors``, and the social bouts as ``interactions``.
    """

    config: SyntheticConfig
    center: np.ndarray
    heading: np.ndarray
    bend: np.ndarray
    label: np.ndarray
    interactions: tuple[Interaction, ...]

    def __post_init__(self) -> None:
        for name in ("center", "heading", "bend", "label"):
            getattr(self, name).flags.writeable = False

    def keypoints(self) -> np.ndarray:
        """The exact keypoints ``[T, S, K, 2]`` (float32) the animals are drawn with."""
        return body_keypoints(self.center, self.heading, self.bend, self.config.body_length).astype(np.float32)

    def bouts(self) -> list[Bout]:
        """Every bout of every animal, sorted by start, subject and class; directed ones with their target."""
        subjects, classes = self.config.subjects, self.config.behaviors
        out = [b for i in self.interactions for b in i.bouts()]
        for c, behavior in enumerate(classes):
            if behavior not in DIRECTED_BEHAVIORS:
                for s, subject in enumerate(subjects):
                    out += [Bout(a, b, subject, behavior) for a, b in runs(self.label[:, s] == c)]
        return sorted(out, key=lambda b: (b.start, subjects.index(b.subject), classes.index(b.behavior)))

    def labels(self) -> BehaviorLabels:
        """The bouts as labels, every cell annotated.

        Labels hold one target per subject and behavior: a subject that directs a behavior at
        several partners (three or more animals) keeps that behavior's targets in `bouts` only.
        """
        bouts = self.bouts()
        targets: dict[tuple[str, str], set[str]] = {}
        for b in bouts:
            if b.target is not None:
                targets.setdefault((b.subject, b.behavior), set()).add(b.target)
        bouts = [b if len(targets.get((b.subject, b.behavior), ())) < 2 else replace(b, target=None) for b in bouts]
        return BehaviorLabels.from_bouts(bouts, self.config.n_frames, self.config.behaviors, self.config.subjects)


def simulate(config: SyntheticConfig, rng: np.random.Generator) -> Trajectories:
    """Run the scene scheduler of ``config`` with random numbers from ``rng``."""
    sim = _Simulator(config, rng)
    sim.run()
    return Trajectories(config, sim.center, sim.heading, sim.bend, sim.label, tuple(sim.interactions))


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
            return _ATTACK_HEAD_START[0] <= d / L - OFFSETS[HEAD] <= _ATTACK_HEAD_START[1]
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
        old_head = pa + OFFSETS[HEAD] * self.L * np.array([math.cos(old), math.sin(old)])
        away = pa - pb
        base = math.atan2(away[1], away[0])
        reach = OFFSETS[HEAD] * self.L + self._px_per_frame(_RETREAT_SPEED[0])
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
        amplitude = d - (OFFSETS[HEAD] + _ATTACK_HEAD_CONTACT) * self.L
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


def body_keypoints(center: np.ndarray, heading: np.ndarray, bend: np.ndarray, L: float) -> np.ndarray:
    """Keypoints ``[..., K, 2]`` from body centre, heading and head bend."""
    # head and neck turn by the bend about the thorax; the rest follows the heading
    angle = heading[..., None] + np.array([1.0, 0.5, 0.0, 0.0, 0.0]) * bend[..., None]
    off = OFFSETS * L
    return center[..., None, :] + np.stack([off * np.cos(angle), off * np.sin(angle)], -1)
