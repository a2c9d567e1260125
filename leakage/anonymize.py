"""Image anonymization as privacy tools apply it: blur, pixelate or mask the face, or the whole image.

A setting is written the way the CLI takes it: ``none``, ``blur:8`` (Gaussian blur, radius 8 px),
``pixelate:12`` (12 px blocks), ``mask`` (solid black), each optionally followed by ``@image``
to treat the whole picture instead of the face boxes (``blur:16@image``). Strengths are in
pixels of the image as it is given, before any model resizes it.

Face-only settings change the pixels inside the face boxes and nothing else. Blur is computed
over the whole picture and then pasted inside the box, the way face-blurring tools do it, so
the edge of the box does not act as a mirror and a strong blur really takes the face away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageFilter

Box = tuple[int, int, int, int]
"""(x0, y0, x1, y1) in pixels, x1/y1 exclusive."""

METHODS = ("none", "blur", "pixelate", "mask")
REGIONS = ("face", "image")
MASK_COLOUR = (0, 0, 0)


@dataclass(frozen=True, order=True)
class Anonymization:
    """One anonymization setting: what is done (method, strength in pixels) and where (region)."""

    method: str = "none"
    strength: float = 0.0
    """Blur radius or pixelation block size in pixels; unused by mask and none."""
    region: str = "face"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown anonymization {self.method!r}: use one of {', '.join(METHODS)}")
        if self.region not in REGIONS:
            raise ValueError(f"unknown region {self.region!r}: use face or image")
        if self.method in ("blur", "pixelate") and self.strength <= 0:
            raise ValueError(f"{self.method} needs a positive strength in pixels, e.g. {self.method}:8")
        if self.method == "pixelate" and self.strength != int(self.strength):
            raise ValueError("pixelate takes a whole number of pixels per block")
        if self.method in ("none", "mask") and self.strength:
            object.__setattr__(self, "strength", 0.0)  # so that "mask:3" and "mask" are the same setting
        if self.method == "none" and self.region != "face":
            object.__setattr__(self, "region", "face")

    @property
    def label(self) -> str:
        """The setting as the CLI writes it: none, blur:8, pixelate:12@image, mask."""
        text = self.method
        if self.method in ("blur", "pixelate"):
            text += f":{self.strength:g}"
        if self.region == "image" and self.method != "none":
            text += "@image"
        return text

    @property
    def description(self) -> str:
        """Plain words for tables and captions."""
        what = {
            "none": "original image",
            "blur": f"Gaussian blur, radius {self.strength:g} px",
            "pixelate": f"pixelation, {self.strength:g} px blocks",
            "mask": "solid mask",
        }[self.method]
        if self.method == "none":
            return what
        return f"{what}, {'whole image' if self.region == 'image' else 'face only'}"

    @property
    def needs_faces(self) -> bool:
        return self.method != "none" and self.region == "face"

    @classmethod
    def parse(cls, text: str) -> "Anonymization":
        """``none``, ``blur:8``, ``pixelate:12``, ``mask``, optionally with ``@image`` or ``@face``."""
        spec = text.strip().lower()
        region = "face"
        if "@" in spec:
            spec, region = (part.strip() for part in spec.split("@", 1))
        method, _, strength = spec.partition(":")
        method = method.strip() or "none"
        try:
            value = float(strength) if strength.strip() else 0.0
        except ValueError:
            raise ValueError(f"cannot read the strength in {text!r}: expected e.g. blur:8 or pixelate:12") from None
        if method in ("blur", "pixelate") and not strength.strip():
            raise ValueError(f"{method} needs a strength in pixels, e.g. {method}:8")
        return cls(method, value, region)


NONE = Anonymization()


def parse_settings(text: str | Iterable[str], *, include_none: bool = True) -> list[Anonymization]:
    """Comma-separated settings (or a list of them), without repeats, the original image first."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    settings = [NONE] if include_none else []
    for part in parts:
        if not str(part).strip():
            continue
        setting = Anonymization.parse(str(part))
        if setting not in settings:
            settings.append(setting)
    return settings


def default_sweep() -> list[Anonymization]:
    """The settings a full run measures: blur and pixelation at rising strengths and the mask, on the
    face and on the whole image (for images of about 128 px; the face is about 45 px wide there,
    so the strongest settings leave nothing of it)."""
    settings = [NONE]
    for region in REGIONS:
        settings += [Anonymization("blur", radius, region) for radius in (2, 4, 8, 16, 32)]
        settings += [Anonymization("pixelate", block, region) for block in (4, 8, 16, 32)]
        settings.append(Anonymization("mask", 0, region))
    return settings


def clamp_box(box: Sequence[float], size: tuple[int, int], margin: float = 0.0) -> Box | None:
    """The box grown by `margin` (a fraction of its size) and clipped to the image; None when empty."""
    width, height = size
    x0, y0, x1, y1 = (float(v) for v in box)
    grow_x, grow_y = (x1 - x0) * margin, (y1 - y0) * margin
    clipped = (
        max(0, int(round(x0 - grow_x))),
        max(0, int(round(y0 - grow_y))),
        min(width, int(round(x1 + grow_x))),
        min(height, int(round(y1 + grow_y))),
    )
    return clipped if clipped[2] > clipped[0] and clipped[3] > clipped[1] else None


def _pixelate(image: Image.Image, block: int) -> Image.Image:
    small = image.resize(
        (max(1, round(image.width / block)), max(1, round(image.height / block))), Image.Resampling.BOX
    )
    return small.resize(image.size, Image.Resampling.NEAREST)


def _treated(image: Image.Image, setting: Anonymization) -> Image.Image:
    """The whole image with the setting applied everywhere."""
    if setting.method == "blur":
        return image.filter(ImageFilter.GaussianBlur(setting.strength))
    if setting.method == "pixelate":
        return _pixelate(image, int(setting.strength))
    if setting.method == "mask":
        return Image.new("RGB", image.size, MASK_COLOUR)
    return image.copy()


def anonymize(
    image: Image.Image, setting: Anonymization, boxes: Sequence[Sequence[float]] = (), *, margin: float = 0.0
) -> Image.Image:
    """A new RGB image with `setting` applied to the face boxes (or the whole image for @image).

    A face-only setting with no box returns an unchanged copy: the caller reports "no face
    found" rather than pretending the image was anonymized.
    """
    image = image.convert("RGB")
    if setting.method == "none":
        return image.copy()
    if setting.region == "image":
        return _treated(image, setting)
    result = image.copy()
    regions = [box for box in (clamp_box(b, image.size, margin) for b in boxes) if box is not None]
    if not regions:
        return result
    if setting.method == "blur":
        blurred = _treated(image, setting)
        for box in regions:
            result.paste(blurred.crop(box), box[:2])
    elif setting.method == "pixelate":
        for box in regions:
            # Pixelated per box so the blocks line up with the face, not with the image grid.
            result.paste(_pixelate(image.crop(box), int(setting.strength)), box[:2])
    else:  # mask
        for box in regions:
            result.paste(MASK_COLOUR, box)
    return result
