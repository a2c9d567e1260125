"""The lab's portrait renderer: one stylised photo of a lab person (`leakage.lab.world`).

`render` draws one photo of a person: the traits stay, while pose, scale, expression, lighting,
noise and sometimes the background change from photo to photo, so a model has to learn the person
rather than one picture. `render_in_context` draws a person on a neutral background or in another
person's usual clothes and background; `write_dataset` writes a people folder with ground truth.
Everything is deterministic in the seeds; no global RNG is used.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from leakage.lab.world import (
    BACKGROUNDS,
    COLOURS,
    HAIR_COLOURS,
    Identity,
    METAL_COLOURS,
    RGB,
    World,
    _BACK_HAIR,
    _choice,
    _jitter,
    _mix,
    nearest_colour,
    _palette_colour,
    _shade,
)

# --- rendering ----------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _unit_arc(start: float, end: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    angles = np.radians(np.linspace(start, end, n))
    return np.cos(angles), np.sin(angles)


def _ellipse(cx: float, cy: float, rx: float, ry: float, start: float = 0, end: float = 360, n: int = 28):
    """Points of an elliptic arc; angles in degrees, 0 = right, 90 = down (as PIL)."""
    cos, sin = _unit_arc(start, end, n)
    return cx + rx * cos, cy + ry * sin


class _Frame:
    """Maps local coordinates (units of the head half-height, y down) to canvas pixels,
    rotated by the head's tilt about the frame's origin."""

    def __init__(self, cx: float, cy: float, unit: float, angle: float = 0.0):
        self.cx, self.cy, self.unit = cx, cy, unit
        self.cos, self.sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))

    def points(self, xs, ys) -> list[tuple[float, float]]:
        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        px = self.cx + self.unit * (xs * self.cos - ys * self.sin)
        py = self.cy + self.unit * (xs * self.sin + ys * self.cos)
        return list(zip(px.tolist(), py.tolist()))

    def width(self, thickness: float) -> int:
        return max(1, round(thickness * self.unit))


@dataclass
class _Shot:
    """What changes from one photo of a person to the next."""

    angle: float
    yaw: float
    offset_x: float
    offset_y: float
    scale: float
    expression: str
    brow_raise: float
    gaze: tuple[float, float]
    background_style: str
    background_rgb: RGB
    background_accent_rgb: RGB
    background_scale: float
    background_phase: float
    brightness: float
    contrast: float
    colour_cast: tuple[float, float, float]
    shading_angle: float
    shading_strength: float
    noise: float


def _random_shot(identity: Identity, rng: np.random.Generator) -> _Shot:
    if rng.random() < 0.8:
        style, base, accent = identity.background_style, identity.background_rgb, identity.background_accent_rgb
        base, accent = _jitter(rng, base, 6), _jitter(rng, accent, 6)
        scale = float(np.clip(identity.background_scale + rng.normal(0, 0.04), 0, 1))
    else:  # photographed somewhere else
        style = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
        base = _mix(_palette_colour(rng, COLOURS), (240, 240, 240), float(rng.uniform(0.1, 0.6)))
        accent = _mix(_palette_colour(rng, COLOURS), (240, 240, 240), float(rng.uniform(0, 0.5)))
        scale = float(rng.uniform(0, 1))
    return _Shot(
        angle=float(np.clip(rng.normal(0, 4), -9, 9)),
        yaw=float(rng.uniform(-1, 1)),
        offset_x=float(np.clip(rng.normal(0, 0.035), -0.08, 0.08)),
        offset_y=float(np.clip(rng.normal(0, 0.02), -0.05, 0.05)),
        scale=float(rng.uniform(0.9, 1.08)),
        expression=_choice(rng, ("neutral", "smile", "open"), (45, 40, 15)),
        brow_raise=0.06 if rng.random() < 0.2 else 0.0,
        gaze=(float(rng.uniform(-0.25, 0.25)), float(rng.uniform(-0.15, 0.15))),
        background_style=style,
        background_rgb=base,
        background_accent_rgb=accent,
        background_scale=scale,
        background_phase=float(rng.uniform(0, 1)),
        brightness=float(rng.uniform(0.85, 1.12)),
        contrast=float(rng.uniform(0.85, 1.12)),
        colour_cast=tuple(float(v) for v in 1 + rng.normal(0, 0.035, 3)),  # type: ignore[arg-type]
        shading_angle=float(rng.uniform(0, 2 * math.pi)),
        shading_strength=float(rng.uniform(0, 0.22)),
        noise=float(rng.uniform(1.5, 5)),
    )


def _draw_background(draw: ImageDraw.ImageDraw, canvas: Image.Image, shot: _Shot) -> None:
    size = canvas.width
    base, accent, style = shot.background_rgb, shot.background_accent_rgb, shot.background_style
    period = size * (0.08 + 0.14 * shot.background_scale)
    phase = shot.background_phase * period
    if style == "gradient":
        ramp = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
        pixels = np.asarray(base, np.float32) * (1 - ramp) + np.asarray(accent, np.float32) * ramp
        canvas.paste(Image.fromarray(np.broadcast_to(pixels, (size, size, 3)).astype(np.uint8)))
        return
    draw.rectangle((0, 0, size, size), fill=base)
    if style == "vertical stripes":
        for x in np.arange(-period + phase, size, period):
            draw.rectangle((x, 0, x + period / 2, size), fill=accent)
    elif style == "horizontal stripes":
        for y in np.arange(-period + phase, size, period):
            draw.rectangle((0, y, size, y + period / 2), fill=accent)
    elif style == "checks":
        for row, y in enumerate(np.arange(-period + phase, size, period)):
            for column, x in enumerate(np.arange(-period + phase, size, period)):
                if (row + column) % 2:
                    draw.rectangle((x, y, x + period, y + period), fill=accent)
    elif style == "dots":
        radius = period * 0.22
        for row, y in enumerate(np.arange(-period + phase, size + period, period)):
            shift = period / 2 if row % 2 else 0
            for x in np.arange(-period + phase + shift, size + period, period):
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=accent)
    elif style == "wall and floor":
        horizon = size * (0.5 + 0.25 * shot.background_scale) + (shot.background_phase - 0.5) * size * 0.04
        draw.rectangle((0, horizon, size, size), fill=accent)
        draw.rectangle((0, horizon - size * 0.02, size, horizon), fill=_shade(base, 0.8))
    elif style == "window":
        left = shot.background_scale < 0.5
        x0 = size * (0.04 + 0.1 * shot.background_phase) if left else size * (0.62 - 0.1 * shot.background_phase)
        y0, width, height = size * 0.1, size * 0.34, size * 0.46
        frame = _shade(base, 0.7)
        draw.rectangle((x0 - size * 0.02, y0 - size * 0.02, x0 + width + size * 0.02, y0 + height + size * 0.02), fill=frame)
        draw.rectangle((x0, y0, x0 + width, y0 + height), fill=_mix(accent, (235, 245, 255), 0.4))
        draw.rectangle((x0 + width / 2 - size * 0.01, y0, x0 + width / 2 + size * 0.01, y0 + height), fill=frame)
        draw.rectangle((x0, y0 + height / 2 - size * 0.01, x0 + width, y0 + height / 2 + size * 0.01), fill=frame)


def _face_outline(identity: Identity, n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """The face contour (head-local): an ellipse whose lower half is squared off and tapered."""
    cos, sin = _unit_arc(0, 360, n)
    exponent = 2 / (2 + 1.6 * identity.jaw_squareness)
    lower = sin > 0
    xs = identity.face_aspect * np.where(lower, np.sign(cos) * np.abs(cos) ** exponent, cos)
    ys = np.where(lower, np.abs(sin) ** exponent, sin)
    xs = xs * (1 - identity.jaw_taper * np.clip(ys, 0, None) ** 1.5)
    return xs, ys


def _hair_cap(w: float, hairline: float, tilt: float, sideburn: float, puff: float, top: float = 1.0):
    """Hair over the top of the head down to a hairline across the forehead (head-local)."""
    start = 180 - math.degrees(math.asin(min(0.95, sideburn / (top * puff))))
    outer_x, outer_y = _ellipse(0, 0, w * puff, top * puff, start, 540 - start, 24)
    inner_x = np.linspace(0.9 * w, -0.9 * w, 14)
    inner_y = hairline - 0.12 * (1 - (inner_x / w) ** 2) + tilt * inner_x / w
    xs = np.concatenate([outer_x, [0.97 * w], inner_x, [-0.97 * w]])
    ys = np.concatenate([outer_y, [sideburn], inner_y, [sideburn]])
    return xs, ys


def _draw_back_hair(draw: ImageDraw.ImageDraw, head: _Frame, identity: Identity, hair: RGB) -> None:
    w, style = identity.face_aspect, identity.hair_style
    if style == "afro":
        draw.polygon(head.points(*_ellipse(0, -0.25, w * 1.75, 1.2, n=36)), fill=hair)
    elif style == "long":
        xs, ys = _ellipse(0, -0.02, w * 1.18, 1.12, 180, 360, 20)
        draw.polygon(head.points(np.concatenate([xs, [w * 1.3, -w * 1.3]]), np.concatenate([ys, [1.45, 1.45]])), fill=_shade(hair, 0.85))
    elif style == "bob":
        xs, ys = _ellipse(0, -0.02, w * 1.22, 1.14, 180, 360, 20)
        bottom_x, bottom_y = _ellipse(0, 0.62, w * 1.22, 0.18, 0, 180, 10)
        draw.polygon(head.points(np.concatenate([xs, bottom_x]), np.concatenate([ys, bottom_y])), fill=_shade(hair, 0.9))
    elif style == "ponytail":
        draw.polygon(head.points(*_ellipse(w * 1.02, 0.35, 0.2, 0.62, n=20)), fill=_shade(hair, 0.85))


def _draw_long_hair_curtains(draw: ImageDraw.ImageDraw, head: _Frame, identity: Identity, hair: RGB) -> None:
    """Long hair falls in front of the shoulders on both sides of the neck."""
    w = identity.face_aspect
    for side in (-1, 1):
        xs = side * np.array([0.8 * w, 1.18 * w, 1.32 * w, 1.3 * w, 0.86 * w, 0.72 * w])
        ys = np.array([-0.3, -0.1, 0.6, 1.75, 1.85, 0.5])
        draw.polygon(head.points(xs, ys), fill=hair)


def _draw_front_hair(draw: ImageDraw.ImageDraw, head: _Frame, identity: Identity, hair: RGB, skin: RGB) -> None:
    w, style = identity.face_aspect, identity.hair_style
    if style == "bald":
        return
    if style == "buzz cut":
        draw.polygon(head.points(*_hair_cap(w, -0.5, 0, -0.1, 1.02)), fill=_mix(skin, hair, 0.65))
    elif style == "mohawk":
        draw.polygon(head.points(*_hair_cap(w, -0.5, 0, -0.05, 1.01)), fill=_mix(skin, hair, 0.35))
        xs = np.array([-0.16, -0.22, -0.1, 0.0, 0.1, 0.22, 0.16])
        ys = np.array([-0.55, -1.15, -1.5, -1.62, -1.5, -1.15, -0.55])
        draw.polygon(head.points(xs, ys), fill=hair)
    elif style == "receding":
        for side in (-1, 1):
            xs = side * np.array([0.55 * w, 0.95 * w, 1.04 * w, 0.98 * w, 0.9 * w])
            ys = np.array([-0.8, -0.5, -0.1, 0.1, -0.15])
            draw.polygon(head.points(xs, ys), fill=hair)
    elif style == "curly":
        draw.polygon(head.points(*_hair_cap(w, -0.5, 0, 0.1, 1.08)), fill=hair)
        # Curls: overlapping tufts along the hair's edge, alternately lighter and darker.
        xs, ys = _ellipse(0, 0, w * 1.1, 1.1, 160, 380, 16)
        radius = 0.15 * head.unit
        for k, (x, y) in enumerate(head.points(xs, ys)):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=_shade(hair, 0.85 if k % 2 else 1.05))
    elif style == "afro":
        draw.polygon(head.points(*_hair_cap(w, -0.55, 0, -0.1, 1.05)), fill=hair)
    elif style in ("bun", "ponytail"):
        draw.polygon(head.points(*_hair_cap(w, -0.55, 0, -0.05, 1.04)), fill=hair)
        if style == "bun":
            draw.polygon(head.points(*_ellipse(0, -1.15, 0.32, 0.26, n=20)), fill=_shade(hair, 0.9))
    elif style == "fringe":
        draw.polygon(head.points(*_hair_cap(w, -0.3, 0, 0.1, 1.08)), fill=hair)
    elif style == "side-parted":
        draw.polygon(head.points(*_hair_cap(w, -0.45, 0.18, 0.0, 1.1, 1.06)), fill=hair)
        draw.line(head.points([0.35 * w, 0.3 * w], [-1.12, -0.78]), fill=_shade(hair, 0.7), width=head.width(0.04))
    elif style == "long":
        draw.polygon(head.points(*_hair_cap(w, -0.5, 0, 0.1, 1.12)), fill=hair)
        draw.line(head.points([0, 0.02], [-1.1, -0.7]), fill=_shade(hair, 0.75), width=head.width(0.03))
    elif style == "bob":
        draw.polygon(head.points(*_hair_cap(w, -0.35, -0.1, 0.2, 1.14)), fill=hair)
    else:  # short
        draw.polygon(head.points(*_hair_cap(w, -0.5, 0, 0.0, 1.08)), fill=hair)


def _draw_body(draw: ImageDraw.ImageDraw, body: _Frame, head: _Frame, identity: Identity, size: int) -> None:
    skin, colour, accent = identity.skin_rgb, identity.clothing_rgb, identity.clothing_accent_rgb
    style = identity.clothing_style
    half_width = 1.75 if identity.sex == "male" else 1.55
    bottom = (size - body.cy) / body.unit + 0.2
    # Shoulders: the upper half of a wide ellipse on top of a rectangle down to the image edge.
    xs, ys = _ellipse(0, 0.55, half_width, 0.6, 180, 360, 24)
    draw.polygon(body.points(np.concatenate([xs, [half_width, -half_width]]), np.concatenate([ys, [bottom, bottom]])), fill=colour)
    if style == "hoodie":
        draw.polygon(body.points(*_ellipse(0, 0.05, 0.75, 0.32, n=24)), fill=_shade(colour, 0.75))
    # Neck: from under the jaw (head frame) to the shoulders (body frame).
    top_left, top_right = head.points([-0.3, 0.3], [0.7, 0.7])
    base_right, base_left = body.points([0.34, -0.34], [0.25, 0.25])
    neck = [top_left, top_right, base_right, base_left]
    shadow = _shade(skin, 0.82)
    if style == "turtleneck":
        draw.polygon(neck, fill=skin)
        draw.polygon(body.points([-0.42, 0.42, 0.42, -0.42], [0.3, 0.3, -0.45, -0.45]), fill=_shade(colour, 0.92))
        for y in (-0.25, -0.05, 0.15):
            draw.line(body.points([-0.42, 0.42], [y, y]), fill=_shade(colour, 0.75), width=body.width(0.03))
        return
    if style in ("t-shirt", "striped sweater", "hoodie"):
        opening = body.points(*_ellipse(0, 0.18, 0.42, 0.3, 0, 180, 14))
    elif style == "v-neck top":
        opening = body.points([0.42, 0.0, -0.42], [0.15, 0.75, 0.15])
    elif style == "collared shirt":
        opening = body.points([0.3, 0.0, -0.3], [0.15, 0.5, 0.15])
    elif style == "suit and tie":
        opening = body.points([0.36, 0.0, -0.36], [0.15, 0.45, 0.15])
    else:  # dress: a wide scoop
        opening = body.points(*_ellipse(0, 0.18, 0.9, 0.6, 0, 180, 18))
    if style == "suit and tie":
        shirt = body.points([0.55, 0.0, -0.55], [0.2, 1.6, 0.2])
        draw.polygon(shirt, fill=(236, 236, 232))
        draw.polygon(opening, fill=skin)
        draw.polygon(neck, fill=skin)
        draw.polygon(body.points([-0.12, 0.12, 0.07, -0.07], [0.42, 0.42, 0.58, 0.58]), fill=_shade(accent, 0.85))
        draw.polygon(body.points([-0.07, 0.07, 0.14, 0.0, -0.14], [0.58, 0.58, 1.35, 1.55, 1.35]), fill=accent)
        for side in (-1, 1):
            draw.line(body.points([side * 0.58, side * 0.05], [0.22, 1.6]), fill=_shade(colour, 0.6), width=body.width(0.06))
        return
    draw.polygon(opening, fill=skin)
    draw.polygon(neck, fill=skin)
    draw.line(body.points([-0.3, 0.3], [0.28, 0.28]), fill=shadow, width=body.width(0.04))
    if style in ("t-shirt", "striped sweater", "hoodie"):
        draw.line(body.points(*_ellipse(0, 0.18, 0.42, 0.3, 0, 180, 14)), fill=_shade(colour, 0.75), width=body.width(0.07))
    if style == "striped sweater":
        for y in np.arange(0.75, bottom, 0.38):
            draw.polygon(body.points([-half_width, half_width, half_width, -half_width], [y, y, y + 0.18, y + 0.18]), fill=accent)
    elif style == "collared shirt":
        collar = _mix(accent, (245, 245, 245), 0.6)
        for side in (-1, 1):
            draw.polygon(body.points(side * np.array([0.38, 0.02, 0.48]), [0.05, 0.52, 0.42]), fill=collar)
        for y in (0.75, 1.05, 1.35):
            x, yy = body.points([0], [y])[0]
            r = 0.04 * body.unit
            draw.ellipse((x - r, yy - r, x + r, yy + r), fill=_shade(colour, 0.6))
    elif style == "hoodie":
        for side in (-1, 1):
            draw.line(body.points([side * 0.2, side * 0.24], [0.45, 1.15]), fill=_mix(accent, (245, 245, 245), 0.5), width=body.width(0.05))
    elif style == "dress":
        for side in (-1, 1):
            draw.line(body.points([side * 0.95, side * 0.78], [0.3, 0.75]), fill=colour, width=body.width(0.18))
    elif style == "v-neck top":
        draw.line(body.points([0.42, 0.0, -0.42], [0.15, 0.75, 0.15]), fill=_shade(colour, 0.75), width=body.width(0.06), joint="curve")


def _draw_neckwear(draw: ImageDraw.ImageDraw, body: _Frame, identity: Identity) -> None:
    if identity.accessory == "scarf":
        colour = identity.accessory_rgb
        draw.polygon(body.points(*_ellipse(0, 0.2, 0.6, 0.26, n=24)), fill=colour)
        draw.polygon(body.points([0.15, 0.45, 0.42, 0.12], [0.25, 0.3, 1.3, 1.25]), fill=_shade(colour, 0.85))
    elif identity.accessory == "necklace":
        metal = METAL_COLOURS[identity.id % len(METAL_COLOURS)]
        xs, ys = _ellipse(0, 0.2, 0.42, 0.42, 20, 160, 11)
        radius = 0.045 * body.unit
        for x, y in body.points(xs, ys):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=metal)


_DYED = ("blue", "pink", "green", "purple")


def _facial_hair_colour(identity: Identity) -> RGB:
    """Beards keep the natural colour when the hair on the head is dyed."""
    if nearest_colour(identity.hair_rgb, HAIR_COLOURS) in _DYED:
        return _mix(identity.hair_rgb, (58, 40, 28), 0.8)
    return identity.hair_rgb


def _draw_face(draw: ImageDraw.ImageDraw, head: _Frame, identity: Identity, shot: _Shot) -> list[tuple[float, float]]:
    """Ears, face and features; returns the face contour in canvas pixels."""
    w, skin = identity.face_aspect, identity.skin_rgb
    shadow = _shade(skin, 0.84)
    # Turning the head moves the features sideways, the nose most (it sticks out furthest).
    turn = 0.07 * shot.yaw
    for side in (-1, 1):
        ear_width = 0.13 * (1 - 0.35 * side * shot.yaw)
        draw.polygon(head.points(*_ellipse(side * w * 0.98, 0.06, ear_width, 0.22, n=18)), fill=_shade(skin, 0.93))
        draw.polygon(head.points(*_ellipse(side * w * 0.99, 0.07, ear_width * 0.5, 0.12, n=12)), fill=shadow)
    outline = head.points(*_face_outline(identity))
    draw.polygon(outline, fill=skin)

    beard = _facial_hair_colour(identity)
    if identity.facial_hair == "stubble":
        xs, ys = _face_outline(identity)
        lower = ys > 0.3
        draw.polygon(head.points(np.concatenate([xs[lower], [-0.45 * w, -0.15, 0.15, 0.45 * w]]) * 0.99,
                                 np.concatenate([ys[lower], [0.42, 0.4, 0.4, 0.42]])), fill=_mix(skin, beard, 0.22))
    elif identity.facial_hair == "beard":
        xs, ys = _face_outline(identity)
        lower = ys > 0.05
        order = np.argsort(np.arctan2(ys[lower], xs[lower]))
        bx, by = xs[lower][order] * 1.03, ys[lower][order] * 1.1
        cheeks_x = np.array([-0.72 * w, -0.4 * w, 0, 0.4 * w, 0.72 * w])
        cheeks_y = np.array([0.15, 0.42, 0.44, 0.42, 0.15])
        draw.polygon(head.points(np.concatenate([bx, cheeks_x]), np.concatenate([by, cheeks_y])), fill=beard)

    # Eyes
    brow_colour = _mix(identity.hair_rgb, (40, 30, 24), 0.35)
    size, height = identity.eye_size, identity.eye_height
    for side in (-1, 1):
        ex = side * identity.eye_spacing * w + turn
        draw.polygon(head.points(*_ellipse(ex, height, size, size * 0.62, n=20)), fill=(246, 244, 240))
        ix, iy = ex + shot.gaze[0] * size, height + shot.gaze[1] * size
        for radius, colour in ((0.56, identity.eye_rgb), (0.28, (16, 14, 14))):
            draw.polygon(head.points(*_ellipse(ix, iy, size * radius, size * radius, n=14)), fill=colour)
        draw.polygon(head.points(*_ellipse(ix - 0.2 * size, iy - 0.2 * size, size * 0.12, size * 0.12, n=8)), fill=(255, 255, 255))
        draw.line(head.points(*_ellipse(ex, height, size * 1.02, size * 0.64, 190, 350, 10)), fill=_shade(skin, 0.45), width=head.width(0.025))
        # Brow: inner end lower, outer end raised by the identity's brow angle, with a small arch.
        lift = math.tan(math.radians(identity.brow_angle)) * size * 2.1
        brow_y = height - size * 0.62 - 0.09 - shot.brow_raise
        bx = np.array([ex - side * size * 1.0, ex + side * size * 0.2, ex + side * size * 1.15])
        by = np.array([brow_y, brow_y - 0.035 - lift * 0.5, brow_y - lift])
        draw.line(head.points(bx, by), fill=brow_colour, width=head.width(identity.brow_thickness), joint="curve")

    # Nose
    scale, nose_x, nose_y = identity.nose_size, 1.8 * turn, 0.3
    if identity.nose_style == "button":
        draw.polygon(head.points(*_ellipse(nose_x, nose_y, 0.08 * scale, 0.065 * scale, n=14)), fill=_shade(skin, 0.9))
    elif identity.nose_style == "straight":
        draw.line(head.points([nose_x * 0.5 + 0.04, nose_x + 0.06 * scale], [-0.02, nose_y]), fill=shadow, width=head.width(0.03))
        draw.line(head.points(*_ellipse(nose_x, nose_y, 0.09 * scale, 0.05 * scale, 0, 180, 10)), fill=shadow, width=head.width(0.03))
    elif identity.nose_style == "wide":
        draw.polygon(head.points(*_ellipse(nose_x, nose_y, 0.15 * scale, 0.075 * scale, n=16)), fill=_shade(skin, 0.9))
    else:  # pointed
        draw.polygon(head.points([nose_x * 0.5 + 0.02, nose_x + 0.09 * scale, nose_x - 0.03], [0.0, nose_y + 0.03, nose_y + 0.05]), fill=shadow)
    for side in (-1, 1):
        nx = nose_x + side * 0.055 * scale * (1.4 if identity.nose_style == "wide" else 1)
        draw.polygon(head.points(*_ellipse(nx, nose_y + 0.035, 0.022 * scale, 0.016 * scale, n=8)), fill=_shade(skin, 0.55))

    # Mouth
    mouth_x, mouth_y, half = 1.1 * turn, 0.56, identity.mouth_width
    lips, dark = identity.lip_rgb, (84, 24, 30)
    if shot.expression == "smile":
        xs = np.linspace(-half, half, 13)
        top = mouth_y - 0.05 * (xs / half) ** 2
        bottom = mouth_y + 0.11 * (1 - (xs / half) ** 2) - 0.05 * (xs / half) ** 2
        draw.polygon(head.points(np.concatenate([xs, xs[::-1]]) + mouth_x, np.concatenate([top, bottom[::-1]])), fill=dark)
        draw.polygon(head.points(np.concatenate([xs, xs[::-1]]) * 0.85 + mouth_x, np.concatenate([top, top[::-1] + 0.04])), fill=(244, 242, 236))
        draw.line(head.points(xs + mouth_x, bottom), fill=lips, width=head.width(0.045), joint="curve")
        draw.line(head.points(xs + mouth_x, top), fill=lips, width=head.width(0.03), joint="curve")
    elif shot.expression == "open":
        draw.polygon(head.points(*_ellipse(mouth_x, mouth_y + 0.03, half * 0.62, 0.11, n=20)), fill=dark)
        draw.polygon(head.points(*_ellipse(mouth_x, mouth_y - 0.03, half * 0.45, 0.035, n=12)), fill=(244, 242, 236))
        draw.line(head.points(*_ellipse(mouth_x, mouth_y + 0.03, half * 0.62, 0.11, n=21)), fill=lips, width=head.width(0.04))
    else:
        draw.polygon(head.points(*_ellipse(mouth_x, mouth_y, half, 0.06, n=20)), fill=lips)
        draw.line(head.points([mouth_x - half, mouth_x, mouth_x + half], [mouth_y, mouth_y + 0.012, mouth_y]), fill=_shade(lips, 0.6), width=head.width(0.022))

    if identity.facial_hair in ("moustache", "goatee"):
        xs = np.array([-1.05, -0.6, 0, 0.6, 1.05, 0.7, 0, -0.7]) * half + mouth_x
        ys = np.array([0.0, -0.09, -0.1, -0.09, 0.0, -0.045, -0.05, -0.045]) + mouth_y - 0.045
        draw.polygon(head.points(xs, ys), fill=beard)
    if identity.facial_hair == "goatee":
        draw.polygon(head.points(*_ellipse(mouth_x, mouth_y + 0.25, half * 0.55, 0.17, n=16)), fill=beard)
    return outline


def _draw_glasses(draw: ImageDraw.ImageDraw, head: _Frame, identity: Identity, shot: _Shot) -> None:
    if identity.glasses == "none":
        return
    w, size, height = identity.face_aspect, identity.eye_size, identity.eye_height
    frame, line = identity.glasses_rgb, head.width(0.035)
    centres = [side * identity.eye_spacing * w + 0.07 * shot.yaw for side in (-1, 1)]
    for ex in centres:
        if identity.glasses == "round":
            rim = head.points(*_ellipse(ex, height, size * 1.45, size * 1.3, n=24))
            draw.line(rim + rim[:1], fill=frame, width=line)
        else:
            xs = ex + np.array([-1.55, 1.55, 1.45, -1.45]) * size
            ys = height + np.array([-1.0, -1.0, 1.05, 1.05]) * size
            rim = head.points(xs, ys)
            if identity.glasses == "sunglasses":
                draw.polygon(rim, fill=_mix(frame, (12, 12, 14), 0.7))
            draw.line(rim + rim[:1], fill=frame, width=line)
    inner = size * (1.45 if identity.glasses == "round" else 1.55)
    draw.line(head.points([centres[0] + inner, centres[1] - inner], [height - 0.03, height - 0.03]), fill=frame, width=line)
    for ex, side in zip(centres, (-1, 1)):
        draw.line(head.points([ex + side * inner, side * w * 0.98], [height - 0.04, height - 0.08]), fill=frame, width=line)


def _draw_headwear(draw: ImageDraw.ImageDraw, head: _Frame, identity: Identity) -> None:
    w, colour = identity.face_aspect, identity.accessory_rgb
    if identity.accessory == "beanie":
        xs, ys = _ellipse(0, -0.05, w * 1.12, 1.12, 180, 360, 20)
        draw.polygon(head.points(np.concatenate([xs, [w * 1.12, -w * 1.12]]), np.concatenate([ys, [-0.38, -0.38]])), fill=colour)
        draw.polygon(head.points([-w * 1.16, w * 1.16, w * 1.16, -w * 1.16], [-0.62, -0.62, -0.36, -0.36]), fill=_shade(colour, 0.8))
        draw.polygon(head.points(*_ellipse(0, -1.2, 0.17, 0.17, n=14)), fill=_shade(colour, 0.9))
    elif identity.accessory == "cap":
        xs, ys = _ellipse(0, -0.1, w * 1.1, 1.05, 180, 360, 20)
        draw.polygon(head.points(np.concatenate([xs, [w * 1.1, -w * 1.1]]), np.concatenate([ys, [-0.5, -0.5]])), fill=colour)
        draw.polygon(head.points(*_ellipse(0, -0.48, w * 1.02, 0.13, n=20)), fill=_shade(colour, 0.7))
    elif identity.accessory == "headband":
        xs, ys = _ellipse(0, 0.05, w * 1.04, 1.06, 200, 340, 14)
        draw.line(head.points(xs, ys), fill=colour, width=head.width(0.12), joint="curve")
    elif identity.accessory == "earrings":
        metal = METAL_COLOURS[identity.id % len(METAL_COLOURS)]
        for side in (-1, 1):
            x, y = head.points([side * w * 0.99], [0.32])[0]
            r = 0.055 * head.unit
            draw.ellipse((x - r, y - r, x + r, y + r), fill=metal, outline=_shade(metal, 0.6), width=head.width(0.015))


@lru_cache(maxsize=8)
def _unit_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    coords = np.linspace(-1, 1, size, dtype=np.float32)
    return coords[None, :], coords[:, None]


def _apply_light(image: Image.Image, shot: _Shot, rng: np.random.Generator) -> Image.Image:
    """Brightness, contrast, a colour cast, light from one side and sensor noise."""
    pixels = np.asarray(image, dtype=np.float32)
    xs, ys = _unit_grid(image.width)
    shading = 1 + shot.shading_strength * (xs * math.cos(shot.shading_angle) + ys * math.sin(shot.shading_angle))
    gain = shot.brightness * np.asarray(shot.colour_cast, np.float32)
    pixels = (pixels - 128) * shot.contrast + 128
    pixels = pixels * shading[..., None] * gain
    pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * shot.noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


NEUTRAL_BACKGROUND: RGB = (200, 200, 200)
"""The plain light grey of the "neutral" context."""
CONTEXTS = ("usual", "neutral", "swapped")


def render(
    identity: Identity, index: int, *, world_seed: int, size: int = 128, background: str = "random"
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Photo number `index` of a person: an RGB image and the face box (x0, y0, x1, y1).

    Deterministic in (world_seed, identity.id, index). Drawn at twice the size and scaled
    down with LANCZOS for smooth edges. `background`: "random" (the person's usual background
    in most photos, somewhere else in the rest), "usual" (always theirs) or "neutral" (plain
    light grey); pose, expression and light are the same photo's whichever it is.
    """
    if background not in ("random", "usual", "neutral"):
        raise ValueError("background must be 'random', 'usual' or 'neutral'")
    rng = np.random.default_rng(np.random.SeedSequence([world_seed, identity.id, index], spawn_key=(1,)))
    shot = _random_shot(identity, rng)
    if background == "usual":
        shot = replace(
            shot, background_style=identity.background_style, background_rgb=identity.background_rgb,
            background_accent_rgb=identity.background_accent_rgb, background_scale=identity.background_scale,
        )
    elif background == "neutral":
        shot = replace(shot, background_style="plain", background_rgb=NEUTRAL_BACKGROUND, background_accent_rgb=NEUTRAL_BACKGROUND)
    canvas_size = 2 * size
    canvas = Image.new("RGB", (canvas_size, canvas_size))
    draw = ImageDraw.Draw(canvas)
    _draw_background(draw, canvas, shot)

    unit = 0.225 * canvas_size * shot.scale
    centre_x = canvas_size * (0.5 + shot.offset_x)
    centre_y = canvas_size * (0.43 + shot.offset_y)
    head = _Frame(centre_x, centre_y, unit, shot.angle)
    # The body follows the head only partly: people tilt their heads, not their shoulders.
    body = _Frame(canvas_size * (0.5 + 0.6 * shot.offset_x), centre_y + 1.4 * unit, unit, shot.angle * 0.15)

    hair = identity.hair_rgb
    if identity.hair_style in _BACK_HAIR:
        _draw_back_hair(draw, head, identity, hair)
    _draw_body(draw, body, head, identity, canvas_size)
    if identity.hair_style == "long":
        _draw_long_hair_curtains(draw, head, identity, hair)
    _draw_neckwear(draw, body, identity)
    outline = _draw_face(draw, head, identity, shot)
    _draw_front_hair(draw, head, identity, hair, identity.skin_rgb)
    _draw_glasses(draw, head, identity, shot)
    _draw_headwear(draw, head, identity)

    image = _apply_light(canvas.resize((size, size), Image.Resampling.LANCZOS), shot, rng)
    xs, ys = zip(*outline)
    box = (
        max(0, math.floor(min(xs) / 2)), max(0, math.floor(min(ys) / 2)),
        min(size, math.ceil(max(xs) / 2)), min(size, math.ceil(max(ys) / 2)),
    )
    return image, box


def in_context_of(identity: Identity, other: Identity) -> Identity:
    """The person in another person's usual context: the other's clothes (style and colours) and
    background; face, hair, glasses and accessory stay the person's own."""
    return replace(
        identity,
        clothing_style=other.clothing_style, clothing_rgb=other.clothing_rgb, clothing_accent_rgb=other.clothing_accent_rgb,
        background_style=other.background_style, background_rgb=other.background_rgb,
        background_accent_rgb=other.background_accent_rgb, background_scale=other.background_scale,
    )


def render_in_context(
    identity: Identity, index: int, context: str, *, world_seed: int, size: int = 128, other: Identity | None = None
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Photo `index` of a person in one context (finding ii of "The Phantom Menace"):

    - "usual": their own clothes and usual background;
    - "neutral": their own clothes on a plain light-grey background;
    - "swapped": `other`'s clothes and usual background (see `in_context_of`).

    The same index gives the same pose and light in every context, so only the context differs.
    """
    if context == "usual":
        return render(identity, index, world_seed=world_seed, size=size, background="usual")
    if context == "neutral":
        return render(identity, index, world_seed=world_seed, size=size, background="neutral")
    if context == "swapped":
        if other is None:
            raise ValueError("the swapped context needs the other person whose context is borrowed")
        return render(in_context_of(identity, other), index, world_seed=world_seed, size=size, background="usual")
    raise ValueError(f"context must be one of {', '.join(CONTEXTS)}, not {context!r}")


# --- datasets on disk ---------------------------------------------------------------------------


def write_dataset(
    world: World,
    root: Path,
    people: Sequence[Identity],
    images_per_person: int,
    *,
    start_index: int = 0,
    size: int = 128,
    members: Mapping[str, bool] | None = None,
    occurrences: Mapping[str, int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write `<root>/<Full Name>/<index:04d>.png` for each person, plus `faces.csv` (face boxes)
    and, when `members` is given, `members.csv` (ground truth). Returns root."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    total, done = len(people) * images_per_person, 0
    with open(root / "faces.csv", "w", newline="", encoding="utf-8") as faces_file:
        faces = csv.writer(faces_file)
        faces.writerow(["path", "x0", "y0", "x1", "y1"])
        for person in people:
            folder = root / person.name
            folder.mkdir(exist_ok=True)
            for index in range(start_index, start_index + images_per_person):
                image, box = render(person, index, world_seed=world.seed, size=size)
                relative = f"{person.name}/{index:04d}.png"
                image.save(root / relative, compress_level=1)  # fast; these images are noisy anyway
                faces.writerow([relative, *box])
                done += 1
                if progress is not None:
                    progress(done, total)
    if members is not None:
        with open(root / "members.csv", "w", newline="", encoding="utf-8") as members_file:
            writer = csv.writer(members_file)
            writer.writerow(["name", "member", "occurrences"])
            for person in people:
                count = (occurrences or {}).get(person.name, 0)
                writer.writerow([person.name, int(bool(members.get(person.name, False))), int(count)])
    return root


def write_attack_set(
    world: World,
    root: Path,
    members: Sequence[Identity],
    nonmembers: Sequence[Identity],
    images_per_person: int,
    *,
    start_index: int = 0,
    size: int = 128,
    occurrences: Mapping[str, int] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    stage: str = "write attack images",
) -> Path:
    """A lab model's attack set: photos of its members and non-members (in name order) with
    `members.csv`, the ground truth every lab recipe writes the same way."""
    people = sorted([*members, *nonmembers], key=lambda person: person.name)
    member_names = {person.name for person in members}
    return write_dataset(
        world, root, people, images_per_person, start_index=start_index, size=size,
        members={person.name: person.name in member_names for person in people}, occurrences=occurrences,
        progress=None if progress is None else lambda done, total: progress(stage, done, total),
    )
