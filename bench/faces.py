"""The face detector on real photographs (bench/real_photos.py: scikit-image's, inside its wheel):
recall and false positives on 100 real face crops and 100 crops without a face, the two portraits
(where the face is, how much margin covers hairline, ears and chin), the photos with no person,
and images per second on this machine, batched and one by one.

    python -m bench.faces                      # writes bench/results/faces.json
    python -m bench.faces --repeats 1 --device cuda
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bench.machine import machine_info
from bench.real_photos import NO_PERSON, PORTRAITS, covers, iou, lfw_crops, margin_needed
from leakage.face_settings import CACHE_FLOOR, DEFAULT_MARGIN, DEFAULT_MIN_CONFIDENCE, FaceSettings
from leakage.faces import detector, find_faces

RESULTS = Path(__file__).resolve().parent / "results"
THRESHOLDS = (CACHE_FLOOR, 0.9, DEFAULT_MIN_CONFIDENCE, 0.98)


def _best_confidence(found) -> float:
    return max((face.confidence for face in found.faces), default=0.0)


def crops(device: str | None) -> dict:
    faces, others = lfw_crops()
    floor = FaceSettings(min_confidence=CACHE_FLOOR)
    found = find_faces(faces + others, floor, use_cache=False, device=device)
    best_faces = [_best_confidence(result) for result in found[:100]]
    best_others = [_best_confidence(result) for result in found[100:]]
    by_threshold = {
        f"{threshold:g}": {"recall": sum(v >= threshold for v in best_faces) / 100,
                           "false_positives": sum(v >= threshold for v in best_others) / 100}
        for threshold in THRESHOLDS
    }
    return {
        "what": "skimage.data.lfw_subset(): 100 real face crops (LFW) and 100 crops without a face, 25 x 25 px, grey",
        "recall": by_threshold[f"{DEFAULT_MIN_CONFIDENCE:g}"]["recall"],
        "false_positives": by_threshold[f"{DEFAULT_MIN_CONFIDENCE:g}"]["false_positives"],
        "by_min_confidence": by_threshold,
        "lowest_face_confidence": min(best_faces),
        "highest_non_face_confidence": max(best_others),
    }


def portraits(device: str | None) -> list[dict]:
    rows = []
    for portrait in PORTRAITS:
        found = find_faces([portrait.load()], use_cache=False, device=device)[0]
        face = found.faces[0] if found.faces else None
        row = {"photo": portrait.name, "faces_found": len(found.faces)}
        if face is not None:
            needed = {part: round(margin_needed(face.detected, point), 3) for part, point in portrait.head_points.items()}
            head_corners = [(portrait.head[0], portrait.head[1]), (portrait.head[2], portrait.head[3])]
            region = face.box
            inter = max(0, min(region[2], portrait.head[2]) - max(region[0], portrait.head[0])) * \
                max(0, min(region[3], portrait.head[3]) - max(region[1], portrait.head[1]))
            head_area = (portrait.head[2] - portrait.head[0]) * (portrait.head[3] - portrait.head[1])
            row.update({
                "confidence": face.confidence,
                "detected": list(face.detected),
                "hand_marked_face": list(portrait.face),
                "iou_with_hand_marked_face": round(iou(face.detected, portrait.face), 3),
                "margin_needed": needed,
                "region_at_default_margin": list(region),
                "covers_hairline_ears_chin": all(covers(region, point) for point in portrait.head_points.values()),
                "share_of_whole_head_covered": round(inter / head_area, 3),
                "margin_for_whole_head": round(max(margin_needed(face.detected, corner) for corner in head_corners), 3),
            })
        rows.append(row)
    return rows


def no_person(device: str | None) -> dict:
    photos = {name: load() for name, load in NO_PERSON.items()}
    found = find_faces(list(photos.values()), FaceSettings(min_confidence=CACHE_FLOOR), use_cache=False, device=device)
    return {
        name: {"faces_at_default": sum(face.confidence >= DEFAULT_MIN_CONFIDENCE for face in result.faces),
               "highest_confidence": round(_best_confidence(result), 4)}
        for name, result in zip(photos, found)
    }


def _rate(images, batch_size: int, repeats: int, device: str | None) -> dict:
    found_by = detector("mtcnn", device)
    found_by.detect(images[:1])  # warm-up
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        if batch_size > 1:
            found_by.detect(images, batch_size)
        else:
            for image in images:
                found_by.detect([image], 1)
        seconds.append(time.perf_counter() - started)
    return {"images": len(images), "batch_size": batch_size, "seconds": [round(s, 3) for s in seconds],
            "images_per_second_median": round(len(images) / statistics.median(seconds), 2),
            "images_per_second_best": round(len(images) / min(seconds), 2)}


def speed(repeats: int, device: str | None) -> dict:
    faces, others = lfw_crops()
    photos = [portrait.load() for portrait in PORTRAITS] * 8  # 16 photos of 512 x 512
    return {
        "crops_25px_batched": _rate(faces + others, 200, repeats, device),
        "crops_25px_one_by_one": _rate(faces + others, 1, repeats, device),
        "portraits_512px_batched": _rate(photos, 16, repeats, device),
        "portraits_512px_one_by_one": _rate(photos, 1, repeats, device),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
    parser.add_argument("--out", type=Path, default=RESULTS / "faces.json")
    args = parser.parse_args()
    device = None if args.device == "auto" else args.device
    started = time.perf_counter()
    report = {
        "machine": machine_info(),
        "device": detector("mtcnn", device).device.type,
        "detector": detector("mtcnn", device).describe(),
        "defaults": {"min_confidence": DEFAULT_MIN_CONFIDENCE, "margin": DEFAULT_MARGIN},
        "crops": crops(device),
        "portraits": portraits(device),
        "no_person": no_person(device),
        "speed": speed(args.repeats, device),
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    crops_report = report["crops"]
    print(f"crops: recall {crops_report['recall']:.2f}, false positives {crops_report['false_positives']:.2f} "
          f"(min confidence {DEFAULT_MIN_CONFIDENCE}); by threshold {json.dumps(crops_report['by_min_confidence'])}")
    for row in report["portraits"]:
        print(f"{row['photo']}: {row['faces_found']} face, IoU {row.get('iou_with_hand_marked_face')}, "
              f"margin needed {row.get('margin_needed')}, whole head needs {row.get('margin_for_whole_head')}, "
              f"covered at {DEFAULT_MARGIN}: {row.get('covers_hairline_ears_chin')} ({row.get('share_of_whole_head_covered')} of the head)")
    print("no person:", json.dumps(report["no_person"]))
    for name, entry in report["speed"].items():
        print(f"{name}: {entry['images_per_second_median']} images/s (median of {len(entry['seconds'])}, best {entry['images_per_second_best']})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"written to {args.out} ({report['seconds']} s)")


if __name__ == "__main__":
    main()
