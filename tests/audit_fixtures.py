"""Helpers shared by the audit tests."""

from __future__ import annotations

from pathlib import Path


def small_lab_folder(lab_root: str, folder: Path, people: int = 24, images: int = 4) -> Path:
    """A few members and non-members of the lab with a few images each (members.csv kept)."""
    import csv
    import shutil

    source = Path(lab_root) / "attack"
    rows = list(csv.DictReader(open(source / "members.csv")))
    chosen = [row for row in rows if row["member"] == "1"][: people // 2] + [row for row in rows if row["member"] == "0"][: people // 2]
    for row in chosen:
        (folder / row["name"]).mkdir(parents=True)
        for image in sorted((source / row["name"]).iterdir())[:images]:
            shutil.copy(image, folder / row["name"] / image.name)
    with open(folder / "members.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    return folder
