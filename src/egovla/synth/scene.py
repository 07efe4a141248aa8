"""One generated egocentric scene with ground truth.

A hand-like actor reaches an object, carries it to a goal and lets go, on a textured table seen
by a camera that may pan, rotate and shake. Kinds add the things that fool naive motion masks:
an independently moving distractor, a flickering light, a foreground occluder, lighting drift.

Ground truth per frame: the mask of what the actor physically moves (its visible hand, plus the
object while carried) and the actor's true displacement in world coordinates (its "action").
Motion and background come from separate seeds, so the same motion can be replayed over another
background (the background-swap test of the latent-action model).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from egovla.synth.textures import make_background

KINDS = ("static", "pan", "shake", "distractor", "occlusion")
# Who moves things: a bare hand, a gloved hand (no separate fingers, any colour) or a hand-held
# reacher-grabber whose two prongs close on the object. All human motion; varied actors keep a
# latent action model from tying its codes to one skin colour and silhouette.
ACTORS = ("hand", "glove", "grabber")
COLOURS = {
    "red": (0.85, 0.1, 0.1),
    "green": (0.1, 0.7, 0.2),
    "blue": (0.15, 0.25, 0.9),
    "yellow": (0.95, 0.85, 0.1),
    "purple": (0.55, 0.15, 0.7),
}


@dataclass(frozen=True)
class SceneSpec:
    kind: str
    motion_seed: int
    background_seed: int
    frames: int = 40
    size: int = 128
    actor: str = "hand"


@dataclass
class Scene:
    frames: np.ndarray  # (T, S, S, 3) uint8
    masks: np.ndarray  # (T, S, S) bool: actor + carried object, visible pixels only
    actions: np.ndarray  # (T, 3) float32: world displacement dx, dy to the next frame, and grasp (0/1)
    camera: np.ndarray  # (T, 3) float32: camera x, y (world px) and rotation (deg)
    task: str
    background: str


def _path(rng: np.random.Generator, start: np.ndarray, stops: list[np.ndarray], frames: int) -> np.ndarray:
    """Piecewise-linear path through ``stops`` with eased segments and short dwells."""
    points = [start, *stops]
    seg = frames // len(stops)
    out = []
    for a, b in zip(points[:-1], points[1:]):
        dwell = int(rng.integers(1, 3))
        s = np.linspace(0, 1, seg - dwell)
        s = 0.5 - 0.5 * np.cos(np.pi * s)
        out += [a + (b - a) * t for t in s] + [b] * dwell
    out += [points[-1]] * (frames - len(out))
    return np.asarray(out[:frames], np.float32)


def _draw_hand(canvas: np.ndarray, centre: np.ndarray, angle: float, scale: float, colour, value=None) -> None:
    c = value if value is not None else colour
    cx, cy = centre
    cv2.ellipse(canvas, (int(cx), int(cy)), (int(9 * scale), int(7 * scale)), angle, 0, 360, c, -1)
    direction = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    normal = np.array([-direction[1], direction[0]])
    for offset in (-4.5, -1.5, 1.5, 4.5):
        base = centre + direction * 7 * scale + normal * offset * scale
        tip = base + direction * 8 * scale
        cv2.line(canvas, tuple(int(v) for v in base), tuple(int(v) for v in tip), c, max(1, int(2.4 * scale)))
    thumb = centre + normal * 8 * scale
    cv2.line(canvas, tuple(int(v) for v in centre), tuple(int(v) for v in thumb), c, max(1, int(2.6 * scale)))


def _draw_glove(canvas: np.ndarray, centre: np.ndarray, angle: float, scale: float, colour, value=None) -> None:
    c = value if value is not None else colour
    cx, cy = centre
    cv2.ellipse(canvas, (int(cx), int(cy)), (int(10 * scale), int(8 * scale)), angle, 0, 360, c, -1)
    direction = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    mitt = centre + direction * 9 * scale
    cv2.ellipse(canvas, (int(mitt[0]), int(mitt[1])), (int(8 * scale), int(6 * scale)), angle, 0, 360, c, -1)
    thumb = centre + np.array([-direction[1], direction[0]]) * 9 * scale
    cv2.line(canvas, tuple(int(v) for v in centre), tuple(int(v) for v in thumb), c, max(1, int(3.5 * scale)))


def _draw_grabber(
    canvas: np.ndarray, centre: np.ndarray, angle: float, scale: float, colour, closed: float, value=None
) -> None:
    """A reacher-grabber held from behind: a shaft ending in two prongs at ``centre`` that close when held."""
    c = value if value is not None else colour
    direction = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    normal = np.array([-direction[1], direction[0]])
    base = centre - direction * 6 * scale
    handle = base - direction * 40 * scale
    cv2.line(canvas, tuple(int(v) for v in handle), tuple(int(v) for v in base), c, max(1, int(2.5 * scale)))
    spread = (1.0 - 0.6 * closed) * 6 * scale
    for side in (-1, 1):
        tip = centre + direction * 5 * scale + normal * side * spread
        cv2.line(canvas, tuple(int(v) for v in base), tuple(int(v) for v in tip), c, max(1, int(2.0 * scale)))
    grip = value if value is not None else (0.8, 0.6, 0.5)  # the hand holding it, out of the object's way
    cv2.circle(canvas, tuple(int(v) for v in handle), int(6 * scale), grip, -1)


def _draw_actor(
    canvas: np.ndarray, actor: str, centre: np.ndarray, angle: float, scale: float, colour, closed: float, value=None
) -> None:
    if actor == "hand":
        _draw_hand(canvas, centre, angle, scale, colour, value)
    elif actor == "glove":
        _draw_glove(canvas, centre, angle, scale, colour, value)
    else:
        _draw_grabber(canvas, centre, angle, scale, colour, closed, value)


def _draw_object(canvas: np.ndarray, shape: str, centre: np.ndarray, half: int, colour) -> None:
    x, y = int(centre[0]), int(centre[1])
    if shape == "block":
        cv2.rectangle(canvas, (x - half, y - half), (x + half, y + half), colour, -1)
    else:
        cv2.circle(canvas, (x, y), half, colour, -1)
    if canvas.ndim == 3:  # printed marking: real objects carry texture, not a flat fill
        dark = tuple(float(c) * 0.45 for c in colour)
        cv2.line(canvas, (x - half // 2, y - half // 3), (x + half // 2, y - half // 3), dark, 2)
        cv2.line(canvas, (x - half // 2, y + half // 3), (x + half // 4, y + half // 3), dark, 1)


def _shade(canvas: np.ndarray, silhouette: np.ndarray) -> None:
    """Rounded-body shading: darker towards the silhouette's edge, as a lit hand looks."""
    depth = cv2.distanceTransform(silhouette, cv2.DIST_L2, 3)
    shade = 0.6 + 0.5 * np.clip(depth / 5.0, 0, 1)
    inside = silhouette > 0
    canvas[inside] *= shade[inside, None]


def _camera_track(kind: str, rng: np.random.Generator, frames: int, world: int, size: int) -> np.ndarray:
    centre = np.array([world / 2, world / 2, 0.0], np.float32)
    if kind == "static":
        return np.repeat(centre[None], frames, 0)
    t = np.arange(frames, dtype=np.float32)[:, None]
    velocity = np.array([*rng.uniform(-1.2, 1.2, 2), rng.uniform(-0.3, 0.3)], np.float32)
    track = centre + (t - frames / 2) * velocity
    if kind != "pan":
        track += rng.normal(0, [1.8, 1.8, 0.6], (frames, 3)).astype(np.float32)
    margin = (world - size * 1.45) / 2
    track[:, :2] = np.clip(track[:, :2], world / 2 - margin, world / 2 + margin)
    return track


def render(spec: SceneSpec) -> Scene:
    if spec.kind not in KINDS:
        raise ValueError(f"unknown scene kind {spec.kind!r}; choose from {KINDS}")
    if spec.actor not in ACTORS:
        raise ValueError(f"unknown actor {spec.actor!r}; choose from {ACTORS}")
    size, frames, world = spec.size, spec.frames, spec.size * 2
    motion = np.random.default_rng(spec.motion_seed)
    texture_name, texture = make_background(np.random.default_rng(spec.background_seed), world)

    # Objects on the table (world coords near the centre so the camera sees them).
    lo, hi = world / 2 - size * 0.3, world / 2 + size * 0.3
    names = motion.choice(list(COLOURS), size=3, replace=False)
    objects = [
        (
            str(n),
            str(motion.choice(["block", "disc"])),
            motion.uniform(lo, hi, 2).astype(np.float32),
            int(motion.integers(8, 12)),
        )
        for n in names
    ]
    target_name, target_shape, target_start, target_half = objects[0]
    goal = np.clip(target_start + motion.uniform(-1, 1, 2) * size * 0.3, lo, hi).astype(np.float32)
    hand_start = np.array([world / 2 + motion.uniform(-1, 1) * size * 0.3, hi + size * 0.12], np.float32)
    retreat = np.array([goal[0] + motion.uniform(-15, 15), hi + size * 0.1], np.float32)
    hand = _path(motion, hand_start, [target_start, goal, retreat], frames)
    pick = int(np.argmin(np.linalg.norm(hand[: frames // 2] - target_start, axis=1)))
    place = frames // 3 + int(np.argmin(np.linalg.norm(hand[frames // 3 : 2 * frames // 3] - goal, axis=1)))
    grasp = np.zeros(frames, np.float32)
    grasp[pick : place + 1] = 1.0
    skin = tuple(float(v) for v in np.array([0.87, 0.67, 0.55]) * motion.uniform(0.55, 1.1))
    if spec.actor != "hand":  # gloves and grabbers come in any colour; drawn after the hand's draws
        skin = tuple(float(v) for v in np.random.default_rng(spec.motion_seed + 1).uniform(0.1, 0.95, 3))
    hand_scale = float(motion.uniform(1.5, 2.0))

    camera = _camera_track(spec.kind, motion, frames, world, size)
    distractor = motion.uniform(lo, hi, 2).astype(np.float32)
    distractor_v = motion.uniform(-4, 4, 2).astype(np.float32)
    occluder = (int(motion.uniform(lo, hi)), int(motion.uniform(6, 10)))
    gain = 1 + (
        0.25 * np.sin(np.linspace(0, np.pi * motion.uniform(1, 2), frames))
        if spec.kind == "occlusion"
        else np.zeros(frames)
    )
    # The hand points away from the camera, swaying on its own: a heading that followed the motion
    # would give the action away in frame t alone, and a latent action model would learn nothing.
    lean, sway = motion.uniform(-30, 30), motion.uniform(0, 2 * np.pi)

    out_frames, out_masks = [], []
    for t in range(frames):
        canvas = texture.copy()
        obj_pos = target_start if t < pick else (hand[t] if t <= place else hand[place])
        for name, shape, pos, half in objects[1:]:
            _draw_object(canvas, shape, pos, half, COLOURS[name])
        _draw_object(canvas, target_shape, obj_pos, target_half, COLOURS[target_name])
        if spec.kind == "distractor":  # bounces by itself: motion that is not the actor's
            distractor = distractor + distractor_v
            distractor_v = np.where((distractor < lo) | (distractor > hi), -distractor_v, distractor_v)
            cv2.circle(canvas, (int(distractor[0]), int(distractor[1])), 7, (0.95, 0.95, 0.95), -1)
            flicker = 0.5 + 0.5 * np.sin(t * 1.3)
            cv2.rectangle(canvas, (int(lo) - 20, int(lo) - 20), (int(lo) - 4, int(lo) - 4), (flicker,) * 3, -1)
        heading = -90.0 + lean + 20.0 * np.sin(sway + 0.15 * t)
        mask = np.zeros((world, world), np.uint8)
        _draw_actor(mask, spec.actor, hand[t], heading, hand_scale, skin, grasp[t], value=1)
        _draw_actor(canvas, spec.actor, hand[t], heading, hand_scale, skin, grasp[t])
        _shade(canvas, mask)
        if grasp[t] > 0:  # the object is moved by the actor only while held
            _draw_object(mask, target_shape, obj_pos, target_half, 1)
        if spec.kind == "occlusion":  # a mug handle / pole in front of everything
            cv2.rectangle(canvas, (occluder[0], 0), (occluder[0] + occluder[1], world), (0.2, 0.2, 0.22), -1)
            mask[:, occluder[0] : occluder[0] + occluder[1] + 1] = 0

        cx, cy, rot = camera[t]
        view = cv2.getRotationMatrix2D((float(cx), float(cy)), float(rot), 1.0)
        view[:, 2] += np.array([size / 2 - cx, size / 2 - cy])
        img = cv2.warpAffine(canvas, view, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        out_masks.append(cv2.warpAffine(mask, view, (size, size), flags=cv2.INTER_NEAREST) > 0)
        img = img * gain[t] + motion.normal(0, 0.012, img.shape)
        out_frames.append(np.clip(img * 255, 0, 255).astype(np.uint8))

    actions = np.zeros((frames, 3), np.float32)
    actions[:-1, :2] = np.diff(hand, axis=0)
    actions[:, 2] = grasp
    direction = goal - target_start
    words = (
        ("right" if direction[0] > 0 else "left")
        if abs(direction[0]) > abs(direction[1])
        else ("down" if direction[1] > 0 else "up")
    )
    task = f"move the {target_name} {target_shape} {words}"
    return Scene(
        frames=np.stack(out_frames),
        masks=np.stack(out_masks),
        actions=actions,
        camera=camera.astype(np.float32),
        task=task,
        background=texture_name,
    )
