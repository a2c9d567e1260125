"""The lab CLIP, its control and its attack set as catalog entries: declared here once because
several attacks bring them (the IDIA, the image-text membership attack); the registry collects them
from those attacks' declarations like any other lab entry."""

from __future__ import annotations

from leakage.catalog_entries import LabData, LabModel

CLIP_LAB = "leakage.lab.build:CLIP_LAB"

LAB_CLIP = LabModel("lab", "clip", CLIP_LAB, {}, ("lab", "lab-pairs"), "the lab CLIP, trained on the lab's members")
LAB_CONTROL = LabModel("lab-control", "clip", CLIP_LAB, {"part": "control"}, ("lab", "lab-pairs"),
                       "the control CLIP, trained on other people only")
LAB_CLIP_DATA = LabData("lab", "people", CLIP_LAB, {"part": "attack"},
                        "the lab's held-out photos of 100 members and 100 non-members of the lab CLIP")
