"""`python -m leakage faces DATA`: find the faces of a dataset folder and write its faces.csv, to review
and correct by hand. The probe then uses the file's boxes as written (a folder's own faces.csv wins).

DATA is a folder a user names: it is read as every data folder is (`leakage.data`, through the guarded
opens of `leakage.paths`): on a shared server a folder outside `LEAKAGE_DATA_ROOTS` is refused before
anything is read, and a link out of it is reported and skipped like a broken image."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from leakage.face_settings import DEFAULT_MARGIN, DEFAULT_MIN_CONFIDENCE, DETECTORS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "faces", help="find the faces in a dataset folder and write its faces.csv (to review and correct by hand)",
        description=__doc__,
    )
    parser.add_argument("data", type=Path, help="a dataset folder: one subfolder of images per person")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: DATA/faces.csv)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing faces.csv (it may hold corrected boxes)")
    parser.add_argument("--detector", choices=DETECTORS, default="mtcnn")
    parser.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE, help="faces the detector is less sure of are left out")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                        help="each box grows by this fraction of its size on each side (hair, ears, chin)")
    parser.add_argument("--largest-only", action="store_true", help="only the largest face of each photo")
    parser.add_argument("--device", default=None, help="auto (default), cuda, mps or cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leakage.data import FACES_CSV, ImageLoadError, load_image, scan_dataset
    from leakage.embedding_cache import file_key
    from leakage.face_settings import FaceSettings
    from leakage.faces import find_faces
    from leakage.progress import StageBars

    settings = FaceSettings(args.detector, args.min_confidence, args.margin, args.largest_only)
    dataset = scan_dataset(args.data)
    root = Path(dataset.root)
    out = args.out or root / FACES_CSV
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out} exists (it may hold boxes corrected by hand): pass --overwrite to replace it, or --out elsewhere")
    bars = StageBars(enabled=not args.quiet)
    rows, no_face, broken = [], [], []
    records = [record for name in dataset.names() for record in dataset.people[name]]
    # Decoded a batch at a time: a folder of thousands of photos is never held in memory at once.
    for start in range(0, len(records), 64):
        chunk, pictures = [], []
        for record in records[start : start + 64]:
            try:
                pictures.append(load_image(record.path))
                chunk.append(record)
            except ImageLoadError as error:
                broken.append((record.path, error.reason))
        found = find_faces(pictures, settings, keys=[file_key(r.path) for r in chunk], device=args.device,
                           batch_size=args.batch_size, progress=None if args.quiet else bars)
        for record, faces in zip(chunk, found):
            relative = Path(record.path).relative_to(root).as_posix()
            if not faces.found:
                no_face.append(relative + (f" ({faces.error})" if faces.error else ""))
                rows.append([relative, "", "", "", "", "", settings.detector])
            rows += [[relative, *face.box, f"{face.confidence:.4f}", settings.detector] for face in faces.faces]
    bars.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "x0", "y0", "x1", "y1", "confidence", "detector"])
        writer.writerows(rows)
    n_faces = sum(1 for row in rows if row[1] != "")
    print(f"{n_faces} faces in {len(records) - len(broken)} images written to {out}")
    print(f"found by: {settings.describe()}")
    print("boxes are the regions a face-only setting changes; correct them by hand where needed "
          "(a row with empty x0..y1 says the image has no face)")
    if no_face:
        print(f"no face found in {len(no_face)} images:")
        for path in no_face:
            print(f"  {path}")
    # The folder's own problems too: files refused by the roots (a link out of the folder), non-images, bad CSV rows.
    for path, reason in [(problem.path, problem.reason) for problem in dataset.problems] + broken:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0
