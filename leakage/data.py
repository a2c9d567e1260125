"""The dataset format and robust image loading.

Dataset folder layout::

    <root>/<Full Name>/*.jpg|jpeg|png|webp|bmp|gif|tif|tiff   one folder per person
    <root>/members.csv   optional: name,member,occurrences     membership ground truth
    <root>/faces.csv     optional: path,x0,y0,x1,y1            face boxes (path relative to root, '/'):
                         one row per face; a row with empty x0..y1 says the image has no face.
                         `python -m leakage faces <root>` writes one to review and correct.

The project's rule for bad input: a clear error, and nothing else lost. One broken image in a
folder of 500 is reported (as a :class:`DatasetProblem` or an :class:`ImageLoadError`) and
skipped; the other 499 are scored. Scanning never decodes images; decoding happens in
:func:`load_image`, which turns every way a file can be bad into one :class:`ImageLoadError`
with a human-readable reason.

Nothing here imports Streamlit.
"""

from __future__ import annotations

import csv
import io
import math
import os
import posixpath
import random
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from leakage.paths import PathNotAllowed, checked, open_checked, refusal

__all__ = [
    "DECODER_FORMATS",
    "FACES_CSV",
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "MEMBERS_CSV",
    "Dataset",
    "DatasetProblem",
    "ImageLoadError",
    "ImageRecord",
    "ImageTensorDataset",
    "collate_skip_failures",
    "dataset_from_uploads",
    "load_image",
    "scan_dataset",
    "to_rgb",
]

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
"""File extensions (lower case, compared case-insensitively) that count as images."""

MAX_IMAGE_PIXELS = 64_000_000
"""Largest image (width × height) that :func:`load_image` decodes by default.

A compressed file can claim enormous dimensions in a few bytes (a "decompression bomb": a 1 KB
PNG saying 100,000 × 100,000 would need 30 GB as RGB), and decoding happens in DataLoader
workers several at a time, so one hostile or corrupt file could take the whole machine down.
64 megapixels is above every consumer camera (the largest common sensors are ~61 MP) and
bounds one decoded image to ~192 MB as RGB (~256 MB in 32-bit modes). The size is read from
the header and checked before any pixel is decoded. PIL's own, process-global limit
(``Image.MAX_IMAGE_PIXELS``) is left as it is; where it fires first, its warning or error is
reported with the same reason.
"""

DECODER_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "DIB", "GIF", "TIFF")
"""The PIL decoders :func:`load_image` may use: those of :data:`IMAGE_EXTENSIONS` (JPEG includes
multi-picture MPO). PIL would otherwise try every plugin it has, some rarely exercised and one
(EPS) running Ghostscript on the file, for content that no dataset image should have."""

MEMBERS_CSV = "members.csv"
FACES_CSV = "faces.csv"

_TRUE_WORDS = frozenset({"1", "true", "yes"})
_FALSE_WORDS = frozenset({"0", "false", "no"})

ImageSource = str | os.PathLike | bytes | IO[bytes]
FaceBox = tuple[int, int, int, int]


class ImageLoadError(ValueError):
    """An image that cannot be used; ``reason`` (also the message) says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------
# Loading one image
# --------------------------------------------------------------------------------------------


def load_image(source: ImageSource, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode an image file, bytes or binary stream into an upright RGB image.

    Applies the EXIF orientation, takes the first frame of multi-frame files, and converts every
    mode to RGB without losing the picture: transparency is composited onto white, 16-bit and
    float images are scaled to 8 bits by their bit depth or value range (see :func:`to_rgb`).

    Raises :class:`ImageLoadError` ("empty file", "not an image (cannot identify image file)",
    "truncated image", "image too large: W×H pixels exceeds limit of N (possible decompression
    bomb)", ...). The image is fully decoded here, so a broken file fails now, not later.
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    stream = _open_stream(source)
    try:
        with Image.open(stream, formats=DECODER_FORMATS) as image:
            _check_pixel_count(image.size, max_pixels)
            image.load()  # the full decode: truncated or corrupt data fails inside this try
            upright = _exif_upright(image)
        return to_rgb(upright)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # PIL's global limit fired before ours (its warning is an exception only where a
        # warnings filter says "error"); the size is then only in its message.
        raise ImageLoadError(_too_large_reason(_pil_bomb_detail(error), max_pixels)) from error
    except UnidentifiedImageError as error:
        raise ImageLoadError("not an image (cannot identify image file)") from error
    except MemoryError as error:
        raise ImageLoadError("not enough memory to decode the image") from error
    except Exception as error:  # noqa: BLE001 - plugins raise OSError, SyntaxError, struct.error, zlib.error, ...
        raise ImageLoadError(_decode_failure_reason(error)) from error
    finally:
        if stream is not source:
            stream.close()


def _open_stream(source: ImageSource) -> IO[bytes]:
    """A seekable binary stream over the source; empty or unreadable input fails here, clearly."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            # every image file goes through the roots check (leakage.paths), whoever asked for it
            stream = open_checked(source, "data")
            if os.fstat(stream.fileno()).st_size == 0:
                stream.close()
                raise ImageLoadError("empty file")
            return stream
        except PathNotAllowed as refused:
            raise ImageLoadError(f"{refused.reason}; not read") from None
        except FileNotFoundError as error:
            raise ImageLoadError("file not found") from error
        except IsADirectoryError as error:
            raise ImageLoadError("is a folder, not a file") from error
        except OSError as error:
            raise ImageLoadError(f"cannot read file ({error.strerror or error})") from error
    else:
        # Streams (e.g. uploads) are read whole: PIL needs to seek, and not every stream can.
        try:
            data = source.read()
        except OSError as error:
            raise ImageLoadError(f"cannot read stream ({error})") from error
    if not data:
        raise ImageLoadError("empty file")
    return io.BytesIO(data)


def _check_pixel_count(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageLoadError(_too_large_reason(f"{width}×{height} pixels", max_pixels))


def _too_large_reason(size: str, max_pixels: int) -> str:
    return f"image too large: {size} exceeds limit of {max_pixels:,} (possible decompression bomb)"


def _pil_bomb_detail(error: Exception) -> str:
    words = str(error).replace("(", " ").split()
    pixels = next((word for word in words if word.isdigit()), None)
    return f"{int(pixels):,} pixels" if pixels else "image size"


def _decode_failure_reason(error: Exception) -> str:
    message = str(error)
    if "truncated" in message.lower() or isinstance(error, EOFError):
        return f"truncated image ({message or 'the file ends before the image data does'})"
    return f"corrupt image data ({type(error).__name__}: {message})"


def _exif_upright(image: Image.Image) -> Image.Image:
    """The image as a viewer shows it; a broken EXIF block costs the rotation, not the image."""
    try:
        ImageOps.exif_transpose(image, in_place=True)  # in place: no copy of every upright image
    except Exception:  # noqa: BLE001 - EXIF parsing has many failure modes, all harmless here
        pass
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB the way a person would expect to see the picture.

    - transparency (RGBA, LA, PA, palette or colour-key transparency) is composited onto white,
      since a plain ``convert("RGB")`` turns transparent backgrounds black;
    - 16/32-bit integer images (I;16, I;16B, I, ...) are scaled by the bit depth their largest
      value needs (a 16-bit photo by 65535, a 12-bit scan in a 16-bit file by 4095), because
      ``convert("L")`` clips everything above 255 to white;
    - float images (F) in [0, 1] or [0, 255] are taken as such, anything else is stretched
      over its actual range;
    - everything else (1, L, P, CMYK, YCbCr, ...) uses PIL's own conversion.
    """
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I") or image.mode == "F":
        return Image.fromarray(_high_depth_to_uint8(np.asarray(image))).convert("RGB")
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _high_depth_to_uint8(values: np.ndarray) -> np.ndarray:
    is_float = values.dtype.kind == "f"
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if is_float and low >= 0 and high <= 1:
        scaled = values * 255.0
    elif low >= 0 and high <= 255:
        scaled = values
    elif not is_float and low >= 0 and high <= 65535:
        bits = math.ceil(math.log2(high + 1))  # 16 for a 16-bit photo, 12 for a 12-bit scan
        scaled = values * (255.0 / (2**bits - 1))
    else:  # signed, beyond 16 bits or unbounded floats: no bit depth to trust, only the range
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageRecord:
    """One image of one person; ``face_boxes`` are (x0, y0, x1, y1) in the upright image's pixels,
    from faces.csv: None when the file does not list the image, () when it says there is no face."""

    person: str
    path: str
    face_boxes: tuple[FaceBox, ...] | None = None

    @property
    def face_box(self) -> FaceBox | None:
        """The first face listed for this image (faces.csv lists the largest first when a detector wrote it)."""
        return self.face_boxes[0] if self.face_boxes else None


@dataclass(frozen=True)
class DatasetProblem:
    """Something in the dataset that was skipped or could not be used, and why."""

    path: str
    reason: str


@dataclass
class Dataset:
    """People and their images, with optional membership ground truth, and what went wrong."""

    root: str
    people: dict[str, list[ImageRecord]]
    members: dict[str, bool] | None = None
    occurrences: dict[str, int] | None = None
    problems: list[DatasetProblem] = field(default_factory=list)

    def names(self) -> list[str]:
        """The people, sorted."""
        return sorted(self.people)

    def n_images(self) -> int:
        """Images over all people."""
        return sum(len(images) for images in self.people.values())

    def has_ground_truth(self) -> bool:
        """Whether membership is known for at least one person in the dataset."""
        return self.members is not None and any(name in self.members for name in self.people)

    def subset(self, names: Iterable[str]) -> Dataset:
        """Only these people (each must be in the dataset), with their ground truth and problems."""
        chosen = sorted(set(names))
        unknown = [name for name in chosen if name not in self.people]
        if unknown:
            raise KeyError(f"not in the dataset: {', '.join(unknown)}")
        return Dataset(
            root=self.root,
            people={name: list(self.people[name]) for name in chosen},
            members=_restricted(self.members, chosen),
            occurrences=_restricted(self.occurrences, chosen),
            problems=[problem for problem in self.problems if self._problem_concerns(problem, chosen)],
        )

    def take(self, k: int, seed: int) -> Dataset:
        """At most k images per person, drawn without replacement; the same (k, seed) gives the
        same images, and a person's draw does not depend on who else is in the dataset."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        people = {}
        for name, images in self.people.items():
            rng = random.Random(f"{seed}/{name}")  # str seeds hash deterministically (sha512)
            drawn = images if len(images) <= k else rng.sample(images, k)
            people[name] = sorted(drawn, key=lambda record: record.path)
        return replace(
            self,
            people=people,
            members=_restricted(self.members, list(people)),
            occurrences=_restricted(self.occurrences, list(people)),
            problems=list(self.problems),
        )

    def _problem_concerns(self, problem: DatasetProblem, chosen: Sequence[str]) -> bool:
        """Dataset-wide problems always do; one inside a person's folder only for chosen people."""
        relative = os.path.relpath(problem.path, self.root)
        parts = Path(relative).parts
        if len(parts) < 2 or parts[0] == os.pardir:
            return True
        return _normalized_name(parts[0]) in chosen


def _restricted(mapping: dict | None, names: Sequence[str]) -> dict | None:
    return None if mapping is None else {name: mapping[name] for name in names if name in mapping}


def _normalized_name(name: str) -> str:
    # macOS writes folder names decomposed (NFD) while CSV files are usually composed (NFC);
    # without this "José" in members.csv would not match the folder "José".
    return unicodedata.normalize("NFC", name).strip()


def _is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def scan_dataset(root: str | os.PathLike) -> Dataset:
    """Read a dataset folder's layout and CSV files; no image is decoded.

    Raises FileNotFoundError / NotADirectoryError for a wrong root and ValueError when no person
    folder holds an image. Everything else that is off (non-image files, empty files, stray
    images, malformed CSV rows, names without folders) becomes a :class:`DatasetProblem`.
    """
    given = Path(root).expanduser()
    root_path = checked(given, "data")  # resolved; refused outside a shared server's roots before anything is looked at
    if not root_path.exists():
        raise FileNotFoundError(f"dataset folder not found: {given}")
    if not root_path.is_dir():
        raise NotADirectoryError(f"dataset path is not a folder: {given}")
    problems: list[DatasetProblem] = []
    people = _scan_people(root_path, problems)
    if not people:
        raise ValueError(f"no person folders with images found in {root_path} (expected {root_path}/<Full Name>/<image files>)")

    members = occurrences = None
    members_path = root_path / MEMBERS_CSV
    if members_path.is_file():
        members, occurrences = _read_members(members_path, set(people), problems)
    faces_path = root_path / FACES_CSV
    if faces_path.is_file():
        people = _apply_face_boxes(faces_path, root_path, people, problems)
    return Dataset(root=str(root_path), people=dict(sorted(people.items())), members=members, occurrences=occurrences, problems=problems)


def _scan_people(root: Path, problems: list[DatasetProblem]) -> dict[str, list[ImageRecord]]:
    people: dict[str, list[ImageRecord]] = {}
    with os.scandir(root) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            linked = entry.is_symlink() and (entry.is_dir() or _is_image_name(entry.name))  # CSV files: checked when read
            refused = refusal(entry.path, "data", folder=root) if linked else None
            if refused:
                problems.append(DatasetProblem(entry.path, f"{refused}; skipped"))
            elif entry.is_dir():
                name = _normalized_name(entry.name)
                images = _scan_person_folder(name, entry.path, problems)
                if not images:
                    problems.append(DatasetProblem(entry.path, "no images in this person folder"))
                elif name in people:
                    problems.append(DatasetProblem(entry.path, f"another folder already holds images of {name!r}; skipped"))
                else:
                    people[name] = images
            elif _is_image_name(entry.name):
                problems.append(DatasetProblem(entry.path, "image outside a person folder (put it in <root>/<Full Name>/)"))
    return people


def _scan_person_folder(person: str, folder: str, problems: list[DatasetProblem]) -> list[ImageRecord]:
    images: list[ImageRecord] = []
    try:
        entries = list(os.scandir(folder))
    except OSError as error:
        problems.append(DatasetProblem(folder, f"cannot read folder ({error.strerror or error})"))
        return images
    for entry in entries:
        if entry.name.startswith("."):
            continue  # .DS_Store, editor swap files, AppleDouble "._x.jpg" files
        problem = _image_file_problem(entry, folder)
        if problem:
            problems.append(DatasetProblem(entry.path, problem))
        else:
            images.append(ImageRecord(person=person, path=entry.path))
    return sorted(images, key=lambda record: record.path)


def _image_file_problem(entry: os.DirEntry, folder: str) -> str | None:
    """Why a person folder's entry is not a usable image file (None when it is one)."""
    # A link is followed only within the person folder's data set (its parent), on a shared server.
    refused = refusal(entry.path, "data", folder=os.path.dirname(folder)) if entry.is_symlink() else None
    if refused:
        return refused
    if entry.is_dir():
        return "folder inside a person folder ignored (images must sit directly in the person folder)"
    if not _is_image_name(entry.name):
        return f"not an image file type ({os.path.splitext(entry.name)[1] or 'no extension'})"
    try:
        size = entry.stat().st_size  # one stat per file: cheap, and spares a worker a job
    except OSError as error:
        return f"cannot read file ({error.strerror or error})"
    return "empty file" if size == 0 else None


# --- CSV files ---------------------------------------------------------------------------------


CsvRow = tuple[int, dict[str, str], str | None]


def _read_csv(path: Path, required: Sequence[str], problems: list[DatasetProblem]) -> list[CsvRow] | None:
    """(line number, stripped values, what is wrong with the row's shape or None) for every row;
    None, with a problem, when the file as a whole is unusable."""
    try:
        with open_checked(path, "data", folder=path.parent) as handle:
            text = handle.read().decode("utf-8-sig")  # -sig: Excel writes a byte-order mark
    except PathNotAllowed as refused:
        problems.append(DatasetProblem(str(path), f"{refused.reason}; ignored"))
        return None
    except (OSError, UnicodeDecodeError) as error:
        problems.append(DatasetProblem(str(path), f"cannot read ({error}); save it as UTF-8 text"))
        return None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [column.strip().lower() for column in reader.fieldnames or []]
    missing = [column for column in required if column not in header]
    if not header:
        problems.append(DatasetProblem(str(path), "file is empty; ignored"))
        return None
    if missing:
        expected = ",".join(required)
        problems.append(DatasetProblem(str(path), f"header must name the columns {expected} (missing {', '.join(missing)}); file ignored"))
        return None
    reader.fieldnames = header
    rows: list[CsvRow] = []
    try:
        for row in reader:
            shape_error = (
                "more fields than the header" if None in row
                else "fewer fields than the header" if any(row[column] is None for column in required)
                else None
            )
            values = {key: (value or "").strip() for key, value in row.items() if key is not None}
            rows.append((reader.line_num, values, shape_error))
    except csv.Error as error:
        rows.append((reader.line_num, {}, f"{error} (rest of the file ignored)"))
    return rows


def _read_members(path: Path, folders: set[str], problems: list[DatasetProblem]) -> tuple[dict[str, bool] | None, dict[str, int] | None]:
    """Membership (and occurrences) for the people that have folders; every off row is a problem."""
    rows = _read_csv(path, ("name", "member"), problems)
    if rows is None:
        return None, None
    members: dict[str, bool] = {}
    occurrences: dict[str, int] = {}
    for line, row, shape_error in rows:
        name = _normalized_name(row.get("name", ""))
        member = _parse_member(row.get("member", ""))
        count = _parse_count(row.get("occurrences", ""))
        error = shape_error or _members_row_error(row, name, member, count, members, folders)
        if error:
            problems.append(DatasetProblem(str(path), f"line {line}: {error}; row skipped"))
            continue
        members[name] = member
        if count is not None:
            occurrences[name] = count
    for name in sorted(folders - set(members)):
        problems.append(DatasetProblem(str(path), f"{name!r} has a folder but no row: membership unknown"))
    return members, (occurrences or None)


def _members_row_error(
    row: dict[str, str], name: str, member: bool | None, count: int | None, seen: dict[str, bool], folders: set[str]
) -> str | None:
    if not name:
        return "empty name"
    if member is None:
        return f"member must be 1/0/true/false/yes/no, got {row['member']!r}"
    if row.get("occurrences") and count is None:
        return f"occurrences must be a whole number ≥ 0, got {row['occurrences']!r}"
    if name in seen:
        return f"{name!r} is listed more than once"
    if name not in folders:
        return f"{name!r} has no folder in the dataset"
    return None


def _parse_member(text: str) -> bool | None:
    word = text.strip().lower()
    return True if word in _TRUE_WORDS else False if word in _FALSE_WORDS else None


def _parse_count(text: str) -> int | None:
    try:
        count = int(text)
    except ValueError:
        return None
    return count if count >= 0 else None


def _apply_face_boxes(
    path: Path, root: Path, people: dict[str, list[ImageRecord]], problems: list[DatasetProblem]
) -> dict[str, list[ImageRecord]]:
    rows = _read_csv(path, ("path", "x0", "y0", "x1", "y1"), problems)
    if rows is None:
        return people
    by_relative_path = {_relative_key(record.path, root): record for images in people.values() for record in images}
    boxes: dict[str, list[FaceBox]] = {}
    for line, row, shape_error in rows:
        key = _path_key(row.get("path", "").replace("\\", "/"))
        no_face = not shape_error and all(not row.get(column) for column in ("x0", "y0", "x1", "y1"))
        box = None if no_face else _parse_box(row)
        error = shape_error or _face_row_error(row, key, box, no_face, by_relative_path, boxes)
        if error:
            problems.append(DatasetProblem(str(path), f"line {line}: {error}; row skipped"))
        elif no_face:
            boxes[key] = []
        else:
            boxes.setdefault(key, []).append(box)  # type: ignore[arg-type]
    listed = {key: tuple(found) for key, found in boxes.items()}
    return {
        name: [replace(record, face_boxes=listed.get(_relative_key(record.path, root))) for record in images]
        for name, images in people.items()
    }


def _face_row_error(
    row: dict[str, str], key: str, box: FaceBox | None, no_face: bool, images: dict[str, ImageRecord], seen: dict[str, list[FaceBox]]
) -> str | None:
    if box is None and not no_face:
        return "x0,y0,x1,y1 must be numbers with 0 ≤ x0 < x1 and 0 ≤ y0 < y1 (or all four empty: no face)"
    if key not in images:
        return f"{row['path']!r} is not an image in the dataset"
    if key not in seen:
        return None
    if no_face and seen[key] == []:
        return f"{row['path']!r} is listed twice as having no face"
    if no_face or seen[key] == []:
        return f"{row['path']!r} has both boxes and a row saying it has no face"
    if box in seen[key]:
        return f"{row['path']!r} has this box twice"
    return None


def _relative_key(image_path: str, root: Path) -> str:
    return _path_key(Path(image_path).relative_to(root).as_posix())


def _path_key(relative_path: str) -> str:
    # "./Ann/1.jpg" and "Ann/1.jpg" are one image, and so are composed and decomposed accents.
    return unicodedata.normalize("NFC", posixpath.normpath(relative_path.strip()))


def _parse_box(row: dict[str, str]) -> FaceBox | None:
    try:
        # Face detectors write float coordinates; whole pixels are all a crop needs.
        x0, y0, x1, y1 = (round(float(row.get(column, ""))) for column in ("x0", "y0", "x1", "y1"))
    except (ValueError, OverflowError):  # also "nan"/"inf", which round() refuses
        return None
    return (x0, y0, x1, y1) if 0 <= x0 < x1 and 0 <= y0 < y1 else None


# --- uploads -----------------------------------------------------------------------------------


def dataset_from_uploads(name: str, files: Sequence[tuple[str, bytes]]) -> tuple[list[tuple[str, Image.Image]], list[DatasetProblem]]:
    """Decode one person's uploaded photos in memory (nothing is written to disk).

    Returns the (file name, RGB image) pairs that decoded and a problem for each that did not.
    """
    if not _normalized_name(name):
        raise ValueError("the person's name is empty")
    images: list[tuple[str, Image.Image]] = []
    problems: list[DatasetProblem] = []
    for filename, data in files:
        try:
            images.append((filename, load_image(data)))
        except ImageLoadError as error:
            problems.append(DatasetProblem(filename, error.reason))
    return images, problems


# --------------------------------------------------------------------------------------------
# Batched loading for torch
# --------------------------------------------------------------------------------------------


class ImageTensorDataset(torch.utils.data.Dataset):
    """Images as tensors for a DataLoader; a bad image yields its reason instead of raising.

    Items are ``(index, tensor, None)`` or ``(index, None, reason)``; batch them with
    :func:`collate_skip_failures`. Sources are paths, encoded bytes or PIL images (already
    decoded images are only converted to RGB). With ``crop_to_face`` an image that has a face
    box is cropped to it (clamped to the image) before ``transform``.
    """

    def __init__(
        self,
        sources: Sequence[str | bytes | Image.Image],
        transform: Callable[[Image.Image], torch.Tensor],
        face_boxes: Sequence[FaceBox | None] | None = None,
        crop_to_face: bool = False,
    ) -> None:
        if face_boxes is not None and len(face_boxes) != len(sources):
            raise ValueError(f"face_boxes has {len(face_boxes)} entries for {len(sources)} sources")
        self.sources = list(sources)
        self.transform = transform
        self.face_boxes = list(face_boxes) if face_boxes is not None else None
        self.crop_to_face = crop_to_face

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, str | None]:
        try:
            image = self._image(index)
        except ImageLoadError as error:
            return index, None, error.reason
        except Exception as error:  # noqa: BLE001 - one bad item must never stop a batch
            return index, None, f"cannot load image ({type(error).__name__}: {error})"
        try:
            return index, self.transform(image), None
        except Exception as error:  # noqa: BLE001
            return index, None, f"preprocessing failed ({type(error).__name__}: {error})"

    def _image(self, index: int) -> Image.Image:
        source = self.sources[index]
        image = to_rgb(source) if isinstance(source, Image.Image) else load_image(source)
        box = self.face_boxes[index] if self.face_boxes is not None else None
        if self.crop_to_face and box is not None:
            image = _crop_to_box(image, box)
        return image


def _crop_to_box(image: Image.Image, box: FaceBox) -> Image.Image:
    width, height = image.size
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3])
    if x0 >= x1 or y0 >= y1:
        raise ImageLoadError(f"face box {box} lies outside the {width}×{height} image")
    return image.crop((x0, y0, x1, y1))


def collate_skip_failures(
    batch: Sequence[tuple[int, torch.Tensor | None, str | None]],
) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, str]]]:
    """Stack the images that loaded; return (indices as long, images, [(index, reason), ...]).

    With no image loaded the image tensor is empty, shape (0,).
    """
    loaded = [(index, tensor) for index, tensor, _ in batch if tensor is not None]
    failures = [(index, reason or "unknown failure") for index, tensor, reason in batch if tensor is None]
    indices = torch.tensor([index for index, _ in loaded], dtype=torch.long)
    images = torch.stack([tensor for _, tensor in loaded]) if loaded else torch.empty(0)
    return indices, images, failures
