"""Dataset format and robust image loading, on real files: every kind of bad input is reported
with its reason and skipped, and everything good still loads (one broken image in 500 costs one)."""

from __future__ import annotations

import io
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from leakage.data import (
    IMAGE_EXTENSIONS,
    MAX_IMAGE_PIXELS,
    Dataset,
    DatasetProblem,
    ImageLoadError,
    ImageRecord,
    ImageTensorDataset,
    collate_skip_failures,
    dataset_from_uploads,
    load_image,
    scan_dataset,
)

EXIF_ORIENTATION = 0x0112
WHITE = (255, 255, 255)


# --- building test images ------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def noise(width: int = 64, height: int = 64, seed: int = 0) -> Image.Image:
    """Random pixels: compressed data then dominates the file, so cutting it in half hits pixel data."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def png_claiming_size(width: int, height: int) -> bytes:
    """A real 1×1 PNG whose IHDR claims width×height: a decompression bomb's header in 70 bytes."""
    data = bytearray(encode(Image.new("RGB", (1, 1)), "PNG"))
    # signature (8) | length (4) | b"IHDR" (4) | width, height (8) + 5 more bytes | CRC of type+data
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def exif_rotated_jpeg() -> bytes:
    """40×20 stored, left half red and right half blue, tagged "rotate 90° clockwise to view"."""
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    return encode(image, "JPEG", exif=exif.tobytes(), quality=95)


def rgba_with_transparent_left_half() -> Image.Image:
    image = Image.new("RGBA", (8, 8), (0, 0, 0, 0))  # transparent *black*: must come out white
    image.paste((200, 0, 0, 255), (4, 0, 8, 8))
    return image


def palette_with_transparency() -> Image.Image:
    image = Image.new("P", (8, 8), 0)
    image.putpalette([0, 0, 0, 0, 128, 0] + [0, 0, 0] * 254)
    image.paste(1, (4, 0, 8, 8))
    image.info["transparency"] = 0
    return image


def sixteen_bit_gradient(high: int = 65535) -> Image.Image:
    values = np.linspace(0, high, 64 * 64).reshape(64, 64).astype(np.uint16)
    return Image.fromarray(values)


def two_frame_gif() -> bytes:
    red, blue = Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))
    return encode(red, "GIF", save_all=True, append_images=[blue])


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    return image.getpixel(xy)


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected))


# --- load_image: good input ------------------------------------------------------------------


GOOD_ENCODINGS = {
    "jpeg": lambda: encode(noise(), "JPEG"),
    "png": lambda: encode(noise(), "PNG"),
    "webp": lambda: encode(noise(), "WEBP"),
    "bmp": lambda: encode(noise(), "BMP"),
    "gif": lambda: encode(noise(), "GIF"),
    "tiff": lambda: encode(noise(), "TIFF"),
    "grayscale L": lambda: encode(noise().convert("L"), "PNG"),
    "bilevel 1": lambda: encode(noise().convert("1"), "PNG"),
    "grayscale+alpha LA": lambda: encode(noise().convert("LA"), "PNG"),
    "palette P": lambda: encode(noise().convert("P"), "PNG"),
    "palette with transparency": lambda: encode(palette_with_transparency(), "PNG"),
    "RGBA": lambda: encode(rgba_with_transparent_left_half(), "PNG"),
    "CMYK jpeg": lambda: encode(noise().convert("CMYK"), "JPEG"),
    "16-bit png I;16": lambda: encode(sixteen_bit_gradient(), "PNG"),
    "16-bit big-endian tiff I;16B": lambda: encode(sixteen_bit_gradient().convert("I;16B"), "TIFF"),
    "32-bit int tiff I": lambda: encode(sixteen_bit_gradient().convert("I"), "TIFF"),
    "float tiff F": lambda: encode(Image.fromarray(np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)), "TIFF"),
    "multi-frame gif": two_frame_gif,
    "exif-rotated jpeg": exif_rotated_jpeg,
}


@pytest.mark.parametrize("kind", sorted(GOOD_ENCODINGS))
def test_every_supported_kind_loads_as_rgb(kind: str) -> None:
    image = load_image(GOOD_ENCODINGS[kind]())
    assert image.mode == "RGB"
    assert image.size[0] > 0 and image.size[1] > 0


def test_sources_can_be_paths_bytes_or_streams_and_callers_streams_stay_open(tmp_path: Path) -> None:
    data = encode(noise(), "PNG")
    path = tmp_path / "photo.png"
    path.write_bytes(data)
    stream = io.BytesIO(data)
    loaded = [load_image(str(path)), load_image(path), load_image(data), load_image(stream)]
    assert not stream.closed
    assert all(np.array_equal(np.asarray(image), np.asarray(noise())) for image in loaded)


def test_exif_orientation_is_applied() -> None:
    image = load_image(exif_rotated_jpeg())
    assert image.size == (20, 40)  # stored 40×20, viewed upright after a quarter turn
    assert close_to(pixel(image, (10, 5)), (255, 0, 0), 40)  # the stored left (red) half is now on top
    assert close_to(pixel(image, (10, 35)), (0, 0, 255), 40)


def test_transparency_becomes_white_not_black() -> None:
    rgba = load_image(encode(rgba_with_transparent_left_half(), "PNG"))
    assert pixel(rgba, (1, 1)) == WHITE
    assert pixel(rgba, (6, 1)) == (200, 0, 0)
    palette = load_image(encode(palette_with_transparency(), "PNG"))
    assert pixel(palette, (1, 1)) == WHITE
    assert pixel(palette, (6, 1)) == (0, 128, 0)
    gray_alpha = load_image(encode(Image.new("LA", (4, 4), (0, 0)), "PNG"))
    assert pixel(gray_alpha, (0, 0)) == WHITE


def test_cmyk_colours_survive() -> None:
    red_in_cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    assert close_to(pixel(load_image(encode(red_in_cmyk, "JPEG", quality=95)), (8, 8)), (255, 0, 0), 20)


@pytest.mark.parametrize(
    "image",
    [
        sixteen_bit_gradient(65535),  # full 16-bit range
        sixteen_bit_gradient(4095),  # a 12-bit scan in a 16-bit file
        sixteen_bit_gradient(65535).convert("I"),
        Image.frombytes("I;16B", (64, 64), np.asarray(sixteen_bit_gradient()).astype(">u2").tobytes()),
        Image.fromarray(np.linspace(-3, 7, 64 * 64, dtype=np.float32).reshape(64, 64)),  # arbitrary float range
    ],
    ids=["I;16 0..65535", "I;16 0..4095", "I 0..65535", "I;16B", "F -3..7"],
)
def test_high_bit_depth_is_scaled_not_clipped(image: Image.Image) -> None:
    fmt = "PNG" if image.mode == "I;16" else "TIFF"
    values = np.asarray(load_image(encode(image, fmt)))[..., 0]
    assert values.min() <= 2 and values.max() >= 253  # the whole gradient, neither all white nor all black
    assert 100 <= np.median(values) <= 155


def test_unit_float_image_maps_to_full_range() -> None:
    halves = np.full((4, 4), 0.5, dtype=np.float32)
    assert pixel(load_image(encode(Image.fromarray(halves), "TIFF")), (0, 0)) == (128, 128, 128)


def test_multi_frame_file_gives_first_frame() -> None:
    assert pixel(load_image(two_frame_gif()), (4, 4)) == (255, 0, 0)


# --- load_image: bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file"),
        (b"name,member\nAlice,1\n", "not an image (cannot identify image file)"),
        (encode(noise(), "PPM"), "not an image (cannot identify image file)"),  # a format no dataset image has
        (truncated(encode(noise(), "JPEG")), "truncated image"),
        (truncated(encode(noise(), "PNG")), "truncated image"),
        (png_claiming_size(9000, 9000), "image too large: 9000×9000 pixels exceeds limit of 64,000,000 (possible decompression bomb)"),
        (
            png_claiming_size(100_000, 100_000),  # PIL's own limit fires first
            "image too large: 10,000,000,000 pixels exceeds limit of 64,000,000 (possible decompression bomb)",
        ),
    ],
    ids=["empty", "text", "ppm", "truncated jpeg", "truncated png", "header bomb", "header bomb beyond PIL's limit"],
)
def test_bad_bytes_raise_with_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageLoadError) as raised:
        load_image(data)
    assert raised.value.reason.startswith(reason)
    assert isinstance(raised.value, ValueError)


def test_own_pixel_limit_applies_to_real_images_and_leaves_pil_global_alone() -> None:
    pil_limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageLoadError, match=r"^image too large: 64×64 pixels exceeds limit of 4,095 \(possible decompression bomb\)"):
        load_image(encode(noise(), "PNG"), max_pixels=4095)
    assert load_image(encode(noise(), "PNG"), max_pixels=4096).size == (64, 64)
    assert Image.MAX_IMAGE_PIXELS == pil_limit
    assert MAX_IMAGE_PIXELS == 64_000_000


def test_pil_bomb_warning_maps_to_the_same_reason() -> None:
    # 9500×9500 passes a raised limit of ours but trips PIL's warning, made an error here.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageLoadError, match="image too large: .* pixels exceeds limit .*decompression bomb"):
            load_image(png_claiming_size(9500, 9500), max_pixels=200_000_000)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="^file not found$"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="^empty file$"):
        load_image(tmp_path / "empty.jpg")
    with pytest.raises(ImageLoadError, match="^is a folder"):
        load_image(tmp_path)


# --- the dataset folder --------------------------------------------------------------------


MEMBERS_CSV = """\ufeffName,Member,Occurrences
Alice,1,5
Bob,no,
Carol,maybe,1
Dan,yes,-2
Zed,true,2
Bob,1,3
,1,1
Dan,1,2,extra
Dan
"""

FACES_CSV = """path,x0,y0,x1,y1
Alice/a1.png,1,2,30,40
./Bob/b1.JPG,0,0,10.4,10.6
Alice/missing.png,0,0,5,5
Alice/a2.png,5,5,2,2
Alice/a2.png,x,0,1,1
Alice/a1.png,0,0,1,1
Alice/a3.png,1,2
Bob/b2.PNG,,,,
Alice/a1.png,1,2,30,40
Bob/b2.PNG,0,0,4,4
"""

BROKEN_IN_ALICE = {
    "broken.jpg": "truncated image",
    "empty.jpg": "empty file",
    "notes.jpg": "not an image (cannot identify image file)",
    "bomb.png": "image too large: 9000×9000 pixels",
}


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four people with good images, broken ones among Alice's, junk files, and both CSV files."""
    root = tmp_path_factory.mktemp("dataset")
    files = {
        "Alice/a1.png": encode(noise(seed=1), "PNG"),
        "Alice/a2.png": encode(noise(seed=2), "PNG"),
        "Alice/a3.png": encode(noise(seed=3), "PNG"),
        "Alice/broken.jpg": truncated(encode(noise(seed=4), "JPEG")),
        "Alice/empty.jpg": b"",
        "Alice/notes.jpg": b"just some text",
        "Alice/bomb.png": png_claiming_size(9000, 9000),
        "Alice/readme.txt": b"not an image",
        "Alice/.DS_Store": b"\0",
        "Alice/._a1.png": b"AppleDouble",
        "Alice/raw/a9.png": encode(noise(seed=9), "PNG"),
        "Bob/b1.JPG": encode(noise(seed=5), "JPEG"),
        "Bob/b2.PNG": encode(noise(seed=6), "PNG"),
        "Carol/c1.webp": encode(noise(seed=7), "WEBP"),
        "Dan/d1.tiff": encode(noise(seed=8), "TIFF"),
        "Erin/readme.md": b"no photos yet",
        ".cache/x.png": encode(noise(), "PNG"),
        "stray.jpg": encode(noise(), "JPEG"),
        "README.md": b"about this dataset",
        "members.csv": MEMBERS_CSV.encode(),
        "faces.csv": FACES_CSV.encode(),
    }
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return root


@pytest.fixture(scope="module")
def dataset(dataset_root: Path) -> Dataset:
    return scan_dataset(dataset_root)


def reasons_for(problems: list[DatasetProblem], path: Path) -> list[str]:
    return [problem.reason for problem in problems if problem.path == str(path)]


def test_scan_finds_people_and_images_sorted(dataset: Dataset, dataset_root: Path) -> None:
    assert dataset.root == str(dataset_root.resolve())
    assert dataset.names() == list(dataset.people) == ["Alice", "Bob", "Carol", "Dan"]
    alice = [Path(record.path).name for record in dataset.people["Alice"]]
    assert alice == ["a1.png", "a2.png", "a3.png", "bomb.png", "broken.jpg", "notes.jpg"]  # empty.jpg: a problem already
    assert [Path(record.path).name for record in dataset.people["Bob"]] == ["b1.JPG", "b2.PNG"]  # case-insensitive extensions
    assert all(record.person == name for name, records in dataset.people.items() for record in records)
    assert dataset.n_images() == 6 + 2 + 1 + 1


def test_scan_reports_what_it_skips(dataset: Dataset, dataset_root: Path) -> None:
    problems = dataset.problems
    assert reasons_for(problems, dataset_root / "Alice" / "readme.txt") == ["not an image file type (.txt)"]
    assert reasons_for(problems, dataset_root / "Alice" / "empty.jpg") == ["empty file"]
    assert "folder inside a person folder" in reasons_for(problems, dataset_root / "Alice" / "raw")[0]
    assert reasons_for(problems, dataset_root / "Erin") == ["no images in this person folder"]
    assert reasons_for(problems, dataset_root / "Erin" / "readme.md") == ["not an image file type (.md)"]
    assert "outside a person folder" in reasons_for(problems, dataset_root / "stray.jpg")[0]
    reported = {problem.path for problem in problems}
    for hidden_or_ignored in (".DS_Store", "._a1.png"):
        assert str(dataset_root / "Alice" / hidden_or_ignored) not in reported
    assert not any(".cache" in path or path.endswith("README.md") for path in reported)


def test_members_csv_rows_become_ground_truth_or_problems(dataset: Dataset, dataset_root: Path) -> None:
    assert dataset.members == {"Alice": True, "Bob": False}
    assert dataset.occurrences == {"Alice": 5}
    assert dataset.has_ground_truth()
    reasons = reasons_for(dataset.problems, dataset_root / "members.csv")
    expected = [
        "line 4: member must be 1/0/true/false/yes/no, got 'maybe'",
        "line 5: occurrences must be a whole number ≥ 0, got '-2'",
        "line 6: 'Zed' has no folder in the dataset",
        "line 7: 'Bob' is listed more than once",
        "line 8: empty name",
        "line 9: more fields than the header",
        "line 10: fewer fields than the header",
        "'Carol' has a folder but no row",
        "'Dan' has a folder but no row",
    ]
    assert len(reasons) == len(expected)
    for reason, start in zip(reasons, expected):
        assert reason.startswith(start), (reason, start)


def test_faces_csv_rows_become_boxes_or_problems(dataset: Dataset, dataset_root: Path) -> None:
    boxes = {Path(record.path).name: record.face_boxes for records in dataset.people.values() for record in records}
    assert boxes["a1.png"] == ((1, 2, 30, 40), (0, 0, 1, 1))  # every face of a photo, in the file's order
    assert boxes["b1.JPG"] == ((0, 0, 10, 11),)
    assert boxes["b2.PNG"] == ()  # a row with empty coordinates: reviewed, no face
    assert boxes["a2.png"] is None and boxes["c1.webp"] is None  # not listed: a detector will look
    first = {Path(record.path).name: record.face_box for records in dataset.people.values() for record in records}
    assert first["a1.png"] == (1, 2, 30, 40) and first["b2.PNG"] is None
    reasons = reasons_for(dataset.problems, dataset_root / "faces.csv")
    expected = [
        "line 4: 'Alice/missing.png' is not an image in the dataset",
        "line 5: x0,y0,x1,y1 must be numbers",
        "line 6: x0,y0,x1,y1 must be numbers",
        "line 8: fewer fields than the header",
        "line 10: 'Alice/a1.png' has this box twice",
        "line 11: 'Bob/b2.PNG' has both boxes and a row saying it has no face",
    ]
    assert len(reasons) == len(expected)
    for reason, start in zip(reasons, expected):
        assert reason.startswith(start), (reason, start)


def test_every_scanned_image_loads_or_fails_with_its_reason(dataset: Dataset) -> None:
    failed = {}
    for records in dataset.people.values():
        for record in records:
            try:
                assert load_image(record.path).mode == "RGB"
            except ImageLoadError as error:
                failed[Path(record.path).name] = error.reason
    scanned_broken = {name: reason for name, reason in BROKEN_IN_ALICE.items() if name != "empty.jpg"}
    assert set(failed) == set(scanned_broken)
    for name, reason in scanned_broken.items():
        assert failed[name].startswith(reason)


def test_unreadable_csv_files_are_problems_not_crashes(tmp_path: Path) -> None:
    (tmp_path / "Ann").mkdir()
    (tmp_path / "Ann" / "1.png").write_bytes(encode(noise(), "PNG"))
    (tmp_path / "members.csv").write_bytes("name,member\nJosé,1\n".encode("latin-1"))
    (tmp_path / "faces.csv").write_text("file,left,top\n")
    dataset = scan_dataset(tmp_path)
    assert dataset.members is None and not dataset.has_ground_truth()
    assert "save it as UTF-8" in reasons_for(dataset.problems, tmp_path / "members.csv")[0]
    assert reasons_for(dataset.problems, tmp_path / "faces.csv")[0].startswith("header must name the columns path,x0,y0,x1,y1")
    (tmp_path / "members.csv").write_text("")
    assert reasons_for(scan_dataset(tmp_path).problems, tmp_path / "members.csv") == ["file is empty; ignored"]


def test_decomposed_folder_names_match_composed_csv_names(tmp_path: Path) -> None:
    decomposed = "Jose\u0301"  # how macOS stores "José"
    (tmp_path / decomposed).mkdir()
    (tmp_path / decomposed / "1.png").write_bytes(encode(noise(), "PNG"))
    (tmp_path / "members.csv").write_text("name,member\nJos\u00e9,1\n", encoding="utf-8")
    dataset = scan_dataset(tmp_path)
    assert dataset.members == {"Jos\u00e9": True} and dataset.names() == ["Jos\u00e9"]


def test_wrong_roots_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dataset folder not found"):
        scan_dataset(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        scan_dataset(tmp_path / "file.txt")
    (tmp_path / "Nobody").mkdir()
    with pytest.raises(ValueError, match="no person folders with images found in"):
        scan_dataset(tmp_path)


def test_scan_never_decodes_and_is_fast(tmp_path: Path) -> None:
    n_people, per_person = 100, 50
    for person in range(n_people):
        folder = tmp_path / f"Person {person:03d}"
        folder.mkdir()
        for index in range(per_person):
            (folder / f"{index:02d}.jpg").write_bytes(b"not decoded at scan time")
    started = time.perf_counter()
    dataset = scan_dataset(tmp_path)
    elapsed = time.perf_counter() - started
    assert dataset.n_images() == n_people * per_person and not dataset.problems
    assert elapsed < 1.0, f"scanning {n_people * per_person} files took {elapsed:.2f} s"


# --- subset and take --------------------------------------------------------------------------


def many_images_dataset(n_people: int = 5, per_person: int = 10) -> Dataset:
    people = {
        f"P{person}": [ImageRecord(f"P{person}", f"/d/P{person}/{index:02d}.jpg") for index in range(per_person - person)]
        for person in range(n_people)
    }
    return Dataset(root="/d", people=people, members={f"P{p}": p % 2 == 0 for p in range(n_people)}, occurrences=None, problems=[])


def test_take_is_deterministic_without_replacement() -> None:
    dataset = many_images_dataset()
    first, again, other = dataset.take(7, seed=1), dataset.take(7, seed=1), dataset.take(7, seed=2)
    assert first.people == again.people
    assert first.people != other.people
    for name, records in first.people.items():
        paths = [record.path for record in records]
        assert len(paths) == min(7, len(dataset.people[name])) == len(set(paths))
        assert paths == sorted(paths) and set(paths) <= {r.path for r in dataset.people[name]}
    assert first.people["P4"] == dataset.people["P4"]  # 6 images < k: all kept
    assert first.members == dataset.members
    # A person's draw does not depend on who else is in the dataset.
    assert dataset.subset(["P0", "P1"]).take(7, seed=1).people["P1"] == first.people["P1"]
    with pytest.raises(ValueError):
        dataset.take(0, seed=1)


def test_subset_keeps_chosen_people_their_truth_and_problems(dataset: Dataset, dataset_root: Path) -> None:
    only_bob = dataset.subset(["Bob"])
    assert only_bob.names() == ["Bob"] and only_bob.members == {"Bob": False} and only_bob.occurrences == {}
    kept = {problem.path for problem in only_bob.problems}
    assert str(dataset_root / "members.csv") in kept and str(dataset_root / "stray.jpg") in kept
    assert str(dataset_root / "Alice" / "readme.txt") not in kept
    assert len(dataset.names()) == 4  # the original is untouched
    with pytest.raises(KeyError, match="Nobody"):
        dataset.subset(["Bob", "Nobody"])


# --- uploads ----------------------------------------------------------------------------------


def test_uploads_decode_in_memory_and_report_bad_files() -> None:
    files = [
        ("good.png", encode(noise(), "PNG")),
        ("rotated.jpg", exif_rotated_jpeg()),
        ("cut.jpg", truncated(encode(noise(), "JPEG"))),
        ("notes.txt", b"hello"),
        ("nothing.jpg", b""),
    ]
    images, problems = dataset_from_uploads("Ann Example", files)
    assert [name for name, _ in images] == ["good.png", "rotated.jpg"]
    assert all(image.mode == "RGB" for _, image in images) and images[1][1].size == (20, 40)
    assert [(p.path, p.reason.split(" (")[0]) for p in problems] == [
        ("cut.jpg", "truncated image"),
        ("notes.txt", "not an image"),
        ("nothing.jpg", "empty file"),
    ]
    with pytest.raises(ValueError, match="name is empty"):
        dataset_from_uploads("  ", files)


# --- batched loading for torch ------------------------------------------------------------------


TO_TENSOR = transforms.Compose([transforms.Resize(16), transforms.CenterCrop(16), transforms.ToTensor()])


def test_dataloader_with_workers_yields_every_good_image_and_lists_every_broken_one(tmp_path: Path) -> None:
    broken = {7: truncated(encode(noise(seed=7), "JPEG")), 19: b"plain text, not a JPEG", 33: b""}
    sources: list[str | bytes] = []
    for index in range(40):
        path = tmp_path / f"{index:02d}.jpg"
        path.write_bytes(broken.get(index, encode(noise(32, 24, seed=index), "JPEG")))
        sources.append(str(path))
    sources.append(encode(noise(seed=99), "PNG"))  # an in-memory upload among files
    loader = torch.utils.data.DataLoader(
        ImageTensorDataset(sources, TO_TENSOR), batch_size=8, num_workers=2, collate_fn=collate_skip_failures
    )
    loaded: list[int] = []
    failures: dict[int, str] = {}
    for indices, images, failed in loader:
        assert indices.dtype == torch.long and images.shape == (len(indices), 3, 16, 16)
        loaded += indices.tolist()
        failures.update(failed)
    assert sorted(loaded) == [index for index in range(len(sources)) if index not in broken]
    assert sorted(failures) == sorted(broken)
    assert failures[7].startswith("truncated image")
    assert failures[19] == "not an image (cannot identify image file)"
    assert failures[33] == "empty file"


def test_face_crops_and_in_memory_images() -> None:
    image = noise(40, 30)
    boxes = [(10, 5, 30, 25), None, (100, 100, 120, 120), (35, 25, 60, 60)]
    dataset = ImageTensorDataset([image] * 4, transforms.PILToTensor(), face_boxes=boxes, crop_to_face=True)
    assert dataset[0][1].shape == (3, 20, 20)
    assert torch.equal(dataset[0][1], transforms.PILToTensor()(image.crop((10, 5, 30, 25))))
    assert dataset[1][1].shape == (3, 30, 40)
    index, tensor, reason = dataset[2]
    assert (index, tensor) == (2, None) and reason.startswith("face box (100, 100, 120, 120) lies outside the 40×30 image")
    assert dataset[3][1].shape == (3, 5, 5)  # clamped to the image
    uncropped = ImageTensorDataset([image.convert("RGBA")], transforms.PILToTensor(), face_boxes=boxes[:1])
    assert uncropped[0][1].shape == (3, 30, 40)


def test_preprocessing_errors_are_failures_not_crashes() -> None:
    def refuse(image: Image.Image) -> torch.Tensor:
        raise RuntimeError("bad transform")

    assert ImageTensorDataset([noise()], refuse)[0] == (0, None, "preprocessing failed (RuntimeError: bad transform)")


def test_collate_with_only_failures_gives_empty_batch() -> None:
    indices, images, failures = collate_skip_failures([(0, None, "empty file"), (1, None, "truncated image")])
    assert indices.dtype == torch.long and indices.numel() == 0
    assert images.shape[0] == 0
    assert failures == [(0, "empty file"), (1, "truncated image")]


def test_extension_list() -> None:
    assert IMAGE_EXTENSIONS == {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
