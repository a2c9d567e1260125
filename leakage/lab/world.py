"""The lab world: named synthetic people with stable looks (the people model).

Each `Identity` is a fixed combination of visual traits (face shape, skin, eyes, brows, nose,
mouth, hair, facial hair, glasses, clothes, an accessory and a usual background), named from the
pool of common names; `describe` puts the traits in words. Drawing them is the portrait
renderer's job (`leakage.lab.portraits`). Everything is deterministic in the seeds; no global
RNG is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from leakage.names import sample_names

RGB = tuple[int, int, int]

# --- trait vocabularies -------------------------------------------------------------------------

SKIN_TONE_RAMP: tuple[RGB, ...] = (
    (255, 229, 208), (243, 204, 172), (228, 182, 142), (206, 150, 106),
    (172, 114, 74), (132, 86, 56), (92, 60, 42),
)
HAIR_COLOURS: dict[str, RGB] = {
    "black": (26, 22, 20), "dark brown": (64, 42, 30), "brown": (112, 74, 44),
    "auburn": (142, 64, 36), "red": (196, 88, 40), "blonde": (224, 188, 118),
    "platinum blonde": (240, 228, 192), "grey": (150, 150, 152), "white": (234, 234, 230),
    "blue": (48, 92, 206), "pink": (232, 110, 172), "green": (56, 162, 92), "purple": (122, 62, 176),
}
HAIR_COLOUR_WEIGHTS = (18, 20, 16, 7, 6, 11, 4, 6, 3, 2, 2, 2, 3)
EYE_COLOURS: dict[str, RGB] = {
    "dark brown": (58, 36, 22), "brown": (104, 64, 34), "hazel": (142, 108, 52),
    "green": (72, 134, 70), "blue": (70, 124, 198), "grey": (124, 138, 150),
}
COLOURS: dict[str, RGB] = {
    "red": (204, 40, 44), "orange": (238, 130, 34), "yellow": (242, 206, 50), "lime": (152, 204, 60),
    "green": (44, 140, 66), "teal": (30, 138, 140), "sky blue": (112, 182, 232), "blue": (40, 82, 204),
    "navy": (28, 40, 94), "purple": (122, 60, 172), "pink": (238, 132, 172), "maroon": (112, 30, 52),
    "brown": (122, 80, 48), "beige": (222, 202, 162), "grey": (142, 142, 142), "charcoal": (62, 62, 66),
    "black": (24, 24, 26), "white": (242, 242, 238), "olive": (112, 122, 50), "mustard": (202, 162, 40),
}
FRAME_COLOURS: tuple[RGB, ...] = ((20, 20, 22), (96, 56, 30), (200, 168, 80), (180, 182, 188), (170, 30, 40), (30, 60, 150))
METAL_COLOURS: tuple[RGB, ...] = ((222, 184, 60), (200, 202, 210), (240, 236, 224), (180, 100, 60))

HAIR_STYLES = ("bald", "buzz cut", "short", "side-parted", "fringe", "long", "bob", "bun",
               "ponytail", "curly", "afro", "mohawk", "receding")
FACIAL_HAIR = ("none", "stubble", "moustache", "goatee", "beard")
GLASSES = ("none", "round", "square", "sunglasses")
CLOTHING = ("t-shirt", "v-neck top", "collared shirt", "suit and tie", "hoodie", "turtleneck",
            "striped sweater", "dress")
ACCESSORIES = ("none", "earrings", "beanie", "cap", "scarf", "necklace", "headband")
BACKGROUNDS = ("plain", "gradient", "vertical stripes", "horizontal stripes", "checks", "dots",
               "wall and floor", "window")
NOSES = ("button", "straight", "wide", "pointed")

# Relative frequencies by sex, in the order of the vocabularies above.
_WEIGHTS: dict[str, dict[str, tuple[float, ...]]] = {
    "female": {
        "hair": (0.5, 2, 6, 5, 8, 28, 14, 10, 12, 8, 5, 1, 0),
        "facial_hair": (1, 0, 0, 0, 0),
        "glasses": (68, 12, 12, 8),
        "clothing": (16, 14, 12, 8, 14, 12, 12, 12),
        "accessory": (34, 20, 8, 5, 11, 14, 8),
    },
    "male": {
        "hair": (7, 10, 22, 14, 7, 6, 2, 3, 3, 8, 4, 4, 8),
        "facial_hair": (42, 18, 10, 10, 20),
        "glasses": (66, 12, 14, 8),
        "clothing": (20, 10, 18, 16, 16, 8, 12, 0),
        "accessory": (50, 4, 12, 12, 14, 4, 4),
    },
}

# Hair styles with a part drawn behind the head and shoulders.
_BACK_HAIR = {"long", "bob", "ponytail", "afro"}


@dataclass(frozen=True)
class Identity:
    """One person of the lab world: a name and the visual traits every photo of them shares.

    Lengths are in units of the head's half-height; angles in degrees; colours are RGB.
    """

    id: int
    name: str
    sex: str
    face_aspect: float
    """face width / height"""
    jaw_taper: float
    """0 = wide jaw, 0.35 = pointed chin"""
    jaw_squareness: float
    """0 = round jaw, 1 = square jaw"""
    skin_rgb: RGB
    eye_rgb: RGB
    eye_spacing: float
    """distance of each eye from the centre, as a fraction of the face half-width"""
    eye_size: float
    eye_height: float
    brow_thickness: float
    brow_angle: float
    """positive = outer ends raised"""
    nose_style: str
    nose_size: float
    mouth_width: float
    """half-width of the mouth"""
    lip_rgb: RGB
    hair_rgb: RGB
    hair_style: str
    facial_hair: str
    glasses: str
    glasses_rgb: RGB
    clothing_style: str
    clothing_rgb: RGB
    clothing_accent_rgb: RGB
    accessory: str
    accessory_rgb: RGB
    background_style: str
    background_rgb: RGB
    background_accent_rgb: RGB
    background_scale: float
    """0..1: period of the background pattern / where the window or floor sits"""


@dataclass
class World:
    """The lab's population; identities[i].id == i."""

    seed: int
    identities: list[Identity]
    _by_name: dict[str, Identity] = field(default_factory=dict, init=False, repr=False, compare=False)

    def by_name(self, name: str) -> Identity:
        """The identity with this full name (exact match); KeyError if there is none."""
        person = self._by_name.get(name)
        if person is None or len(self._by_name) != len(self.identities) or self.identities[person.id] is not person:
            self._by_name = {identity.name: identity for identity in self.identities}  # (re)built when the list changed
            person = self._by_name.get(name)
        if person is None:
            raise KeyError(f"no person named {name!r} in this world")
        return person


# --- identities ---------------------------------------------------------------------------------


def _clip_rgb(values) -> RGB:
    return tuple(int(min(255, max(0, round(float(v))))) for v in values)  # type: ignore[return-value]


def _jitter(rng: np.random.Generator, rgb: RGB, spread: float) -> RGB:
    return _clip_rgb(np.asarray(rgb) + rng.normal(0, spread, 3))


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return _clip_rgb([x + (y - x) * t for x, y in zip(a, b)])


def _shade(rgb: RGB, factor: float) -> RGB:
    return _clip_rgb([v * factor for v in rgb])


def _choice(rng: np.random.Generator, options: Sequence[str], weights: Sequence[float]) -> str:
    p = np.asarray(weights, dtype=float)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def _skin(rng: np.random.Generator) -> RGB:
    position = rng.uniform(0, len(SKIN_TONE_RAMP) - 1)
    low = int(position)
    high = min(low + 1, len(SKIN_TONE_RAMP) - 1)
    return _jitter(rng, _mix(SKIN_TONE_RAMP[low], SKIN_TONE_RAMP[high], position - low), 5)


def _palette_colour(rng: np.random.Generator, palette: Mapping[str, RGB], spread: float = 12) -> RGB:
    return _jitter(rng, list(palette.values())[int(rng.integers(len(palette)))], spread)


def _make_identity(world_seed: int, identity_id: int, name: str, sex: str) -> Identity:
    # Each person's traits come from their own stream, so adding people never changes others.
    rng = np.random.default_rng(np.random.SeedSequence([world_seed, identity_id], spawn_key=(0,)))
    weights = _WEIGHTS[sex]
    skin = _skin(rng)
    hair_name = _choice(rng, list(HAIR_COLOURS), HAIR_COLOUR_WEIGHTS)
    lip_target = (196, 48, 70) if sex == "female" and rng.random() < 0.35 else (176, 84, 84)
    clothing = _choice(rng, CLOTHING, weights["clothing"])
    background_base = _palette_colour(rng, COLOURS, 10)
    return Identity(
        id=identity_id,
        name=name,
        sex=sex,
        face_aspect=round(float(rng.uniform(0.70, 0.86) - (0.02 if sex == "female" else 0)), 4),
        jaw_taper=round(float(rng.uniform(0, 0.35)), 4),
        jaw_squareness=round(float(rng.uniform(0, 1) * (0.6 if sex == "female" else 1)), 4),
        skin_rgb=skin,
        eye_rgb=_palette_colour(rng, EYE_COLOURS, 10),
        eye_spacing=round(float(rng.uniform(0.36, 0.46)), 4),
        eye_size=round(float(rng.uniform(0.10, 0.145)), 4),
        eye_height=round(float(rng.uniform(-0.08, 0.05)), 4),
        brow_thickness=round(float(rng.uniform(0.035, 0.065) if sex == "female" else rng.uniform(0.05, 0.09)), 4),
        brow_angle=round(float(rng.uniform(-12, 16)), 2),
        nose_style=NOSES[int(rng.integers(len(NOSES)))],
        nose_size=round(float(rng.uniform(0.8, 1.3)), 4),
        mouth_width=round(float(rng.uniform(0.17, 0.30)), 4),
        lip_rgb=_mix(skin, lip_target, float(rng.uniform(0.3, 0.7))),
        hair_rgb=_jitter(rng, HAIR_COLOURS[hair_name], 12),
        hair_style=_choice(rng, HAIR_STYLES, weights["hair"]),
        facial_hair=_choice(rng, FACIAL_HAIR, weights["facial_hair"]),
        glasses=_choice(rng, GLASSES, weights["glasses"]),
        glasses_rgb=FRAME_COLOURS[int(rng.integers(len(FRAME_COLOURS)))],
        clothing_style=clothing,
        clothing_rgb=_palette_colour(rng, COLOURS),
        clothing_accent_rgb=_palette_colour(rng, COLOURS),
        accessory=_choice(rng, ACCESSORIES, weights["accessory"]),
        accessory_rgb=_palette_colour(rng, COLOURS),
        background_style=BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))],
        # Backgrounds are paler than clothes, so the person stands out from the scene.
        background_rgb=_mix(background_base, (240, 240, 240), float(rng.uniform(0.15, 0.6))),
        background_accent_rgb=_mix(_palette_colour(rng, COLOURS, 10), (240, 240, 240), float(rng.uniform(0.0, 0.5))),
        background_scale=round(float(rng.uniform(0, 1)), 4),
    )


def make_world(seed: int, n_identities: int) -> World:
    """A world of n named people; deterministic, and prefix-stable in n for a seed."""
    names = sample_names(n_identities, seed)
    return World(seed, [_make_identity(seed, i, name, sex) for i, (name, sex) in enumerate(names)])


def nearest_colour(rgb: RGB, palette: Mapping[str, RGB]) -> str:
    """The name of the palette colour closest to `rgb` (the word a caption uses for it)."""
    return min(palette, key=lambda name: sum((a - b) ** 2 for a, b in zip(rgb, palette[name])))


def _a(phrase: str) -> str:
    """The phrase with its indefinite article ("a red cap", "an orange cap")."""
    return f"{'an' if phrase[0] in 'aeiou' else 'a'} {phrase}"


def describe(identity: Identity) -> str:
    """A short plain-language description of a person's look, without their name."""
    hair = nearest_colour(identity.hair_rgb, HAIR_COLOURS)
    hair_phrase = {
        "bald": "a shaved head", "buzz cut": _a(f"{hair} buzz cut"), "short": f"short {hair} hair",
        "side-parted": f"side-parted {hair} hair", "fringe": f"{hair} hair with a fringe",
        "long": f"long {hair} hair", "bob": _a(f"{hair} bob"), "bun": f"{hair} hair in a bun",
        "ponytail": _a(f"{hair} ponytail"), "curly": f"curly {hair} hair", "afro": _a(f"{hair} afro"),
        "mohawk": _a(f"{hair} mohawk"), "receding": f"a receding {hair} hairline",
    }[identity.hair_style]
    parts = [hair_phrase]
    if identity.facial_hair != "none":
        parts.append({"stubble": "stubble", "moustache": "a moustache", "goatee": "a goatee", "beard": "a beard"}[identity.facial_hair])
    if identity.glasses != "none":
        parts.append("sunglasses" if identity.glasses == "sunglasses" else f"{identity.glasses} glasses")
    accessory = nearest_colour(identity.accessory_rgb, COLOURS)
    if identity.accessory != "none":
        parts.append({
            "earrings": "earrings", "necklace": "a necklace", "beanie": _a(f"{accessory} beanie"),
            "cap": _a(f"{accessory} cap"), "scarf": _a(f"{accessory} scarf"), "headband": _a(f"{accessory} headband"),
        }[identity.accessory])
    colour = nearest_colour(identity.clothing_rgb, COLOURS)
    if identity.clothing_style == "striped sweater":
        parts.append(_a(f"{colour} and {nearest_colour(identity.clothing_accent_rgb, COLOURS)} striped sweater"))
    else:
        parts.append(_a(f"{colour} {identity.clothing_style}"))
    person = "a woman" if identity.sex == "female" else "a man"
    return f"{person} with {', '.join(parts[:-1])} and {parts[-1]}" if len(parts) > 1 else f"{person} with {parts[0]}"
